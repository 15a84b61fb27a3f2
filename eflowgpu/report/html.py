"""The HTML compatibility report: one self-contained page, readable at a glance and offline.

The page has inline CSS only: no JavaScript, no external fonts, images or URLs. Every string taken
from the report is escaped with :func:`html.escape` (snapshots are untrusted), and a strict
Content-Security-Policy makes sure that even a mistake here cannot run a script. The output depends
only on the report, so the same report always gives the same page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeGuard

from eflowgpu.report.htmlsafe import DASH as _DASH
from eflowgpu.report.htmlsafe import badge as _badge
from eflowgpu.report.htmlsafe import escape as _e
from eflowgpu.report.htmlsafe import text as _text
from eflowgpu.report.labels import (
    ELIGIBLE_VERDICTS,
    ERROR_LABEL,
    NO_GPU_LABEL,
    VERDICTS,
    all_labels,
    as_mapping,
    as_mappings,
    error_count,
    ids_with_status,
    sort_criteria,
    status_label,
    verdict_counts,
    verdict_label,
)

TITLE = "EFLOW GPU compatibility report"
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

_MAIN_COLUMNS = ("Host", "OS", "GPU", "Model", "Passthrough", "Verdict", "Deploy command")
_SPAN = len(_MAIN_COLUMNS)
_NOT_YET = '<small class="muted">once every required criterion passes:</small>'

_BASE_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; padding: 1.25rem 1.5rem 3rem; color: #1f2328; background: #ffffff;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: 0 0 1rem; }
.meta dt { color: #59636e; }
.meta dd { margin: 0; overflow-wrap: anywhere; }
.muted { color: #59636e; }
small, .small { font-size: .85em; }
.banner { border: 2px solid #b35900; background: #fff4e0; color: #3d2000; padding: .75rem 1rem;
  border-radius: 6px; margin: 0 0 1rem; font-size: 1.05rem; }
.banner strong { display: block; font-size: 1.15rem; margin-bottom: .2rem; }
.summary { display: flex; flex-wrap: wrap; gap: .5rem; list-style: none; padding: 0; margin: 0 0 1rem; }
.summary li { display: flex; align-items: center; gap: .4rem; border: 1px solid #d0d7de;
  border-radius: 6px; padding: .35rem .7rem; background: #f6f8fa; }
.summary .n { font-size: 1.3rem; font-weight: 700; }
.summary .zero { opacity: .55; }
.summary .errors { border-color: #6f2da8; box-shadow: inset 4px 0 0 #6f2da8; }
.badge { display: inline-block; padding: .1rem .5rem; border-radius: 999px; font-weight: 600;
  font-size: .85em; white-space: nowrap; border: 1px solid rgba(0,0,0,.15); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .4rem .55rem; }
table.main > thead th { position: sticky; top: 0; z-index: 1; background: #24292f; color: #ffffff; }
table.main > tbody > tr > td { border-top: 1px solid #d8dee4; }
table.main > tbody:nth-of-type(even) > tr { background: #f6f8fa; }
table.main > tbody > tr.detail-row > td { border-top: none; padding-top: 0; }
td.host { font-weight: 600; overflow-wrap: break-word; min-width: 11rem; max-width: 18rem; }
td.host small, td.gpu small, td.pt small { display: block; font-weight: 400; color: #59636e;
  overflow-wrap: anywhere; }
td.error-text { color: #6f2da8; font-weight: 600; overflow-wrap: anywhere; }
code.deploy { display: block; white-space: pre-wrap; overflow-wrap: break-word; min-width: 16rem;
  font-size: .85em;
  background: #f0f3f6; border: 1px solid #d0d7de; border-radius: 4px; padding: .3rem .45rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; }
details > summary { cursor: pointer; color: #0b4f9c; }
details[open] > summary { margin-bottom: .35rem; }
summary .fails { color: #b42318; font-weight: 600; }
summary .warns { color: #7a4a00; }
table.sub { margin: .25rem 0 .6rem; font-size: .92em; background: #ffffff; border: 1px solid #d0d7de; }
table.sub th { background: #eaeef2; color: #1f2328; border-bottom: 1px solid #d0d7de; }
table.sub td { border-top: 1px solid #eaeef2; overflow-wrap: anywhere; }
table.sub tr.c-fail-req > td { background: #ffebe9; }
table.sub tr.c-fail-req > td:first-child { box-shadow: inset 4px 0 0 #c62828; font-weight: 600; }
table.sub tr.c-fail > td { background: #fff1f0; }
table.sub tr.c-unknown-req > td { background: #eef4fb; }
table.sub tr.c-warn > td { background: #fff8e5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.vm-block h4 { margin: .6rem 0 .2rem; font-size: .95rem; }
.disagree { background: #cf222e; color: #fff; border-radius: 4px; padding: 0 .4rem; font-weight: 600; }
.disagree-detail { border-left: 4px solid #cf222e; background: #ffebe9; padding: .3rem .6rem; }
footer { margin-top: 2rem; color: #59636e; font-size: .85em; }
@media print {
  body { padding: 0; font-size: 11px; }
  table.main > thead th { position: static; }
  thead { display: table-header-group; }
  tbody { break-inside: avoid; page-break-inside: avoid; }
  .badge, .banner, table.main > thead th, table.sub tr > td { print-color-adjust: exact;
    -webkit-print-color-adjust: exact; }
  details > summary { color: #1f2328; }
}
"""


