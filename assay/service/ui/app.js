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
    // a refusal forgets the token it refused, never a newer one (a late 401 of a refused token's parallel calls must not
    // log out the token entered since)
    if (r.status === 401) { if (sessionStorage.getItem(KEY) === token) sessionStorage.removeItem(KEY); throw {login: true}; }
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return r.json();
  }
  // The range every chart shares: a preset of the picker, or a range dragged on a chart (kept in the URL's hash, so a
  // link shows the same range)
  function step(span) { return span <= 86400 ? "5m" : (span <= 604800 ? "1h" : "1d"); }
  function range() {
    const h = new URLSearchParams(location.hash.slice(1));
    const a = Number(h.get("from")), b = Number(h.get("to"));
    if (a && b && b > a) {
      const from = Math.floor(a / 300) * 300, to = Math.max(Math.ceil(b / 300) * 300, from + 300);
      return {from, to, step: step(to - from), custom: true};
    }
    const span = Number($("range").value);
    const to = Math.ceil(Date.now() / 1000 / 300) * 300;
    return {from: to - span, to, step: step(span), custom: false};
  }
  function select(t0, t1) { location.hash = `from=${t0}&to=${t1}`; }  // the hashchange listener renders
  const timeOpts = extra => Object.assign({onSelect: select}, extra || {});
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
      api(`/v1/models/${enc(model)}/metrics?${q}`).catch(() => null), api(`/v1/slos?model=${enc(model)}`)]);
    const names = Object.keys((doc.windows.find(w => Object.keys(w.metrics || {}).length) || {metrics: {}}).metrics);
    const head = ["roc_auc", "accuracy", "mae", "f1"].find(n => names.includes(n)) || names[0];
    chartCard(root, `${head || "metric"}: realized and estimated, with intervals`, body =>
      assayChart.draw(body, [{name: `${head} realized`, points: series(doc, w => (w.metrics || {})[head])},
                             {name: `${head} estimated`, points: series(doc, w => (w.estimated || {})[head])}],
                      timeOpts()));
    chartCard(root, "Traffic: predictions per window", body =>
      assayChart.draw(body, [{name: "predictions", points: series(doc, w => ({value: w.predictions}))}],
                      timeOpts({min: 0})));
    const own = slos.slos.filter(s => s.model === model);
    const [c, body] = card("SLOs: compliance and error budget");
    body.appendChild(table(["SLO", "objective", "SLI", "budget left", "status"], own.map(s => [
      s.name, s.objective, s.sli_value === null ? "no data" : (100 * s.sli_value).toFixed(2) + "%",
      s.error_budget.remaining === null ? "—" : (100 * s.error_budget.remaining).toFixed(1) + "%",
      text("span", s.status, s.status === "firing" ? "firing" : "ok")])));
    root.appendChild(c);
    const [fc, fb] = card("Fairness: the worst group disparity");
    const worst = worstDisparity(run);
    fb.appendChild(worst ? table(["attribute", "metric", "disparity", "groups"], [worst]) :
      text("p", run && run.fairness ? "no disparity in this range" : "no sensitive attributes configured", "muted"));
    root.appendChild(fc);
  }

  // The largest difference between groups of any sensitive attribute's fairness metrics: [attribute, metric, value,
  // groups]; the run document's fairness section holds each attribute's groups and its *_difference disparities
  function worstDisparity(run) {
    let worst = null;
    for (const [attr, f] of Object.entries((run && run.fairness) || {})) {
      for (const [name, e] of Object.entries(f || {})) {
        const d = name.endsWith("_difference") && e ? e.value : null;
        if (typeof d === "number" && isFinite(d) && (!worst || Math.abs(d) > Math.abs(worst[2]))) {
          worst = [attr, name, d, Object.keys(f.groups || {}).join(", ")];
        }
      }
    }
    return worst && [worst[0], worst[1], worst[2].toPrecision(3), worst[3]];
  }

  async function oncall(root, r) {
    const q = `from=${r.from}&to=${r.to}&step=${r.step}`;
    const [doc, alerts, silences, status, info, comparisons] = await Promise.all([
      api(`/v1/models/${enc(model)}/metrics?${q}`), api("/v1/alerts"), api("/v1/silences"),
      api(`/v1/models/${enc(model)}/status`), modelInfo(), api("/v1/comparisons").catch(() => ({comparisons: []}))]);
    chartCard(root, "Latency p95 (seconds)", body =>
      assayChart.draw(body, [{name: "p95", points: series(doc, w => (w.traffic || {}).latency_p95)}],
                      timeOpts({min: 0})));
    // the rates this model has inputs for (a status column: errors; a text column: refusals)
    const keys = new Set(doc.windows.flatMap(w => Object.keys(w.traffic || {})));
    const rates = [...keys].filter(k => k === "error_rate" || k.endsWith("_refusal_rate")).sort();
    chartCard(root, "Error and refusal rates", body => rates.length ?
      assayChart.draw(body, rates.map(k => ({name: k.replace(/_/g, " "), points: series(doc, w => (w.traffic || {})[k])})),
                      timeOpts({min: 0})) :
      body.appendChild(text("p", "no status or text column configured for this model", "muted")));
    chartCard(root, "Label coverage", body => assayChart.draw(body, [{name: "coverage",
      points: series(doc, w => ({value: w.label_coverage}))}], timeOpts({min: 0})));
    const lag = status.materialization_lag || {};
    const [hc, hb] = card("Model health");
    hb.appendChild(table(["predictions", "labels", "pending labels", "materialization lag", "newest event"], [[
      status.events, status.labels, status.pending_labels,
      `${Number(lag.seconds || 0).toFixed(1)} s (${lag.predictions || 0} predictions, ${lag.labels || 0} labels behind)`,
      status.newest_event_time]]));
    root.appendChild(hc);
    if (info.drift) {
      const d = await api(`/v1/models/${enc(model)}/drift?from=${r.from}&to=${r.to}`).catch(() => null);
      const [mc, mb] = card("Feature missing rates: now against the reference");
      const rows = d ? Object.entries(d.columns || {}).map(([k, v]) => [k, pct((v.quality || {}).missing_reference),
                                                                         pct((v.quality || {}).missing_current)]) : [];
      mb.appendChild(rows.length ? table(["column", "reference", "this range"], rows) :
                     text("p", "no predictions in this range", "muted"));
      root.appendChild(mc);
    }
    const mine = alerts.alerts.filter(a => a.labels.model === model && a.state === "firing");
    const [c, body] = card("Firing alerts");
    body.appendChild(mine.length ? table(["alert", "severity", "since", "silenced"], mine.map(a => [
      a.labels.alertname, a.labels.severity, a.starts_at, a.silenced ? "yes" : ""])) : text("p", "none", "ok"));
    root.appendChild(c);
    const own = (silences.silences || []).filter(s => s.active && (s.matchers || {}).model === model);
    const [sc, sb] = card("Active silences");
    sb.appendChild(own.length ? table(["matchers", "until", "by", "comment"], own.map(s => [
      Object.entries(s.matchers || {}).map(([k, v]) => `${k}=${v}`).join(", "),
      new Date(s.ends_at * 1000).toISOString().replace(".000Z", "Z"), s.created_by, s.comment])) :
      text("p", "none", "muted"));
    root.appendChild(sc);
    for (const cmp of (comparisons.comparisons || []).filter(x => x.model === model)) {
      const d = await api(`/v1/comparisons/${enc(cmp.name)}/decision`).catch(() => null);
      const [cc, cb] = card(`Canary ${cmp.name}: ${cmp.candidate} against ${cmp.control} (${cmp.mode})`);
      cb.appendChild(text("p", d ? `${d.decision}: ${d.reason}` : "no decision", d && d.decision === "rollback" ?
                          "firing" : "muted"));
      if (d) cb.appendChild(table(["metric", "control", "candidate", "delta", "interval", "decision"],
        (d.metrics || []).map(m => [m.metric, num((m.control || {}).value), num((m.candidate || {}).value),
                                    num(m.difference), m.ci_low === null ? "—" : `${num(m.ci_low)} – ${num(m.ci_high)}`,
                                    m.decision])));
      root.appendChild(cc);
    }
  }

  function num(v) { return v === null || v === undefined ? "—" : Number(v).toPrecision(3); }
  function pct(v) { return v === null || v === undefined ? "—" : (100 * v).toFixed(1) + "%"; }
  async function modelInfo() {
    const models = await api("/v1/models");
    return models.models.find(m => m.name === model) || {segments: []};
  }

  async function debug(root, r) {
    const q = `from=${r.from}&to=${r.to}`;
    const info = await modelInfo();
    const labeled = info.task !== "llm";
    const run = labeled ? await api(`/v1/models/${enc(model)}/metrics?${q}`).catch(() => null) : null;
    if (labeled) {
      const [c, body] = card("Metrics of the range, with intervals");
      const ms = run && run.metrics ? Object.entries(run.metrics) : [];
      body.appendChild(ms.length ? table(["metric", "value", "interval", "n"], ms.map(([k, e]) => [
        k, e.value === null ? "—" : Number(e.value).toPrecision(4),
        e.ci_low === null || e.ci_low === undefined ? "—" : `${Number(e.ci_low).toPrecision(3)} – ${Number(e.ci_high).toPrecision(3)}`,
        e.n])) : text("p", "no labeled predictions in this range", "muted"));
      root.appendChild(c);
      const cm = run && run.confusion_matrix;
      chartCard(root, "Confusion matrix of the range", body => cm && cm.matrix.flat().some(v => v > 0) ?
        assayChart.grid(body, cm.labels, cm.matrix) : body.appendChild(text("p", "no labeled predictions", "muted")));
      const bins = ((run && run.calibration && run.calibration.bins) || []).filter(b => b.mean_predicted !== null);
      chartCard(root, `Calibration of the range (ECE ${num(run && run.calibration && run.calibration.ece)})`, body =>
        assayChart.draw(body, [{name: "observed rate", points: bins.map(b => ({t: b.mean_predicted, v: b.observed,
                                                                               lo: b.ci_low, hi: b.ci_high}))}],
                        {x: "value", min: 0, diagonal: true}));
    }
    for (const seg of info.segments || []) {
      const doc = await api(`/v1/models/${enc(model)}/metrics?${q}&step=${r.step}&segment=${enc(seg)}`);
      const groups = {};
      for (const w of doc.windows) for (const [g, m] of Object.entries(w.segments || {})) {
        const first = Object.values(m)[0];
        if (first) (groups[g] = groups[g] || []).push({t: Date.parse(w.start) / 1000, v: first.value ?? null,
                                                       lo: first.ci_low ?? null, hi: first.ci_high ?? null});
      }
      chartCard(root, `Per ${seg}: the first metric, with intervals`, body =>
        assayChart.draw(body, Object.entries(groups).map(([g, pts]) => ({name: g, points: pts})), timeOpts()));
      const slices = ((run && run.slices) || {})[seg] || {};
      const [sc, sb] = card(`Groups of ${seg}: the range's metrics`);
      const rows = Object.entries(slices).filter(([, e]) => e && typeof e === "object").map(([g, e]) => {
        const m = e.metrics || {};
        const first = Object.entries(m).find(([, v]) => v && typeof v === "object" && "value" in v);
        return first ? [g, first[0], num(first[1].value),
                        first[1].ci_low === null ? "—" : `${num(first[1].ci_low)} – ${num(first[1].ci_high)}`,
                        first[1].n] : [g, "—", "—", "—", "—"];
      });
      sb.appendChild(rows.length ? table([seg, "metric", "value", "interval", "n"], rows) :
        table([seg, "windows with data"], Object.entries(groups).map(([g, pts]) => [g, pts.length])));
      root.appendChild(sc);
    }
    if (info.drift) {
      const d = await api(`/v1/models/${enc(model)}/drift?${q}`).catch(() => null);
      const [dc, db] = card("Inputs against the reference");
      db.appendChild(d ? table(["column", "drifted", "method", "statistic"], Object.entries(d.columns || {}).map(([k, v]) => [
        k, v.drifted ? "yes" : "no", v.method, num(v.statistic)])) : text("p", "no predictions in this range", "muted"));
      root.appendChild(dc);
      for (const [name, col] of Object.entries((d && d.columns) || {})) {
        const h = col.histogram;
        if (!h) continue;
        const groups = h.type === "categorical" ? h.categories :
          h.reference.map((_, i) => `${num(h.edges[i])}–${num(h.edges[i + 1])}`);
        const what = col.kind === "text" ? `${name}: length distribution (characters)` : `${name}: distribution`;
        chartCard(root, `${what} against the reference`, body => assayChart.bars(body, groups, [
          {name: "reference", values: h.reference}, {name: "this range", values: h.current}]));
      }
    }
    if (info.ood) {
      const ood = await api(`/v1/models/${enc(model)}/events?${q}&flag=ood&limit=20`);
      const [oc, ob] = card("Recent events out of the reference's range (stored rows, redacted)");
      ob.appendChild(ood.events.length ? table(["time", "id", "version", "out of range", "row"], ood.events.map(e => [
        e.timestamp, e.id, e.version, e.columns.join(", "), JSON.stringify(e.row).slice(0, 160)])) :
        text("p", `none among the last ${ood.scanned.predictions} predictions`, "muted"));
      root.appendChild(oc);
    }
    const textCols = Object.keys(((await api(`/v1/models/${enc(model)}/metrics?${q}&step=${r.step}`)
      .catch(() => ({windows: []}))).windows.find(w => w.traffic) || {traffic: {}}).traffic || {})
      .filter(k => k.endsWith("_length_mean"));
    if (textCols.length) {
      const doc = await api(`/v1/models/${enc(model)}/metrics?${q}&step=${r.step}`);
      chartCard(root, "Text lengths (mean characters, with intervals)", body => assayChart.draw(body,
        textCols.map(k => ({name: k.replace(/_length_mean$/, ""), points: series(doc, w => (w.traffic || {})[k])})),
        timeOpts({min: 0})));
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
    $("range-note").textContent = r.custom ? `selected: ${new Date(r.from * 1000).toISOString().slice(5, 16)} – ` +
      `${new Date(r.to * 1000).toISOString().slice(5, 16)} UTC` : "";
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
    $("range").addEventListener("change", () => {
      if (location.hash) history.replaceState(null, "", location.pathname);  // a preset replaces a dragged range
      render();
    });
    window.addEventListener("hashchange", () => render());
    render();
  });
})();
