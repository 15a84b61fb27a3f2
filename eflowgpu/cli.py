"""The pack's command line: ``eflowgpu <subcommand>`` (also ``python -m eflowgpu``).

Each subcommand is a function that adds its parser (with ``set_defaults(func=handler)``) and is
listed in :data:`SUBCOMMANDS`; a handler takes the parsed arguments and a :class:`CliContext` and
returns the exit code. The context is the seam for tests: it carries the runner, the PowerShell
finder and the output streams.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeAlias

from eflowgpu import __version__
from eflowgpu.host.collector import (
    Runner,
    SubprocessRunner,
    collect_host_snapshot,
    find_powershell,
    write_snapshot,
)
from eflowgpu.host.commands import HOST_PROBES
from eflowgpu.vm.collector import collect_vm_snapshot
from eflowgpu.vm.commands import VM_PROBES

__all__ = ["SUBCOMMANDS", "CliContext", "Handler", "build_parser", "main"]

POWERSHELL_NOT_FOUND = "PowerShell not found: run this on the Windows host, or use collect-host.ps1"

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


@dataclass(frozen=True)
class CliContext:
    """What a subcommand needs from the outside world."""

    runner: Runner
    find_powershell: Callable[[], str | None]
    stdout: TextIO
    stderr: TextIO


Handler: TypeAlias = Callable[[argparse.Namespace, CliContext], int]
"""A subcommand: parsed arguments and context in, exit code out."""

if TYPE_CHECKING:
    SubParsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def _default_context() -> CliContext:
    return CliContext(
        runner=SubprocessRunner(),
        find_powershell=find_powershell,
        stdout=sys.stdout,
        stderr=sys.stderr,
    )


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


# --- collect-host ---------------------------------------------------------------------------------


def _add_collect_host(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "collect-host",
        help="run the host probes on this Windows host and write a host snapshot",
        description=(
            "Run the read-only host probes through PowerShell and write an "
            "eflow-gpu-host-snapshot/1 JSON file. Hosts without Python can use collect-host.ps1, "
            "which writes the same format."
        ),
    )
    _add_snapshot_options(parser, default_timeout_s=120)
    parser.add_argument("--host", metavar="LABEL", help="label of the system (default: the computer name)")
    parser.set_defaults(func=_run_collect_host)


def _add_snapshot_options(parser: argparse.ArgumentParser, *, default_timeout_s: int) -> None:
    """``--out`` and ``--timeout``, as both collect commands take them."""
    parser.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="snapshot file to write, or an existing folder (or a path ending in /) to write "
        "<label>.json into",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        metavar="SECONDS",
        help=f"time limit per probe (default: {default_timeout_s})",
    )


def _missing_folder(command: str, out: str, context: CliContext) -> int | None:
    """EXIT_USAGE (said on stderr) when the snapshot's folder does not exist, else None."""
    folder = Path(out) if _is_folder(out) else Path(out).parent
    if folder.is_dir():
        return None
    print(f"eflowgpu {command}: directory does not exist: {folder}", file=context.stderr)
    return EXIT_USAGE


def _is_folder(out: str) -> bool:
    """True when ``--out`` names a folder: an existing one, or a path written with a trailing slash."""
    return out.endswith(("/", "\\")) or Path(out).is_dir()


def snapshot_path(out: str, snapshot: dict[str, Any], kind: str) -> Path:
    """Where to write: ``out`` itself, or ``out/<label>.json`` when ``out`` is a folder.

    The label is the snapshot's ``vm`` (VM snapshots) or ``host`` label with anything but letters,
    digits, ``.``, ``_`` and ``-`` replaced, so a hostile label cannot leave the folder.
    """
    if not _is_folder(out):
        return Path(out)
    label = snapshot.get("vm") if kind == "vm" else snapshot.get("host")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(label or "")).strip("._") or f"{kind}-snapshot"
    return Path(out) / f"{safe}.json"


def _run_collect_host(args: argparse.Namespace, context: CliContext) -> int:
    out: str = args.out
    if (refused := _missing_folder("collect-host", out, context)) is not None:
        return refused
    powershell = context.find_powershell()
    if powershell is None:
        print(f"eflowgpu collect-host: {POWERSHELL_NOT_FOUND}", file=context.stderr)
        return EXIT_USAGE
    if sys.platform != "win32":
        print("eflowgpu collect-host: warning: not on Windows, the probes will fail", file=context.stderr)
    probes = HOST_PROBES
    if args.timeout is not None:
        probes = tuple(replace(probe, timeout_s=args.timeout) for probe in HOST_PROBES)
    snapshot = collect_host_snapshot(context.runner, host=args.host, probes=probes, powershell=powershell)
    return _write_and_summarise("collect-host", snapshot, snapshot_path(out, snapshot, "host"), context)


