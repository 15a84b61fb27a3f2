"""Ed25519 signatures over the bundle's manifest (through the ``cryptography`` package).

The vendor signs with a private key in PEM (PKCS#8, as ``openssl genpkey -algorithm ed25519``
writes it); the certifier checks with the public key in PEM (``openssl pkey -pubout``). The
signature file holds the base64 of the 64-byte signature and a newline.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from eflowgpu.errors import EflowGpuError

MAX_KEY_BYTES = 64 * 1024


class KeyFileError(EflowGpuError):
    """A key file cannot be used (one line)."""


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_KEY_BYTES)
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror or exc}") from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file at ``path`` (unencrypted)."""
    try:
        key = load_pem_private_key(_read(path), password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 key ({type(key).__name__})")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in the PEM file at ``path``."""
    try:
        key = load_pem_public_key(_read(path))
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} is not an Ed25519 public key ({type(key).__name__})")
    return key


def sign(key: Ed25519PrivateKey, message: bytes) -> bytes:
    """The signature file's contents for ``message``."""
    return base64.b64encode(key.sign(message)) + b"\n"


def signature_holds(key: Ed25519PublicKey, message: bytes, signature_file: bytes) -> bool:
    """True when ``signature_file`` (as :func:`sign` writes it) is ``key``'s signature of ``message``."""
    try:
        signature = base64.b64decode(signature_file.strip(), validate=True)
        key.verify(signature, message)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
