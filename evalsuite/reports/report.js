// evalsuite report: renders the JSON embedded in this file. All text goes through textContent,
// never innerHTML, because model outputs contain HTML, closing script tags and LaTeX.
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("evalsuite-data").textContent);
  const SVGNS = "http://www.w3.org/2000/svg";
  const BASE = DATA.baseline;
  const PAGE = 250;

  function build(make, tag, attrs, children) {
    const e = make(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.setAttribute("class", v);
      else if (k === "text") e.textContent = String(v);
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, String(v));
    }
    for (const c of [].concat(children || [])) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  const el = (tag, attrs, ...kids) => build((t) => document.createElement(t), tag, attrs, kids.flat());
  const svg = (tag, attrs, ...kids) => build((t) => document.createElementNS(SVGNS, t), tag, attrs, kids.flat());
  const fmt = (x, d = 3) => (x === null || x === undefined ? "–" : Number(x).toFixed(d));
  const pct = (x) => (x === null || x === undefined ? "–" : (100 * x).toFixed(1) + "%");
  const benches = Object.keys(DATA.summary.benchmarks);
  const metricNames = [...new Set(benches.flatMap((b) => Object.keys(DATA.summary.benchmarks[b].overall.metrics)))];
  const nodeid = (it) => it.b + "/" + it.id;

  // ------------------------------------------------------------------ header and gates
  function header() {
    const m = DATA.run;
    const chips = Object.entries(m.chips).map(([k, v]) => el("span", { class: "chip" }, k + " ", el("b", { text: v })));
    document.getElementById("top").append(
      el("h1", { text: DATA.title }),
      el("div", { class: "sub", text: "run " + m.run_id + (BASE ? "  ·  baseline " + BASE.run_id : "") }),
      el("div", { class: "chips" }, chips));
  }

  function gatesCard() {
    const gates = DATA.gates;
    if (!gates.length) {
      return el("section", { class: "card gates" }, el("h2", {}, "Gates", el("span", { class: "verdict", text: "NONE" }),
        el("span", { class: "hint", text: "no --min-score or --baseline given; the run's exit status ignores scores" })));
    }
    const ok = gates.every((g) => g.passed);
    return el("section", { class: "card gates " + (ok ? "pass" : "fail"), id: "gates" },
      el("h2", {}, "Gates", el("span", { class: "verdict " + (ok ? "pass" : "fail"), text: ok ? "PASSED" : "FAILED" })),
      el("ul", {}, gates.map((g) => el("li", {}, el("span", { class: "badge " + (g.passed ? "correct" : "wrong"),
        text: g.passed ? "pass" : "FAIL" }), " ", g.message))));
  }

  // ------------------------------------------------------------------ summary table
  function ciBar(est) {
    const w = 90, x = (v) => 2 + v * (w - 4);
    return svg("svg", { width: w, height: 10, viewBox: `0 0 ${w} 10`, role: "img" },
      svg("line", { x1: 2, x2: w - 2, y1: 5, y2: 5, class: "axis" }),
      svg("line", { x1: x(est.ci_low), x2: x(est.ci_high), y1: 5, y2: 5, class: "whisker", "stroke-width": 4, opacity: 0.35 }),
      svg("circle", { cx: x(est.value), cy: 5, r: 3, fill: "#1f3a5f" }));
  }

  function summaryRow(label, b, cls) {
    return el("tr", { class: cls },
      el("td", { text: label }),
      el("td", { class: "num", text: b.n_items }),
      metricNames.map((n) => {
        const e = b.metrics[n];
        if (!e) return el("td", { class: "num", text: "–" });
        return el("td", { class: "num", title: `${e.method} ${Math.round(DATA.summary.confidence * 100)}% CI, n=${e.n}` },
          fmt(e.value), el("span", { class: "ci", text: `[${fmt(e.ci_low)}, ${fmt(e.ci_high)}]` }), ciBar(e));
      }),
      el("td", { class: "num", text: pct(b.truncation_rate) }),
      el("td", { class: "num", text: b.errors.samples ? `${b.errors.samples} (${b.errors.items_excluded} excl.)` : "0" }),
      el("td", { class: "num", text: fmt(b.lengths.mean, 0) }),
      el("td", { class: "num", text: fmt(b.lengths.p95, 0) }));
  }

  function summaryCard() {
    const body = el("tbody");
    const toggle = el("input", { type: "checkbox", id: "show-subgroups" });
    const render = () => {
      body.replaceChildren();
      for (const name of benches) {
        const bs = DATA.summary.benchmarks[name];
        body.append(summaryRow(name, bs.overall, "bench"));
        if (toggle.checked) for (const g of bs.subgroups) body.append(summaryRow(`${g.key} = ${g.value}`, g.stats, "sub"));
      }
    };
    toggle.addEventListener("change", render);
    render();
    const conf = Math.round(DATA.summary.confidence * 100);
    return el("section", { class: "card" },
      el("h2", {}, "Summary", el("span", { class: "hint", text: `mean over items, ${conf}% CI below each value; infrastructure errors excluded from accuracy` }),
        el("label", { class: "inline", style: "margin-left:auto" }, toggle, "show subgroups")),
      el("div", { class: "table-wrap", style: "max-height:none" }, el("table", { id: "summary-table" },
        el("thead", {}, el("tr", {}, el("th", { text: "Benchmark" }), el("th", { class: "num", text: "Items" }),
          metricNames.map((n) => el("th", { class: "num", text: n })),
          el("th", { class: "num", text: "Truncated" }), el("th", { class: "num", text: "Errors" }),
          el("th", { class: "num", text: "Mean tok" }), el("th", { class: "num", text: "p95 tok" }))),
        body)));
  }

  // ------------------------------------------------------------------ position bias (multiple choice)
  function biasCard() {
    const biases = DATA.position_bias || {};
    const names = Object.keys(biases);
    if (!names.length) return null;
    const tables = names.map((name) => {
      const b = biases[name];
      const test = b.chi_square === null ? "chi-square: not enough answers" :
        `chi-square ${fmt(b.chi_square, 1)} (${b.dof} dof), p = ${Number(b.p_value).toPrecision(2)}`;
      const consistency = b.rotated_questions ?
        ` · same option in every order: ${b.consistent_questions}/${b.rotated_questions} questions (${pct(b.consistency)})` : "";
      return el("div", { class: "bias", "data-benchmark": name },
        el("h3", { text: `${name}: ${test}${consistency}` }),
        el("table", { class: "position-bias" },
          el("thead", {}, el("tr", {}, el("th", { text: "Letter" }), el("th", { class: "num", text: "Picked" }),
            el("th", { class: "num", text: "Right answer there" }), el("th", { class: "num", text: "Accuracy there" }))),
          el("tbody", {}, b.letters.map((r) => el("tr", {}, el("td", { text: r.letter }),
            el("td", { class: "num", text: `${pct(r.picked_rate)} (${r.picked})` }),
            el("td", { class: "num", text: `${pct(r.gold_rate)} (${r.gold})` }),
            el("td", { class: "num", text: pct(r.accuracy) }))))));
    });
    return el("section", { class: "card", id: "position-bias" },
      el("h2", {}, "Position bias", el("span", { class: "hint", text: "how often each letter is picked vs how often it is right; a small p means a letter preference" })),
      tables);
  }

  // ------------------------------------------------------------------ charts
  function barChart(rows) {
    const lab = 150, w = 560, rh = 22, top = 18, h = top + rows.length * rh + 10;
    const x = (v) => lab + v * (w - lab - 100);
    const g = svg("svg", { width: "100%", viewBox: `0 0 ${w} ${h}`, role: "img", class: "bars" });
    for (const t of [0, 0.25, 0.5, 0.75, 1]) {
      g.append(svg("line", { x1: x(t), x2: x(t), y1: top - 4, y2: h - 8, class: "grid-line" }),
        svg("text", { x: x(t), y: 11, "text-anchor": "middle", class: "muted", text: t }));
    }
    rows.forEach((r, i) => {
      const y = top + i * rh;
      const label = r.label.length > 22 ? r.label.slice(0, 21) + "…" : r.label;
      g.append(svg("text", { x: lab - 8, y: y + 14, "text-anchor": "end" }, svg("title", { text: r.label }), label));
      if (!r.est) { g.append(svg("text", { x: lab + 4, y: y + 14, class: "muted", text: "no value" })); return; }
      const e = r.est;
      g.append(svg("rect", { x: lab, y: y + 4, width: Math.max(0, x(e.value) - lab), height: rh - 8, rx: 2, class: "bar" },
        svg("title", { text: `${r.label}: ${fmt(e.value)} [${fmt(e.ci_low)}, ${fmt(e.ci_high)}], n=${e.n}` })));
      g.append(svg("line", { x1: x(e.ci_low), x2: x(e.ci_high), y1: y + rh / 2, y2: y + rh / 2, class: "whisker" }),
        svg("line", { x1: x(e.ci_low), x2: x(e.ci_low), y1: y + 6, y2: y + rh - 6, class: "whisker" }),
        svg("line", { x1: x(e.ci_high), x2: x(e.ci_high), y1: y + 6, y2: y + rh - 6, class: "whisker" }),
        svg("text", { x: x(1) + 6, y: y + 14, text: `${fmt(e.value)} (n=${e.n})` }));
    });
    return g;
  }

  function histogram(samples) {
    const w = 560, h = 210, l = 40, b = 30, bins = 30;
    const toks = samples.map((s) => s.tok);
    const g = svg("svg", { width: "100%", viewBox: `0 0 ${w} ${h}`, role: "img", id: "length-hist" });
    if (!toks.length) { g.append(svg("text", { x: w / 2, y: h / 2, "text-anchor": "middle", class: "muted", text: "no samples" })); return g; }
    const max = Math.max(...toks, 1), step = Math.max(1, Math.ceil((max + 1) / bins));
    const all = new Array(bins).fill(0), tr = new Array(bins).fill(0);
    for (const s of samples) { const i = Math.min(bins - 1, Math.floor(s.tok / step)); all[i]++; if (s.fin === "length") tr[i]++; }
    const top = Math.max(...all, 1), bw = (w - l - 10) / bins, y = (c) => h - b - (c / top) * (h - b - 12);
    g.append(svg("line", { x1: l, x2: w - 10, y1: h - b, y2: h - b, class: "axis" }));
    for (const t of [0, Math.round(top / 2), top]) {
      g.append(svg("text", { x: l - 6, y: y(t) + 4, "text-anchor": "end", class: "muted", text: t }),
        svg("line", { x1: l, x2: w - 10, y1: y(t), y2: y(t), class: "grid-line" }));
    }
    all.forEach((c, i) => {
      const x0 = l + i * bw, label = `${i * step}–${(i + 1) * step - 1} tokens: ${c} samples, ${tr[i]} truncated`;
      g.append(svg("rect", { x: x0 + 1, y: y(c), width: bw - 2, height: h - b - y(c), class: "bar" }, svg("title", { text: label })));
      if (tr[i]) g.append(svg("rect", { x: x0 + 1, y: y(tr[i]), width: bw - 2, height: h - b - y(tr[i]), class: "bar-trunc" }, svg("title", { text: label })));
    });
    for (const i of [0, Math.floor(bins / 2), bins]) {
      g.append(svg("text", { x: l + i * bw, y: h - b + 16, "text-anchor": "middle", class: "muted", text: i * step }));
    }
    g.append(svg("text", { x: w - 10, y: h - 4, "text-anchor": "end", class: "muted", text: "output tokens · orange = truncated (hit max_tokens)" }));
    return g;
  }

  function select(options, onchange, id) {
    const s = el("select", { id }, options.map(([v, t]) => el("option", { value: v, text: t })));
    s.addEventListener("change", onchange);
    return s;
  }

  function chartsCard() {
    const metric = select(metricNames.map((n) => [n, n]), () => drawBench(), "chart-metric");
    const benchBox = el("div");
    const drawBench = () => benchBox.replaceChildren(barChart(benches.map((b) => ({ label: b, est: DATA.summary.benchmarks[b].overall.metrics[metric.value] }))));
    const sgBench = select(benches.map((b) => [b, b]), () => { fillKeys(); drawSub(); }, "chart-sg-bench");
    const sgKey = el("select", { id: "chart-sg-key" });
    const subBox = el("div");
    const fillKeys = () => {
      const keys = [...new Set(DATA.summary.benchmarks[sgBench.value].subgroups.map((g) => g.key))];
      sgKey.replaceChildren(...keys.map((k) => el("option", { value: k, text: k })));
    };
    const drawSub = () => {
      const sgs = DATA.summary.benchmarks[sgBench.value].subgroups.filter((g) => g.key === sgKey.value);
      subBox.replaceChildren(sgs.length ? barChart(sgs.map((g) => ({ label: `${g.value}`, est: g.stats.metrics[metric.value] })))
        : el("p", { class: "hint", text: "This benchmark has no subgroups." }));
    };
    sgKey.addEventListener("change", drawSub);
    metric.addEventListener("change", drawSub);
    const hBench = select([["", "all benchmarks"], ...benches.map((b) => [b, b])], () => drawHist(), "chart-hist-bench");
    const histBox = el("div");
    const drawHist = () => histBox.replaceChildren(histogram(DATA.items.filter((it) => !hBench.value || it.b === hBench.value)
      .flatMap((it) => it.s.filter((s) => !s.err))));
    fillKeys(); drawBench(); drawSub(); drawHist();
    return el("section", { class: "card" }, el("h2", {}, "Charts", el("span", { class: "hint", text: "bars: mean, whiskers: CI" })),
      el("div", { class: "grid" },
        el("div", { class: "chart-box" }, el("h3", {}, "By benchmark", metric), benchBox),
        el("div", { class: "chart-box" }, el("h3", {}, "By subgroup", sgBench, sgKey), subBox),
        el("div", { class: "chart-box" }, el("h3", {}, "Output length", hBench), histBox)));
  }

  // ------------------------------------------------------------------ baseline comparison
  // Comparisons arrive per benchmark: the benchmark (key null), then its subgroups worst first.
  const flipped = { down: new Set(), up: new Set() };
  if (BASE) for (const c of BASE.comparisons.filter((c) => c.key === null)) {
    c.flipped_down.forEach((id) => flipped.down.add(c.benchmark + "/" + id));
    c.flipped_up.forEach((id) => flipped.up.add(c.benchmark + "/" + id));
  }

  // One side of a flip: the verdict by the compared metric's per-item value (>= 0.5 is correct),
  // the value itself when it is not 0/1 (several samples), and the majority answer.
  function verdictCell(it, value) {
    if (!it) return el("td", { class: "muted", text: "absent" });
    const ok = value >= 0.5, share = value === 0 || value === 1 ? "" : ` ${fmt(value, 2)}`;
    return el("td", {}, el("span", { class: "badge " + (ok ? "correct" : "wrong"), text: (ok ? "correct" : "wrong") + share }), " ",
      el("span", { class: "mono", text: it.maj === null ? "∅" : it.maj }));
  }

  function flipTable(ids) {
    if (!ids.length) return el("div", { class: "flip-list muted", text: "none" });
    const sim = BASE.similarity || {};
    const hasSim = ids.some((id) => id in sim);
    return el("div", { class: "table-wrap" }, el("table", { class: "flip-table" },
      el("thead", {}, el("tr", {}, ["Item", `Baseline ${BASE.run_id}`, `This run ${DATA.run.run_id}`, "Similarity"]
        .map((h) => el("th", { text: h })))),
      el("tbody", {}, ids.map((id) => el("tr", { class: "flip-row", "data-id": id },
        el("td", {}, el("button", { class: "link flip", onclick: () => openItem(id), text: id })),
        verdictCell(BASE.items[id], BASE.flip_values[id][0]), verdictCell(byId.get(id), BASE.flip_values[id][1]),
        el("td", { class: "num", title: hasSim ? "similarity of the two outputs" : "pass --similarity embedding to evalsuite compare",
          text: id in sim ? fmt(sim[id]) : "–" }))))));
  }

  function baselineCard() {
    const rows = BASE.comparisons.map((c) => {
      const t = c.test;
      const group = c.key === null ? "(all)" : `${c.key}=${c.value}`;
      const cls0 = c.key === null ? "bench-row" : "group-row";
      if (!t) return el("tr", { class: cls0 }, el("td", { text: c.benchmark }), el("td", { text: group }), el("td", { colspan: 9, class: "muted", text: "present in one run only" }));
      const cls = t.delta < 0 ? "delta-neg" : t.delta > 0 ? "delta-pos" : "";
      const missing = c.only_in_run.length + c.only_in_baseline.length + c.unscorable.length;
      const verdict = c.dropped ? el("span", { class: "badge wrong", text: "dropped" })
        : c.p_adjusted === null ? el("span", { class: "muted", title: "fewer paired items than the minimum group size: reported, not gated", text: "not gated" })
        : el("span", { class: "badge correct", text: "ok" });
      return el("tr", { class: cls0 + (c.dropped ? " dropped" : ""), "data-name": c.name }, el("td", { text: c.benchmark }), el("td", { text: group }),
        el("td", { class: "num", text: t.n }),
        el("td", { class: "num", text: fmt(t.base_mean) }), el("td", { class: "num", text: fmt(t.run_mean) }),
        el("td", { class: "num" }, el("span", { class: cls, text: (t.delta >= 0 ? "+" : "") + fmt(t.delta) }),
          el("span", { class: "ci", text: `[${fmt(t.ci_low)}, ${fmt(t.ci_high)}]` })),
        el("td", { class: "num", text: fmt(t.p_drop, 4) }),
        el("td", { class: "num", title: c.p_adjusted === null ? "" : `${c.correction} over ${c.family_size} tests`, text: fmt(c.p_adjusted, 4) }),
        el("td", { class: "num", text: `${t.losses} / ${t.gains}` }),
        el("td", { class: "num", title: `only in this run: ${c.only_in_run.length}, only in baseline: ${c.only_in_baseline.length}, no score on one side: ${c.unscorable.length}`, text: missing }),
        el("td", {}, verdict));
    });
    const benchRows = BASE.comparisons.filter((c) => c.key === null);
    const down = benchRows.flatMap((c) => c.flipped_down.map((id) => c.benchmark + "/" + id));
    const up = benchRows.flatMap((c) => c.flipped_up.map((id) => c.benchmark + "/" + id));
    const fam = BASE.comparisons.find((c) => c.p_adjusted !== null);
    const famText = fam ? `; p corrected: ${fam.correction} over ${fam.family_size} tests` : "";
    return el("section", { class: "card", id: "baseline" },
      el("h2", {}, `Against baseline ${BASE.run_id}`, el("span", { class: "hint", text: `${BASE.model} → ${DATA.run.model}; metric ${BASE.metric}, paired on shared items${famText}` })),
      el("div", { class: "table-wrap", style: "max-height:none" }, el("table", { id: "comparison-table" },
        el("thead", {}, el("tr", {}, ["Benchmark", "Group", "Paired", "Baseline", "This run", "Δ [CI]", "p (drop)", "p (corrected)", "Worse / better", "Not compared", "Verdict"]
          .map((h, i) => el("th", { class: i > 1 && i < 10 ? "num" : "", text: h })))),
        el("tbody", {}, rows))),
      el("div", { class: "flips" },
        el("div", {}, el("h3", { text: `Correct → wrong (${down.length})` }), flipTable(down)),
        el("div", {}, el("h3", { text: `Wrong → correct (${up.length})` }), flipTable(up))));
  }

  // ------------------------------------------------------------------ item table
  const byId = new Map(DATA.items.map((it) => [nodeid(it), it]));
  const hay = new Map();
  const haystack = (it) => {
    if (!hay.has(it)) hay.set(it, [it.id, it.prompt, String(it.gold), Object.values(it.g).join(" "),
      ...it.s.map((s) => (s.ex || "") + " " + s.out)].join("\n").toLowerCase());
    return hay.get(it);
  };

  function itemsCard() {
    const search = el("input", { type: "search", id: "search", placeholder: "Search id, prompt, output, answer…" });
    const bench = select([["", "all benchmarks"], ...benches.map((b) => [b, b])], () => draw(true), "filter-bench");
    const opts = [["", "all statuses"], ["correct", "correct"], ["wrong", "wrong"], ["truncated", "truncated"], ["error", "error"]];
    if (BASE) opts.push(["down", "correct → wrong"], ["up", "wrong → correct"]);
    const status = select(opts, () => draw(true), "filter-status");
    const count = el("span", { class: "count", id: "item-count" });
    const body = el("tbody", { id: "items-body" });
    const more = el("button", { id: "show-more", onclick: () => { shown += PAGE; draw(false); } }, "Show more");
    let shown = PAGE, timer = null;
    search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => draw(true), 120); });
    function matches(it) {
      if (bench.value && it.b !== bench.value) return false;
      const st = status.value;
      if (st === "down" || st === "up") { if (!flipped[st].has(nodeid(it))) return false; }
      else if (st && it.st !== st) return false;
      const q = search.value.trim().toLowerCase();
      return !q || haystack(it).includes(q);
    }
    function row(it, i) {
      const base = BASE && BASE.items[nodeid(it)];
      return el("tr", { class: "item-row", "data-id": nodeid(it), onclick: () => openItem(nodeid(it)) },
        el("td", { class: "num muted", text: i + 1 }), el("td", { text: it.b }), el("td", { class: "mono clip", title: it.id, text: it.id }),
        el("td", { class: "clip", text: Object.entries(it.g).map(([k, v]) => `${k}=${v}`).join(", ") }),
        el("td", {}, el("span", { class: "badge " + it.st, text: it.st })),
        BASE ? el("td", {}, el("span", { class: "badge " + (base ? base.st : "none"), text: base ? base.st : "absent" })) : null,
        el("td", { class: "num", text: fmt(it.v, 2) }),
        el("td", { class: "mono clip", title: "majority answer over valid samples", text: it.maj === null ? "∅" : it.maj }),
        el("td", { class: "mono clip", text: String(it.gold) }),
        el("td", { class: "num", text: it.s.map((s) => s.tok).join(", ") }),
        el("td", { text: [...new Set(it.s.map((s) => s.fin))].join(", ") }));
    }
    function draw(reset) {
      if (reset) shown = PAGE;
      const hits = DATA.items.filter(matches);
      body.replaceChildren(...hits.slice(0, shown).map(row));
      count.textContent = `${hits.length} of ${DATA.items.length} items`;
      more.style.display = hits.length > shown ? "" : "none";
    }
    draw(true);
    const heads = ["#", "Benchmark", "Item", "Groups", "Status", BASE ? "Baseline" : null, "Score", "Majority answer", "Gold", "Tokens", "Finish"].filter((h) => h);
    return el("section", { class: "card" }, el("h2", {}, "Items", el("span", { class: "hint", text: "click a row for prompt, outputs and answers" })),
      el("div", { class: "toolbar" }, search, bench, status, count),
      el("div", { class: "table-wrap" }, el("table", { id: "items-table" }, el("thead", {}, el("tr", {}, heads.map((h) => el("th", { text: h })))), body)),
      el("div", { class: "more" }, more));
  }

  // ------------------------------------------------------------------ drill-down
  function sampleView(title, item, idx, onTab) {
    if (!item) return el("div", {}, el("h4", { text: title }), el("p", { class: "muted", text: "Not in this run." }));
    const s = item.s[Math.min(idx, item.s.length - 1)];
    const tabs = el("div", { class: "tabs" }, item.s.map((x, i) => el("button", {
      class: i === idx ? "active" : "", onclick: () => onTab(i),
      text: `#${x.i} ${x.err ? "⚠" : x.ok ? "✓" : "✗"}` })));
    if (!s) return el("div", {}, el("h4", { text: title }), el("p", { class: "muted", text: "No samples." }));
    const kv = [["status", s.err ? "error" : s.ok ? "correct" : s.reason === "truncated" ? "truncated" : "wrong"], ["extracted", s.ex === null ? "∅ (no answer found)" : s.ex],
      ["score", fmt(s.sc)], ["reason", s.reason], ["finish", s.fin], ["tokens", s.tok]];
    if (s.err) kv.push(["error", s.err]);
    return el("div", { class: "side" }, el("h4", { text: `${title} · sample ${s.i}` }), tabs,
      el("dl", { class: "kv" }, kv.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })])),
      el("pre", { class: "text output", text: s.out + (s.cut ? `\n\n[${s.cut} characters left out at […]; the full output is in details/*.jsonl]` : "") }));
  }

  function openItem(id) {
    const it = byId.get(id), base = BASE ? BASE.items[id] : null;
    const shown = it || base;
    if (!shown) return;
    const drill = document.getElementById("drill");
    let idx = 0;
    const sides = el("div", { class: "sides" });
    const render = () => sides.replaceChildren(
      ...(BASE ? [sampleView(`Baseline ${BASE.run_id}`, base, idx, (i) => { idx = i; render(); })] : []),
      sampleView(BASE ? `This run ${DATA.run.run_id}` : "Output", it, idx, (i) => { idx = i; render(); }));
    render();
    const close = el("button", { id: "drill-close", onclick: closeItem, "aria-label": "Close" }, "✕ Close");
    const panel = el("div", { class: "panel" },
      el("div", { class: "panel-head" }, el("h2", { id: "drill-title", text: id }),
        el("span", { class: "badge " + (it ? it.st : "none"), text: it ? it.st : "absent" }), close),
      el("dl", { class: "kv", style: "margin-top:10px" }, Object.entries(shown.g).flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })])),
      el("h4", { text: "Gold answer" }), el("pre", { class: "text gold", text: String(shown.gold) }),
      el("h4", { text: "Prompt" }), el("pre", { class: "text prompt", text: shown.prompt }),
      sides);
    drill.replaceChildren(panel);
    drill.classList.remove("hidden");
    close.focus();
  }
  function closeItem() { document.getElementById("drill").classList.add("hidden"); }
  document.getElementById("drill").addEventListener("click", (e) => { if (e.target.id === "drill") closeItem(); });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeItem(); });

  // ------------------------------------------------------------------ page
  function metaCard() {
    return el("section", { class: "card" }, el("details", { class: "meta" }, el("summary", { text: "Run metadata (reproduction data)" }),
      el("pre", { class: "text", text: JSON.stringify(DATA.run.meta, null, 2) })));
  }
  header();
  const app = document.getElementById("app");
  app.append(gatesCard(), summaryCard());
  const bias = biasCard();
  if (bias) app.append(bias);
  app.append(chartsCard());
  if (BASE) app.append(baselineCard());
  app.append(itemsCard(), metaCard(), el("footer", { text: `evalsuite ${DATA.version} · generated ${DATA.generated}` }));
  document.body.setAttribute("data-ready", "1");
})();
