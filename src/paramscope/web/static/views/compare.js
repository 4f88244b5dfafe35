// Compare view: a second model beside the open one: counts, memory at the same settings on one axis,
// and `diff --structure-only`'s summary.
"use strict";

(() => {
  const { $, el, fmt, gib, api, latest, stackedBars, PARTS, state } = PS;
  const view = { other: null, inspect: null };

  function mount(section) {
    section.append(el("h2", {}, "Compare with another model"));
    const form = el("form", { id: "compare-form", class: "inline-form" });
    form.append(el("input", { id: "compare-source", list: "compare-sources", placeholder: "second model: name or path",
      autocomplete: "off", "aria-label": "second model" }), el("datalist", { id: "compare-sources" }),
    el("button", { id: "compare-open", type: "submit" }, "Compare"));
    section.append(form, el("p", { id: "compare-status", class: "info" }));
    section.append(el("div", { class: "chart" }));
    section.lastChild.append(el("svg", { id: "compare-bars", role: "img", "aria-label": "memory of both models" }));
    section.append(el("div", { class: "scroll" }));
    section.lastChild.append(el("table", { id: "compare-table", class: "figures" }));
    section.append(el("p", { id: "compare-diff", class: "verdict" }), el("ul", { id: "compare-hparams", class: "diff-list" }));
    form.addEventListener("submit", (ev) => { ev.preventDefault(); compare($("compare-source").value.trim()); });
  }

  function picker(p) {
    $("compare-sources").replaceChildren(...p.models.map((m) => el("option", { value: m.source }, m.label ? `${m.name} (${m.label})` : m.name)));
  }

  function open() {
    if (view.other) compare(view.other);
  }

  async function compare(other) {
    if (!other || !state.source) return;
    view.other = other;
    const url = new URL(location.href);
    url.searchParams.set("compare", other);
    history.replaceState(null, "", url);
    const current = latest("compare");
    $("compare-status").textContent = "opening " + other + " …";
    $("compare-status").className = "info";
    try {
      view.inspect = await api("/api/inspect", { source: other });
    } catch (e) {
      if (current()) { $("compare-status").textContent = e.message; $("compare-status").className = "info error"; }
      return;
    }
    if (!current()) return;
    $("compare-status").textContent = "";
    $("compare-view").dataset.other = other;
    render();
    diffSummary(other);
  }

  async function render() {
    const s = state.settings;
    if (!s || !view.inspect) return;
    const a = state.inspect, b = view.inspect;
    const current = latest("compare-size");
    const params = (src) => ({ source: src, context: s.context, batch: s.batch, weights: s.weights, kv_type: s.kv_type, runtime: s.runtime });
    const [sa, sb] = await Promise.all([api("/api/size", params(state.source)).catch((e) => ({ error: e.message })),
      api("/api/size", params(view.other)).catch((e) => ({ error: e.message }))]);
    if (!current()) return;
    const name = (inv) => inv.source.split("/").pop();
    stackedBars($("compare-bars"), [{ label: name(a), size: sa.error ? null : sa }, { label: name(b), size: sb.error ? null : sb }]);
    const ha = a.hyperparameters || {}, hb = b.hyperparameters || {};
    const rows = [
      ["model", name(a), name(b)],
      ["format", a.format, b.format],
      ["architecture", a.architecture, b.architecture],
      ["parameters", fmt(a.total_params), fmt(b.total_params), a.total_params, b.total_params],
      ["active parameters", fmt(a.active_params), fmt(b.active_params), a.active_params, b.active_params],
      ["weights as stored", gib(a.weights_bytes), gib(b.weights_bytes), a.weights_bytes, b.weights_bytes],
      ["tensors", fmt(a.tensor_count), fmt(b.tensor_count), a.tensor_count, b.tensor_count],
      ["layers", fmt(ha.n_layers), fmt(hb.n_layers)],
      ["hidden size", fmt(ha.hidden_size), fmt(hb.hidden_size)],
      ["heads / KV heads", `${fmt(ha.n_heads)} / ${fmt(ha.n_kv_heads)}`, `${fmt(hb.n_heads)} / ${fmt(hb.n_kv_heads)}`],
      ["experts (per token)", `${fmt(ha.n_experts)} (${fmt(ha.n_experts_per_token)})`, `${fmt(hb.n_experts)} (${fmt(hb.n_experts_per_token)})`],
      ["context length", fmt(ha.context_length), fmt(hb.context_length)],
    ];
    const memRow = (label, field) => [label, sa.error ? sa.error : gib(sa[field]), sb.error ? sb.error : gib(sb[field]),
      sa.error ? null : sa[field], sb.error ? null : sb[field]];
    rows.push([`memory at context ${fmt(s.context)}, batch ${s.batch}, ${s.runtime}`, "", ""]);
    for (const p of PARTS) rows.push(memRow(p.label, p.field));
    rows.push(memRow("total", "total_bytes"));
    const table = $("compare-table");
    const head = el("tr");
    head.append(el("th", {}, ""), el("th", {}, "A (open)"), el("th", {}, "B"), el("th", {}, "B / A"));
    table.replaceChildren(el("thead"), el("tbody"));
    table.tHead.append(head);
    for (const [label, va, vb, na, nb] of rows) {
      const tr = el("tr", { "data-row": label });
      const ratio = na && nb !== null && nb !== undefined ? (nb / na).toFixed(2) + "×" : "";
      tr.append(el("th", { scope: "row" }, label), el("td", { class: "num", "data-value": na ?? "" }, va ?? "—"),
        el("td", { class: "num", "data-value": nb ?? "" }, vb ?? "—"), el("td", { class: "num" }, ratio));
      table.tBodies[0].append(tr);
    }
  }

  async function diffSummary(other) {
    const current = latest("compare-diff");
    $("compare-diff").textContent = "diff: comparing structure …";
    let d;
    try {
      d = await api("/api/diff", { a: state.source, b: other, structure_only: true });
    } catch (e) {
      if (current()) { $("compare-diff").textContent = "diff: " + e.message; $("compare-hparams").replaceChildren(); }
      return;
    }
    if (!current()) return;
    $("compare-diff").textContent = "diff: " + d.verdict.line;
    const show = (v) => (v === null || v === undefined ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));
    $("compare-hparams").replaceChildren(...(d.hyperparameters || []).slice(0, 24).map((h) =>
      el("li", {}, `${h.key}: ${show(h.a)} → ${show(h.b)}`)));
  }

  PS.registerView({ id: "compare", mount, open, picker, online: true, settings: () => render(), resize: () => render(),
    wanted: () => new URLSearchParams(location.search).get("compare") });
})();
