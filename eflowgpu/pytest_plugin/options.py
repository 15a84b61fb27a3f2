"""The pack's command line options (a public interface: see ``contracts/report.md``)."""

from __future__ import annotations

import pytest

from eflowgpu.profiles import PASSTHROUGH_TYPES, passthrough_type, profile_help


def add_options(parser: pytest.Parser) -> None:
    """Register the pack's options in their own group."""
    group = parser.getgroup("eflowgpu", "EFLOW GPU qualification pack")
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
        "in-VM suite examines the machine it runs on.",
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
        default="quick",
        choices=("quick", "standard", "long"),
        help="how long the in-VM benchmarks run, like DCGM's run levels (default: quick)",
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
        help="the support matrix (default: matrix.yaml at the project root)",
    )
    group.addoption(
        "--profile",
        default=None,
        metavar="NAME",
        help=profile_help(),
    )
    group.addoption(
        "--report-dir",
        default="reports",
        metavar="DIR",
        help="where compat-report.json, report.html, report.md, junit.xml and allure-results "
        "are written (default: reports/)",
    )
    group.addoption(
        "--waivers",
        default=None,
        metavar="FILE",
        help="a certifier's waivers (errata) YAML: matched failures become 'waived' (never a pass; the "
        "verdict follows as if passed); expired or unmatched waivers are reported",
    )
