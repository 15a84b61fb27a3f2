"""The fleet report: merging the sample lab's reports, baselines, escaping and the ``fleet`` command."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from eflowgpu import cli
from eflowgpu.evaluate import evaluate_host_files
from eflowgpu.fleet import (
    FLEET_FORMAT,
    Fleet,
    fleet_json,
    merge_reports,
    render_fleet_html,
    render_fleet_markdown,
    with_baseline,
)
from eflowgpu.fleet.baseline import compare_benchmark
from eflowgpu.fleet.model import Benchmark, MixedProfilesError
from eflowgpu.matrix import load_matrix
from eflowgpu.report.model import build_report

from helpers import PROJECT

HOSTS = len(list((PROJECT / "fixtures" / "hosts").glob("*.json")))
"""How many host snapshots the sample lab has: one system each in a fleet of its reports."""

HOSTILE_HOST = "<script>document.title='pwned'</script>|x|`id`\n# heading"
HOSTILE_GPU = '<img src=x onerror=alert(1)> "quoted" [link](javascript:alert(2)) **bold**'


def lab_report(profile: str, day: int) -> dict[str, Any]:
    """The sample lab judged under ``profile``, generated on 2026-01-``day``."""
    matrix = load_matrix(PROJECT / "matrix.yaml")
    chosen = matrix.profile(profile)
    hosts = sorted((PROJECT / "fixtures" / "hosts").glob("*.json"))
    when = datetime(2026, 1, day, tzinfo=UTC)
    return build_report(matrix, chosen, evaluate_host_files(matrix, chosen, hosts), generated_at=when)


def write(path: Path, document: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Lab reports: preview (day 1) and GA (day 2) with the same labels, and preview relabelled ``-P``."""
    root = tmp_path_factory.mktemp("lab")
    preview, ga = lab_report("preview-2021-06", 1), lab_report("ga-2022-06", 2)
    relabelled = json.loads(json.dumps(preview))
    for system in relabelled["systems"]:
        system["host"] += "-P"
    worse = json.loads(json.dumps(ga))
    worse["generated_at"] = "2026-01-03T00:00:00Z"
    (srv2022,) = [s for s in worse["systems"] if s["host"] == "LAB-T4-SRV2022"]
    srv2022["gpus"][0]["verdict"] = "not-eligible"
    (acs,) = [c for c in srv2022["gpus"][0]["criteria"] if c["id"] == "dda.acs"]
    acs["status"] = "fail"
    return {
        "preview": write(root / "preview" / "compat-report.json", preview),
        "ga": write(root / "ga" / "compat-report.json", ga),
        "preview-p": write(root / "preview-p" / "compat-report.json", relabelled),
        "ga-old": write(root / "ga-old" / "compat-report.json", lab_report("ga-2022-06", 1)),
        "ga-worse": write(root / "ga-worse" / "compat-report.json", worse),
    }


def cell_of(fleet: Fleet, model: str, release: str) -> tuple[int, str | None, str | None]:
    cell = fleet.cell(model, release)
    assert cell is not None, f"no cell {model} x {release}"
    return cell.count, cell.best, cell.worst


def gpu(
    model: str | None, verdict: str, *, name: str = "NVIDIA Tesla T4", pci_id: str = "10DE:1EB8"
) -> dict[str, Any]:
    return {"name": name, "pci_id": pci_id, "model": model, "brand": None, "passthrough": "DDA",
            "verdict": verdict, "criteria": []}  # fmt: skip


