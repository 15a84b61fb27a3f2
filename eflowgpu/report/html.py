"""The HTML compatibility report: one self-contained page, readable at a glance and offline.

Layout: the run's header and counts, then one line per system (a ``<details>`` element) with the
system's verdict first, failures first (not eligible, in error, unsupported, incomplete, with
warnings, eligible); a line opens to the system's GPUs (criteria, deploy command), its VM and its
benchmarks. What each passthrough type means is explained once, below the list, not per GPU.

The page has inline CSS and one inline script, the pack's own (:mod:`eflowgpu.report.htmlscript`),
allowed by the Content-Security-Policy through its SHA-256 hash: it filters by verdict, GPU model
and text and sorts, reading report data only from ``data-*`` attributes and ``textContent``.
Without script the filter bar stays hidden and every system is still there. Every string taken
from the report is escaped with :func:`html.escape` (snapshots are untrusted); no external font,
image or URL. The output depends only on the report, so the same report always gives the same page.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import Any, TypeGuard

from eflowgpu.report.htmlsafe import DASH as _DASH
from eflowgpu.report.htmlsafe import badge as _badge
from eflowgpu.report.htmlsafe import escape as _e
from eflowgpu.report.htmlsafe import text as _text
from eflowgpu.report.htmlscript import SCRIPT, script_hash
from eflowgpu.report.labels import (
    ELIGIBLE_VERDICTS,
    NO_GPU_LABEL,
    VERDICTS,
    all_labels,
    as_mapping,
    as_mappings,
    benchmark_label,
    ids_with_status,
    sort_criteria,
    status_label,
    system_verdict_label,
    verdict_counts,
    verdict_label,
    waiver_text,
    waivers_lines,
)
from eflowgpu.report.verdicts import ATTENTION_ORDER, attention_rank, by_attention

TITLE = "EFLOW GPU compatibility report"
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    f"script-src {script_hash()}; base-uri 'none'; form-action 'none'"
)

_SEP = " \u00b7 "
_MUTED_SMALL = ' <small class="muted">{}</small>'
_NOT_YET = '<small class="muted">once every required criterion passes:</small>'

_BASE_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; padding: .75rem 1.25rem 3rem; color: #1f2328; background: #ffffff;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 1.3rem; margin: 0; }
.top { display: flex; flex-wrap: wrap; align-items: center; gap: .2rem 1rem; margin: 0 0 .2rem; }
h2 { font-size: 1.1rem; margin: 1rem 0 .4rem; }
h3 { font-size: 1rem; margin: .7rem 0 .3rem; }
h4 { margin: .6rem 0 .2rem; font-size: .95rem; }
.meta { margin: 0 0 .2rem; color: #59636e; overflow-wrap: anywhere; }
dl.run-details { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem;
  margin: .3rem 0; }
dl.run-details dt { color: #59636e; }
dl.run-details dd { margin: 0; overflow-wrap: anywhere; }
.muted { color: #59636e; }
small, .small { font-size: .85em; }
.banner { border: 2px solid #b35900; background: #fff4e0; color: #3d2000; padding: .2rem .6rem;
  border-radius: 6px; margin: 0; flex: 1 1 20rem; }
.banner strong { margin-right: .4rem; }
.counts { display: flex; flex-wrap: wrap; gap: .3rem 1.2rem; margin: 0 0 .3rem; }
.summary { display: flex; flex-wrap: wrap; gap: .25rem; list-style: none; padding: 0; margin: 0; }
.summary li { display: flex; align-items: center; gap: .25rem; border: 1px solid #d0d7de;
  border-radius: 6px; padding: .05rem .4rem; background: #f6f8fa; }
.summary .n { font-weight: 700; }
.summary .zero { opacity: .55; }
.summary .errors { border-color: #6f2da8; box-shadow: inset 4px 0 0 #6f2da8; }
.summary .what { font-weight: 600; background: none; border: none; padding-left: 0; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-weight: 600;
  font-size: .85em; white-space: nowrap; border: 1px solid rgba(0,0,0,.15); }
.b-waived { border: 1px dashed #9a6700; }
.b-other { font-style: italic; }
#filters { display: flex; flex-wrap: wrap; gap: .3rem .8rem; align-items: center; margin: .2rem 0 .3rem;
  padding: .2rem .5rem; background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; }
#filters[hidden] { display: none; }
#filters label { display: flex; gap: .3rem; align-items: center; }
#filters input[type=search] { min-width: 12rem; }
#systems { margin: 0; }
details.sys { border-top: 1px solid #d8dee4; }
details.sys[hidden] { display: none; }
details.sys > summary { display: flex; flex-wrap: wrap; align-items: baseline; gap: .15rem .6rem;
  padding: 0 .3rem; line-height: 1.25; cursor: pointer; list-style-position: inside; }
details.sys > summary:hover { background: #f6f8fa; }
details.sys > summary .badge { min-width: 9.5rem; text-align: center; }
details.sys.v-not-eligible > summary, details.sys.v-error > summary { box-shadow: inset 4px 0 0 #c62828; }
details.sys.v-error > summary { box-shadow: inset 4px 0 0 #6f2da8; }
summary .host { font-weight: 600; overflow-wrap: anywhere; }
summary .gpus { overflow-wrap: anywhere; }
summary .os { color: #59636e; font-size: .85em; }
summary .fails { color: #b42318; font-weight: 600; overflow-wrap: anywhere; }
summary .warns { color: #7a4a00; overflow-wrap: anywhere; }
.sys-body { padding: .2rem .6rem .8rem 1.6rem; border-left: 3px solid #d0d7de; margin: 0 0 .5rem .6rem; }
.gpu-block { margin: .3rem 0 .8rem; }
.facts { margin: .15rem 0; overflow-wrap: anywhere; }
.error-text { color: #6f2da8; font-weight: 600; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; max-width: 100%; }
code.deploy { display: block; white-space: pre-wrap; overflow-wrap: anywhere; font-size: .85em;
  background: #f0f3f6; border: 1px solid #d0d7de; border-radius: 4px; padding: .3rem .45rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; }
table { border-collapse: collapse; }
th, td { text-align: left; vertical-align: top; padding: .25rem .45rem; }
table.sub { margin: .25rem 0 .6rem; font-size: .92em; background: #ffffff; border: 1px solid #d0d7de;
  width: 100%; }
table.sub th { background: #eaeef2; color: #1f2328; border-bottom: 1px solid #d0d7de; }
table.sub td { border-top: 1px solid #eaeef2; overflow-wrap: anywhere; }
table.sub tr.c-fail-req > td { background: #ffebe9; }
table.sub tr.c-fail-req > td:first-child { box-shadow: inset 4px 0 0 #c62828; font-weight: 600; }
table.sub tr.c-fail > td { background: #fff1f0; }
table.sub tr.c-unknown-req > td { background: #eef4fb; }
table.sub tr.c-warn > td { background: #fff8e5; }
table.sub tr.c-waived > td { background: #fffdf3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.disagree { background: #cf222e; color: #fff; border-radius: 4px; padding: 0 .4rem; font-weight: 600; }
.disagree-detail { border-left: 4px solid #cf222e; background: #ffebe9; padding: .3rem .6rem; }
.gate { border-left: 4px solid #c62828; background: #ffebe9; padding: .3rem .6rem; }
.gate.imprecise { border-left-color: #9a6700; background: #fff8e5; }
#passthrough dt { font-weight: 600; margin-top: .4rem; }
#passthrough dd { margin: 0 0 0 1rem; }
footer { margin-top: 2rem; color: #59636e; font-size: .85em; }
@media (max-width: 640px) {
  body { padding: .5rem .5rem 2rem; }
  details.sys > summary .badge { min-width: 0; }
  .sys-body { padding-left: .5rem; margin-left: .2rem; }
  #filters input[type=search] { min-width: 0; width: 100%; }
}
@media print {
  body { padding: 0; font-size: 11px; }
  #filters { display: none; }
  .badge, .banner, table.sub tr > td { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
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


def os_text(os_info: Mapping[str, Any], *, edition: bool = True) -> str:
    """The Windows release as plain text: name, edition, build.ubr (empty when nothing is known)."""
    keys = ("name", "edition") if edition else ("name",)
    parts = [str(os_info[k]) for k in keys if os_info.get(k)]
    build, ubr = os_info.get("build"), os_info.get("ubr")
    if build is not None:
        parts.append(f"{build}.{ubr}" if ubr is not None else str(build))
    return " \u00b7 ".join(parts)


# --- criteria -------------------------------------------------------------------------------------


def _waiver_text(criterion: Mapping[str, Any]) -> str:
    """The waiver of a waived criterion, on its own line of the detail cell (escaped)."""
    note = waiver_text(criterion)
    return f'<br><small class="waiver">{_e(note)}</small>' if note else ""


def _criteria_table(criteria: list[Mapping[str, Any]]) -> str:
    out = [
        '<div class="scroll"><table class="sub criteria-table"><thead><tr><th>Criterion</th>'
        "<th>Status</th><th>Required</th><th>Detail</th><th>Remedy</th></tr></thead><tbody>"
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
            f"<td>{_text(criterion.get('detail'), '')}{_waiver_text(criterion)}</td>"
            f"<td>{_text(criterion.get('remedy'), '')}</td></tr>"
        )
    out.append("</tbody></table></div>")
    return "".join(out)


def _ids_text(ids: list[str], limit: int | None) -> str:
    if limit is not None and len(ids) > limit:
        return f"{', '.join(ids[:limit])} +{len(ids) - limit} more"
    return ", ".join(ids)


def _attention(criteria: list[Mapping[str, Any]], limit: int | None = None) -> str:
    """The failed, unknown-required and warning ids, as spans (empty when all is well).

    ``limit`` caps the ids named per kind (the rest are counted), for the one-line summaries.
    """
    parts = []
    failed = ids_with_status(criteria, "fail")
    unknown = ids_with_status(criteria, "unknown", required_only=True)
    warned = ids_with_status(criteria, "warn")
    waived = ids_with_status(criteria, "waived")
    if failed:
        parts.append(f'<span class="fails">failed: {_e(_ids_text(failed, limit))}</span>')
    if unknown:
        parts.append(f'<span class="fails">unknown: {_e(_ids_text(unknown, limit))}</span>')
    if warned:
        parts.append(f'<span class="warns">warnings: {_e(_ids_text(warned, limit))}</span>')
    if waived:
        parts.append(f'<span class="waived">waived: {_e(_ids_text(waived, limit))}</span>')
    return " ".join(parts)


def _criteria_counts(criteria: list[Mapping[str, Any]]) -> str:
    counts = Counter(status_label(c.get("status")).text for c in criteria)
    return _e(", ".join(f"{n} {status}" for status, n in counts.items()))


# --- passthrough explanation (once per type) ------------------------------------------------------


def passthrough_notes(systems: list[Mapping[str, Any]]) -> dict[str, str]:
    """The explanation of each passthrough type: the reason most GPUs of that type give."""
    reasons: dict[str, Counter[str]] = {}
    for system in systems:
        for gpu in as_mappings(system.get("gpus")):
            kind, reason = gpu.get("passthrough"), gpu.get("passthrough_reason")
            if isinstance(kind, str) and isinstance(reason, str) and reason:
                reasons.setdefault(kind, Counter())[reason] += 1
    return {kind: counter.most_common(1)[0][0] for kind, counter in sorted(reasons.items())}


def _own_reason(gpu: Mapping[str, Any], notes: Mapping[str, str]) -> str:
    """What this GPU's passthrough reason adds to its type's explanation (escaped), or nothing."""
    reason, kind = gpu.get("passthrough_reason"), gpu.get("passthrough")
    if not isinstance(reason, str) or not reason:
        return ""
    common = notes.get(kind) if isinstance(kind, str) else None
    if reason == common:
        return ""
    if common and reason.startswith(common.rstrip(".")):
        reason = reason[len(common.rstrip(".")) :].lstrip(". ")
    return f" <small>{_e(reason)}</small>" if reason else ""


def _passthrough_section(notes: Mapping[str, str], out: list[str]) -> None:
    if not notes:
        return
    out.append('<section id="passthrough"><h2>Passthrough types</h2><dl>')
    for kind, note in notes.items():
        out.append(f"<dt>{_e(kind)}</dt><dd>{_e(note)}</dd>")
    out.append("</dl></section>\n")


# --- one system -----------------------------------------------------------------------------------


def _gpu_block(gpu: Mapping[str, Any], notes: Mapping[str, str], system_verdict: str) -> str:
    verdict = gpu.get("verdict")
    model = gpu.get("model")
    ids = [f"PCI {_e(gpu['pci_id'])}" if gpu.get("pci_id") else ""]
    ids.append(f"subsys {_e(gpu['subsys_id'])}" if gpu.get("subsys_id") else "")
    ids_html = " \u00b7 ".join(i for i in ids if i)
    facts = [f"model {_e(model)}" if model else '<span class="muted">not in the catalog</span>']
    facts.append(f"passthrough {_text(gpu.get('passthrough'))}{_own_reason(gpu, notes)}")
    others = as_mapping(gpu.get("verdicts"))
    if others:
        shown = ", ".join(f"{_e(k)}: {_e(verdict_label(v).text)}" for k, v in others.items())
        facts.append(f"by profile: {shown}")
    hint = gpu.get("deploy_hint")
    deploy = ""
    if hint:
        ready = verdict in ELIGIBLE_VERDICTS and system_verdict in ELIGIBLE_VERDICTS
        prefix = "" if ready else _NOT_YET  # also when the system's VM check failed
        deploy = f'<div class="deploy">{prefix}<code class="deploy">{_e(hint)}</code></div>'
    criteria = as_mappings(gpu.get("criteria"))
    return (
        f'<div class="gpu-block"><h3>{_badge(verdict_label(verdict))} '
        f'<span class="gpu">{_text(gpu.get("name"), "(unnamed GPU)")}</span>'
        f"{_MUTED_SMALL.format(ids_html) if ids_html else ''}</h3>"
        f'<p class="facts">{_SEP.join(facts)}</p>{deploy}'
        f'<p class="small">Criteria ({len(criteria)}): {_criteria_counts(criteria)} '
        f"{_attention(criteria)}</p>"
        f"{_criteria_table(criteria)}</div>"
    )


def _vm_gpus_table(gpus: list[Mapping[str, Any]]) -> str:
    out = [
        '<div class="scroll"><table class="sub vm-gpus"><thead><tr><th>GPU</th><th>PCI id</th><th>Model</th>'
        "<th>Driver</th><th>CUDA</th><th>Memory (MiB)</th><th>PCIe link</th></tr></thead><tbody>"
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
    out.append("</tbody></table></div>")
    return "".join(out)


def _ratio(bench: Mapping[str, Any]) -> str:
    value, reference = bench.get("value"), bench.get("reference")
    if _is_number(value) and _is_number(reference) and reference != 0:
        return f"{value / reference:.2f}"
    return _DASH


def _benchmarks_table(benchmarks: list[Mapping[str, Any]]) -> str:
    out = [
        '<div class="scroll"><table class="sub benchmarks"><thead><tr><th>Benchmark</th><th>Value</th>'
        "<th>Unit</th><th>Reference</th><th>Threshold</th><th>Ratio</th><th>Status</th><th>Samples</th>"
        "<th>CV</th><th>Detail</th></tr></thead><tbody>"
    ]
    for bench in benchmarks:
        label = benchmark_label(bench)
        gate = as_mapping(bench.get("gate"))
        detail = _text(bench.get("detail"), "")
        if gate.get("detail"):
            detail += f'<br><small class="gate-note">{_e(gate["detail"])}</small>'
        out.append(
            f'<tr class="c-{label.key}"><td><code>{_text(bench.get("id"))}</code></td>'
            f'<td class="num">{_num(bench.get("value"))}</td><td>{_text(bench.get("unit"))}</td>'
            f'<td class="num">{_num(bench.get("reference"))}</td>'
            f'<td class="num">{_num(bench.get("threshold"))}</td>'
            f'<td class="num">{_ratio(bench)}</td><td>{_badge(label)}</td>'
            f'<td class="num">{_num(bench.get("samples"))}</td>'
            f'<td class="num">{_num(bench.get("cv"), 3)}</td><td>{detail}</td></tr>'
        )
    out.append("</tbody></table></div>")
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


def _vm_block(vm: Mapping[str, Any]) -> str:
    criteria = as_mappings(vm.get("criteria"))
    benchmarks = as_mappings(vm.get("benchmarks"))
    gpus = as_mappings(vm.get("gpus"))
    out = [f'<div class="vm-block"><h3>In the VM: passthrough {_text(vm.get("passthrough"))}</h3>']
    if vm.get("status") == "error":
        out.append(f'<p class="error-text">VM snapshot unusable: {_text(vm.get("error"))}</p>')
    for crit in criteria:
        if crit.get("id") in ("vm.passthrough", "vm.identity") and crit.get("status") == "fail":
            out.append(
                '<p class="disagree-detail"><span class="disagree">the VM disagrees with the host</span> '
                f"<b>{_text(crit.get('id'))}</b>: {_text(crit.get('detail'))}</p>"
            )
    if vm.get("source"):
        out.append(f'<p class="small muted">source: {_e(vm["source"])}</p>')
    if vm.get("passthrough_reason"):
        compared = f"; compared with {_e(vm['expected_from'])}" if vm.get("expected_from") else ""
        out.append(f'<p class="small">seen inside: {_e(vm["passthrough_reason"])}{compared}</p>')
    if gpus:
        out.append(f"<h4>GPUs seen in the VM</h4>{_vm_gpus_table(gpus)}")
    if criteria:
        out.append(
            f"<h4>Criteria ({len(criteria)}): {_criteria_counts(criteria)}</h4>"
            f'<p class="small">{_attention(criteria)}</p>{_criteria_table(criteria)}'
        )
    if benchmarks:
        out.append(
            f"<h4>Benchmarks ({len(benchmarks)})</h4>{_benchmark_chart(benchmarks)}"
            f"{_benchmarks_table(benchmarks)}"
        )
    speedups = as_mapping(vm.get("speedups"))
    if speedups:
        shown = ", ".join(f"{_e(k)} {_num(v)}x the CPU" for k, v in speedups.items())
        out.append(f'<p class="small">GPU/CPU speedup: {shown}</p>')
    out.append("</div>")
    return "".join(out)


def _models(system: Mapping[str, Any]) -> list[str]:
    models = []
    for gpu in as_mappings(system.get("gpus")):
        model = gpu.get("model")
        key = str(model) if model else "(not in catalog)"
        if key not in models:
            models.append(key)
    return models


def _summary_line(verdict: str, system: Mapping[str, Any]) -> str:
    """The one line of a system: verdict, host, GPUs, what needs attention, release."""
    parts = [
        _badge(system_verdict_label(verdict)),
        f'<span class="host">{_text(system.get("host"), "(no host label)")}</span>',
    ]
    gpus = as_mappings(system.get("gpus"))
    vm = system.get("vm")
    if system.get("status") == "error":
        reason = _text(system.get("error"), "the snapshot could not be evaluated (no reason given)")
        parts.append(f'<span class="error-text">{reason}</span>')
        return " ".join(parts)
    if gpus:
        names = []
        for gpu in gpus:
            extra = [str(gpu[k]) for k in ("model", "passthrough") if gpu.get(k)]
            name = _text(gpu.get("name"), "(unnamed GPU)")
            shown = _MUTED_SMALL.format(f"({_e(', '.join(extra))})") if extra else ""
            names.append(f"{name}{shown}")
        parts.append(f'<span class="gpus">{"; ".join(names)}</span>')
    elif isinstance(vm, Mapping) and system.get("os") is None:
        parts.append('<span class="gpus muted">no host snapshot: in-VM results only</span>')
    else:
        parts.append(f'<span class="gpus">{_badge(NO_GPU_LABEL)} no GPU found</span>')
    judged = [g for g in gpus if g.get("verdict") != "unsupported"] or gpus
    criteria = [c for gpu in judged for c in as_mappings(gpu.get("criteria"))]
    if isinstance(vm, Mapping):
        criteria += as_mappings(vm.get("criteria"))
        failed = [str(b.get("id")) for b in as_mappings(vm.get("benchmarks")) if b.get("status") == "fail"]
        if failed:
            parts.append(f'<span class="fails">benchmarks failed: {_e(", ".join(failed))}</span>')
    blocking = [c for c in criteria if c.get("status") == "fail" or c.get("status") == "unknown"]
    attention = _attention(_dedupe(blocking or criteria), limit=3)
    if attention:
        parts.append(attention)
    os_info = os_text(as_mapping(system.get("os")), edition=False)
    if os_info:
        parts.append(f'<span class="os">{_e(os_info)}</span>')
    return " ".join(parts)


def _dedupe(criteria: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One criterion per (id, status): two GPUs failing ``os.build`` name it once."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for criterion in criteria:
        key = (str(criterion.get("id")), str(criterion.get("status")))
        if key not in seen:
            seen.add(key)
            kept.append(criterion)
    return kept


def _system(index: int, verdict: str, system: Mapping[str, Any], notes: Mapping[str, str]) -> str:
    label = system_verdict_label(verdict)
    host = str(system.get("host") or "")
    attrs = (
        f'class="sys v-{label.key}" data-verdict="{_e(verdict)}" '
        f'data-models="{_e("|".join(_models(system)))}" data-host="{_e(host.casefold())}" '
        f'data-rank="{attention_rank(verdict)}" data-order="{index}"'
    )
    body = []
    meta = [str(system[k]) for k in ("source", "collector", "captured_at") if system.get(k)]
    if meta:
        body.append(f'<p class="small muted">{_e(_SEP.join(meta))}</p>')
    if system.get("status") == "error":
        body.append(
            '<p class="error-text">'
            f"{_text(system.get('error'), 'the snapshot could not be evaluated (no reason given)')}</p>"
        )
    body.extend(_gpu_block(gpu, notes, verdict) for gpu in as_mappings(system.get("gpus")))
    vm = system.get("vm")
    if isinstance(vm, Mapping):
        body.append(_vm_block(vm))
    return (
        f"<details {attrs}><summary>{_summary_line(verdict, system)}</summary>"
        f'<div class="sys-body">{"".join(body)}</div></details>\n'
    )


# --- page -----------------------------------------------------------------------------------------


def _header(report: Mapping[str, Any], out: list[str]) -> None:
    matrix = as_mapping(report.get("matrix"))
    run = as_mapping(report.get("run"))
    out.append(f'<div class="top"><h1>{_e(TITLE)}</h1>')
    if run.get("mode") == "sample-lab":
        note = _text(run.get("note"), "These results come from example snapshots, not from your host.")
        out.append(
            '<div class="banner" id="sample-lab-banner" role="alert">'
            f"<strong>Sample lab: example snapshots, not your host.</strong>{note}</div>"
        )
    out.append("</div>")
    line = [f"profile {_text(matrix.get('profile'))}"]
    if matrix.get("profile_title"):
        line[0] += f" ({_e(matrix['profile_title'])})"
    line.append(f"generated {_text(report.get('generated_at'))}")
    coverage = as_mapping(run.get("coverage"))
    if coverage.get("note"):
        line.append(f'<span class="fails" id="coverage-note">{_e(coverage["note"])}</span>')
    line.append('<a href="#run-details">run details</a>')
    out.append(f'<p class="meta">{_SEP.join(line)}</p>')


def _run_details(report: Mapping[str, Any], out: list[str]) -> None:
    matrix = as_mapping(report.get("matrix"))
    run = as_mapping(report.get("run"))
    rows = [
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
    shown = [(name, value) for name, value in rows if value is not None and value != ""]
    if shown:
        out.append('<section id="run-details"><h2>Run details</h2><dl class="run-details">')
        out.extend(f"<dt>{name}</dt><dd>{_e(value)}</dd>" for name, value in shown)
        out.append("</dl></section>\n")


def _summary(systems: list[Mapping[str, Any]], verdicts: list[str], out: list[str]) -> None:
    by_system = Counter(verdicts)
    out.append('<div class="counts">')
    out.append('<ul class="summary" id="system-counts" aria-label="systems by verdict">')
    out.append(f'<li class="what"><span class="n">{len(systems)}</span> systems:</li>')
    for verdict in ATTENTION_ORDER:
        if by_system.get(verdict):
            ident = ' id="count-error"' if verdict == "error" else ""
            state = " errors" if verdict == "error" else ""
            out.append(
                f'<li{ident} class="count{state}"><span class="n">{by_system[verdict]}</span>'
                f"{_badge(system_verdict_label(verdict))}</li>"
            )
    for verdict, count in by_system.items():
        if verdict not in ATTENTION_ORDER:
            label = system_verdict_label(verdict)
            out.append(f'<li class="count"><span class="n">{count}</span>{_badge(label)}</li>')
    out.append("</ul>")
    counts = verdict_counts(systems)
    out.append(
        '<ul class="summary" aria-label="GPUs by verdict">'
        f'<li class="what" id="count-gpus"><span class="n">{sum(counts.values())}</span> GPUs:</li>'
    )
    for verdict, count in counts.items():
        label = verdict_label(verdict)
        ident = f' id="count-{label.key}"' if verdict in VERDICTS else ""
        zero = " zero" if count == 0 else ""
        out.append(f'<li{ident} class="count{zero}"><span class="n">{count}</span>{_badge(label)}</li>')
    out.append("</ul></div>")


def _filters(verdicts: list[str], systems: list[Mapping[str, Any]], out: list[str]) -> None:
    present = sorted(set(verdicts), key=attention_rank)
    models = sorted({m for s in systems for m in _models(s)})
    out.append('<form id="filters" hidden role="search" aria-label="filter the systems">')
    out.append('<label>Verdict <select id="f-verdict"><option value="">all</option>')
    out.extend(f'<option value="{_e(v)}">{_e(system_verdict_label(v).text)}</option>' for v in present)
    out.append('</select></label><label>GPU model <select id="f-model"><option value="">all</option>')
    out.extend(f'<option value="{_e(m)}">{_e(m)}</option>' for m in models)
    out.append(
        '</select></label><label>Search <input id="f-text" type="search" '
        'placeholder="host, GPU, criterion"></label>'
        '<label>Sort <select id="f-sort"><option value="verdict">failures first</option>'
        '<option value="host">host</option><option value="model">GPU model</option></select></label>'
        '<button type="button" id="f-open">open all</button>'
        '<button type="button" id="f-close">close all</button>'
        '<output id="f-count" aria-live="polite"></output></form>'
    )


def _gate(report: Mapping[str, Any], out: list[str]) -> None:
    """The regression gate's outcome, when the run compared benchmarks with a baseline."""
    gate = as_mapping(as_mapping(report.get("run")).get("regression_gate"))
    for failure in as_mappings(gate.get("failures")):
        kind = " imprecise" if failure.get("gated") is False else ""
        out.append(f'<p class="gate{kind}">{_text(failure.get("message"))}</p>')


