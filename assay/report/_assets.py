"""The stylesheet and scripts inlined into every HTML report (no URL anywhere: the report opens offline)."""

from __future__ import annotations

__all__ = ["CSP", "ERROR_HOOK", "SCRIPT", "STYLE"]

# Forbids every network load: only the inline style and scripts run, images only from data: URIs.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)

STYLE = """
:root {
  --text: #1f2937; --muted: #6b7280; --faint: #9ca3af; --border: #e5e7eb; --bg: #f5f6f8; --card: #ffffff;
  --primary: #2563eb; --primary-bg: #eef3fe; --worst: #dc2626; --worst-bg: #fef2f2;
  --mono: ui-monospace, "SFMono-Regular", "Cascadia Mono", "DejaVu Sans Mono", Menlo, Consolas, monospace;
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", "Liberation Sans",
    Arial, sans-serif;
  -webkit-font-smoothing: antialiased;
}
.wrap { max-width: 1200px; margin: 0 auto; padding: 0 28px; }
header.top { background: var(--card); border-bottom: 1px solid var(--border); padding: 26px 0 22px; }
.eyebrow { font-size: 11px; letter-spacing: .08em; text-transform: uppercase; color: var(--muted); font-weight: 600; }
h1 { font-size: 24px; line-height: 1.25; margin: 4px 0 4px; font-weight: 680; letter-spacing: -.015em; }
h1 .version { font-size: 14px; font-weight: 600; color: var(--primary); background: var(--primary-bg);
  border-radius: 999px; padding: 2px 10px; vertical-align: middle; margin-left: 8px; }
.subtitle { color: var(--muted); margin: 0; }
.headline { display: flex; flex-wrap: wrap; gap: 28px; align-items: flex-end; margin-top: 18px; }
.stat .label { font-size: 11px; letter-spacing: .06em; text-transform: uppercase; color: var(--muted);
  font-weight: 600; }
.stat .big { font-size: 28px; font-weight: 650; font-variant-numeric: tabular-nums; line-height: 1.2; }
.stat .ci { color: var(--muted); font-size: 13px; font-variant-numeric: tabular-nums; }
dl.meta { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 14px 28px;
  margin: 20px 0 0; }
dl.meta dt { font-size: 11px; letter-spacing: .06em; text-transform: uppercase; color: var(--muted); font-weight: 600; }
dl.meta .wide { grid-column: span 2; }
dl.meta dd { margin: 2px 0 0; font-weight: 520; overflow-wrap: anywhere; font-variant-numeric: tabular-nums; }
.config { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 16px; }
.config span { font: 12px/1.4 var(--mono); background: #f3f4f6; border: 1px solid var(--border); border-radius: 6px;
  padding: 2px 8px; color: #374151; overflow-wrap: anywhere; }
.config b { font-weight: 600; color: var(--muted); }
nav.sections { position: sticky; top: 0; z-index: 5; background: rgba(255, 255, 255, .94);
  border-bottom: 1px solid var(--border); backdrop-filter: blur(6px); }
nav.sections .wrap { display: flex; flex-wrap: wrap; gap: 4px; padding-top: 7px; padding-bottom: 7px; }
nav.sections a { color: #374151; text-decoration: none; padding: 4px 11px; border-radius: 6px; font-weight: 520;
  font-size: 13px; }
nav.sections a:hover, nav.sections a:focus-visible { background: var(--primary-bg); color: var(--primary); }
main { padding: 6px 0 10px; }
section.card { background: var(--card); border: 1px solid var(--border); border-radius: 12px; padding: 22px 26px 24px;
  margin: 20px 0; scroll-margin-top: 56px; box-shadow: 0 1px 2px rgba(16, 24, 40, .04); }
h2 { font-size: 18px; margin: 0 0 2px; font-weight: 650; letter-spacing: -.01em; }
h3 { font-size: 15px; margin: 26px 0 2px; font-weight: 620; }
h3:first-of-type { margin-top: 18px; }
h3 code { font-size: 14px; }
h4 { font-size: 13px; margin: 4px 0 2px; font-weight: 620; color: #374151; }
.lead { color: var(--muted); margin: 0 0 14px; max-width: 880px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 18px 32px;
  align-items: start; }
figure { margin: 0; min-width: 0; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 4px; }
svg.chart { display: block; max-width: 100%; height: auto; overflow: visible; }
svg.chart text { font-size: 12px; font-variant-numeric: tabular-nums; }
svg.chart text.tick { fill: var(--muted); font-size: 11px; }
svg.chart text.axis-label { fill: #374151; font-weight: 600; }
svg.chart text.legend { fill: #374151; }
svg.chart text.small { font-size: 11px; }
svg.chart g.row:hover rect.hover { fill: #f3f4f6; }
svg.chart rect.hover:hover { fill: rgba(37, 99, 235, .06); }
.scroll { overflow-x: auto; margin-top: 10px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 7px 12px; border-bottom: 1px solid var(--border); text-align: left; vertical-align: top; }
thead th { font-size: 12px; color: var(--muted); font-weight: 600; background: #f9fafb; white-space: nowrap;
  border-bottom: 1px solid #d1d5db; }
tfoot td { border-top: 1px solid #d1d5db; border-bottom: none; background: #f9fafb; font-weight: 600; }
th.num, td.num { text-align: right; white-space: nowrap; }
td.nowrap { white-space: nowrap; }
tbody tr:hover { background: #fafbff; }
th button { all: unset; cursor: pointer; }
th button:hover, th button:focus-visible { color: var(--text); text-decoration: underline; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; font-size: 9px; }
th[aria-sort="descending"] button::after { content: " \\25BC"; font-size: 9px; }
td .sub { display: block; color: var(--faint); font-size: 11.5px; white-space: nowrap; }
td.name { font-weight: 560; }
td.name code, dd code, .lead code { font: 12.5px var(--mono); }
.null { color: var(--faint); cursor: help; }
.reason { display: block; color: var(--muted); font-size: 12px; font-weight: 400; }
.approx { color: var(--warn, #b45309); cursor: help; margin-right: 2px; }
.badge { display: inline-block; font-size: 10.5px; font-weight: 650; letter-spacing: .04em; text-transform: uppercase;
  border-radius: 999px; padding: 1px 7px; margin-left: 6px; vertical-align: 1px; }
.badge.primary { color: var(--primary); background: var(--primary-bg); }
.badge.worst { color: var(--worst); background: var(--worst-bg); }
tr.worst td:first-child { box-shadow: inset 3px 0 0 var(--worst); }
tr.primary td { background: #fbfcff; }
.arrow { color: var(--faint); }
.note { font-size: 12.5px; color: var(--muted); margin: 6px 0 0; }
.worst-text { color: var(--worst); font-weight: 600; }
.panel { border: 1px solid var(--border); border-radius: 10px; padding: 12px 14px 6px; min-width: 0; }
.block { padding-top: 4px; }
.block + .block { border-top: 1px dashed var(--border); margin-top: 22px; }
details summary { cursor: pointer; color: #374151; font-weight: 560; margin-top: 10px; }
footer { color: var(--faint); font-size: 12px; padding: 6px 0 40px; }
@media print {
  nav.sections { display: none; }
  body { background: #fff; }
  section.card { break-inside: avoid; box-shadow: none; }
}
"""

