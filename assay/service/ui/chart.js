"use strict";
// A small SVG time-series chart shipped with assay (no network at run time): lines, an interval band, and a
// hover value on every point (an SVG <title>). Values are set as text nodes and attributes, never as markup.
(function () {
  const NS = "http://www.w3.org/2000/svg";
  function el(name, attrs) {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  }
  function fmt(v) { return v === null || v === undefined ? "—" : (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3)); }
  // series: [{name, points: [{t, v, lo, hi}], second}]
  function draw(container, series, opts) {
    opts = opts || {};
    const W = 600, H = 180, L = 42, R = 8, T = 8, B = 22;
    const svg = el("svg", {class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img"});
    svg.dataset.points = String(series.reduce((n, s) => n + s.points.filter(p => p.v !== null).length, 0));
    const all = series.flatMap(s => s.points);
    const ts = all.map(p => p.t);
    const vs = all.flatMap(p => [p.v, p.lo, p.hi]).filter(v => v !== null && v !== undefined && isFinite(v));
    if (!ts.length || !vs.length) {
      const t = el("text", {x: W / 2, y: H / 2, "text-anchor": "middle"});
      t.textContent = "no data in this range";
      svg.appendChild(t);
      container.replaceChildren(svg);
      return svg;
    }
    const t0 = Math.min(...ts), t1 = Math.max(...ts) || t0 + 1;
    let v0 = Math.min(...vs), v1 = Math.max(...vs);
    if (opts.min !== undefined) v0 = Math.min(v0, opts.min);
    if (v1 === v0) { v1 += 1; v0 -= v0 === 0 ? 0 : 1; }
    const x = t => L + (W - L - R) * (t1 === t0 ? 0.5 : (t - t0) / (t1 - t0));
    const y = v => T + (H - T - B) * (1 - (v - v0) / (v1 - v0));
    svg.appendChild(el("line", {class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B}));
    for (const v of [v0, (v0 + v1) / 2, v1]) {
      const lab = el("text", {x: L - 4, y: y(v) + 3, "text-anchor": "end"});
      lab.textContent = fmt(v);
      svg.appendChild(lab);
    }
    for (const [t, anchor] of [[t0, "start"], [t1, "end"]]) {
      const lab = el("text", {x: x(t), y: H - 6, "text-anchor": anchor});
      lab.textContent = new Date(t * 1000).toISOString().slice(5, 16).replace("T", " ");
      svg.appendChild(lab);
    }
    series.forEach((s, i) => {
      const pts = s.points.filter(p => p.v !== null && p.v !== undefined);
      const band = pts.filter(p => p.lo !== null && p.lo !== undefined && p.hi !== null && p.hi !== undefined);
      if (band.length > 1) {
        const d = band.map((p, k) => `${k ? "L" : "M"}${x(p.t)},${y(p.hi)}`).join("") +
          band.slice().reverse().map(p => `L${x(p.t)},${y(p.lo)}`).join("") + "Z";
        svg.appendChild(el("path", {class: "band", d}));
      }
      if (pts.length) {
        const d = pts.map((p, k) => `${k ? "L" : "M"}${x(p.t)},${y(p.v)}`).join("");
        svg.appendChild(el("path", {class: "line" + (i ? " second" : ""), d}));
      }
      for (const p of pts) {
        const c = el("circle", {cx: x(p.t), cy: y(p.v), r: 2.2});
        const title = el("title");
        const when = new Date(p.t * 1000).toISOString().replace(".000Z", "Z");
        title.textContent = `${s.name} ${when}: ${fmt(p.v)}` +
          (p.lo !== null && p.lo !== undefined ? ` [${fmt(p.lo)}, ${fmt(p.hi)}]` : "");
        c.appendChild(title);
        svg.appendChild(c);
      }
    });
    container.replaceChildren(svg);
    return svg;
  }
  window.assayChart = {draw};
})();
