// Tokens view: the text box tokenized by the model's own tokenizer (the tokens API).
"use strict";

(() => {
  const { $, el, fmt, api, latest, OFFLINE, state } = PS;
  let timer = null;

  function mount(section) {
    section.append(el("h2", {}, "Tokens"));
    section.append(el("textarea", { id: "tokens-text", rows: 3, "aria-label": "text to tokenize" },
      "The quick brown fox jumps over the lazy dog."));
    section.append(el("p", { id: "tokens-out", class: "tokens" }), el("p", { id: "tokens-summary", class: "info" }));
    const ids = el("p", {}, "IDs: ");
    ids.append(el("code", { id: "token-ids" }));
    section.append(ids);
    $("tokens-text").addEventListener("input", update);
    if (OFFLINE) { $("tokens-text").value = OFFLINE.tokens_text; $("tokens-text").readOnly = true; }
  }

  function update() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const text = $("tokens-text").value;
      const current = latest("tokens");
      let result;
      try {
        result = await api("/api/tokens", { source: state.source }, { text });
      } catch (e) {
        if (!current()) return;
        $("tokens-out").replaceChildren();
        $("token-ids").textContent = "";
        $("tokens-summary").textContent = e.message;
        return;
      }
      if (current()) render(result, OFFLINE ? OFFLINE.tokens_text : text);
    }, OFFLINE ? 0 : 150);
  }

  function render(result, text) {
    $("tokens-out").replaceChildren(...result.tokens.map((t, n) => {
      const special = t.start === t.end;
      const span = el("span", { class: `tok t${n % 4}` + (special ? " special" : ""), title: `id ${t.id}: ${t.text}` },
        special ? t.text : text.slice(t.start, t.end));
      span.append(el("sub", {}, t.id));
      return span;
    }));
    $("token-ids").textContent = result.tokens.map((t) => t.id).join(", ");
    $("tokens-summary").textContent = `${fmt(result.count)} tokens · ${fmt(result.characters)} characters` +
      (result.chars_per_token ? ` · ${result.chars_per_token.toFixed(2)} characters per token` : "") +
      ` · ${result.tokenizer.name} (${result.tokenizer.type}, ${fmt(result.tokenizer.vocab_size)} tokens)`;
  }

  PS.registerView({ id: "tokens", mount, open: update });
})();
