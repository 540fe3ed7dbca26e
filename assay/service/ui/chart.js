"use strict";
// Small SVG charts shipped with assay (no network at run time): time series (lines, an interval band, a hover value on
// every point as an SVG <title>, and a dragged range that selects a new time range), x-y plots (a reliability
// diagram), grouped bars (distributions against the reference) and a heat grid (a confusion matrix). Values are set as
// text nodes and attributes, never as markup.
(function () {
  const NS = "http://www.w3.org/2000/svg";
  function el(name, attrs) {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  }
  function fmt(v) { return v === null || v === undefined ? "—" : (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3)); }
  // series: [{name, points: [{t, v, lo, hi}]}]; opts: {min, x: "time" | "value", diagonal, onSelect(t0, t1)}
  function draw(container, series, opts) {
    opts = opts || {};
    const timeAxis = opts.x !== "value";
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
      lab.textContent = timeAxis ? new Date(t * 1000).toISOString().slice(5, 16).replace("T", " ") : fmt(t);
      svg.appendChild(lab);
    }
    if (opts.diagonal) {
      const a = Math.max(t0, v0), b = Math.min(t1, v1);
      if (b > a) svg.appendChild(el("line", {class: "diagonal", x1: x(a), y1: y(a), x2: x(b), y2: y(b)}));
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
        const when = timeAxis ? new Date(p.t * 1000).toISOString().replace(".000Z", "Z") : `at ${fmt(p.t)}`;
        title.textContent = `${s.name} ${when}: ${fmt(p.v)}` +
          (p.lo !== null && p.lo !== undefined ? ` [${fmt(p.lo)}, ${fmt(p.hi)}]` : "");
        c.appendChild(title);
        svg.appendChild(c);
      }
    });
    if (timeAxis && opts.onSelect && t1 > t0) brush(svg, W, H, L, R, T, B, t0, t1, opts.onSelect);
    container.replaceChildren(svg);
    return svg;
  }

  // Drag across a time chart to select [t0, t1): the shaded rectangle follows the pointer; a release wider than a few
  // pixels calls onSelect with the times under the two ends.
  function brush(svg, W, H, L, R, T, B, t0, t1, onSelect) {
    const rect = el("rect", {class: "brush", x: 0, y: T, width: 0, height: H - T - B});
    svg.appendChild(rect);
    let start = null;
    const at = ev => {
      const box = svg.getBoundingClientRect();
      return Math.min(Math.max((ev.clientX - box.left) * W / box.width, L), W - R);
    };
    svg.addEventListener("pointerdown", ev => { start = at(ev); rect.setAttribute("x", start); rect.setAttribute("width", 0); });
    svg.addEventListener("pointermove", ev => {
      if (start === null) return;
      const now = at(ev);
      rect.setAttribute("x", Math.min(start, now));
      rect.setAttribute("width", Math.abs(now - start));
    });
    svg.addEventListener("pointerup", ev => {
      if (start === null) return;
      const a = Math.min(start, at(ev)), b = Math.max(start, at(ev));
      start = null;
      rect.setAttribute("width", 0);
      if (b - a < 4) return;
      const time = px => t0 + (t1 - t0) * (px - L) / (W - L - R);
      onSelect(Math.floor(time(a)), Math.ceil(time(b)));
    });
  }

  // groups: [label]; series: [{name, values: [number]}] (one value per group): grouped vertical bars
  function bars(container, groups, series) {
    const W = 600, H = 180, L = 42, R = 8, T = 8, B = 34;
    const svg = el("svg", {class: "chart bars", viewBox: `0 0 ${W} ${H}`, role: "img"});
    const vs = series.flatMap(s => s.values).filter(v => v !== null && v !== undefined && isFinite(v));
    svg.dataset.points = String(vs.length);
    if (!groups.length || !vs.length) {
      const t = el("text", {x: W / 2, y: H / 2, "text-anchor": "middle"});
      t.textContent = "no data in this range";
      svg.appendChild(t);
      container.replaceChildren(svg);
      return svg;
    }
    const v1 = Math.max(...vs) || 1;
    const y = v => T + (H - T - B) * (1 - v / v1);
    const slot = (W - L - R) / groups.length, bw = Math.max(1, slot * 0.8 / series.length);
    svg.appendChild(el("line", {class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B}));
    for (const v of [0, v1 / 2, v1]) {
      const lab = el("text", {x: L - 4, y: y(v) + 3, "text-anchor": "end"});
      lab.textContent = fmt(v);
      svg.appendChild(lab);
    }
    const every = Math.ceil(groups.length / 8);
    groups.forEach((g, i) => {
      series.forEach((s, k) => {
        const v = s.values[i];
        if (v === null || v === undefined || !isFinite(v)) return;
        const r = el("rect", {class: "bar" + (k ? " second" : ""), x: L + i * slot + slot * 0.1 + k * bw, y: y(v),
                              width: bw, height: Math.max(0, H - B - y(v))});
        const title = el("title");
        title.textContent = `${s.name} ${g}: ${fmt(v)}`;
        r.appendChild(title);
        svg.appendChild(r);
      });
      if (i % every === 0) {
        const lab = el("text", {x: L + i * slot + slot / 2, y: H - B + 12, "text-anchor": "middle"});
        lab.textContent = String(g).length > 12 ? String(g).slice(0, 11) + "…" : String(g);
        svg.appendChild(lab);
      }
    });
    series.forEach((s, k) => {
      const lab = el("text", {class: "legend" + (k ? " second" : ""), x: L + 4 + k * 120, y: H - 4});
      lab.textContent = s.name;
      svg.appendChild(lab);
    });
    container.replaceChildren(svg);
    return svg;
  }

  // labels: the classes; matrix[actual][predicted]: counts, shaded by their share of the actual class's row
  function grid(container, labels, matrix) {
    const n = labels.length, cell = Math.min(60, 360 / Math.max(n, 1)), L = 90, T = 28;
    const W = L + n * cell + 8, H = T + n * cell + 8;
    const svg = el("svg", {class: "chart grid", viewBox: `0 0 ${W} ${H}`, role: "img", width: W, height: H});
    svg.dataset.points = String(matrix.flat().filter(v => v > 0).length);
    const head = el("text", {x: L, y: 12});
    head.textContent = "predicted →  (rows: actual)";
    svg.appendChild(head);
    labels.forEach((lab, i) => {
      const t = el("text", {x: L - 4, y: T + i * cell + cell / 2 + 4, "text-anchor": "end"});
      t.textContent = String(lab);
      svg.appendChild(t);
      const c = el("text", {x: L + i * cell + cell / 2, y: T - 4, "text-anchor": "middle"});
      c.textContent = String(lab);
      svg.appendChild(c);
    });
    matrix.forEach((row, i) => {
      const total = row.reduce((a, b) => a + b, 0) || 1;
      row.forEach((v, j) => {
        const r = el("rect", {class: i === j ? "cell diag" : "cell", x: L + j * cell, y: T + i * cell,
                              width: cell - 2, height: cell - 2, "fill-opacity": (0.1 + 0.9 * v / total).toFixed(3)});
        const title = el("title");
        title.textContent = `actual ${labels[i]}, predicted ${labels[j]}: ${v} (${(100 * v / total).toFixed(1)}% of the row)`;
        r.appendChild(title);
        svg.appendChild(r);
        const t = el("text", {class: "count", x: L + j * cell + cell / 2 - 1, y: T + i * cell + cell / 2 + 4,
                              "text-anchor": "middle"});
        t.textContent = String(v);
        svg.appendChild(t);
      });
    });
    container.replaceChildren(svg);
    return svg;
  }
  window.assayChart = {draw, bars, grid};
})();
