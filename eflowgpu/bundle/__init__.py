"""Vendor submissions: a run packaged with its raw evidence (``bundle``), and re-judged (``verify``).

See :mod:`eflowgpu.bundle.pack` for what a package holds, :mod:`eflowgpu.bundle.verify` for what
verifying checks and :mod:`eflowgpu.bundle.archive` for how a hostile archive is refused.
"""

from eflowgpu.bundle.archive import ArchiveError, ArchiveLimits, read_archive, write_archive
from eflowgpu.bundle.manifest import BUNDLE_FORMAT, Manifest, ManifestError, parse_manifest
from eflowgpu.bundle.pack import BundleError, BundleSummary, make_bundle
from eflowgpu.bundle.signing import KeyFileError
from eflowgpu.bundle.verify import CertifierView, Finding, Verification, VerifyUsageError, verify_bundle

__all__ = [
    "BUNDLE_FORMAT",
    "ArchiveError",
    "ArchiveLimits",
    "BundleError",
    "BundleSummary",
    "CertifierView",
    "Finding",
    "KeyFileError",
    "Manifest",
    "ManifestError",
    "Verification",
    "VerifyUsageError",
    "make_bundle",
    "parse_manifest",
    "read_archive",
    "verify_bundle",
    "write_archive",
]
