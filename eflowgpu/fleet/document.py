"""The fleet as JSON: ``fleet.json``, format ``eflow-gpu-fleet/1``.

Strings from the merged reports are kept verbatim (only the HTML and Markdown escape them).

.. code-block:: text

    {
      "format": "eflow-gpu-fleet/1",
      "generated_at": "2026-11-20T10:30:00Z",          # when the fleet was merged (UTC)
      "reports": ["lab/a/compat-report.json", …],       # the reports that were read
      "input_errors": [{"path": "…", "error": "…"}],   # unreadable reports / skipped systems, one line each
      "summary": {"systems": 33, "systems_in_error": 3, "gpus": 31, "cells": 24,
                  "verdicts": {"eligible": 12, …}},     # GPUs per verdict, best first
      "models":   [{"key": "t4", "label": "t4", "in_catalog": true}, …],      # matrix rows
      "releases": [{"key": "Windows 11 23H2|Professional", "name": "Windows 11 23H2",
                    "edition": "Professional", "build": 22631}, …],           # matrix columns
      "cells": [{
        "id": "cell-t4--windows-server-2022-serverdatacenter-1a2b3c4d",   # HTML anchor
        "model": "t4", "release": "Windows Server 2022|ServerDatacenter",
        "count": 4,                                    # distinct systems
        "best": "eligible-with-warnings", "worst": "not-eligible",
        "verdicts": {"eligible-with-warnings": 1, "not-eligible": 3},     # GPUs per verdict
        "systems": [{"host": "…", "gpu": "…", "pci_id": "10DE:1EB8", "verdict": "…",
                     "report": "…", "generated_at": "…", "profile": "ga-2022-06"}]
      }],
      "systems": [{                                    # one per host (case-insensitive), the newest report
        "host": "LAB-T4-01", "report": "…", "generated_at": "…", "profile": "…",
        "source": "fixtures/hosts/lab-t4-01.json", "status": "ok", "error": null,
        "os": {"name": …, "edition": …, "build": …, "ubr": …, "installation_type": …} | null,
        "matrix_sha256": "…",                          # the matrix the report was judged by
        "gpus": [{"name", "pci_id", "model", "brand", "passthrough", "verdict",
                  "criteria": [{"id", "status"}]}],    # the criteria that did not pass
        "benchmarks": [{"id", "value", "unit", "reference", "threshold", "ratio", "status"}],
        "history": [{"generated_at", "report", "status",
                     "verdicts": [{"pci_id", "verdict"}]}]        # older reports, newest first
      }],
      "judged_by": [{"profile", "matrix_sha256", "reports"}],  # more than one only with --mix-profiles
      "baseline": null | {                             # with --baseline
        "path": "…", "generated_at": "…",
        "regressions":  [{"kind", "host", "subject", "before", "after", "detail",
                          "gpu", "criteria"}],          # GPU name; "os.build pass -> fail", …
        "improvements": [{"kind", "host", "subject", "before", "after", "detail"}],
        "new_systems": ["host", …], "removed_systems": ["host", …]
      }
    }

``kind`` is ``verdict`` (a GPU's verdict changed), ``gpu-missing`` (a GPU of the baseline is gone),
``system-error`` (the host's snapshot is now in error), ``benchmark`` (a figure crossed its
threshold or moved by more than the threshold's margin) or ``benchmark-failed`` (a benchmark that
gave a figure now fails). ``subject`` is the GPU's PCI id or the benchmark id.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from eflowgpu.fleet.model import FLEET_FORMAT, BaselineComparison, Fleet, FleetSystem, verdict_rank
from eflowgpu.report.labels import VERDICTS


def verdict_totals(fleet: Fleet) -> dict[str, int]:
    """GPUs per verdict over the systems that are not in error: every contract verdict, then others."""
    counts = dict.fromkeys(VERDICTS, 0)
    for system in fleet.systems:
        if system.status == "error":
            continue
        for gpu in system.gpus:
            key = gpu.verdict if gpu.verdict is not None else "unknown"
            counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: verdict_rank(kv[0])))


def judged_by(fleet: Fleet) -> str:
    """The profiles and matrices the reports were judged by, for the page and summary headers."""
    if not fleet.judgements:
        return "no report"
    shown = ", ".join(f"{j.label}: {j.reports} report(s)" for j in fleet.judgements)
    if len(fleet.judgements) > 1:
        shown += "; each host is listed once per profile, never merged across them"
    return shown


def system_json(system: FleetSystem) -> dict[str, Any]:
    """One system of ``fleet.json``."""
    return {
        "host": system.host,
        "report": system.report,
        "generated_at": system.generated_at,
        "profile": system.profile,
        "source": system.source,
        "status": system.status,
        "error": system.error,
        "os": asdict(system.os) if system.os is not None else None,
        "matrix_sha256": system.matrix_sha256,
        "gpus": [
            {**asdict(g), "criteria": [{"id": i, "status": st} for i, st in g.criteria]} for g in system.gpus
        ],
        "benchmarks": [asdict(b) for b in system.benchmarks],
        "history": [
            {
                "generated_at": s.generated_at,
                "report": s.report,
                "status": s.status,
                "verdicts": [{"pci_id": p, "verdict": v} for p, v in s.verdicts],
            }
            for s in system.history
        ],
    }


def baseline_json(baseline: BaselineComparison) -> dict[str, Any]:
    """The ``baseline`` object of ``fleet.json``."""
    return {
        "path": baseline.path,
        "generated_at": baseline.generated_at,
        "regressions": [asdict(c) for c in baseline.regressions],
        "improvements": [asdict(c) for c in baseline.improvements],
        "new_systems": list(baseline.new_systems),
        "removed_systems": list(baseline.removed_systems),
    }


def fleet_json(fleet: Fleet) -> dict[str, Any]:
    """The whole ``fleet.json`` document."""
    return {
        "format": FLEET_FORMAT,
        "generated_at": fleet.generated_at,
        "reports": list(fleet.reports),
        "input_errors": [{"path": e.path, "error": e.error} for e in fleet.input_errors],
        "summary": {
            "systems": len(fleet.systems),
            "systems_in_error": sum(1 for s in fleet.systems if s.status == "error"),
            "gpus": sum(len(s.gpus) for s in fleet.systems if s.status != "error"),
            "cells": len(fleet.cells),
            "verdicts": verdict_totals(fleet),
        },
        "models": [asdict(m) for m in fleet.models],
        "releases": [
            {"key": r.key, "name": r.name, "edition": r.edition, "build": r.build} for r in fleet.releases
        ],
        "cells": [
            {
                "id": c.id,
                "model": c.model.key,
                "release": c.release.key,
                "count": c.count,
                "best": c.best,
                "worst": c.worst,
                "verdicts": dict(c.verdicts),
                "systems": [asdict(s) for s in c.systems],
            }
            for c in fleet.cells
        ],
        "judged_by": [asdict(j) for j in fleet.judgements],
        "systems": [system_json(s) for s in fleet.systems],
        "baseline": baseline_json(fleet.baseline) if fleet.baseline is not None else None,
    }