def _badge_css() -> str:
    rules = [
        f".b-{label.key} {{ background: {label.background}; color: {label.foreground}; }}"
        for label in all_labels()
    ]
    return "\n".join(rules)


_CSS = _BASE_CSS + _badge_css() + "\n"


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _num(value: object, digits: int = 4) -> str:
    """A number compactly (``12.4``, ``15360``); anything else escaped as text, or a dash."""
    if isinstance(value, bool) or value is None:
        return _DASH if value is None else _e(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.{digits}g}"
    return _e(value)


def _os_text(os_info: Mapping[str, Any]) -> str:
    parts: list[str] = []
    if os_info.get("name"):
        parts.append(_e(os_info["name"]))
    if os_info.get("edition"):
        parts.append(_e(os_info["edition"]))
    build, ubr = os_info.get("build"), os_info.get("ubr")
    if build is not None:
        parts.append(f"{_e(build)}.{_e(ubr)}" if ubr is not None else _e(build))
    return "<br>".join(parts) if parts else _DASH


def _system_verdict(system: Mapping[str, Any]) -> str:
    """The system's overall verdict (``systems[].verdict``), first in its host cell."""
    verdict = system.get("verdict")
    if verdict is None:
        return ""
    label = ERROR_LABEL if verdict == "error" else verdict_label(verdict)
    return f'<div class="system-verdict" data-verdict="{_e(verdict)}">System: {_badge(label)}</div>'


def _host_cell(system: Mapping[str, Any]) -> str:
    out = [f'<td class="host">{_system_verdict(system)}{_text(system.get("host"), "(no host label)")}']
    if system.get("source"):
        out.append(f"<small>{_e(system['source'])}</small>")
    meta = [str(system[k]) for k in ("collector", "captured_at") if system.get(k)]
    if meta:
        out.append(f"<small>{_e(' · '.join(meta))}</small>")
    out.append("</td>")
    return "".join(out)


def _criteria_table(criteria: list[Mapping[str, Any]]) -> str:
    out = [
        '<table class="sub criteria-table"><thead><tr><th>Criterion</th><th>Status</th>'
        "<th>Required</th><th>Detail</th><th>Remedy</th></tr></thead><tbody>"
    ]
    for criterion in sort_criteria(criteria):
        status = criterion.get("status")
        required = criterion.get("required")
        row_class = f"c-{status_label(status).key}"
        if required is True and status in ("fail", "unknown"):
            row_class += "-req"
        required_text = "yes" if required is True else "no" if required is False else _DASH
        out.append(
            f'<tr class="{row_class}"><td><code>{_text(criterion.get("id"))}</code></td>'
            f"<td>{_badge(status_label(status))}</td><td>{required_text}</td>"
            f"<td>{_text(criterion.get('detail'), '')}</td>"
            f"<td>{_text(criterion.get('remedy'), '')}</td></tr>"
        )
    out.append("</tbody></table>")
    return "".join(out)