def _write_and_summarise(command: str, snapshot: dict[str, Any], out: Path, context: CliContext) -> int:
    """Write a collected snapshot and print one line naming the probes that exited non-zero."""
    try:
        write_snapshot(snapshot, out)
    except OSError as exc:
        print(f"eflowgpu {command}: cannot write {out}: {exc}", file=context.stderr)
        return EXIT_FAILURE
    failed = [name for name, record in snapshot["probes"].items() if record["exit_code"] != 0]
    summary = f"wrote {out}: {len(snapshot['probes'])} probes, {len(failed)} with a non-zero exit code"
    if failed:
        summary += f" ({', '.join(failed)})"
    print(summary, file=context.stdout)
    return EXIT_OK


# --- collect-vm -----------------------------------------------------------------------------------


def _label(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("a label must not be blank")
    return text


def _add_collect_vm(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "collect-vm",
        help="run the VM probes on this Linux machine (the EFLOW VM) and write a VM snapshot",
        description=(
            "Run the read-only VM probes through /bin/sh and write an eflow-gpu-vm-snapshot/1 JSON "
            "file. Run it inside the EFLOW VM (or on any Linux machine the GPU should reach)."
        ),
    )
    _add_snapshot_options(parser, default_timeout_s=60)
    parser.add_argument(
        "--host",
        type=_label,
        metavar="LABEL",
        help="label of the Windows host this VM runs on, to join the VM to its host snapshot "
        "(default: none, as for a plain Linux machine)",
    )
    parser.add_argument(
        "--vm", type=_label, metavar="LABEL", help="label of this VM (default: its host name)"
    )
    parser.set_defaults(func=_run_collect_vm)


def _run_collect_vm(args: argparse.Namespace, context: CliContext) -> int:
    out: str = args.out
    if (refused := _missing_folder("collect-vm", out, context)) is not None:
        return refused
    if not sys.platform.startswith("linux"):
        print("eflowgpu collect-vm: warning: not on Linux, the probes will fail", file=context.stderr)
    probes = VM_PROBES
    if args.timeout is not None:
        probes = tuple(replace(probe, timeout_s=args.timeout) for probe in VM_PROBES)
    snapshot = collect_vm_snapshot(context.runner, host=args.host, vm=args.vm, probes=probes)
    return _write_and_summarise("collect-vm", snapshot, snapshot_path(out, snapshot, "vm"), context)


# --- fleet ----------------------------------------------------------------------------------------


def _add_fleet(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "fleet",
        help="merge compat-report.json files into one fleet report (JSON, HTML, Markdown)",
        description=(
            "Merge compat-report.json files from many hosts and runs into a matrix of GPU model x "
            "Windows release and write fleet.json, fleet.html and fleet.md. With --baseline, list the "
            "regressions against an earlier fleet.json and exit 1 when there are any."
        ),
    )
    parser.add_argument(
        "reports",
        nargs="+",
        type=Path,
        metavar="REPORT",
        help="a compat-report.json file, a package made by eflowgpu bundle (.tar.gz, verified first), "
        "or a folder searched recursively for compat-report.json",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder to write into")
    parser.add_argument(
        "--baseline", type=Path, metavar="FLEET.json", help="an earlier fleet.json to compare with"
    )
    parser.add_argument(
        "--profile", metavar="NAME", help="merge only the reports judged by this support profile"
    )
    parser.add_argument(
        "--mix-profiles",
        action="store_true",
        help="merge reports judged by different profiles or matrices, keeping each host once per "
        "profile (without it such a merge is refused)",
    )
    parser.set_defaults(func=_run_fleet)


def _run_fleet(args: argparse.Namespace, context: CliContext) -> int:
    from eflowgpu.fleet import find_reports, load_baseline, merge_reports, with_baseline, write_fleet
    from eflowgpu.fleet.baseline import profile_mismatch
    from eflowgpu.fleet.load import ReportError
    from eflowgpu.fleet.model import MixedProfilesError

    paths, missing = find_reports(args.reports)
    if missing:
        print(f"eflowgpu fleet: no such file or folder: {', '.join(missing)}", file=context.stderr)
        return EXIT_USAGE
    if not paths:
        print("eflowgpu fleet: no compat-report.json found", file=context.stderr)
        return EXIT_USAGE
    baseline = None
    if args.baseline is not None:
        try:
            baseline = load_baseline(args.baseline)
        except ReportError as exc:
            print(f"eflowgpu fleet: --baseline {args.baseline}: {exc}", file=context.stderr)
            return EXIT_USAGE
    try:
        fleet = merge_reports(paths, profile=args.profile, mix_profiles=args.mix_profiles)
    except MixedProfilesError as exc:
        print(f"eflowgpu fleet: {exc}", file=context.stderr)
        return EXIT_USAGE
    if not fleet.reports:
        for problem in fleet.input_errors:
            print(f"eflowgpu fleet: {problem.path}: {problem.error}", file=context.stderr)
        wanted = f" judged by profile {args.profile}" if args.profile else ""
        print(
            f"eflowgpu fleet: none of the {len(paths)} report(s) is a readable report{wanted}",
            file=context.stderr,
        )
        return EXIT_FAILURE
    if baseline is not None:
        mismatch = profile_mismatch(fleet, baseline)
        if mismatch is not None and not args.mix_profiles:
            print(f"eflowgpu fleet: --baseline {args.baseline} {mismatch}", file=context.stderr)
            return EXIT_USAGE
        fleet = with_baseline(fleet, baseline, str(args.baseline))
    try:
        write_fleet(args.out, fleet)
    except OSError as exc:
        print(f"eflowgpu fleet: cannot write {args.out}: {exc}", file=context.stderr)
        return EXIT_FAILURE
    for problem in fleet.input_errors:
        print(f"eflowgpu fleet: {problem.path}: {problem.error}", file=context.stderr)
    summary = (
        f"wrote {args.out}/fleet.{{json,html,md}}: {len(fleet.reports)} reports "
        f"({len(fleet.input_errors)} input errors), {len(fleet.systems)} systems, {len(fleet.cells)} cells"
    )
    if fleet.baseline is not None:
        summary += (
            f"; against the baseline: {len(fleet.baseline.regressions)} regressions, "
            f"{len(fleet.baseline.improvements)} improvements"
        )
    if len(fleet.judgements) > 1:
        summary += f"; judged by {', '.join(j.label for j in fleet.judgements)}, kept apart per profile"
    print(summary, file=context.stdout)
    if fleet.baseline is not None:
        for change in fleet.baseline.regressions:
            print(f"REGRESSION {change.line()}", file=context.stdout)
    if fleet.baseline is not None and fleet.baseline.regressions:
        return EXIT_FAILURE
    return EXIT_OK


# --- bundle and verify ----------------------------------------------------------------------------


def _add_bundle(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "bundle",
        help="package a run (snapshots, matrix, reports, JUnit, benchmarks, manifest) for a certifier",
        description=(
            "Package the run in REPORT_DIR into one .tar.gz: every snapshot the report names, the "
            "matrix it was judged by, compat-report.json, the HTML and Markdown reports, JUnit XML, "
            "pytest-benchmark JSON and a manifest with the SHA-256 of every file, optionally signed "
            "with an Ed25519 key."
        ),
    )
    parser.add_argument("report_dir", type=Path, metavar="REPORT_DIR", help="the run's report folder")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE.tar.gz", help="the package to write")
    parser.add_argument("--submitter", metavar="NAME", help="who ran the pack (recorded in the manifest)")
    parser.add_argument("--sign-key", type=Path, metavar="KEY", help="Ed25519 private key (PEM) to sign with")
    parser.add_argument(
        "--matrix", type=Path, metavar="FILE", help="the matrix the report was judged by, if it has moved"
    )
    parser.set_defaults(func=_run_bundle)


def _run_bundle(args: argparse.Namespace, context: CliContext) -> int:
    from eflowgpu.bundle import make_bundle
    from eflowgpu.errors import EflowGpuError

    try:
        summary = make_bundle(
            args.report_dir, args.out, submitter=args.submitter, sign_key=args.sign_key, matrix=args.matrix
        )
    except EflowGpuError as exc:
        print(f"eflowgpu bundle: {exc}", file=context.stderr)
        return EXIT_FAILURE
    except OSError as exc:
        print(f"eflowgpu bundle: cannot write {args.out}: {exc.strerror or exc}", file=context.stderr)
        return EXIT_FAILURE
    signed = "signed" if summary.signed else "not signed"
    print(
        f"wrote {summary.path}: {summary.files} files, {summary.snapshots} snapshots, {signed}; "
        f"sha256 {summary.sha256}",
        file=context.stdout,
    )
    return EXIT_OK


def _add_verify(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check a package's manifest and signature and re-judge its snapshots",
        description=(
            "Check the manifest, the signature and every file's hash, then re-judge every snapshot with the "
            "pack's rules and the packaged matrix and compare with the packaged report. With --matrix, "
            "--profile or --waivers, also show the verdicts under the certifier's own table beside the "
            "packaged ones. Exit 0 only when everything holds."
        ),
    )
    parser.add_argument("bundle", type=Path, metavar="FILE.tar.gz", help="the package")
    parser.add_argument(
        "--public-key", type=Path, metavar="KEY", help="the vendor's Ed25519 public key (PEM)"
    )
    parser.add_argument(
        "--matrix", type=Path, metavar="FILE", help="your own matrix, to judge under today's table"
    )
    parser.add_argument(
        "--profile", metavar="NAME", help="a profile to judge under (of --matrix, or the packaged one)"
    )
    parser.add_argument("--waivers", type=Path, metavar="FILE", help="your waivers file (errata)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="also write verify.json and verify.txt here")
    parser.set_defaults(func=_run_verify)


def _run_verify(args: argparse.Namespace, context: CliContext) -> int:
    from eflowgpu.bundle import CertifierView, KeyFileError, VerifyUsageError, verify_bundle
    from eflowgpu.bundle.signing import load_public_key
    from eflowgpu.errors import MatrixError
    from eflowgpu.matrix import load_matrix
    from eflowgpu.report.write import write_json_atomic, write_text_atomic
    from eflowgpu.waivers import load_waivers

    try:
        key = load_public_key(args.public_key) if args.public_key is not None else None
        certifier = CertifierView(
            matrix=load_matrix(args.matrix) if args.matrix is not None else None,
            profile=args.profile,
            waivers=load_waivers(args.waivers) if args.waivers is not None else None,
        )
        result = verify_bundle(args.bundle, public_key=key, certifier=certifier)
    except (KeyFileError, MatrixError, VerifyUsageError) as exc:
        print(f"eflowgpu verify: {exc}", file=context.stderr)
        return EXIT_USAGE
    print(result.text(), end="", file=context.stdout)
    if args.out is not None:
        try:
            write_json_atomic(args.out / "verify.json", result.to_dict())
            write_text_atomic(args.out / "verify.txt", result.text())
        except OSError as exc:
            print(f"eflowgpu verify: cannot write {args.out}: {exc.strerror or exc}", file=context.stderr)
            return EXIT_FAILURE
    return EXIT_OK if result.ok else EXIT_FAILURE


# --- profiles -------------------------------------------------------------------------------------


def _add_profiles(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "profiles",
        help="list the support matrix's profiles (the values of pytest's --profile)",
        description="List the profiles of the support matrix, the default first marked (default).",
    )
    parser.add_argument(
        "--matrix", type=Path, metavar="FILE", help="the support matrix (default: matrix.yaml here)"
    )
    parser.set_defaults(func=_run_profiles)


def _run_profiles(args: argparse.Namespace, context: CliContext) -> int:
    from eflowgpu.profiles import PACKAGE_MATRIX, profile_lines

    path: Path = args.matrix or (Path("matrix.yaml") if Path("matrix.yaml").is_file() else PACKAGE_MATRIX)
    lines = profile_lines(path)
    if lines and lines[0].startswith("cannot read the matrix"):
        print(f"eflowgpu profiles: {lines[0]}", file=context.stderr)
        return EXIT_USAGE
    for line in lines:
        print(line, file=context.stdout)
    return EXIT_OK


# --- parser and entry point -----------------------------------------------------------------------

SUBCOMMANDS: tuple[Callable[[SubParsers], None], ...] = (
    _add_collect_host,
    _add_collect_vm,
    _add_fleet,
    _add_bundle,
    _add_verify,
    _add_profiles,
)
"""Functions that each add one subcommand to the parser."""


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand of :data:`SUBCOMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="eflowgpu",
        description="EFLOW GPU qualification pack",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add_subcommand in SUBCOMMANDS:
        add_subcommand(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, *, context: CliContext | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit code.

    ``context`` replaces the real runner, PowerShell finder and streams (for tests). Usage errors
    exit 2 through argparse.
    """
    args = build_parser().parse_args(argv)
    handler: Handler = args.func
    return handler(args, context or _default_context())