def render_html(report: Mapping[str, Any]) -> str:
    """Render a ``eflow-gpu-report/1`` report (plus the pack's additive fields) as one HTML page.

    The page is self-contained (inline CSS, the pack's own script pinned by hash, no external
    resource) and every report string in it is escaped. Systems come failures first, one line
    each. Missing or malformed fields are shown as dashes instead of raising.
    """
    systems = as_mappings(report.get("systems"))
    ordered = by_attention(systems)
    verdicts = [verdict for verdict, _ in ordered]
    notes = passthrough_notes(systems)
    out: list[str] = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">\n',
        '<meta name="referrer" content="no-referrer">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>{_e(TITLE)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<header>\n",
    ]
    _header(report, out)
    _summary(systems, verdicts, out)
    _gate(report, out)
    if lines := waivers_lines(report):
        out.append('<section class="waivers"><h2>Waivers</h2><ul>')
        out.extend(f"<li>{_e(line)}</li>" for line in lines)
        out.append("</ul></section>\n")
    out.append("</header>\n<main>\n")
    _filters(verdicts, systems, out)
    out.append('<div id="systems">\n')
    position = {id(system): index for index, system in enumerate(systems)}
    out.extend(_system(position[id(system)], verdict, system, notes) for verdict, system in ordered)
    if not systems:
        out.append('<p class="muted">No systems were evaluated.</p>')
    out.append("</div>\n")
    _passthrough_section(notes, out)
    _run_details(report, out)
    out.append("</main>\n")
    out.append(f"<footer>{_e(TITLE)} \u00b7 format {_text(report.get('format'))}</footer>\n")
    out.append(f"<script>{SCRIPT}</script>\n</body>\n</html>\n")
    return "".join(out)