# Installed first in <body>: every uncaught script error lands in data-assay-errors.
ERROR_HOOK = """
(function () {
  var errors = [];
  window.onerror = function (message, source, line) {
    errors.push(String(message) + (line ? " (line " + line + ")" : ""));
    if (document.body) { document.body.dataset.assayErrors = errors.join("; "); }
    return false;
  };
})();
"""

# Sortable tables, then the self-check that sets data-assay-status once the page has loaded and laid out.
SCRIPT = """
(function () {
  "use strict";
  function sortKey(row, index) {
    var cell = row.cells[index];
    if (!cell) { return null; }
    var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    if (raw === "") { return null; }
    var number = Number(raw);
    return isNaN(number) ? raw.toLowerCase() : number;
  }
  function sortBy(table, index, th) {
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.querySelectorAll("th[aria-sort]"), function (h) {
      h.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var ka = sortKey(a, index), kb = sortKey(b, index);
      if (ka === null || kb === null) { return ka === kb ? 0 : (ka === null ? 1 : -1); }
      if (typeof ka !== typeof kb) { ka = String(ka); kb = String(kb); }
      var order = ka < kb ? -1 : (ka > kb ? 1 : 0);
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    if (!table.tHead || !table.tBodies.length) { return; }
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
      var button = th.querySelector("button");
      if (button) { button.addEventListener("click", function () { sortBy(table, index, th); }); }
    });
  });

  function check() {
    var body = document.body;
    try {
      var charts = document.querySelectorAll("svg.chart");
      var expected = Number(body.getAttribute("data-assay-charts-expected"));
      var empty = [];
      Array.prototype.forEach.call(charts, function (svg, i) {
        var box = svg.getBoundingClientRect();
        if (!(box.width > 0 && box.height > 0)) { empty.push(svg.id || "chart " + (i + 1)); }
      });
      body.dataset.assayCharts = String(charts.length);
      if (body.dataset.assayErrors) {
        body.dataset.assayStatus = "error: script errors: " + body.dataset.assayErrors;
      } else if (charts.length !== expected) {
        body.dataset.assayStatus = "error: " + charts.length + " charts in the page, " + expected + " rendered";
      } else if (empty.length) {
        body.dataset.assayStatus = "error: empty bounding box: " + empty.join(", ");
      } else {
        body.dataset.assayStatus = "ok";
      }
    } catch (err) {
      body.dataset.assayStatus = "error: " + (err && err.message ? err.message : String(err));
    }
  }
  if (document.readyState === "complete") { check(); } else { window.addEventListener("load", check); }
})();
"""