def _criteria_summary(criteria: list[Mapping[str, Any]]) -> str:
    """The ``<summary>`` text: counts per status, then the ids that need attention."""
    counts: dict[str, int] = {}
    for criterion in criteria:
        key = status_label(criterion.get("status")).text
        counts[key] = counts.get(key, 0) + 1
    parts = [f"Criteria ({len(criteria)})"]
    if counts:
        parts.append(": " + _e(", ".join(f"{n} {status}" for status, n in counts.items())))
    failed = ids_with_status(criteria, "fail")
    unknown = ids_with_status(criteria, "unknown", required_only=True)
    warned = ids_with_status(criteria, "warn")
    if failed:
        parts.append(f' <span class="fails">failed: {_e(", ".join(failed))}</span>')
    if unknown:
        parts.append(f' <span class="fails">unknown: {_e(", ".join(unknown))}</span>')
    if warned:
        parts.append(f' <span class="warns">warnings: {_e(", ".join(warned))}</span>')
    return "".join(parts)


def _gpu_rows(system: Mapping[str, Any], os_cell: str, gpu: Mapping[str, Any], out: list[str]) -> None:
    verdict = gpu.get("verdict")
    label = verdict_label(verdict)
    model = gpu.get("model")
    model_html = _e(model) if model else '<span class="muted">not in catalog</span>'
    ids = [f"PCI {_e(gpu['pci_id'])}" if gpu.get("pci_id") else ""]
    ids.append(f"subsys {_e(gpu['subsys_id'])}" if gpu.get("subsys_id") else "")
    ids_html = " · ".join(i for i in ids if i)
    reason = gpu.get("passthrough_reason")
    reason_html = f"<small>{_e(reason)}</small>" if reason else ""
    hint = gpu.get("deploy_hint")
    if hint:
        ready = verdict in ELIGIBLE_VERDICTS and system.get("verdict", verdict) in ELIGIBLE_VERDICTS
        prefix = "" if ready else _NOT_YET  # also when the system's VM check failed
        deploy = f'{prefix}<code class="deploy">{_e(hint)}</code>'
    else:
        deploy = f'<span class="muted">{_DASH}</span>'
    out.append(
        f'<tbody class="system"><tr class="gpu-row row-{label.key}">{_host_cell(system)}<td>{os_cell}</td>'
        f'<td class="gpu">{_text(gpu.get("name"), "(unnamed GPU)")}'
        f"{f'<small>{ids_html}</small>' if ids_html else ''}</td>"
        f"<td>{model_html}</td>"
        f'<td class="pt">{_text(gpu.get("passthrough"))}{reason_html}</td>'
        f"<td>{_badge(label)}</td><td>{deploy}</td></tr>"
    )
    criteria = as_mappings(gpu.get("criteria"))
    out.append(
        f'<tr class="detail-row"><td colspan="{_SPAN}"><details class="criteria">'
        f"<summary>{_criteria_summary(criteria)}</summary>{_criteria_table(criteria)}</details></td></tr>"
        "</tbody>"
    )


