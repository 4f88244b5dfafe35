// paramscope page: mounts the registered views, opens a model, and tells each view about it.
"use strict";

(() => {
  const { $, el, api, state, status, views, OFFLINE } = PS;

  function mountViews() {
    const main = $("views");
    const nav = $("view-nav");
    for (const v of views) {
      if (OFFLINE && v.online) continue;
      if (v.header) { v.mount(); continue; }
      const section = el("section", { id: v.id + "-view", "aria-labelledby": v.id + "-title" });
      main.append(section);
      v.mount(section);
      const h = section.querySelector("h2");
      if (h) {
        h.id = h.id || v.id + "-title";
        section.setAttribute("aria-labelledby", h.id);
        if (v.id !== "summary") nav.append(el("a", { href: "#" + section.id }, h.textContent));
      }
    }
  }

  async function openModel(source) {
    status("opening " + source + " …");
    const t0 = performance.now();
    let inv;
    try {
      inv = await api("/api/inspect", { source, tensors: true, layers: true });
    } catch (e) {
      // a model with tens of thousands of tensors (DeepSeek-V3: 22 MB of JSON) is over the server's
      // answer limit: open it without the tensor list, which only adds stored types to the tooltips
      if (!/MB of JSON/.test(e.message)) {
        status(e.message, true);
        return;
      }
      try {
        inv = await api("/api/inspect", { source, layers: true });
      } catch (e2) {
        status(e2.message, true);
        return;
      }
    }
    state.source = source;
    state.inspect = inv;
    $("views").hidden = false;
    if (!OFFLINE) {
      const url = new URL(location.href);
      url.searchParams.set("source", source);
      history.replaceState(null, "", url);
    }
    for (const v of views) {
      if (OFFLINE && v.online) continue;
      if (!v.open) continue;
      v.open(inv);
      if (v.id === "params") document.body.dataset.treemapMs = String(Math.round(performance.now() - t0));
    }
    status("");
  }
  PS.openModel = openModel;

  // ---- theme: the system's (prefers-color-scheme) until the button picks one
  function setupTheme() {
    const button = $("theme");
    const saved = (() => { try { return localStorage.getItem("paramscope-theme"); } catch (e) { return null; } })();
    if (saved) document.documentElement.dataset.theme = saved;
    const shown = () => document.documentElement.dataset.theme ||
      (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
    const label = () => { button.textContent = shown() === "dark" ? "☀ light" : "☾ dark"; };
    label();
    button.addEventListener("click", () => {
      const next = shown() === "dark" ? "light" : "dark";
      document.documentElement.dataset.theme = next;
      try { localStorage.setItem("paramscope-theme", next); } catch (e) { /* a file: page may refuse */ }
      label();
    });
  }

  async function loadPicker() {
    try {
      state.picker = await api("/api/picker", {});
    } catch (e) {
      return; // the list is a convenience; typing a source still works
    }
    for (const v of views) if (v.picker && !(OFFLINE && v.online)) v.picker(state.picker);
  }

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (state.inspect) for (const v of views) if (v.resize && !(OFFLINE && v.online)) v.resize(); }, 120);
  });

  async function start() {
    mountViews();
    setupTheme();
    $("open-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (PS.hidePicker) PS.hidePicker();
      openModel($("source").value.trim());
    });
    if (OFFLINE) $("open-form").hidden = true;
    const wanted = OFFLINE ? OFFLINE.inspect.source : new URLSearchParams(location.search).get("source");
    // The picker's list reads every model's headers on the server: asked after the model named in the
    // URL has opened, so it does not delay the first treemap (the GPU menu starts with the default GPU).
    // A report's list is embedded and comes first: its GPU menu must hold the report's GPU.
    if (OFFLINE || !wanted) await loadPicker();
    if (wanted) {
      $("source").value = wanted;
      await openModel(wanted);
      if (!OFFLINE) loadPicker();
      const other = OFFLINE ? null : new URLSearchParams(location.search).get("compare");
      if (other) { $("compare-source").value = other; $("compare-form").requestSubmit(); }
    }
  }

  start();
})();