def system(
    host: str, gpus: list[dict[str, Any]], benchmarks: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    vm = (
        None
        if benchmarks is None
        else {"passthrough": "DDA", "gpus": [], "criteria": [], "benchmarks": benchmarks}
    )
    return {
        "host": host, "source": f"{host}.json", "status": "ok", "error": None,
        "os": {"edition": "ServerDatacenter", "build": 20348, "ubr": 1, "installation_type": "Server",
               "name": "Windows Server 2022"},
        "gpus": gpus, "vm": vm,
    }  # fmt: skip


def bench(
    bench_id: str, value: float | None, reference: float = 12.3, status: str | None = None
) -> dict[str, Any]:
    threshold = round(reference * 0.75, 4)
    if status is None:
        status = "pass" if value is not None and value >= threshold else "fail"
    return {"id": bench_id, "value": value, "unit": "GB/s", "reference": reference, "threshold": threshold,
            "ratio": None if value is None else value / reference, "status": status}  # fmt: skip


def report(systems: list[dict[str, Any]], when: str = "2026-03-01T00:00:00Z") -> dict[str, Any]:
    matrix = {"path": "matrix.yaml", "profile": "ga-2022-06", "sha256": ""}
    return {"format": "eflow-gpu-report/1", "generated_at": when, "matrix": matrix, "systems": systems}


# --- merge ----------------------------------------------------------------------------------------


def test_lab_both_profiles_as_separate_hosts(lab: dict[str, Path]) -> None:
    fleet = merge_reports([lab["preview-p"], lab["ga"]], mix_profiles=True)
    assert [j.profile for j in fleet.judgements] == ["ga-2022-06", "preview-2021-06"]
    assert len(fleet.systems) == 2 * HOSTS
    assert len(fleet.cells) == 72  # one row per model and profile: no cell mixes two tables
    assert not fleet.input_errors
    ga, preview = "@ga-2022-06", "@preview-2021-06"
    server = "Windows Server 2022|ServerDatacenter"
    assert cell_of(fleet, "t4" + ga, server) == (4, "eligible-with-warnings", "not-eligible")
    assert cell_of(fleet, "t4" + preview, server) == (4, "eligible-with-warnings", "not-eligible")
    # the profiles disagree: merged, these cells would have read "best eligible, worst unsupported"
    iot = "Windows 10 21H2|IoTEnterprise"
    assert cell_of(fleet, "a2" + ga, iot) == (1, "eligible-with-warnings", "eligible-with-warnings")
    assert cell_of(fleet, "a2" + preview, iot) == (1, "unsupported", "unsupported")
    assert cell_of(fleet, "rtx3060" + ga, "Windows 10 21H2|Enterprise") == (2, "eligible", "not-eligible")
    assert cell_of(fleet, "rtx3060" + preview, "Windows 10 21H2|Enterprise") == (
        2,
        "not-eligible",
        "not-eligible",
    )
    assert cell_of(fleet, "rtx3080" + ga, "build 21390|Professional") == (1, "not-eligible", "not-eligible")
    assert cell_of(fleet, "brand:intel_igpu" + preview, "Windows 11 23H2|Professional") == (
        1,
        "unsupported",
        "unsupported",
    )
    assert fleet.cell("t4" + ga, "Windows 11 24H2|Professional") is None
    assert [m.label for m in fleet.models[:2]] == ["a2 \u00b7 ga-2022-06", "a2 \u00b7 preview-2021-06"]
    ids = [c.id for c in fleet.cells]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"cell-[a-z0-9-]+", i) for i in ids)
    # Windows Server 2019 (build 17763) is the oldest column.
    assert fleet.releases[0].name == "Windows Server 2019"


@pytest.mark.parametrize("order", ["newest-last", "newest-first"])
def test_same_host_keeps_newest_with_history(lab: dict[str, Path], order: str) -> None:
    paths = [lab["ga-old"], lab["ga"]] if order == "newest-last" else [lab["ga"], lab["ga-old"]]
    fleet = merge_reports(paths)
    assert len(fleet.systems) == HOSTS
    assert all(s.report == str(lab["ga"]) for s in fleet.systems)
    assert all(len(s.history) == 1 and s.history[0].report == str(lab["ga-old"]) for s in fleet.systems)


