// Tour view: `paramscope explain` on the page (the explain API): each section's paragraphs as the
// command wrote them, with a picture beside it where the page has one (the treemap for where the
// parameters live, the memory bar for what loading takes, a histogram of the largest tensor's values).
// The words and figures are the API's; nothing here computes a model figure.
"use strict";

(() => {
  const { $, el, fmt, api, latest, hover, stackedBars, OFFLINE, state } = PS;

  function mount(section) {
    section.append(el("h2", {}, "Tour"));
    const level = el("select", { id: "tour-level", "aria-label": "words for" });
    level.append(el("option", { value: "beginner" }, "beginner"), el("option", { value: "expert" }, "expert"));
    const box = el("label", {});
    box.append(el("span", {}, "words for "), level);
    section.append(box, el("p", { id: "tour-status", class: "info" }), el("div", { id: "tour-out" }));
    level.addEventListener("change", load);
    if (OFFLINE) box.hidden = true; // a report holds one level, the one it was written with
  }

  // On a server the tour reads every weight of a file (the bulk lane): it is asked for when the view
  // first comes into sight, not on every open. A report's tour is embedded: shown at once.
  let observer = null;

  function open() {
    $("tour-out").replaceChildren();
    $("tour-status").textContent = "";
    if (observer) observer.disconnect();
    if (OFFLINE || !("IntersectionObserver" in window)) { load(); return; }
    observer = new IntersectionObserver((entries) => {
      if (!entries.some((e) => e.isIntersecting)) return;
      observer.disconnect();
      load();
    });
    observer.observe($("tour-view"));
  }

  async function load() {
    const current = latest("tour");
    const t0 = performance.now();
    const tick = setInterval(() => {
      $("tour-status").textContent = `writing the tour … ${((performance.now() - t0) / 1000).toFixed(1)} s`;
    }, 200);
    let tour;
    try {
      tour = await api("/api/explain", { source: state.source, level: $("tour-level").value });
    } catch (e) {
      if (current()) { $("tour-status").textContent = e.message; $("tour-status").className = "info error"; }
      return;
    } finally {
      clearInterval(tick);
    }
    if (!current()) return;
    $("tour-status").textContent = "";
    $("tour-status").className = "info";
    render(tour);
  }

  // a figure's value as text: lists joined, numbers as the page writes counts
  const show = (v) => (Array.isArray(v) ? v.map(show).join(", ") : typeof v === "number" ? fmt(v) : String(v));

  function render(tour) {
    const out = $("tour-out");
    out.replaceChildren();
    out.dataset.source = tour.source;
    out.dataset.level = tour.level;
    for (const s of tour.sections) {
      const art = el("article", { class: "tour-section", id: "tour-" + s.key, "data-key": s.key,
        "data-figures": JSON.stringify(s.figures) });
      const words = el("div", { class: "tour-text" });
      words.append(el("h3", {}, s.title), ...s.text.map((p) => el("p", {}, p)));
      const details = el("details", {});
      const table = el("table", { class: "figures" });
      for (const [k, v] of Object.entries(s.figures)) {
        const tr = el("tr", { "data-figure": k });
        tr.append(el("th", {}, k), el("td", {}, show(v)));
        table.append(tr);
      }
      details.append(el("summary", {}, `${Object.keys(s.figures).length} figures`), table);
      words.append(details);
      art.append(words);
      const pic = picture(s);
      if (pic) art.append(pic);
      out.append(art);
    }
  }

  function picture(s) {
    const f = s.figures;
    if (s.key === "where" && $("params-view")) {
      const fig = el("figure", { class: "tour-figure" });
      fig.append(el("a", { href: "#params-view", class: "tour-link" }, "see them in the treemap ↑"));
      return fig;
    }
    if (s.key === "memory" && f.total_bytes !== undefined) {
      const fig = el("figure", { class: "tour-figure" });
      fig.append(el("div", { class: "chart" }));
      const svg = el("svg", { class: "tour-memory", role: "img", "aria-label": "memory to load it, by part" });
      fig.firstChild.append(svg);
      fig.append(el("a", { href: "#memory-view", class: "tour-link" }, "more in the memory view ↑"));
      // drawn once the figure is in the page: the bars take their container's width
      requestAnimationFrame(() => stackedBars(svg, [{ label: "", size: { weights_bytes: f.weights_stored,
        kv_cache_bytes: f.kv_cache_bytes, compute_bytes: f.compute_bytes, overhead_bytes: f.overhead_bytes,
        total_bytes: f.total_bytes } }]));
      return fig;
    }
    if (s.key === "values" && f.histogram_counts) {
      const counts = f.histogram_counts, edges = f.histogram_edges;
      const fig = el("figure", { class: "hist tour-figure" });
      fig.append(el("figcaption", {}, `${f.name}: ${fmt(f.count)} values`));
      const svg = el("svg", { viewBox: "0 0 280 110", width: 280, height: 110, role: "img", class: "tour-hist",
        "aria-label": `histogram of ${f.name}` });
      const top = Math.max(...counts, 1), w = 280 / counts.length;
      counts.forEach((c, i) => {
        const h = (90 * Math.log1p(c)) / Math.log1p(top); // log scale, as the stats view: the tails matter
        const r = el("rect", { x: i * w, y: 95 - h, width: Math.max(w - 0.5, 0.5), height: h, "data-count": c });
        hover(r, [f.name, `[${edges[i]}, ${edges[i + 1]})`, `${fmt(c)} values`]);
        svg.append(r);
      });
      svg.append(el("text", { x: 0, y: 108, class: "tick" }, String(Number(edges[0]).toPrecision(2))),
        el("text", { x: 280, y: 108, class: "tick", "text-anchor": "end" },
          String(Number(edges[counts.length]).toPrecision(2))));
      fig.append(svg);
      return fig;
    }
    return null;
  }

  PS.registerView({ id: "tour", mount, open });
})();
