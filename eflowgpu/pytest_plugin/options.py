"""The pack's command line options (a public interface: see ``contracts/report.md``) and when the
pack is active.

The plugin is installed as a ``pytest11`` entry point, so it is loaded in every pytest run of the
environment; it does nothing unless the run uses it: the ini file says ``eflowgpu_pack = true``
(the pack's ``pytest.ini`` does), or one of the pack's options is given on the command line.
``--strict`` is pytest's own option (it turns on pytest's strictness checks); the pack adds to it:
a system whose verdict is not eligible fails the run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eflowgpu.profiles import PASSTHROUGH_TYPES, passthrough_type, profile_help

INI_SWITCH = "eflowgpu_pack"
DEFAULT_LEVEL = "quick"
_ACTIVATING = ("host_snapshot", "vm_snapshot", "matrix", "profile", "report_dir", "vm_transport",
               "expect_passthrough", "level", "waivers")  # fmt: skip


def add_options(parser: pytest.Parser) -> None:
    """Register the pack's options in their own group, and its ini switch."""
    parser.addini(
        INI_SWITCH,
        "run the EFLOW GPU qualification pack in this project (its pytest.ini sets it)",
        type="bool",
        default=False,
    )
    group = parser.getgroup("eflowgpu", "EFLOW GPU qualification pack (pytest --strict: a certification run)")
    group.addoption(
        "--host-snapshot",
        action="append",
        default=[],
        metavar="PATH",
        help="evaluate a recorded host snapshot: a file or a folder of *.json; repeatable. Without it the "
        "host suite evaluates the live host on Windows, and the sample lab (fixtures/hosts) elsewhere.",
    )
    group.addoption(
        "--vm-snapshot",
        action="append",
        default=[],
        metavar="PATH",
        help="evaluate a recorded VM snapshot: a file or a folder of *.json; repeatable. Without it the "
        "in-VM suite examines the machine it runs on (not when only --host-snapshot is given).",
    )
    group.addoption(
        "--expect-passthrough",
        default=None,
        type=passthrough_type,
        choices=PASSTHROUGH_TYPES,
        help="what the in-VM suite should find when no host data is joined to the VM (any case: dda, gpu-pv)",
    )
    group.addoption(
        "--level",
        default=None,
        choices=("quick", "standard", "long"),
        help=f"how long the in-VM benchmarks run, like DCGM's run levels (default: {DEFAULT_LEVEL})",
    )
    group.addoption(
        "--vm-transport",
        default=None,
        choices=("local", "eflow"),
        help="run the in-VM suite through a transport and join its results: eflow (inside the EFLOW VM, "
        "the default on Windows) or local (on this machine, in a child run)",
    )
    group.addoption(
        "--matrix",
        default=None,
        metavar="FILE",
        help="the support matrix (default: matrix.yaml in the rootdir)",
    )
    group.addoption(
        "--profile",
        default=None,
        metavar="NAME",
        help=profile_help(),
    )
    group.addoption(
        "--report-dir",
        default=None,
        metavar="DIR",
        help="where compat-report.json, report.html, report.md, junit.xml and allure-results "
        "are written (default: reports/ in the rootdir)",
    )
    group.addoption(
        "--waivers",
        default=None,
        metavar="FILE",
        help="a certifier's waivers (errata) YAML: matched failures become 'waived' (never a pass; the "
        "verdict follows as if passed); expired or unmatched waivers are reported",
    )


def is_active(config: pytest.Config) -> bool:
    """True when this run uses the pack: its ini switch, or one of its options given."""
    if config.getini(INI_SWITCH):
        return True
    return any(config.getoption(name) for name in _ACTIVATING)


def level_of(config: pytest.Config) -> str:
    """The run's benchmark level."""
    return str(config.getoption("level") or DEFAULT_LEVEL)


def report_dir_of(config: pytest.Config) -> Path:
    """Where the run's reports go: ``--report-dir`` (relative to the current folder), else the
    rootdir's ``reports/``."""
    given = config.getoption("report_dir")
    return Path(given) if given else config.rootpath / "reports"
