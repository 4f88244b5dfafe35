// Model picker (in the header): the models under the allowed roots and those `ls` finds there, the
// catalogue names, and whatever is typed (an hf:/ollama: id or a path), filtered as you type.
"use strict";

(() => {
  const { $, el, fmt, gib, state } = PS;
  let models = [];
  let prefixes = ["hf:", "ollama:"];
  let active = -1;

  function mount() {
    const list = $("picker-list");
    const input = $("source");
    input.addEventListener("input", () => { active = -1; show(); });
    input.addEventListener("focus", show);
    input.addEventListener("keydown", (ev) => {
      const items = [...list.querySelectorAll("li")];
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        if (list.hidden) show();
        active = Math.max(0, Math.min(items.length - 1, active + (ev.key === "ArrowDown" ? 1 : -1)));
        items.forEach((li, i) => li.setAttribute("aria-selected", String(i === active)));
        if (items[active]) { items[active].scrollIntoView({ block: "nearest" }); input.setAttribute("aria-activedescendant", items[active].id); }
      } else if (ev.key === "Enter" && active >= 0 && items[active] && !list.hidden) {
        ev.preventDefault();
        choose(items[active].dataset.source);
      } else if (ev.key === "Escape") {
        hide();
      }
    });
    document.addEventListener("click", (ev) => { if (!$("picker").contains(ev.target)) hide(); });
  }

  function picker(p) {
    models = p.models || [];
    prefixes = p.remote_prefixes || prefixes;
    $("picker-count").textContent = models.length ? `${fmt(models.length)} models` : "";
    if (!$("picker-list").hidden) show(); // typed before the list arrived
  }

  function matches(m, words) {
    const hay = [m.name, m.source, m.where, m.format, m.label, m.stored_as].filter(Boolean).join(" ").toLowerCase();
    return words.every((w) => hay.includes(w));
  }

  function show() {
    const text = $("source").value.trim();
    const words = text.toLowerCase().split(/\s+/).filter(Boolean);
    const found = models.filter((m) => matches(m, words));
    const typed = text && (text.startsWith("/") || prefixes.some((p) => text.startsWith(p))) && !found.some((m) => m.source === text);
    const rows = [...(typed ? [{ source: text, name: text, where: text.startsWith("/") ? "path" : "remote", typed: true }] : []),
      ...found.slice(0, 200)];
    const list = $("picker-list");
    list.replaceChildren(...rows.map((m, i) => {
      const li = el("li", { id: "pick-" + i, role: "option", "data-source": m.source, "data-where": m.where, "aria-selected": String(i === active) });
      li.append(el("span", { class: "pick-name" }, m.typed ? `open ${m.name}` : m.name));
      const facts = [m.where, m.format, m.label ? `${m.label} params` : m.params ? fmt(m.params) + " params" : null,
        m.stored_as, m.size_bytes ? gib(m.size_bytes) : null, m.error ? "unreadable: " + m.error : null].filter(Boolean);
      li.append(el("span", { class: "pick-facts" }, facts.join(" · ")));
      li.addEventListener("mousedown", (ev) => { ev.preventDefault(); choose(m.source); });
      return li;
    }));
    if (!rows.length) list.append(el("li", { class: "empty" }, models.length ? "no match; type a path, hf:ORG/NAME or ollama:NAME" : "type a path, a catalogue name, hf:ORG/NAME or ollama:NAME"));
    list.hidden = false;
    $("source").setAttribute("aria-expanded", "true");
  }

  function hide() {
    $("picker-list").hidden = true;
    $("source").setAttribute("aria-expanded", "false");
    active = -1;
  }

  function choose(source) {
    $("source").value = source;
    hide();
    PS.openModel(source);
  }

  PS.registerView({ id: "picker", header: true, mount, picker, online: true });
  PS.hidePicker = hide;
  void state;
})();
