// Parameters view: a treemap of inspect's components (click to zoom into one) and a chart of each
// layer's parameters or bytes by component, with sliding/full attention and expert/dense layers marked.
"use strict";

(() => {
  const { $, el, fmt, gib, pct, hover, niceTicks } = PS;
  const PALETTE = ["#4c78a8", "#e45756", "#54a24b", "#b279a2", "#f58518", "#72b7b2", "#9d755d", "#eeca3b",
    "#ff9da6", "#bab0ac"];
  const LABEL_CHAR_PX = 6.8; // 11 px text
  const view = { zoom: null, inv: null, colors: {}, mode: "params" };

  function mount(section) {
    section.append(el("h2", {}, "Where the parameters live"));
    const bar = el("div", { class: "crumbs" });
    bar.append(el("button", { id: "treemap-up", type: "button", hidden: "" }, "← all components"),
      el("span", { id: "treemap-total" }));
    section.append(bar);
    section.append(el("div", { class: "chart" }, undefined));
    section.lastChild.append(el("svg", { id: "treemap", role: "img", "aria-label": "treemap of parameters by component" }));
    section.append(el("p", { id: "treemap-info", class: "info" }));
    const head = el("div", { class: "subhead" });
    head.append(el("h3", {}, "Per layer"));
    const sel = el("select", { id: "layers-mode", "aria-label": "per-layer measure" });
    sel.append(el("option", { value: "params" }, "parameters"), el("option", { value: "bytes" }, "bytes"));
    head.append(sel);
    section.append(head, el("div", { id: "layers-legend", class: "legend" }));
    section.append(el("div", { class: "chart" }));
    section.lastChild.append(el("svg", { id: "layers-chart", role: "img", "aria-label": "parameters per layer" }));
    $("treemap-up").addEventListener("click", () => { view.zoom = null; renderTreemap(); });
    sel.addEventListener("input", () => { view.mode = sel.value; renderLayers(); });
  }

  function open(inv) {
    view.inv = inv;
    view.zoom = null;
    const tree = componentTree(inv);
    view.colors = {};
    tree.forEach((c, i) => { view.colors[c.name] = PALETTE[i % PALETTE.length]; });
    renderTreemap();
    renderLayers();
  }

  // inspect's by_component_detail as a two-level tree: components, and their parts (attention/q …)
  function componentTree(inv) {
    const detail = inv.by_component_detail || {};
    const dtypes = {};
    for (const t of inv.tensors || []) {
      const parts = String(t.component || "").split("/");
      for (let i = 1; i <= parts.length; i++) {
        const key = parts.slice(0, i).join("/");
        (dtypes[key] = dtypes[key] || new Set()).add(t.dtype);
      }
    }
    const types = (name) => (dtypes[name] ? [...dtypes[name]].join(", ") : "");
    const tops = Object.keys(detail).filter((k) => k !== "total" && !k.includes("/") && detail[k].params > 0);
    return tops.map((k) => {
      const kids = Object.keys(detail).filter((c) => c.startsWith(k + "/") && c.split("/").length === 2)
        .map((c) => ({ name: c, ...detail[c], types: types(c), children: [] }));
      const covered = kids.reduce((s, c) => s + c.params, 0);
      if (kids.length && covered < detail[k].params) {
        const bytes = kids.reduce((s, c) => s + c.bytes, 0);
        kids.push({ name: k + "/(rest)", params: detail[k].params - covered, bytes: detail[k].bytes - bytes,
          share: null, tensors: null, types: "", children: [] });
      }
      return { name: k, ...detail[k], types: types(k), children: kids.filter((c) => c.params > 0) };
    }).sort((a, b) => b.params - a.params);
  }

  // Squarified treemap (Bruls, Huizing, van Wijk 2000): rows of tiles kept close to square.
  function squarify(items, x, y, w, h) {
    const out = [];
    let rest = items.filter((i) => i.params > 0).sort((a, b) => b.params - a.params);
    while (rest.length && w > 0 && h > 0) {
      const short = Math.min(w, h);
      const scale = (w * h) / rest.reduce((s, i) => s + i.params, 0);
      const row = [rest[0]];
      let best = worst(row, short, scale);
      for (let i = 1; i < rest.length; i++) {
        const next = worst([...row, rest[i]], short, scale);
        if (next > best) break;
        row.push(rest[i]); best = next;
      }
      const thick = (row.reduce((s, i) => s + i.params, 0) * scale) / short;
      let offset = 0;
      for (const item of row) {
        const len = (item.params * scale) / thick;
        out.push(w >= h ? { item, x, y: y + offset, w: thick, h: len } : { item, x: x + offset, y, w: len, h: thick });
        offset += len;
      }
      if (w >= h) { x += thick; w -= thick; } else { y += thick; h -= thick; }
      rest = rest.slice(row.length);
    }
    return out;
  }

  function worst(row, short, scale) {
    const areas = row.map((i) => i.params * scale);
    const sum = areas.reduce((s, a) => s + a, 0);
    return Math.max(...areas.map((a) => Math.max((short * short * a) / (sum * sum), (sum * sum) / (short * short * a))));
  }

  function renderTreemap() {
    const inv = view.inv;
    const svg = $("treemap");
    const width = Math.max(260, Math.floor(svg.parentElement.getBoundingClientRect().width));
    const height = Math.round(Math.min(440, Math.max(240, width * 0.5)));
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.replaceChildren();
    const tree = componentTree(inv);
    const total = inv.total_params;
    svg.dataset.total = String(tree.reduce((s, c) => s + c.params, 0));
    const zoomed = view.zoom ? tree.find((c) => c.name === view.zoom) : null;
    $("treemap-up").hidden = !zoomed;
    $("treemap-total").textContent = zoomed
      ? `${zoomed.name}: ${fmt(zoomed.params)} parameters, ${pct(zoomed.params / total)} of ${inv.label}`
      : `total ${fmt(total)} parameters (${inv.label}); click a component to zoom in`;
    svg.dataset.zoom = zoomed ? zoomed.name : "";
    const items = zoomed ? (zoomed.children.length ? zoomed.children : [zoomed]) : tree;
    for (const cell of squarify(items, 0, 0, width, height)) {
      const top = cell.item.name.split("/")[0];
      const color = view.colors[top] || PALETTE[0];
      const group = el("g", { class: "component", "data-name": cell.item.name });
      svg.append(group);
      const nested = !zoomed && cell.item.children.length && cell.h > 40 && cell.w > 40;
      group.append(tile(cell, color, 1, total, !zoomed));
      if (nested) {
        for (const k of squarify(cell.item.children, cell.x + 3, cell.y + 18, cell.w - 6, cell.h - 21)) {
          group.append(tile(k, color, 0.72, total, true, cell.item.name));
          label(group, k, k.item.name.split("/")[1], k.item);
        }
        label(group, { ...cell, h: 18 }, cell.item.name, null);
      } else {
        label(group, cell, zoomed ? cell.item.name.split("/").pop() : cell.item.name, cell.item);
      }
    }
  }

  // A label only where it fits; otherwise the tile's tooltip carries the name and figures.
  function label(group, cell, name, item) {
    const line1 = item ? `${name} ${pct(item.params / view.inv.total_params)}` : name;
    const fits = (t) => t.length * LABEL_CHAR_PX <= cell.w - 8;
    if (cell.h < 16) return;
    const first = fits(line1) ? line1 : fits(name) ? name : null;
    if (!first) return;
    group.append(el("text", { x: cell.x + 4, y: cell.y + 13, class: "tile-label" }, first));
    const line2 = item ? `${shortCount(item.params)} · ${gib(item.bytes)}` : "";
    if (item && cell.h >= 32 && fits(line2)) group.append(el("text", { x: cell.x + 4, y: cell.y + 27, class: "tile-label dim" }, line2));
  }

  function shortCount(n) {
    for (const [d, u] of [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "K"]]) if (n >= d) return (n / d).toFixed(n >= 10 * d ? 0 : 1) + u;
    return String(n);
  }

  function tile(cell, color, opacity, total, zoomable, parent) {
    const item = cell.item;
    const rect = el("rect", { x: cell.x, y: cell.y, width: Math.max(cell.w, 0), height: Math.max(cell.h, 0), fill: color,
      "fill-opacity": opacity, "data-params": item.params, "data-bytes": item.bytes, "data-name": item.name,
      tabindex: "0", role: "button", "aria-label": `${item.name}: ${fmt(item.params)} parameters` });
    const lines = [item.name, `${fmt(item.params)} parameters (${pct(item.params / total)} of all)`,
      `${fmt(item.bytes)} bytes (${gib(item.bytes)})`];
    if (item.tensors) lines.push(`${fmt(item.tensors)} tensors`);
    if (item.types) lines.push(`stored as ${item.types}`);
    rect.dataset.tip = lines.join("\n");
    hover(rect, lines);
    rect.addEventListener("mouseenter", () => { $("treemap-info").textContent = lines.join(" · "); });
    const target = parent || item.name.split("/")[0];
    if (zoomable) {
      const go = () => { view.zoom = target; PS.hideTip(); renderTreemap(); };
      rect.addEventListener("click", go);
      rect.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); go(); } });
    }
    return rect;
  }

  // ---- per layer: stacked columns by component, with the attention kind and expert/dense marked below
  const KIND_COLORS = { sliding: "var(--kind-sliding)", full: "var(--kind-full)" };

  function renderLayers() {
    const inv = view.inv;
    const svg = $("layers-chart");
    const layers = inv.by_layer || [];
    const legendBox = $("layers-legend");
    if (!layers.length) {
      svg.replaceChildren(); svg.setAttribute("height", 0); legendBox.replaceChildren(el("span", { class: "info" }, "no per-layer data"));
      return;
    }
    const field = view.mode;
    const comps = [...new Set(layers.flatMap((l) => Object.keys(l).filter((k) => k !== "layer" && k !== "total")))]
      .sort((a, b) => (view.colors[a] ? 0 : 1) - (view.colors[b] ? 0 : 1) || a.localeCompare(b));
    const colorOf = (c) => view.colors[c] || PALETTE[(comps.indexOf(c) + 3) % PALETTE.length];
    const hp = inv.hyperparameters || {};
    const kinds = Array.isArray(hp.layer_types) ? hp.layer_types : null;
    const moe = layers.some((l) => l.experts);
    const width = Math.max(260, Math.floor(svg.parentElement.getBoundingClientRect().width));
    const left = 56, right = 10, top = 10, plotH = 180, marks = (kinds ? 14 : 0) + (moe ? 14 : 0);
    const plotW = width - left - right;
    const height = top + plotH + 6 + marks + 24;
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.replaceChildren();
    const max = Math.max(...layers.map((l) => (l.total ? l.total[field] : 0)));
    const [div, unit] = field === "bytes" ? unitOf(max, [[2 ** 30, "GiB"], [2 ** 20, "MiB"], [2 ** 10, "KiB"]])
      : unitOf(max, [[1e9, "B"], [1e6, "M"], [1e3, "K"]]);
    const ticks = niceTicks(max / div, plotH, "", true);
    const topV = Math.max(max / div, ticks[ticks.length - 1].value) || 1;
    const y = (v) => top + plotH - (plotH * v) / div / topV;
    const axis = el("g", { class: "axis" });
    for (const t of ticks) {
      const ty = top + plotH - (plotH * t.value) / topV;
      axis.append(el("line", { x1: left, x2: left + plotW, y1: ty, y2: ty, class: "grid" }));
      axis.append(el("text", { x: left - 6, y: ty + 4, "text-anchor": "end", class: "tick" }, t.value === 0 ? "0" : t.label + " " + unit));
    }
    svg.append(axis);
    const bw = plotW / layers.length;
    const gap = bw > 6 ? Math.min(3, bw * 0.2) : 0;
    layers.forEach((l, i) => {
      const g = el("g", { class: "layer", "data-layer": l.layer });
      let acc = 0;
      for (const c of comps) {
        if (!l[c]) continue;
        const v = l[c][field];
        const r = el("rect", { x: left + i * bw + gap / 2, y: y(acc + v), width: Math.max(bw - gap, 0.5),
          height: Math.max(y(acc) - y(acc + v), 0), fill: colorOf(c), "data-component": c, "data-value": v });
        g.append(r);
        acc += v;
      }
      const lines = [`layer ${l.layer}${kinds && kinds[i] ? " · " + kinds[i] + " attention" : ""}` +
        (moe ? (l.experts ? " · experts" : " · dense") : ""),
      `${fmt(l.total.params)} parameters · ${fmt(l.total.bytes)} bytes (${gib(l.total.bytes)})`,
      ...comps.filter((c) => l[c]).map((c) => `${c}: ${fmt(l[c].params)} parameters, ${gib(l[c].bytes)}`)];
      hover(g, lines);
      let my = top + plotH + 4;
      if (kinds) {
        const k = kinds[i] || "";
        g.append(el("rect", { x: left + i * bw + gap / 2, y: my, width: Math.max(bw - gap, 0.5), height: 10,
          fill: KIND_COLORS[k] || "var(--kind-other)", class: "kind-mark", "data-kind": k }));
        my += 14;
      }
      if (moe) {
        g.append(el("rect", { x: left + i * bw + gap / 2, y: my, width: Math.max(bw - gap, 0.5), height: 10,
          fill: l.experts ? "var(--kind-experts)" : "var(--kind-dense)", class: "moe-mark",
          "data-moe": l.experts ? "experts" : "dense" }));
      }
      svg.append(g);
    });
    // layer numbers: as many as fit
    const every = Math.max(1, Math.ceil(layers.length / Math.max(1, Math.floor(plotW / 28))));
    layers.forEach((l, i) => {
      if (i % every === 0) svg.append(el("text", { x: left + (i + 0.5) * bw, y: height - 6, "text-anchor": "middle", class: "tick" }, l.layer));
    });
    const items = comps.map((c) => [colorOf(c), c]);
    if (kinds) for (const k of [...new Set(kinds)]) items.push([KIND_COLORS[k] || "var(--kind-other)", `${k} attention (strip)`]);
    if (moe) items.push(["var(--kind-experts)", "layer with experts"], ["var(--kind-dense)", "dense layer"]);
    legendBox.replaceChildren(...items.map(([color, name]) => {
      const item = el("span", { class: "legend-item" });
      item.append(el("span", { class: "swatch", style: `background:${color}` }), el("span", {}, name));
      return item;
    }));
  }

  function unitOf(max, units) {
    for (const [d, u] of units) if (max >= d) return [d, u];
    return [1, ""];
  }

  PS.registerView({ id: "params", mount, open, resize: () => view.inv && (renderTreemap(), renderLayers()) });
})();
