"""What the command lines say about the matrix's profiles (``--profile`` help, ``eflowgpu profiles``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

PASSTHROUGH_TYPES: tuple[str, ...] = ("DDA", "GPU-PV")
"""The passthrough types, as the contract spells them."""

PACKAGE_MATRIX = Path(__file__).resolve().parents[1] / "matrix.yaml"
"""The matrix at the project root of a source checkout."""


def passthrough_type(text: str) -> str:
    """``--expect-passthrough``'s value in the contract's spelling: ``dda``, ``gpu-pv``, ``GPUPV`` …

    Anything else is returned as given, for argparse's ``choices`` to refuse with the known types.
    """
    wanted = text.strip().upper().replace("_", "-")
    aliases = {"DDA": "DDA", "GPU-PV": "GPU-PV", "GPUPV": "GPU-PV"}
    return aliases.get(wanted, text)


def profile_lines(matrix_path: Path) -> list[str]:
    """``key: title`` per profile of the matrix at ``matrix_path``, the default marked; the load's
    error as one line when the matrix cannot be read."""
    from eflowgpu.errors import MatrixError
    from eflowgpu.matrix import load_matrix

    try:
        matrix = load_matrix(matrix_path)
    except (MatrixError, OSError) as exc:
        return [f"cannot read the matrix {matrix_path}: {exc}"]
    return [
        f"{key}{' (default)' if key == matrix.default_profile else ''}: {profile.title}"
        for key, profile in matrix.profiles.items()
    ]


def profile_help(argv: Sequence[str] | None = None) -> str:
    """``--profile``'s help: the profiles of the default matrix, listed when help was asked for.

    Reading the matrix costs a fraction of a second, so it is read only for ``--help``/``-h``.
    """
    text = "the support profile to judge by (default: the matrix's default profile)"
    args = sys.argv if argv is None else argv
    if not any(arg in ("-h", "--help") for arg in args):
        return text
    local = Path.cwd() / "matrix.yaml"
    path = local if local.is_file() else PACKAGE_MATRIX
    if not path.is_file():
        return text
    return f"{text}; {path.name} has: " + "; ".join(profile_lines(path))
