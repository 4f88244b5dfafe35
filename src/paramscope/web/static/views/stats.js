// Stats view: on request, every weight read (the stats API): a histogram per component with log-scale
// counts, and the anomalies, each linking to its tensors' rows in the table below them.
"use strict";

(() => {
  const { $, el, fmt, api, hover, OFFLINE, state } = PS;

  function mount(section) {
    section.append(el("h2", {}, "The numbers"));
    section.append(el("button", { id: "stats-run", type: "button" }, "Read every weight: histograms"));
    section.append(el("p", { id: "stats-status", class: "info" }), el("div", { id: "stats-out" }));
    $("stats-run").addEventListener("click", run);
  }

  function open() {
    $("stats-out").replaceChildren();
    $("stats-status").textContent = "";
    if (OFFLINE && OFFLINE.stats) render(OFFLINE.stats);
  }

  async function run() {
    const t0 = performance.now();
    const tick = setInterval(() => {
      $("stats-status").textContent = `reading weights … ${((performance.now() - t0) / 1000).toFixed(1)} s`;
    }, 200);
    let stats;
    try {
      stats = await api("/api/stats", { source: state.source });
    } catch (e) {
      $("stats-status").textContent = e.message;
      return;
    } finally {
      clearInterval(tick);
    }
    render(stats);
  }

  const anchor = (name) => "tensor-" + encodeURIComponent(name).replace(/%/g, "_");

  function render(stats) {
    $("stats-status").textContent = `${fmt(stats.bytes_scanned)} bytes read in ${stats.seconds} s; ` +
      `${stats.anomalies.length} anomalies`;
    const boxes = Object.entries(stats.by_component).filter(([, s]) => s.histogram).map(([name, s]) => {
      const box = el("figure", { class: "hist" });
      box.append(el("figcaption", {}, `${name}: std ${s.std.toPrecision(3)}, |x| max ${s.absmax.toPrecision(3)}`));
      const svg = el("svg", { viewBox: "0 0 280 110", width: 280, height: 110, role: "img", "aria-label": `histogram of ${name}` });
      const counts = s.histogram.counts, top = Math.max(...counts, 1), w = 280 / counts.length;
      counts.forEach((c, i) => {
        const h = (90 * Math.log1p(c)) / Math.log1p(top); // log scale: the tails matter
        const r = el("rect", { x: i * w, y: 95 - h, width: Math.max(w - 0.5, 0.5), height: h });
        hover(r, [`${name}`, `[${s.histogram.edges[i]}, ${s.histogram.edges[i + 1]})`, `${fmt(c)} values`]);
        svg.append(r);
      });
      svg.append(el("text", { x: 0, y: 108, class: "tick" }, String(Number(s.histogram.edges[0]).toPrecision(2))),
        el("text", { x: 280, y: 108, class: "tick", "text-anchor": "end" }, String(Number(s.histogram.edges[counts.length]).toPrecision(2))));
      box.append(svg);
      return box;
    });
    const list = el("ul", { id: "anomalies" });
    const flagged = new Set();
    for (const a of stats.anomalies.slice(0, 100)) {
      const li = el("li", { class: "anomaly " + a.severity }, `${a.severity} ${a.kind}: ${a.detail} `);
      for (const t of a.tensors.slice(0, 5)) {
        flagged.add(t);
        li.append(el("a", { href: "#" + anchor(t) }, t), " ");
      }
      list.append(li);
    }
    const table = el("table", { class: "figures", id: "anomaly-tensors" });
    const head = el("tr");
    for (const h of ["tensor", "dtype", "shape", "std", "|x| max"]) head.append(el("th", {}, h));
    table.append(head);
    for (const t of stats.tensors.filter((x) => flagged.has(x.name))) {
      const tr = el("tr", { id: anchor(t.name) });
      tr.append(el("td", {}, t.name), el("td", {}, t.dtype), el("td", {}, t.shape.join(" × ")),
        el("td", { class: "num" }, t.std === null || t.std === undefined ? "—" : Number(t.std).toPrecision(3)),
        el("td", { class: "num" }, t.absmax === null || t.absmax === undefined ? "—" : Number(t.absmax).toPrecision(3)));
      table.append(tr);
    }
    $("stats-out").replaceChildren(el("div", { class: "hists" }, undefined), list, ...(flagged.size ? [table] : []));
    $("stats-out").firstChild.append(...boxes);
  }

  PS.registerView({ id: "stats", mount, open });
})();