def test_reports_of_two_profiles_are_never_merged_silently(lab: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(MixedProfilesError) as refused:
        merge_reports([lab["preview"], lab["ga"]])
    message = str(refused.value)
    assert "\n" not in message
    assert "preview-2021-06" in message and "ga-2022-06" in message and "--mix-profiles" in message
    # one profile chosen: only its reports
    ga = merge_reports([lab["preview"], lab["ga"]], profile="ga-2022-06")
    assert {s.profile for s in ga.systems} == {"ga-2022-06"} and len(ga.systems) == HOSTS
    assert cell_of(ga, "t4", "Windows Server 2025|ServerDatacenter") == (1, "not-eligible", "not-eligible")
    # mixed on purpose: each host once per profile, neither replacing the other
    mixed = merge_reports([lab["preview"], lab["ga"]], mix_profiles=True)
    assert len(mixed.systems) == 2 * HOSTS and not any(s.history for s in mixed.systems)
    srv2025 = [s for s in mixed.systems if s.host == "LAB-T4-SRV2025"]
    verdicts = {s.profile: {g.pci_id: g.verdict for g in s.gpus}["10DE:1EB8"] for s in srv2025}
    assert verdicts == {"preview-2021-06": "eligible-with-warnings", "ga-2022-06": "not-eligible"}
    # the same profile under two different matrices is refused too
    other = json.loads(lab["ga"].read_text(encoding="utf-8"))
    other["matrix"]["sha256"] = "f" * 64
    with pytest.raises(MixedProfilesError, match="matrix ffffffffffff"):
        merge_reports([lab["ga"], write(tmp_path / "other" / "compat-report.json", other)])


def test_host_labels_compared_case_insensitively(tmp_path: Path) -> None:
    old = write(
        tmp_path / "a.json", report([system("lab-t4", [gpu("t4", "eligible")])], "2026-01-01T00:00:00Z")
    )
    new = write(
        tmp_path / "b.json",
        report([system("LAB-T4", [gpu("t4", "not-eligible")])], "2026-01-02T00:00:00+00:00"),
    )
    fleet = merge_reports([new, old])
    assert [s.host for s in fleet.systems] == ["LAB-T4"]
    assert cell_of(fleet, "t4", "Windows Server 2022|ServerDatacenter") == (1, "not-eligible", "not-eligible")


def test_two_gpus_of_a_model_count_one_system(tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.json", report([system("DUAL", [gpu("t4", "eligible"), gpu("t4", "incomplete")])])
    )
    cell = merge_reports([path]).cell("t4", "Windows Server 2022|ServerDatacenter")
    assert cell is not None
    assert (cell.count, cell.best, cell.worst, len(cell.systems)) == (1, "eligible", "incomplete", 2)
    assert dict(cell.verdicts) == {"eligible": 1, "incomplete": 1}


def test_unreadable_reports_are_input_errors(tmp_path: Path, lab: dict[str, Path]) -> None:
    bad = {
        "corrupt.json": '{"format": "eflow-gpu-report/1", "systems": [',
        "wrong-format.json": json.dumps({"format": "eflow-gpu-host-snapshot/1", "systems": []}),
        "list.json": "[1, 2]",
        "no-time.json": json.dumps(
            {"format": "eflow-gpu-report/1", "generated_at": "yesterday", "systems": []}
        ),
        "latin1.json": b"\xff\xfe{".decode("latin-1"),
    }
    paths = []
    for name, text in bad.items():
        (tmp_path / name).write_text(text, encoding="latin-1" if name == "latin1.json" else "utf-8")
        paths.append(tmp_path / name)
    paths.append(tmp_path / "missing.json")
    fleet = merge_reports([*paths, lab["ga"]])
    assert len(fleet.systems) == 37
    assert fleet.reports == (str(lab["ga"]),)
    errors = {Path(e.path).name: e.error for e in fleet.input_errors}
    assert set(errors) == {*bad, "missing.json"}
    assert all("\n" not in e for e in errors.values())
    assert errors["corrupt.json"].startswith("not valid JSON")
    assert "eflow-gpu-host-snapshot/1" in errors["wrong-format.json"]
    assert errors["no-time.json"] == "no valid generated_at timestamp"
    assert errors["missing.json"].startswith("cannot read")


def test_report_over_the_size_limit_is_refused(lab: dict[str, Path]) -> None:
    fleet = merge_reports([lab["ga"]], max_bytes=1000)
    assert not fleet.systems
    assert fleet.input_errors[0].error == "larger than the limit of 1000 bytes"


def test_fleet_json_document(lab: dict[str, Path]) -> None:
    fleet = merge_reports([lab["ga-old"], lab["ga"]], generated_at=datetime(2026, 5, 1, tzinfo=UTC))
    document = json.loads(json.dumps(fleet_json(fleet)))
    assert document["format"] == FLEET_FORMAT == "eflow-gpu-fleet/1"
    assert document["generated_at"] == "2026-05-01T00:00:00Z"
    assert document["summary"]["systems"] == 37
    assert document["summary"]["cells"] == len(document["cells"]) == 36
    assert document["baseline"] is None
    cell = next(
        c
        for c in document["cells"]
        if c["model"] == "t4" and c["release"].startswith("Windows Server 2022|ServerS")
    )
    assert (cell["count"], cell["best"], cell["worst"]) == (2, "eligible", "not-eligible")
    assert {s["host"] for s in cell["systems"]} == {"LAB-T4-SRV2022", "LAB-T4-NOIOV"}
    host = next(s for s in document["systems"] if s["host"] == "LAB-T4-SRV2022")
    assert host["history"][0]["report"] == str(lab["ga-old"])
    assert document["judged_by"] == [
        {"profile": "ga-2022-06", "matrix_sha256": fleet.judgements[0].matrix_sha256, "reports": 2}
    ]
    noacs = next(s for s in document["systems"] if s["host"] == "LAB-T4-NOACS")
    assert {"id": "dda.acs", "status": "fail"} in noacs["gpus"][0]["criteria"]


# --- escaping -------------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.handlers: list[str] = []
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.handlers.extend(n for n, _ in attrs if n.startswith("on"))
        found = dict(attrs)
        if found.get("href"):
            self.hrefs.append(found["href"] or "")
        if found.get("id"):
            self.ids.add(found["id"] or "")


def test_hostile_labels_escaped(tmp_path: Path, lab: dict[str, Path]) -> None:
    hostile = write(
        tmp_path / "hostile.json",
        report([system(HOSTILE_HOST, [gpu(None, "eligible", name=HOSTILE_GPU, pci_id='"><b>')])]),
    )
    fleet = merge_reports([lab["ga"], hostile])
    page = render_fleet_html(fleet)
    tags = _Tags()
    tags.feed(page)
    assert "script" not in tags.tags and "img" not in tags.tags and "b" not in tags.tags
    assert not tags.handlers
    assert "&lt;script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert all(h.startswith("#") for h in tags.hrefs)
    assert {h[1:] for h in tags.hrefs} <= tags.ids
    assert "javascript:" not in " ".join(tags.hrefs)
    markdown = render_fleet_markdown(fleet)
    assert "<script" not in markdown and "<img" not in markdown
    assert "&lt;script&gt;" in markdown
    assert "\\|x\\|\\`id\\`" in markdown
    assert "\\[link\\](javascript:alert(2))" in markdown
    assert "\n# heading" not in markdown
    # Every raw tag in the Markdown is a cell anchor of the fleet's own.
    assert set(re.findall(r"<[^>]*>", markdown)) == {f'<a id="{c.id}">' for c in fleet.cells} | {"</a>"}
    hostile_cell = next(c for c in fleet.cells if not c.model.in_catalog and c.model.key.startswith("name:"))
    assert re.fullmatch(r"cell-[a-z0-9-]+", hostile_cell.id)


# --- baseline -------------------------------------------------------------------------------------


def _baseline_pair(tmp_path: Path, new_systems: list[dict[str, Any]]) -> tuple[Fleet, dict[str, Any]]:
    old = [
        system("A", [gpu("t4", "eligible")], [bench("h2d_pinned", 12.0), bench("d2d", 230.0, 238.0)]),
        system("B", [gpu("t4", "eligible-with-warnings")], [bench("h2d_pinned", 12.0)]),
        system("GONE", [gpu("t4", "eligible")]),
    ]
    baseline_fleet = merge_reports([write(tmp_path / "old.json", report(old, "2026-01-01T00:00:00Z"))])
    baseline = json.loads(json.dumps(fleet_json(baseline_fleet)))
    fleet = merge_reports([write(tmp_path / "new.json", report(new_systems, "2026-02-01T00:00:00Z"))])
    return fleet, baseline


def test_baseline_finds_worse_verdict_and_dropped_benchmark(tmp_path: Path) -> None:
    fleet, baseline = _baseline_pair(
        tmp_path,
        [
            system("A", [gpu("t4", "not-eligible")], [bench("h2d_pinned", 8.0), bench("d2d", 229.0, 238.0)]),
            system("b", [gpu("t4", "eligible")], [bench("h2d_pinned", 12.2)]),
            system("NEW", [gpu("t4", "eligible")]),
        ],
    )
    compared = with_baseline(fleet, baseline, "old/fleet.json").baseline
    assert compared is not None
    assert [(c.kind, c.host, c.subject, c.before, c.after) for c in compared.regressions] == [
        ("verdict", "A", "10DE:1EB8", "eligible", "not-eligible"),
        ("benchmark", "A", "h2d_pinned", "12", "8"),
    ]
    assert [(c.kind, c.host, c.after) for c in compared.improvements] == [("verdict", "b", "eligible")]
    assert compared.new_systems == ("NEW",)
    assert compared.removed_systems == ("GONE",)
    assert "12 -> 8 GB/s" in compared.regressions[1].detail


def test_identical_baseline_has_no_regressions(tmp_path: Path, lab: dict[str, Path]) -> None:
    fleet = merge_reports([lab["preview-p"], lab["ga"]], mix_profiles=True)
    baseline = json.loads(json.dumps(fleet_json(fleet)))
    compared = with_baseline(fleet, baseline, "same.json").baseline
    assert compared is not None
    assert (compared.regressions, compared.improvements) == ((), ())
    assert (compared.new_systems, compared.removed_systems) == ((), ())


def test_baseline_system_in_error_and_missing_gpu(tmp_path: Path) -> None:
    broken = {**system("A", []), "status": "error", "error": "not valid JSON", "os": None}
    fleet, baseline = _baseline_pair(
        tmp_path, [broken, system("B", []), system("GONE", [gpu("t4", "eligible")])]
    )
    compared = with_baseline(fleet, baseline, "old.json").baseline
    assert compared is not None
    assert [(c.kind, c.host) for c in compared.regressions] == [("system-error", "A"), ("gpu-missing", "B")]


def _b(bench_id: str, value: float | None, reference: float | None = 10.0, threshold: float | None = 7.5,
       status: str = "pass") -> Benchmark:  # fmt: skip
    return Benchmark(bench_id, value, "GB/s", reference, threshold, None, status)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (_b("h2d", 9.0), _b("h2d", 7.0), True),  # crossed the threshold
        (_b("h2d", 20.0), _b("h2d", 14.0), True),  # still above, but dropped more than 25 %
        (_b("h2d", 9.0), _b("h2d", 8.0), None),  # a small drop above the threshold
        (_b("h2d", 7.0), _b("h2d", 6.5), None),  # was already below, small drop
        (_b("h2d", 7.0), _b("h2d", 8.0), False),  # crossed upwards: an improvement
        (_b("h2d", 9.0), _b("h2d", None, status="fail"), True),  # now fails
        (_b("h2d", 9.0), _b("h2d", None, status="skip"), None),  # not run this time
        (_b("cpu", 100.0, None, None), _b("cpu", 70.0, None, None), True),  # no reference: 25 % margin
        (_b("launch_latency", 5.0, 5.0, 6.6667), _b("launch_latency", 7.0, 5.0, 6.6667), True),
        (_b("launch_latency", 7.0, 5.0, 6.6667), _b("launch_latency", 5.0, 5.0, 6.6667), False),
    ],
)
def test_compare_benchmark(old: Benchmark, new: Benchmark, expected: bool | None) -> None:
    found = compare_benchmark("H", old, new)
    assert (found[0] if found else None) is expected


