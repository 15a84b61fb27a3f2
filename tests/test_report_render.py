"""Unit tests of the human reports: ``render_html`` and ``render_markdown``."""

from __future__ import annotations

import base64
import copy
import hashlib
import html
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from eflowgpu.report.html import CSP, render_html
from eflowgpu.report.htmlscript import SCRIPT, script_hash
from eflowgpu.report.labels import VERDICTS, system_verdict_label, verdict_label
from eflowgpu.report.markdown import escape_markdown, render_markdown

HOSTILE = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
PIPE_HOST = "pipe|host\n# heading *bold* _u_ [x](y) `code` ~s~"
HOSTILE_GPU = 'NVIDIA "Quadro" & <b>RTX</b>'
ERROR_TEXT = "not valid JSON: Expecting ',' delimiter <b>line 3</b>"
SAMPLE_NOTE = (
    "Not on Windows: evaluated the sample lab in fixtures/hosts (example snapshots, not a real host)."
)


def _criterion(
    cid: str, status: str, required: bool = True, detail: str = "", remedy: str | None = None
) -> dict[str, Any]:
    return {
        "id": cid,
        "status": status,
        "required": required,
        "detail": detail or f"{cid} detail",
        "remedy": remedy,
    }


def _gpu(name: str, verdict: str, criteria: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    gpu: dict[str, Any] = {
        "name": name,
        "pci_id": "10DE:1EB8",
        "subsys_id": "10DE:12A2",
        "model": "t4",
        "passthrough": "DDA",
        "passthrough_reason": None,
        "verdict": verdict,
        "criteria": criteria,
        "deploy_hint": (
            f'Deploy-Eflow -gpuPassthroughType DirectDeviceAssignment -gpuName "{name}" -gpuCount 1'
        ),
    }
    gpu.update(extra)
    return gpu


def _system(host: str, gpus: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    system: dict[str, Any] = {
        "host": host,
        "source": f"fixtures/hosts/{host}.json",
        "status": "ok",
        "error": None,
        "collector": "collect-host.ps1 1.0",
        "captured_at": "2026-11-20T10:00:00Z",
        "os": {
            "edition": "ServerDatacenter",
            "build": 17763,
            "ubr": 5458,
            "installation_type": "Server",
            "name": "Windows Server 2019",
        },
        "gpus": gpus,
        "vm": None,
    }
    system.update(extra)
    return system


VM = {
    "source": "fixtures/vms/lab-t4-01.json",
    "passthrough": "DDA",
    "gpus": [
        {
            "name": "Tesla T4",
            "pci_id": "10DE:1EB8",
            "model": "t4",
            "driver_version": "535.104.05",
            "cuda_version": "12.2",
            "memory_total_mib": 15360,
            "pcie": {"gen_max": 3, "width_max": 16, "gen_current": 3, "width_current": 16},
        }
    ],
    "criteria": [
        _criterion("vm.passthrough", "pass", detail="DDA, as the host predicts"),
        _criterion(
            "vm.memory",
            "warn",
            required=False,
            detail="VM has 1024 MB",
            remedy="Deploy with -memoryInMB 4096",
        ),
    ],
    "benchmarks": [
        {
            "id": "h2d_pinned",
            "value": 12.4,
            "unit": "GB/s",
            "reference": 13.0,
            "threshold": 9.1,
            "status": "pass",
            "samples": 15,
            "cv": 0.004,
        },
        {
            "id": "sgemm_fp32",
            "value": 2.0,
            "unit": "TFLOPS",
            "reference": 8.1,
            "threshold": 5.0,
            "status": "fail",
        },
    ],
}


def make_report(mode: str | None = "sample-lab") -> dict[str, Any]:
    """A report with every kind of row: each verdict, no GPU, an error, a VM and hostile strings."""
    not_eligible = [
        _criterion("os.build", "pass", detail="build 17763 >= 17763 (Windows Server)"),
        _criterion("dda.mitigation_driver", "warn", required=False, remedy="Install the mitigation driver"),
        _criterion("dda.acs", "fail", detail="ACS missing <upstream>", remedy="Enable ACS in firmware"),
        _criterion("os.edition", "fail", detail="Home is not allowed"),
    ]
    report: dict[str, Any] = {
        "format": "eflow-gpu-report/1",
        "generated_at": "2026-11-20T10:30:00Z",
        "matrix": {
            "path": "matrix.yaml",
            "profile": "preview-2021-06",
            "sha256": "ab" * 32,
            "profile_title": "EFLOW GPU acceleration preview (June 2021)",
            "profile_source": "MicrosoftDocs/azure-docs articles/iot-edge/gpu-acceleration.md",
        },
        "systems": [
            _system(
                "LAB-T4-01",
                [_gpu("NVIDIA Tesla T4", "eligible", [_criterion("os.build", "pass")])],
                vm=copy.deepcopy(VM),
            ),
            _system(HOSTILE, [_gpu(HOSTILE_GPU, "not-eligible", not_eligible)]),
            _system(
                PIPE_HOST,
                [
                    _gpu(
                        "NVIDIA A2",
                        "eligible-with-warnings",
                        [_criterion("os.build", "pass"), _criterion("gpupv.policy", "warn", required=False)],
                        passthrough="GPU-PV",
                        passthrough_reason="the profile lists the A2 for GPU-PV only",
                    ),
                    _gpu(
                        "NVIDIA GeForce GT 710",
                        "unsupported",
                        [_criterion("gpu.supported", "fail", detail="no row for this GPU")],
                        model=None,
                        passthrough=None,
                        deploy_hint=None,
                    ),
                ],
            ),
            _system(
                "LAB-INCOMPLETE",
                [
                    _gpu(
                        "NVIDIA Tesla P40",
                        "incomplete",
                        [_criterion("dda.rmrr", "unknown", detail="not captured")],
                    )
                ],
            ),
            _system("LAB-NOGPU", []),
            {
                "host": "broken-file",
                "source": "fixtures/hosts/broken-file.json",
                "status": "error",
                "error": ERROR_TEXT,
                "os": None,
                "gpus": [],
                "vm": None,
            },
        ],
    }
    if mode is not None:
        report["run"] = {"mode": mode, "note": SAMPLE_NOTE}
    return report


# ---------------------------------------------------------------- a tiny DOM for the HTML tests

_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


class Node:
    """One element of the parsed page."""

    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Node | str] = []

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self) -> list[Node]:
        out: list[Node] = []
        for child in self.children:
            if isinstance(child, Node):
                out.append(child)
                out.extend(child.iter())
        return out

    def find_all(self, tag: str, cls: str | None = None) -> list[Node]:
        return [n for n in self.iter() if n.tag == tag and (cls is None or cls in n.classes)]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in _VOID:
            self.current = node

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        assert node is not None, f"unmatched </{tag}>"
        assert node.parent is not None, f"unmatched </{tag}>"
        self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(page: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(page)
    builder.close()
    assert builder.current is builder.root, "unclosed elements at the end of the page"
    return builder.root


def system_lines(doc: Node) -> list[Node]:
    return doc.find_all("details", "sys")


def _summary(node: Node) -> Node:
    return node.find_all("summary")[0]


def _badge_keys(node: Node) -> list[str]:
    return [c[2:] for span in node.find_all("span", "badge") for c in span.classes if c.startswith("b-")]


# ---------------------------------------------------------------- HTML

EXPECTED_ORDER = [
    (HOSTILE, "not-eligible"),
    ("broken-file", "error"),
    ("LAB-NOGPU", "unsupported"),
    ("LAB-INCOMPLETE", "incomplete"),
    ("LAB-T4-01", "eligible-with-warnings"),  # its VM warns (vm.memory)
    (PIPE_HOST, "eligible-with-warnings"),
]


def test_html_is_a_self_contained_page_with_a_strict_csp() -> None:
    page = render_html(make_report())
    assert page.startswith("<!DOCTYPE html>")
    doc = parse(page)
    metas = [m for m in doc.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert len(metas) == 1
    policy = metas[0].attrs["content"]
    assert policy == CSP
    assert "default-src 'none'" in policy
    assert "style-src 'unsafe-inline'" in policy
    assert "img-src data:" in policy
    # the only script is the pack's own, allowed by its hash (no 'unsafe-inline' for scripts)
    scripts = doc.find_all("script")
    assert [s.text() for s in scripts] == [SCRIPT]
    assert f"script-src {script_hash(SCRIPT)};" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";")[0]
    assert [t.text() for t in doc.find_all("title")] == ["EFLOW GPU compatibility report"]
    lowered = page.lower()
    assert lowered.count("<script") == 1
    for forbidden in (
        "<link",
        "<img",
        "<iframe",
        "<object",
        "<embed",
        "http://",
        "https://",
        "url(",
        "@import",
    ):
        assert forbidden not in lowered, forbidden
    assert not any(name.startswith("on") for node in doc.iter() for name in node.attrs)


def test_the_script_never_parses_report_data_as_markup() -> None:
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function("):
        assert sink not in SCRIPT, sink
    assert "textContent" in SCRIPT and "dataset" in SCRIPT
    expected = "'sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode() + "'"
    assert script_hash() == expected


def test_html_escapes_every_untrusted_string() -> None:
    page = render_html(make_report())
    doc = parse(page)
    for raw in (HOSTILE, HOSTILE_GPU, ERROR_TEXT, "ACS missing <upstream>"):
        assert html.escape(raw, quote=True) in page
        assert raw not in page
    assert HOSTILE in doc.text()
    assert HOSTILE_GPU in doc.text()
    assert len(doc.find_all("script")) == 1
    assert not doc.find_all("img")
    assert not doc.find_all("b", None) or all(b.text() for b in doc.find_all("b"))
    # data attributes carry the label escaped, and only as attribute values
    hostile = next(d for d in system_lines(doc) if HOSTILE in _summary(d).text())
    assert hostile.attrs["data-host"] == HOSTILE.casefold()


def test_html_one_line_per_system_verdict_first_failures_first() -> None:
    doc = parse(render_html(make_report()))
    lines = system_lines(doc)
    assert len(lines) == len(EXPECTED_ORDER)
    for line, (host, verdict) in zip(lines, EXPECTED_ORDER, strict=True):
        summary = _summary(line)
        assert host in summary.text()
        assert line.attrs["data-verdict"] == verdict
        first = next(n for n in summary.children if isinstance(n, Node))
        assert "badge" in first.classes  # the system's verdict comes first on its line
        assert _badge_keys(first.parent or first)[0] == system_verdict_label(verdict).key
    # the lines are closed: one line each until opened
    assert all("open" not in line.attrs for line in lines)
    orders = [int(line.attrs["data-order"]) for line in lines]
    assert sorted(orders) == list(range(len(lines)))


def test_html_summary_line_names_what_failed() -> None:
    lines = system_lines(parse(render_html(make_report())))
    hostile = _summary(lines[0]).text()
    assert "failed: dda.acs, os.edition" in hostile
    assert "warnings" not in hostile  # a failing line names what fails; warnings are inside
    assert ERROR_TEXT in _summary(lines[1]).text()
    assert "no GPU found" in _summary(lines[2]).text()
    assert "unknown: dda.rmrr" in _summary(lines[3]).text()
    t4 = _summary(lines[4]).text()
    assert "warnings: vm.memory" in t4 and "benchmarks failed: sgemm_fp32" in t4
    assert "Windows Server 2019" in t4 and "17763.5458" in t4


def test_html_system_verdict_comes_from_the_report_when_given() -> None:
    report = make_report()
    report["systems"][0]["verdict"] = "not-eligible"  # e.g. a rule of issue 9 knows better
    lines = system_lines(parse(render_html(report)))
    assert [line.attrs["data-verdict"] for line in lines[:2]] == ["not-eligible", "not-eligible"]
    assert "LAB-T4-01" in _summary(lines[0]).text()  # report order within one verdict


def test_html_gpu_block_shows_model_passthrough_and_deploy_command() -> None:
    doc = parse(render_html(make_report()))
    blocks = doc.find_all("div", "gpu-block")
    assert len(blocks) == 5
    by_name = {b.find_all("span", "gpu")[0].text(): b for b in blocks}
    t4 = by_name["NVIDIA Tesla T4"]
    assert [c.text() for c in t4.find_all("code", "deploy")] == [
        'Deploy-Eflow -gpuPassthroughType DirectDeviceAssignment -gpuName "NVIDIA Tesla T4" -gpuCount 1'
    ]
    assert "once every required criterion passes" not in t4.text()
    assert "once every required criterion passes" in by_name[HOSTILE_GPU].text()
    unsupported = by_name["NVIDIA GeForce GT 710"]
    assert "not in the catalog" in unsupported.text()
    assert not unsupported.find_all("code", "deploy")
    assert "GPU-PV" in by_name["NVIDIA A2"].text()
    line = system_lines(doc)[0]
    assert "fixtures/hosts/" in line.text()


def test_html_explains_each_passthrough_type_once() -> None:
    report = make_report()
    reason = "EFLOW assigns the whole device by DDA because the GPU runs TCC"
    for system in report["systems"]:
        for gpu in system["gpus"]:
            if gpu.get("passthrough") == "DDA":
                gpu["passthrough_reason"] = reason
    report["systems"][1]["gpus"][0]["passthrough_reason"] = reason + ". EFLOW's own listing agrees"
    page = render_html(report)
    assert page.count(reason) == 1  # the explanation once; the GPU that adds to it shows its addition
    section = parse(page).find_all("section")
    assert [s.attrs.get("id") for s in section] == ["passthrough", "run-details"]
    assert "DDA" in section[0].text() and reason in section[0].text()
    assert "the profile lists the A2 for GPU-PV only" in section[0].text()
    assert "EFLOW&#x27;s own listing agrees" in page


def test_html_criteria_tables_put_failed_required_first_and_waivers_apart() -> None:
    report = make_report()
    report["systems"][1]["gpus"][0]["criteria"].append(
        {
            "id": "dda.rmrr",
            "status": "waived",
            "required": True,
            "detail": "RMRR reported",
            "waiver": {"id": "W-7", "reason": "vendor errata", "approved_by": "QA", "expires": "2027-01-01"},
        }
    )
    doc = parse(render_html(report))
    block = next(b for b in doc.find_all("div", "gpu-block") if HOSTILE_GPU in b.text())
    rows = block.find_all("table", "criteria-table")[0].find_all("tbody")[0].find_all("tr")
    ids = [r.find_all("td")[0].text() for r in rows]
    assert ids == ["dda.acs", "os.edition", "dda.mitigation_driver", "dda.rmrr", "os.build"]
    assert "c-fail-req" in rows[0].classes
    first_cells = [c.text() for c in rows[0].find_all("td")]
    assert first_cells == ["dda.acs", "fail", "yes", "ACS missing <upstream>", "Enable ACS in firmware"]
    waived = rows[3]
    assert "c-waived" in waived.classes
    assert _badge_keys(waived) == ["waived"]  # its own style, never a pass
    assert (
        "W-7" in waived.text() and "approved by QA" in waived.text() and "expires 2027-01-01" in waived.text()
    )


def test_html_unknown_status_and_profile_verdicts_render_generically() -> None:
    report = make_report()
    gpu = report["systems"][0]["gpus"][0]
    gpu["criteria"].append({"id": "site.fan", "status": "quarantined", "required": False, "detail": "x"})
    gpu["verdicts"] = {"preview-2021-06": "eligible", "ga-2022-06": "not-eligible"}
    doc = parse(render_html(report))
    block = next(b for b in doc.find_all("div", "gpu-block") if "NVIDIA Tesla T4" in b.text())
    assert "quarantined" in block.text()
    assert "other" in _badge_keys(block)
    assert "ga-2022-06: not eligible" in block.text()


def test_html_sample_lab_banner_only_in_sample_lab_mode() -> None:
    banner = parse(render_html(make_report("sample-lab"))).find_all("div", "banner")
    assert len(banner) == 1
    assert SAMPLE_NOTE in banner[0].text()
    assert "not your host" in banner[0].text()
    for mode in ("snapshots", "live", None):
        page = render_html(make_report(mode))
        assert not parse(page).find_all("div", "banner"), mode
        assert 'class="banner"' not in page
    assert SAMPLE_NOTE in parse(render_html(make_report("snapshots"))).text()


def test_html_header_and_summary_counts() -> None:
    doc = parse(render_html(make_report()))
    header = doc.find_all("header")[0].text()
    for text in ("2026-11-20T10:30:00Z", "preview-2021-06", "EFLOW GPU acceleration preview"):
        assert text in header
    details = next(s for s in doc.find_all("section") if s.attrs.get("id") == "run-details").text()
    for text in ("matrix.yaml", "ab" * 32, "MicrosoftDocs/azure-docs"):
        assert text in details
    counts = {
        li.attrs["id"]: li.find_all("span", "n")[0].text() for li in doc.find_all("li") if "id" in li.attrs
    }
    assert counts == {
        "count-gpus": "5",
        "count-eligible": "1",
        "count-warnings": "1",
        "count-incomplete": "1",
        "count-not-eligible": "1",
        "count-unsupported": "1",
        "count-error": "1",
    }
    systems = doc.find_all("ul", "summary")[0]
    assert systems.attrs["id"] == "system-counts"
    assert systems.text().startswith("6 systems:")
    assert _badge_keys(systems) == ["not-eligible", "error", "unsupported", "incomplete", "warnings"]


def test_html_coverage_note_of_a_narrowed_run_is_in_the_header() -> None:
    report = make_report()
    report["run"]["coverage"] = {"note": "narrowed by -k t4: 20 of 30 tests ran"}
    header = parse(render_html(report)).find_all("header")[0].text()
    assert "narrowed by -k t4: 20 of 30 tests ran" in header


def test_html_filters_offer_the_verdicts_and_models_present() -> None:
    doc = parse(render_html(make_report()))
    form = doc.find_all("form")[0]
    assert form.attrs["id"] == "filters" and "hidden" in form.attrs  # shown by the script only
    selects = {
        s.attrs["id"]: [o.attrs["value"] for o in s.find_all("option")] for s in form.find_all("select")
    }
    assert selects["f-verdict"] == [
        "",
        "not-eligible",
        "error",
        "unsupported",
        "incomplete",
        "eligible-with-warnings",
    ]
    assert selects["f-model"] == ["", "(not in catalog)", "t4"]
    assert selects["f-sort"] == ["verdict", "host", "model"]
    models = {line.attrs["data-host"]: line.attrs["data-models"] for line in system_lines(doc)}
    assert models[PIPE_HOST.casefold()] == "t4|(not in catalog)"


def test_html_verdict_badges_have_distinct_colours() -> None:
    page = render_html(make_report())
    colours = {}
    for verdict in VERDICTS:
        key = verdict_label(verdict).key
        match = re.search(rf"\.b-{re.escape(key)} \{{ background: (#[0-9a-f]{{6}});", page)
        assert match, verdict
        colours[verdict] = match.group(1)
    assert len(set(colours.values())) == len(VERDICTS)
    assert colours["eligible"] == "#1a7f37"
    assert colours["not-eligible"] == "#c62828"


def test_html_renders_the_vm_block_inside_its_system() -> None:
    doc = parse(render_html(make_report()))
    blocks = doc.find_all("div", "vm-block")
    assert len(blocks) == 1
    vm = blocks[0]
    line = vm.parent.parent if vm.parent is not None and vm.parent.parent is not None else vm
    assert "LAB-T4-01" in _summary(line).text()
    text = vm.text()
    assert "passthrough DDA" in text
    for expected in ("vm.passthrough", "vm.memory", "Deploy with -memoryInMB 4096", "535.104.05", "Gen3 x16"):
        assert expected in text
    bench_rows = vm.find_all("table", "benchmarks")[0].find_all("tbody")[0].find_all("tr")
    first = [c.text() for c in bench_rows[0].find_all("td")]
    assert first[:9] == ["h2d_pinned", "12.4", "GB/s", "13", "9.1", "0.95", "pass", "15", "0.004"]
    second = [c.text() for c in bench_rows[1].find_all("td")]
    assert second[5] == "0.25"
    assert second[6] == "fail"
    assert second[7] == second[8] == "\u2014"


def test_html_cpu_figure_is_measured_not_skipped() -> None:
    """pytest passes a CPU benchmark that has no reference; the report must not call it a skip."""
    report = make_report()
    report["systems"][0]["vm"]["benchmarks"] = [
        {"id": "cpu_gemm_fp32", "value": 0.2, "unit": "TFLOP/s", "status": "skip", "samples": 5, "cv": 0.01},
        {"id": "gemm_fp32", "value": None, "unit": "TFLOP/s", "status": "skip", "detail": "no CUDA"},
        {
            "id": "h2d_pinned",
            "value": 9.0,
            "status": "pass",
            "cv": 0.3,
            "gate": {"gated": False, "detail": "spread CV 0.3 is wider than the gate's 10 %"},
        },
    ]
    vm = parse(render_html(report)).find_all("div", "vm-block")[0]
    rows = vm.find_all("table", "benchmarks")[0].find_all("tbody")[0].find_all("tr")
    assert _badge_keys(rows[0]) == ["measured"]
    assert "measured, not judged" in rows[0].text()
    assert _badge_keys(rows[1]) == ["skip"]
    assert "wider than the gate" in rows[2].text()


def test_html_shows_the_regression_gate_outcome() -> None:
    report = make_report()
    report["run"]["regression_gate"] = {
        "failures": [
            {"message": "REGRESSION cpu_gemm_fp32: median 91.8 % slower than the baseline", "gated": True},
            {"message": "not gated: h2d_pinned varies", "gated": False},
        ]
    }
    doc = parse(render_html(report))
    gates = doc.find_all("p", "gate")
    assert gates[0].text().startswith("REGRESSION cpu_gemm_fp32")
    assert "imprecise" in gates[1].classes


@pytest.mark.parametrize(
    "vm",
    [
        {},
        {"criteria": None, "benchmarks": "nope", "gpus": [None, 3, {"pcie": "x"}]},
        {"benchmarks": [{"id": "x", "value": "fast", "reference": 0}, {"value": 1, "reference": 0.0}, {}]},
        {"benchmarks": [{"id": "b", "value": True, "reference": 2, "cv": float("nan")}]},
    ],
)
def test_html_vm_section_is_robust_to_missing_keys(vm: dict[str, Any]) -> None:
    report = make_report()
    report["systems"][0]["vm"] = vm
    doc = parse(render_html(report))
    blocks = doc.find_all("div", "vm-block")
    assert len(blocks) == 1
    for table in blocks[0].find_all("table", "benchmarks"):
        for row in table.find_all("tbody")[0].find_all("tr"):
            assert row.find_all("td")[5].text() == "\u2014"  # no ratio without two numbers


def test_html_tolerates_a_damaged_report() -> None:
    assert "EFLOW GPU compatibility report" in render_html({})
    report: dict[str, Any] = {
        "matrix": "oops",
        "run": ["x"],
        "systems": [
            None,
            {"host": None, "gpus": None, "os": "Windows"},
            {
                "host": "h",
                "os": {"build": 19045},
                "gpus": [{"verdict": "strange<b>", "criteria": [None, {"status": 3}]}],
            },
            {"status": "error"},
        ],
    }
    page = render_html(report)
    lines = system_lines(parse(page))
    assert len(lines) == 3
    texts = [_summary(line).text() for line in lines]
    assert any("no GPU found" in t for t in texts)
    strange = next(line for line in lines if "19045" in _summary(line).text())
    assert _badge_keys(_summary(strange))[0] == "other"
    assert "strange<b>" in strange.text()
    assert "strange<b>" not in page
    assert any(_badge_keys(_summary(line))[0] == "error" for line in lines)


def test_html_is_deterministic_and_does_not_change_the_report() -> None:
    report = make_report()
    before = copy.deepcopy(report)
    assert render_html(report) == render_html(report)
    assert report == before


def test_html_renders_a_thousand_systems() -> None:
    template = make_report()["systems"]
    report = make_report()
    report["systems"] = [
        {**copy.deepcopy(template[i % len(template)]), "host": f"host-{i:04d}"} for i in range(1000)
    ]
    lines = system_lines(parse(render_html(report)))
    assert len(lines) == 1000
    assert lines[0].attrs["data-verdict"] == "not-eligible"
    assert lines[-1].attrs["data-verdict"] == "eligible-with-warnings"


# ---------------------------------------------------------------- Markdown


def _split_row(line: str) -> list[str]:
    """Split a GFM table row the way GitHub does: a backslash escapes the next character."""
    assert line.startswith("|"), line
    assert line.endswith("|"), line
    cells: list[str] = []
    current: list[str] = []
    chars = iter(line[1:-1])
    for ch in chars:
        if ch == "\\":
            current.append(ch + next(chars, ""))
        elif ch == "|":
            cells.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    cells.append("".join(current).strip())
    return cells


def _unescape(text: str) -> str:
    return html.unescape(re.sub(r"\\(.)", r"\1", text))


def _table_rows(md: str, header_first: str) -> list[list[str]]:
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header_first} |"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(_split_row(line))
    return rows


def test_escape_markdown() -> None:
    assert escape_markdown("a|b") == "a\\|b"
    assert escape_markdown("<script>x</script>") == "&lt;script&gt;x&lt;/script&gt;"
    assert escape_markdown("*_[]#`~\\") == "\\*\\_\\[\\]\\#\\`\\~\\\\"
    assert escape_markdown("one\ntwo\r\nthree\u2028four") == "one two  three four"
    assert escape_markdown("a & b") == "a &amp; b"
    assert escape_markdown(17763) == "17763"
    for raw in (HOSTILE, PIPE_HOST, HOSTILE_GPU):
        escaped = escape_markdown(raw)
        assert "\n" not in escaped
        assert "<" not in escaped
        assert _unescape(escaped) == " ".join(raw.splitlines())


def test_markdown_header_note_and_counts() -> None:
    md = render_markdown(make_report())
    lines = md.splitlines()
    assert lines[0] == "# EFLOW GPU compatibility report"
    assert [line for line in lines if line.startswith("# ")] == [lines[0]]
    quote = [line for line in lines if line.startswith("> ")]
    assert len(quote) == 1
    assert "Sample lab" in quote[0]
    assert _unescape(quote[0]).endswith(SAMPLE_NOTE)
    assert "preview-2021-06" in md
    counts = next(line for line in lines if line.startswith("**Verdicts:**"))
    for part in (
        "1 eligible,",
        "1 eligible-with-warnings",
        "1 incomplete",
        "1 not-eligible",
        "1 unsupported",
    ):
        assert part in counts
    assert "**Systems in error:** 1" in counts
    assert "6 systems, 5 GPUs" in counts
    systems = next(line for line in lines if line.startswith("**Systems:**"))
    assert systems == (
        "**Systems:** 1 not-eligible, 1 error, 1 unsupported, 1 incomplete, 2 eligible-with-warnings."
    )


def test_markdown_note_is_not_a_warning_outside_the_sample_lab() -> None:
    md = render_markdown(make_report("snapshots"))
    assert not [line for line in md.splitlines() if line.startswith(">")]
    assert "Run mode: snapshots." in md
    assert "Sample lab" not in md
    assert "Sample lab" not in render_markdown(make_report(None))


def test_markdown_table_has_one_intact_row_per_system_and_gpu() -> None:
    md = render_markdown(make_report())
    rows = _table_rows(md, "System")
    header, rule, body = rows[0], rows[1], rows[2:]
    assert header == ["System", "Host", "GPU", "Model", "Passthrough", "Verdict", "Failed", "Warned"]
    assert rule == ["---"] * 8
    assert all(len(row) == len(header) for row in body), body
    got = [(r[0], _unescape(r[1]), _unescape(r[2]), r[5]) for r in body]
    pipe = PIPE_HOST.replace("\n", " ")
    assert got == [
        ("**NOT ELIGIBLE**", HOSTILE, HOSTILE_GPU, "**NOT ELIGIBLE**"),
        ("**ERROR**", "broken-file", "(not evaluated, see below)", "**ERROR**"),
        ("**UNSUPPORTED**", "LAB-NOGPU", "no GPU found", "**NO GPU**"),
        ("**INCOMPLETE**", "LAB-INCOMPLETE", "NVIDIA Tesla P40", "**INCOMPLETE**"),
        ("**ELIGIBLE (WARNINGS)**", "LAB-T4-01", "NVIDIA Tesla T4", "**ELIGIBLE**"),
        ("**ELIGIBLE (WARNINGS)**", pipe, "NVIDIA A2", "**ELIGIBLE (WARNINGS)**"),
        ("**ELIGIBLE (WARNINGS)**", pipe, "NVIDIA GeForce GT 710", "**UNSUPPORTED**"),
    ]
    not_eligible = body[0]
    assert _unescape(not_eligible[6]) == "dda.acs, os.edition"
    assert _unescape(not_eligible[7]) == "dda.mitigation_driver"
    assert body[6][3] == "not in catalog"
    assert "dda.rmrr (unknown)" in _unescape(body[3][6])


def test_markdown_cannot_be_broken_by_hostile_strings() -> None:
    md = render_markdown(make_report())
    text = md
    assert "<" not in text  # no tag at all: GitHub renders inline HTML in job summaries
    assert "\n# heading" not in text
    assert "`" not in text.replace("\\`", "")
    for line in text.splitlines():
        assert not line.startswith("# heading")


def test_markdown_lists_systems_in_error() -> None:
    md = render_markdown(make_report())
    section = md.split("## Systems in error\n", 1)[1].split("\n## ", 1)[0]
    items = [line for line in section.splitlines() if line.startswith("- ")]
    assert len(items) == 1
    assert "**broken-file**" in items[0]
    assert _unescape(items[0]).endswith(ERROR_TEXT)
    assert "## Systems in error" not in render_markdown({"systems": [make_report()["systems"][0]]})


def test_markdown_lists_failed_criteria_of_gpus_that_are_not_eligible() -> None:
    md = render_markdown(make_report())
    section = md.split("## Why GPUs are not eligible\n", 1)[1].split("\n## ", 1)[0]
    headings = [line for line in section.splitlines() if line.startswith("### ")]
    assert [_unescape(h) for h in headings] == [
        f"### {HOSTILE}: {HOSTILE_GPU} (NOT ELIGIBLE)",
        "### LAB-INCOMPLETE: NVIDIA Tesla P40 (INCOMPLETE)",
        f"### {PIPE_HOST.replace(chr(10), ' ')}: NVIDIA GeForce GT 710 (UNSUPPORTED)",
    ]
    hostile_block = section.split(headings[1])[0]
    bullets = [_unescape(line) for line in hostile_block.splitlines() if line.startswith("- ")]
    assert bullets == [
        "- dda.acs (required, fail): ACS missing <upstream> Remedy: Enable ACS in firmware",
        "- os.edition (required, fail): Home is not allowed",
    ]
    assert "- gpu.supported (required, fail): no row for this GPU" in _unescape(section)
    assert "- dda.rmrr (required, unknown): not captured" in _unescape(section)
    assert "LAB-T4-01" not in section
    assert "NVIDIA A2" not in section


def test_markdown_vm_results() -> None:
    md = render_markdown(make_report())
    rows = _table_rows(md, "Host | Passthrough in VM")
    assert len(rows) == 3
    assert rows[2][0] == "LAB-T4-01"
    assert rows[2][1] == "DDA"
    assert _unescape(rows[2][3]) == "vm.memory"
    assert rows[2][4] == "2"
    assert _unescape(rows[2][5]) == "sgemm_fp32"
    report = make_report()
    report["systems"][0]["vm"] = None
    assert "In-VM results" not in render_markdown(report)


def test_markdown_is_deterministic_and_tolerates_a_damaged_report() -> None:
    report = make_report()
    before = copy.deepcopy(report)
    assert render_markdown(report) == render_markdown(report)
    assert report == before
    md = render_markdown({"systems": [None, {"gpus": "x"}, {"status": "error"}], "matrix": 3, "run": "x"})
    assert md.startswith("# EFLOW GPU compatibility report\n")
    assert len(_table_rows(md, "System")) == 4


def test_markdown_carries_deploy_commands_warnings_vm_failures_and_figures() -> None:
    report = make_report()
    report["systems"][0]["vm"]["criteria"].append(
        _criterion("vm.driver", "fail", detail="driver 410 < 525", remedy="update EFLOW")
    )
    report["systems"][0]["vm"]["benchmarks"][1]["detail"] = "2.0 TFLOPS vs reference 8.1"
    md = render_markdown(report)
    deploy = _unescape(md.split("## Deploy commands\n\n", 1)[1].split("\n\n", 1)[0])
    for system in report["systems"]:
        for gpu in system["gpus"]:
            if gpu.get("deploy_hint"):
                assert gpu["deploy_hint"] in deploy
    assert "once every required criterion passes" in deploy  # the not-eligible GPU's command
    warnings = _unescape(md.split("## Warnings\n\n", 1)[1].split("\n## ", 1)[0])
    assert (
        "dda.mitigation_driver (warn): dda.mitigation_driver detail Remedy: Install the mitigation driver"
        in (warnings)
    )
    assert "in the VM: vm.memory (warn): VM has 1024 MB Remedy: Deploy with -memoryInMB 4096" in warnings
    vm_failures = _unescape(md.split("## In-VM failures\n\n", 1)[1].split("\n## ", 1)[0])
    assert "- vm.driver (required, fail): driver 410 < 525 Remedy: update EFLOW" in vm_failures
    assert "- benchmark sgemm_fp32 failed: 2.0 TFLOPS vs reference 8.1" in vm_failures
    figures = _table_rows(md, "Host | Benchmark")
    assert [r[1] for r in figures[2:]] == ["h2d\\_pinned", "sgemm\\_fp32"]
    assert figures[2][2:5] == ["12.4", "GB/s", "13"]


def test_markdown_is_bounded_and_says_what_was_cut() -> None:
    template = make_report()["systems"]
    report = make_report()
    report["systems"] = [
        {**copy.deepcopy(template[i % len(template)]), "host": f"host-{i:05d}"} for i in range(3000)
    ]
    md = render_markdown(report, max_bytes=200_000)
    assert len(md.encode()) <= 200_000
    assert "**Cut to stay under 200000 bytes:**" in md
    assert "more lines of" in md
    # what is kept first: why GPUs are not eligible, with their remedies
    assert "Remedy: Enable ACS in firmware" in md
    full = render_markdown(report, max_bytes=100_000_000)
    assert "Cut to stay under" not in full and len(full.encode()) > 200_000


def test_sample_lab_markdown_holds_every_deploy_command_and_every_remedy() -> None:
    from eflowgpu.evaluate import evaluate_host_files
    from eflowgpu.matrix import load_matrix
    from eflowgpu.report.model import build_report
    from eflowgpu.snapshot import snapshot_files
    from eflowgpu.vm.evaluate import attach_vms, read_vm_file

    from helpers import PROJECT

    matrix = load_matrix(PROJECT / "matrix.yaml")
    profile = matrix.profile(None)
    systems = evaluate_host_files(matrix, profile, snapshot_files([PROJECT / "fixtures" / "hosts"]))
    records = [read_vm_file(matrix, p) for p in snapshot_files([PROJECT / "fixtures" / "vms"])]
    report = build_report(matrix, profile, attach_vms(matrix, systems, records, None))
    md = render_markdown(report)
    text = _unescape(md)
    hints = [g["deploy_hint"] for s in report["systems"] for g in s["gpus"] if g.get("deploy_hint")]
    assert len(hints) >= 10
    for hint in hints:
        assert hint in text, hint
    remedies = 0
    for system in report["systems"]:
        owners = [*system["gpus"], *([system["vm"]] if system.get("vm") else [])]
        for owner in owners:
            for criterion in owner["criteria"]:
                if criterion["status"] == "fail" and criterion.get("remedy"):
                    assert criterion["remedy"] in text, (system["host"], criterion["id"])
                    remedies += 1
    assert remedies >= 20
