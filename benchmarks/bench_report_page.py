"""Benchmark: how fast the HTML report of a 1,000-host lab opens in headless Chromium (goal: < 2 s).

Builds a report of 1,000 systems from the sample lab (host and VM snapshots, judged by the default
profile, labels made unique), renders it with the pack's renderer, and loads it in headless
Chromium with a probe script (allowed by its hash in a copy of the page's Content-Security-Policy)
that records ``performance.now()`` once the page and the pack's filter script have run, and the
time a filter takes (verdict "not eligible", then a text search). Prints the page size and the
figures of each round.

    python benchmarks/bench_report_page.py [--hosts 1000] [--rounds 3]

Exits 1 when the median time to open is 2 s or more.
"""

from __future__ import annotations

import argparse
import html
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eflowgpu.evaluate import evaluate_host_files
from eflowgpu.matrix import load_matrix
from eflowgpu.report.html import render_html
from eflowgpu.report.htmlscript import script_hash
from eflowgpu.report.model import build_report
from eflowgpu.snapshot import snapshot_files
from eflowgpu.vm.evaluate import attach_vms, read_vm_file

PROJECT = Path(__file__).resolve().parents[1]
GOAL_S = 2.0
PROBE = """
(function () {
  var opened = performance.now();
  var verdict = document.getElementById("f-verdict"), text = document.getElementById("f-text");
  var start = performance.now();
  verdict.value = "not-eligible"; verdict.dispatchEvent(new Event("change"));
  text.value = "t4"; text.dispatchEvent(new Event("input"));
  var filtered = performance.now() - start;
  var shown = document.getElementById("f-count").textContent;
  document.body.setAttribute("data-probe", opened + " " + filtered + " " + shown);
}());
"""


def lab_report(hosts: int) -> dict[str, object]:
    """The sample lab judged by the default profile, repeated to ``hosts`` systems."""
    matrix = load_matrix(PROJECT / "matrix.yaml")
    profile = matrix.profile(None)
    systems = evaluate_host_files(matrix, profile, snapshot_files([PROJECT / "fixtures" / "hosts"]))
    records = [read_vm_file(matrix, path) for path in snapshot_files([PROJECT / "fixtures" / "vms"])]
    report = build_report(matrix, profile, attach_vms(matrix, systems, records, None))
    template = report["systems"]
    assert isinstance(template, list)
    report["systems"] = [{**template[i % len(template)], "host": f"host-{i:05d}"} for i in range(hosts)]
    return report


def open_once(page: Path, profile: Path, chromium: str) -> tuple[float, float, str, float]:
    """(ms until the page and its script ran, ms for two filters, the count text, wall seconds)."""
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-extensions", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
               "--window-size=1400,900", "--dump-dom", page.resolve().as_uri()]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    wall = time.perf_counter() - start
    value = html.unescape(done.stdout.split('data-probe="', 1)[1].split('"', 1)[0])
    opened, filtered, count = value.split(" ", 2)
    return float(opened), float(filtered), count, wall


def main(argv: list[str] | None = None) -> int:
    """Render, open ``rounds`` times, print the figures; 0 when the median open time meets the goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        print("headless Chromium is needed (apt-get install chromium)")
        return 2
    start = time.perf_counter()
    page_html = render_html(lab_report(args.hosts))
    render_s = time.perf_counter() - start
    policy = html.escape(f"script-src {script_hash()};")
    probed = page_html.replace(policy, html.escape(f"script-src {script_hash()} {script_hash(PROBE)};"), 1)
    probed = probed.replace("</body>", f"<script>{PROBE}</script></body>", 1)
    print(f"{args.hosts} hosts: page {len(page_html.encode()) / 1e6:.1f} MB, rendered in {render_s:.2f} s")
    opened_ms = []
    with tempfile.TemporaryDirectory(prefix="page-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(probed, encoding="utf-8")
        for index in range(args.rounds):
            opened, filtered, count, wall = open_once(page, Path(tmp) / f"profile{index}", chromium)
            opened_ms.append(opened)
            print(f"round {index + 1}: opened (parsed, styled, script run) in {opened:.0f} ms; "
                  f"two filters in {filtered:.0f} ms ({count}); Chromium ran {wall:.1f} s")  # fmt: skip
    median = statistics.median(opened_ms) / 1000
    print(
        f"median time to open: {median:.2f} s (goal < {GOAL_S:g} s): {'met' if median < GOAL_S else 'MISSED'}"
    )
    return 0 if median < GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