def _vm_gpus_table(gpus: list[Mapping[str, Any]]) -> str:
    out = [
        '<table class="sub vm-gpus"><thead><tr><th>GPU</th><th>PCI id</th><th>Model</th><th>Driver</th>'
        "<th>CUDA</th><th>Memory (MiB)</th><th>PCIe link</th></tr></thead><tbody>"
    ]
    for gpu in gpus:
        pcie = as_mapping(gpu.get("pcie"))
        link = _DASH
        if pcie:
            link = (
                f"Gen{_num(pcie.get('gen_current'))} x{_num(pcie.get('width_current'))} "
                f"(max Gen{_num(pcie.get('gen_max'))} x{_num(pcie.get('width_max'))})"
            )
        out.append(
            f"<tr><td>{_text(gpu.get('name'))}</td><td>{_text(gpu.get('pci_id'))}</td>"
            f"<td>{_text(gpu.get('model'))}</td><td>{_text(gpu.get('driver_version'))}</td>"
            f"<td>{_text(gpu.get('cuda_version'))}</td>"
            f'<td class="num">{_num(gpu.get("memory_total_mib"))}</td><td>{link}</td></tr>'
        )
    out.append("</tbody></table>")
    return "".join(out)


def _ratio(bench: Mapping[str, Any]) -> str:
    value, reference = bench.get("value"), bench.get("reference")
    if _is_number(value) and _is_number(reference) and reference != 0:
        return f"{value / reference:.2f}"
    return _DASH


def _benchmarks_table(benchmarks: list[Mapping[str, Any]]) -> str:
    out = [
        '<table class="sub benchmarks"><thead><tr><th>Benchmark</th><th>Value</th><th>Unit</th>'
        "<th>Reference</th><th>Threshold</th><th>Ratio</th><th>Status</th><th>Samples</th><th>CV</th>"
        "</tr></thead><tbody>"
    ]
    for bench in benchmarks:
        label = status_label(bench.get("status"))
        out.append(
            f'<tr class="c-{label.key}"><td><code>{_text(bench.get("id"))}</code></td>'
            f'<td class="num">{_num(bench.get("value"))}</td><td>{_text(bench.get("unit"))}</td>'
            f'<td class="num">{_num(bench.get("reference"))}</td>'
            f'<td class="num">{_num(bench.get("threshold"))}</td>'
            f'<td class="num">{_ratio(bench)}</td><td>{_badge(label)}</td>'
            f'<td class="num">{_num(bench.get("samples"))}</td>'
            f'<td class="num">{_num(bench.get("cv"), 3)}</td></tr>'
        )
    out.append("</tbody></table>")
    return "".join(out)


def _benchmark_chart(benchmarks: list[Mapping[str, Any]]) -> str:
    """An inline SVG bar chart of each judged figure as a fraction of its reference (no script).

    Bars are coloured by status; the dashed line is the pass threshold. Figures without a
    reference are listed in the table only.
    """
    judged = []
    for bench in benchmarks:
        value, reference, threshold = bench.get("value"), bench.get("reference"), bench.get("threshold")
        if _is_number(value) and _is_number(reference) and reference > 0:
            judged.append(
                (str(bench.get("id")), value / reference, threshold, reference, bench.get("status"))
            )
    if not judged:
        return ""
    row, label_w, bar_w = 22, 150, 360
    height = row * len(judged) + 30
    parts = [
        f'<svg class="bench-chart" role="img" aria-label="figures as a fraction of their reference" '
        f'width="{label_w + bar_w + 80}" height="{height}">'
    ]
    scale = bar_w / 1.5
    for i, (bench_id, ratio, threshold, reference, status) in enumerate(judged):
        y = 10 + i * row
        width = max(1.0, min(ratio, 1.5) * scale)
        colour = status_label(status).background
        parts.append(f'<text x="0" y="{y + 14}" font-size="12">{_e(bench_id)}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{width:.1f}" height="{row - 8}" fill="{_e(colour)}"/>'
        )
        parts.append(f'<text x="{label_w + width + 4:.1f}" y="{y + 14}" font-size="11">{ratio:.0%}</text>')
        if _is_number(threshold) and reference:
            fraction = threshold / reference
            x = label_w + min(fraction, 1.5) * scale
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y + 1}" y2="{y + row - 3}" '
                'stroke="#1f2328" stroke-dasharray="3,2"/>'
            )
    one = label_w + scale
    parts.append(f'<line x1="{one:.1f}" x2="{one:.1f}" y1="5" y2="{height - 18}" stroke="#8c959f"/>')
    parts.append(f'<text x="{one - 40:.1f}" y="{height - 4}" font-size="11">100% of reference</text>')
    parts.append("</svg>")
    return "".join(parts)


