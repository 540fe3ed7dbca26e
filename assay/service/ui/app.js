"use strict";
// assay's dashboard: the page shell is public; every data call carries the token kept in this tab's session.
(function () {
  const $ = id => document.getElementById(id);
  const KEY = "assay-token";
  const parts = location.pathname.replace(/\/+$/, "").split("/");  // ["", "ui", "models", name, view]
  const model = parts[2] === "models" ? decodeURIComponent(parts[3] || "") : null;
  const view = model ? (parts[4] || "executive") : null;

  function text(tag, value, cls) {
    const e = document.createElement(tag);
    e.textContent = value === null || value === undefined ? "—" : String(value);
    if (cls) e.className = cls;
    return e;
  }
  function card(title) {
    const c = document.createElement("div");
    c.className = "card";
    c.appendChild(text("h2", title));
    const body = document.createElement("div");
    c.appendChild(body);
    return [c, body];
  }
  function table(headers, rows) {
    const t = document.createElement("table");
    const tr = document.createElement("tr");
    headers.forEach(h => tr.appendChild(text("th", h)));
    t.appendChild(tr);
    rows.forEach(r => {
      const row = document.createElement("tr");
      r.forEach(v => {
        const td = document.createElement("td");
        if (v instanceof Node) td.appendChild(v); else td.textContent = v === null || v === undefined ? "—" : String(v);
        row.appendChild(td);
      });
      t.appendChild(row);
    });
    return t;
  }
  async function api(path) {
    const token = sessionStorage.getItem(KEY);
    if (!token) throw {login: true};
    const r = await fetch(path, {headers: {Authorization: "Bearer " + token}});
    if (r.status === 401) { sessionStorage.removeItem(KEY); throw {login: true}; }
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return r.json();
  }
  function range() {
    const span = Number($("range").value);
    const to = Math.ceil(Date.now() / 1000 / 300) * 300;
    return {from: to - span, to, step: span <= 86400 ? "5m" : (span <= 604800 ? "1h" : "1d")};
  }
  function series(doc, pick) {
    return (doc.windows || []).map(w => {
      const e = pick(w) || {};
      return {t: Date.parse(w.start) / 1000, v: e.value ?? null, lo: e.ci_low ?? null, hi: e.ci_high ?? null};
    });
  }
  const enc = encodeURIComponent;

  async function home(root) {
    const [models, slos, alerts] = await Promise.all([api("/v1/models"), api("/v1/slos"), api("/v1/alerts")]);
    const firing = alerts.alerts.filter(a => a.state === "firing");
    const [c, body] = card("Models");
    body.appendChild(table(["model", "task", "versions", "SLOs", "firing alerts", "views"], models.models.map(m => {
      const own = slos.slos.filter(s => s.model === m.name);
      const links = document.createElement("span");
      ["executive", "on-call", "debug"].forEach(v => {
        const a = text("a", v);
        a.href = `/ui/models/${enc(m.name)}/${v}`;
        links.appendChild(a);
        links.appendChild(document.createTextNode(" "));
      });
      const n = firing.filter(a => a.labels.model === m.name).length;
      return [m.name, m.task, (m.versions || []).filter(Boolean).join(", ") || "—",
              own.map(s => `${s.name}: ${s.status}`).join("; ") || "—", text("span", n, n ? "firing" : "ok"), links];
    })));
    root.appendChild(c);
  }

  function chartCard(root, title, drawer) {
    const [c, body] = card(title);
    root.appendChild(c);
    drawer(body);
  }

  async function executive(root, r) {
    const q = `from=${r.from}&to=${r.to}`;
    const [doc, run, slos] = await Promise.all([
      api(`/v1/models/${enc(model)}/metrics?${q}&step=${r.step}`),
      api(`/v1/models/${enc(model)}/metrics?${q}`).catch(() => null), api("/v1/slos")]);
    const names = Object.keys((doc.windows.find(w => Object.keys(w.metrics || {}).length) || {metrics: {}}).metrics);
    const head = ["roc_auc", "accuracy", "mae", "f1"].find(n => names.includes(n)) || names[0];
    chartCard(root, `${head || "metric"}: realized and estimated, with intervals`, body =>
      assayChart.draw(body, [{name: `${head} realized`, points: series(doc, w => (w.metrics || {})[head])},
                             {name: `${head} estimated`, points: series(doc, w => (w.estimated || {})[head])}]));
    chartCard(root, "Traffic: predictions per window", body =>
      assayChart.draw(body, [{name: "predictions", points: series(doc, w => ({value: w.predictions}))}], {min: 0}));
    const own = slos.slos.filter(s => s.model === model);
    const [c, body] = card("SLOs: compliance and error budget");
    body.appendChild(table(["SLO", "objective", "SLI", "budget left", "status"], own.map(s => [
      s.name, s.objective, s.sli_value === null ? "no data" : (100 * s.sli_value).toFixed(2) + "%",
      s.error_budget.remaining === null ? "—" : (100 * s.error_budget.remaining).toFixed(1) + "%",
      text("span", s.status, s.status === "firing" ? "firing" : "ok")])));
    root.appendChild(c);
    const fair = run && run.fairness ? run.fairness : null;
    const [fc, fb] = card("Fairness: the worst group disparity");
    fb.appendChild(text("p", fair ? JSON.stringify(fair).slice(0, 200) : "no sensitive attributes configured", "muted"));
    root.appendChild(fc);
  }

  async function oncall(root, r) {
    const q = `from=${r.from}&to=${r.to}&step=${r.step}`;
    const [doc, alerts] = await Promise.all([api(`/v1/models/${enc(model)}/metrics?${q}`), api("/v1/alerts")]);
    chartCard(root, "Latency p95 (seconds)", body =>
      assayChart.draw(body, [{name: "p95", points: series(doc, w => (w.traffic || {}).latency_p95)}], {min: 0}));
    chartCard(root, "Error and refusal rates", body => {
      const refusal = Object.keys((doc.windows[0] || {traffic: {}}).traffic || {}).find(k => k.endsWith("_refusal_rate"));
      assayChart.draw(body, [{name: "error rate", points: series(doc, w => (w.traffic || {}).error_rate)},
                             {name: refusal || "refusal rate", points: series(doc, w => (w.traffic || {})[refusal])}],
                      {min: 0});
    });
    chartCard(root, "Label coverage", body => assayChart.draw(body, [{name: "coverage",
      points: series(doc, w => ({value: w.label_coverage}))}], {min: 0}));
    const mine = alerts.alerts.filter(a => a.labels.model === model && a.state === "firing");
    const [c, body] = card("Firing alerts");
    body.appendChild(mine.length ? table(["alert", "severity", "since", "silenced"], mine.map(a => [
      a.labels.alertname, a.labels.severity, a.starts_at, a.silenced ? "yes" : ""])) : text("p", "none", "ok"));
    root.appendChild(c);
  }

  async function debug(root, r) {
    const q = `from=${r.from}&to=${r.to}`;
    const models = await api("/v1/models");
    const info = models.models.find(m => m.name === model) || {segments: []};
    const run = await api(`/v1/models/${enc(model)}/metrics?${q}`).catch(() => null);
    const [c, body] = card("Metrics of the range, with intervals");
    const ms = run && run.metrics ? Object.entries(run.metrics) : [];
    body.appendChild(ms.length ? table(["metric", "value", "interval", "n"], ms.map(([k, e]) => [
      k, e.value === null ? "—" : Number(e.value).toPrecision(4),
      e.ci_low === null || e.ci_low === undefined ? "—" : `${Number(e.ci_low).toPrecision(3)} – ${Number(e.ci_high).toPrecision(3)}`,
      e.n])) : text("p", "no labeled predictions in this range", "muted"));
    root.appendChild(c);
    for (const seg of info.segments || []) {
      const doc = await api(`/v1/models/${enc(model)}/metrics?${q}&step=${r.step}&segment=${enc(seg)}`);
      const groups = {};
      for (const w of doc.windows) for (const [g, m] of Object.entries(w.segments || {})) {
        const first = Object.values(m)[0];
        if (first) (groups[g] = groups[g] || []).push({t: Date.parse(w.start) / 1000, v: first.value ?? null,
                                                       lo: first.ci_low ?? null, hi: first.ci_high ?? null});
      }
      chartCard(root, `Per ${seg}: the first metric, with intervals`, body =>
        assayChart.draw(body, Object.entries(groups).map(([g, pts]) => ({name: g, points: pts}))));
      const [sc, sb] = card(`Groups of ${seg}`);
      sb.appendChild(table([seg, "windows with data"], Object.entries(groups).map(([g, pts]) => [g, pts.length])));
      root.appendChild(sc);
    }
    if (info.drift) {
      const d = await api(`/v1/models/${enc(model)}/drift?${q}`).catch(() => null);
      const [dc, db] = card("Inputs against the reference");
      db.appendChild(d ? table(["column", "drifted", "statistic"], Object.entries(d.columns || {}).map(([k, v]) => [
        k, v.drifted ? "yes" : "no", v.statistic ?? v.value ?? "—"])) : text("p", "no predictions in this range", "muted"));
      root.appendChild(dc);
    }
  }

  async function render() {
    const root = $("view");
    root.replaceChildren();
    root.dataset.ready = "0";
    $("login").hidden = true;
    const nav = $("nav");
    nav.replaceChildren();
    if (model) {
      ["executive", "on-call", "debug"].forEach(v => {
        const a = text("a", `${model} · ${v}`, v === view ? "current" : "");
        a.href = `/ui/models/${enc(model)}/${v}`;
        nav.appendChild(a);
      });
    }
    const grid = document.createElement("div");
    grid.className = "grid";
    root.appendChild(grid);
    const r = range();
    root.dataset.from = String(r.from);
    root.dataset.to = String(r.to);
    try {
      if (!model) await home(grid);
      else if (view === "executive") await executive(grid, r);
      else if (view === "on-call") await oncall(grid, r);
      else await debug(grid, r);
      $("logout").hidden = false;
      root.dataset.ready = "1";
    } catch (e) {
      if (e && e.login) { $("login").hidden = false; $("logout").hidden = true; return; }
      root.appendChild(text("p", String(e && e.message ? e.message : e), "error"));
      root.dataset.ready = "error";
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login").addEventListener("submit", async ev => {
      ev.preventDefault();
      sessionStorage.setItem(KEY, $("token").value.trim());
      $("token").value = "";
      await render();
      if (!$("login").hidden) $("login-error").textContent = "that token was refused";
    });
    $("logout").addEventListener("click", () => { sessionStorage.removeItem(KEY); render(); });
    $("range").addEventListener("change", () => render());
    render();
  });
})();
