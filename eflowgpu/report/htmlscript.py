"""The report page's only script: filter, search and sort the systems list; its CSP hash.

The script is the pack's own constant text, allowed by the page's Content-Security-Policy through
its SHA-256 hash (``script-src 'sha256-…'``), so any other script (an injected one included) is
refused by the browser. It reads report data only from ``data-*`` attributes and ``textContent``
and writes only ``hidden``, ``open`` and ``textContent``, and moves existing elements when it sorts:
nothing from a report is ever parsed as markup. Without script (or with it blocked) the filter bar
stays hidden and the page shows every system, in the failures-first order of the HTML.

Markup it expects: ``#filters`` (hidden) with ``#f-verdict``, ``#f-model``, ``#f-text``, ``#f-sort``,
``#f-open``, ``#f-close`` and ``#f-count``; ``#systems`` holding ``details.sys`` elements with
``data-verdict``, ``data-models`` (model keys joined by ``|``), ``data-host``, ``data-rank`` and
``data-order``.
"""

from __future__ import annotations

import base64
import hashlib

SCRIPT = """
(function () {
  "use strict";
  var bar = document.getElementById("filters");
  var list = document.getElementById("systems");
  if (!bar || !list) { return; }
  var rows = Array.prototype.slice.call(list.querySelectorAll("details.sys"));
  var text = rows.map(function (row) {  // the line: host, GPUs, what fails, release
    return row.querySelector("summary").textContent.toLowerCase();
  });
  var verdict = document.getElementById("f-verdict");
  var model = document.getElementById("f-model");
  var search = document.getElementById("f-text");
  var sort = document.getElementById("f-sort");
  var count = document.getElementById("f-count");
  function apply() {
    var v = verdict.value, m = model.value, q = search.value.trim().toLowerCase(), shown = 0;
    rows.forEach(function (row, i) {
      var ok = (!v || row.dataset.verdict === v) &&
        (!m || row.dataset.models.split("|").indexOf(m) >= 0) &&
        (!q || text[i].indexOf(q) >= 0);
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    count.textContent = shown + " of " + rows.length + " systems shown";
  }
  function key(row, by) {
    if (by === "host") { return [row.dataset.host, Number(row.dataset.order)]; }
    if (by === "model") { return [row.dataset.models, Number(row.dataset.rank), Number(row.dataset.order)]; }
    return [Number(row.dataset.rank), Number(row.dataset.order)];
  }
  function compare(a, b) {
    for (var i = 0; i < a.length; i += 1) {
      if (a[i] < b[i]) { return -1; }
      if (a[i] > b[i]) { return 1; }
    }
    return 0;
  }
  function reorder() {
    var by = sort.value;
    var keyed = rows.map(function (row, i) { return { row: row, key: key(row, by), i: i }; });
    keyed.sort(function (a, b) { return compare(a.key, b.key) || a.i - b.i; });
    var fragment = document.createDocumentFragment();
    keyed.forEach(function (item) { fragment.appendChild(item.row); });
    list.appendChild(fragment);
  }
  function openAll(state) {
    rows.forEach(function (row) { if (!row.hidden) { row.open = state; } });
  }
  verdict.addEventListener("change", apply);
  model.addEventListener("change", apply);
  search.addEventListener("input", apply);
  sort.addEventListener("change", reorder);
  document.getElementById("f-open").addEventListener("click", function () { openAll(true); });
  document.getElementById("f-close").addEventListener("click", function () { openAll(false); });
  bar.hidden = false;
  apply();
}());
"""


def script_hash(script: str = SCRIPT) -> str:
    """The CSP source expression of ``script`` (``'sha256-<base64>'``) over its UTF-8 bytes."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"