def _vm_rows(system: Mapping[str, Any], vm: Mapping[str, Any], out: list[str]) -> None:
    criteria = as_mappings(vm.get("criteria"))
    benchmarks = as_mappings(vm.get("benchmarks"))
    gpus = as_mappings(vm.get("gpus"))
    failed_benchmarks = [str(b.get("id")) for b in benchmarks if b.get("status") == "fail"]
    summary = [
        f"In-VM results for {_text(system.get('host'), '(no host label)')}: "
        f"passthrough {_text(vm.get('passthrough'))} · {_criteria_summary(criteria)}"
    ]
    disagreements = [
        c for c in criteria if c.get("id") in ("vm.passthrough", "vm.identity") and c.get("status") == "fail"
    ]
    if disagreements:
        summary.append(' <span class="disagree">the VM disagrees with the host</span>')
    if vm.get("status") == "error":
        summary.append(f' <span class="fails">VM snapshot unusable: {_text(vm.get("error"))}</span>')
    summary.append(f" · Benchmarks ({len(benchmarks)})")
    if failed_benchmarks:
        summary.append(f' <span class="fails">failed: {_e(", ".join(failed_benchmarks))}</span>')
    out.append(
        f'<tbody class="system vm"><tr class="detail-row vm-row"><td colspan="{_SPAN}">'
        f'<details class="vm-block"><summary>{"".join(summary)}</summary>'
    )
    if vm.get("source"):
        out.append(f'<p class="small muted">source: {_e(vm["source"])}</p>')
    for crit in disagreements:
        out.append(
            f'<p class="disagree-detail"><b>{_text(crit.get("id"))}</b>: {_text(crit.get("detail"))}</p>'
        )
    if vm.get("passthrough_reason"):
        out.append(
            f'<p class="small">seen inside: {_e(vm["passthrough_reason"])}'
            + (f"; compared with {_e(vm['expected_from'])}" if vm.get("expected_from") else "")
            + "</p>"
        )
    out.append(f"<h4>GPUs seen in the VM</h4>{_vm_gpus_table(gpus)}" if gpus else "")
    out.append(f"<h4>Criteria</h4>{_criteria_table(criteria)}" if criteria else "")
    out.append(
        f"<h4>Benchmarks</h4>{_benchmark_chart(benchmarks)}{_benchmarks_table(benchmarks)}"
        if benchmarks
        else ""
    )
    speedups = as_mapping(vm.get("speedups"))
    if speedups:
        shown = ", ".join(f"{_e(k)} {_num(v)}x the CPU" for k, v in speedups.items())
        out.append(f'<p class="small">GPU/CPU speedup: {shown}</p>')
    out.append("</details></td></tr></tbody>")


def _system_rows(system: Mapping[str, Any], out: list[str]) -> None:
    if system.get("status") == "error":
        reason = _text(system.get("error"), "the snapshot could not be evaluated (no reason given)")
        out.append(
            f'<tbody class="system"><tr class="gpu-row row-error">{_host_cell(system)}'
            f'<td>{_DASH}</td><td class="error-text" colspan="3">{reason}</td>'
            f"<td>{_badge(ERROR_LABEL)}</td><td>{_DASH}</td></tr></tbody>"
        )
    else:
        os_info = as_mapping(system.get("os"))
        os_cell = _os_text(os_info)
        gpus = as_mappings(system.get("gpus"))
        for gpu in gpus:
            _gpu_rows(system, os_cell, gpu, out)
        if not gpus and system.get("os") is None and isinstance(system.get("vm"), Mapping):
            out.append(
                f'<tbody class="system"><tr class="gpu-row row-no-gpu">{_host_cell(system)}'
                f'<td>{_DASH}</td><td colspan="3">no host snapshot: in-VM results only</td>'
                f"<td>{_DASH}</td><td>{_DASH}</td></tr></tbody>"
            )
        elif not gpus:
            out.append(
                f'<tbody class="system"><tr class="gpu-row row-no-gpu">{_host_cell(system)}'
                f'<td>{os_cell}</td><td colspan="3">no GPU found</td>'
                f"<td>{_badge(NO_GPU_LABEL)}</td><td>{_DASH}</td></tr></tbody>"
            )
    vm = system.get("vm")
    if isinstance(vm, Mapping):
        _vm_rows(system, vm, out)