# --- command line ---------------------------------------------------------------------------------


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    context = cli.CliContext(runner=None, find_powershell=lambda: None, stdout=out, stderr=err)  # type: ignore[arg-type]
    code = cli.main(["fleet", *argv], context=context)
    return code, out.getvalue(), err.getvalue()


def test_cli_writes_three_files_and_exit_codes(tmp_path: Path, lab: dict[str, Path]) -> None:
    junk = write(tmp_path / "reports" / "x" / "compat-report.json", {"format": "other"})
    everything = str(lab["preview-p"].parent.parent)
    code, _, err = run_cli(everything, "--out", str(tmp_path / "refused"))
    assert code == 2 and "--mix-profiles" in err and "preview-2021-06" in err
    assert not (tmp_path / "refused").exists()
    mixed = tmp_path / "mixed"
    code, out, err = run_cli(everything, "--out", str(mixed), "--mix-profiles")
    assert code == 0, err
    assert f"5 reports (0 input errors), {3 * HOSTS} systems" in out and "kept apart per profile" in out
    assert {p.name for p in mixed.iterdir()} == {"fleet.json", "fleet.html", "fleet.md"}
    assert json.loads((mixed / "fleet.json").read_text(encoding="utf-8"))["format"] == FLEET_FORMAT

    first = tmp_path / "first"
    code, out, err = run_cli(str(lab["ga"]), "--out", str(first))
    assert code == 0, err
    code, out, err = run_cli(str(lab["ga"]), str(junk), "--out", str(tmp_path / "second"), "--baseline",
                             str(first / "fleet.json"))  # fmt: skip
    assert code == 0, err  # the same hosts as in the first fleet: nothing regressed
    assert "1 input errors" in out and "0 regressions" in out
    assert str(junk) in err

    code, out, _ = run_cli(str(lab["ga-worse"]), "--out", str(tmp_path / "third"), "--baseline",
                           str(first / "fleet.json"))  # fmt: skip
    assert code == 1
    lines = [line for line in out.splitlines() if line.startswith("REGRESSION ")]
    assert lines == [
        "REGRESSION LAB-T4-SRV2022 / NVIDIA Tesla T4 (10DE:1EB8): eligible -> not-eligible; "
        "dda.acs pass -> fail"
    ]
    document = json.loads((tmp_path / "third" / "fleet.json").read_text(encoding="utf-8"))
    (regression,) = document["baseline"]["regressions"]
    assert regression["criteria"] == ["dda.acs pass -> fail"] and regression["gpu"] == "NVIDIA Tesla T4"
    page = (tmp_path / "third" / "fleet.html").read_text(encoding="utf-8")
    assert "Against the baseline" in page and "dda.acs pass -&gt; fail" in page
    assert "dda.acs pass -&gt; fail" in (tmp_path / "third" / "fleet.md").read_text(encoding="utf-8")

    # a baseline of another profile is not compared silently either
    code, _, err = run_cli(str(lab["preview"]), "--out", str(tmp_path / "fourth"), "--baseline",
                           str(first / "fleet.json"))  # fmt: skip
    assert code == 2 and "judged by profile(s) ga-2022-06" in err


def test_cli_fails_when_no_input_is_readable(tmp_path: Path) -> None:
    junk = write(tmp_path / "a" / "compat-report.json", {"format": "other"})
    corrupt = tmp_path / "b" / "compat-report.json"
    corrupt.parent.mkdir()
    corrupt.write_text("{", encoding="utf-8")
    code, out, err = run_cli(str(tmp_path), "--out", str(tmp_path / "o"))
    assert code == 1 and out == ""
    assert str(junk) in err and str(corrupt) in err
    assert "none of the 2 report(s) is a readable report" in err


def test_cli_usage_errors(tmp_path: Path, lab: dict[str, Path]) -> None:
    code, _, err = run_cli(str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    assert code == 2 and "no such file or folder" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(str(tmp_path / "empty"), "--out", str(tmp_path / "o"))
    assert code == 2 and "no compat-report.json found" in err
    code, _, err = run_cli(str(lab["ga"]), "--out", str(tmp_path / "o"), "--baseline", str(lab["ga"]))
    assert code == 2 and "not an eflow-gpu-fleet/1 document" in err
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit) as exc:
        run_cli(str(lab["ga"]))
    assert exc.value.code == 2
