// Summary: the model's name and inspect's headline figures.
"use strict";

(() => {
  const { $, el, fmt, gib } = PS;

  function mount(section) {
    section.append(el("h2", { id: "model-name" }), el("p", { id: "summary" }));
  }

  function open(inv) {
    $("model-name").textContent = inv.source;
    const hp = inv.hyperparameters || {};
    $("summary").textContent = [inv.format, inv.architecture, `${inv.label} parameters (${fmt(inv.total_params)})`,
      inv.active_params !== inv.total_params ? `${fmt(inv.active_params)} active` : null,
      `${gib(inv.weights_bytes)} of weights`, `${fmt(inv.tensor_count)} tensors`,
      hp.n_layers ? `${hp.n_layers} layers` : null, hp.context_length ? `context ${fmt(hp.context_length)}` : null]
      .filter(Boolean).join(" · ");
  }

  PS.registerView({ id: "summary", mount, open });
})();