def _header(report: Mapping[str, Any], out: list[str]) -> None:
    matrix = as_mapping(report.get("matrix"))
    run = as_mapping(report.get("run"))
    out.append(f"<h1>{_e(TITLE)}</h1>")
    if run.get("mode") == "sample-lab":
        note = _text(run.get("note"), "These results come from example snapshots, not from your host.")
        out.append(
            '<div class="banner" id="sample-lab-banner" role="alert">'
            f"<strong>Sample lab: example snapshots, not your host</strong>{note}</div>"
        )
    out.append('<dl class="meta">')
    rows = [
        ("Generated", report.get("generated_at")),
        ("Matrix", matrix.get("path")),
        ("Profile", matrix.get("profile")),
        ("Profile title", matrix.get("profile_title")),
        ("Profile source", matrix.get("profile_source")),
        ("Matrix SHA-256", matrix.get("sha256")),
        ("Run mode", run.get("mode")),
    ]
    if run.get("mode") != "sample-lab":
        rows.append(("Run note", run.get("note")))
    rows.append(("In-VM checks", run.get("vm_note")))
    for name, value in rows:
        if value is not None and value != "":
            out.append(f"<dt>{name}</dt><dd>{_e(value)}</dd>")
    out.append("</dl>")


def _summary(systems: list[Mapping[str, Any]], out: list[str]) -> None:
    counts = verdict_counts(systems)
    gpu_total = sum(counts.values())
    out.append(
        '<ul class="summary" aria-label="summary">'
        f'<li id="count-systems"><span class="n">{len(systems)}</span> systems</li>'
        f'<li id="count-gpus"><span class="n">{gpu_total}</span> GPUs</li>'
    )
    for verdict, count in counts.items():
        label = verdict_label(verdict)
        ident = f' id="count-{label.key}"' if verdict in VERDICTS else ""
        zero = " zero" if count == 0 else ""
        out.append(f'<li{ident} class="count{zero}"><span class="n">{count}</span>{_badge(label)}</li>')
    errors = error_count(systems)
    state = " zero" if errors == 0 else " errors"
    out.append(
        f'<li id="count-error" class="count{state}"><span class="n">{errors}</span>'
        " systems in error</li></ul>"
    )


def render_html(report: Mapping[str, Any]) -> str:
    """Render a ``eflow-gpu-report/1`` report (plus the pack's additive fields) as one HTML page.

    The page is self-contained (inline CSS, no script, no external resource) and every report
    string in it is escaped. Systems keep the order they have in the report. Missing or
    malformed fields are shown as dashes instead of raising.
    """
    systems = as_mappings(report.get("systems"))
    out: list[str] = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">\n',
        '<meta name="referrer" content="no-referrer">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>{_e(TITLE)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<header>\n",
    ]
    _header(report, out)
    _summary(systems, out)
    out.append("</header>\n<main>\n<h2>Systems and GPUs</h2>\n")
    out.append('<table class="main"><thead><tr>')
    out.extend(f'<th scope="col">{name}</th>' for name in _MAIN_COLUMNS)
    out.append("</tr></thead>\n")
    for system in systems:
        _system_rows(system, out)
        out.append("\n")
    if not systems:
        out.append(
            f'<tbody><tr><td colspan="{_SPAN}" class="muted">No systems were evaluated.</td></tr></tbody>'
        )
    out.append("</table>\n</main>\n")
    out.append(f"<footer>{_e(TITLE)} · format {_text(report.get('format'))}</footer>\n</body>\n</html>\n")
    return "".join(out)
