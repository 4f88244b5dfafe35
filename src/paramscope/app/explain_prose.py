"""The words of ``paramscope explain``: a title and paragraph templates per section, per level.

Templates hold no figures of their own: every number is a ``{name:spec}`` placeholder filled from the
section's figures (``tests/test_explain.py`` checks that the words between placeholders carry no digits
but the names of formats such as fp16). Specs: ``,`` whole number with separators, ``label`` a size
label ("268M"), ``bytes`` binary bytes ("235.16 MiB"), ``gb`` decimal bytes ("246.59 MB"), ``pct`` a
share as a percentage, ``g`` four significant digits, ``e`` scientific notation, ``1f`` one decimal,
``shape`` "262,144 × 640", ``list`` values at four significant digits, ``ids`` whole numbers joined,
``pieces`` token texts joined with " | ", ``names`` joined with ", ".
"""

from __future__ import annotations

import string
from typing import Any

from paramscope.records import record


@record
class Figure:
    """One number of the tour and where it comes from (a command's JSON, a formula, a table)."""

    value: Any
    # {"command": "size", "options": {"weights": "fp16"}, "path": ["weights_bytes"]},
    # {"formula": "vocab_size * hidden_size"}, {"table": "training_tokens", "key": "gemma-3-270m.json",
    # "field": "tokens"}, {"dtype": "F32", "field": "type_size"} or {"decode": TENSOR, "count": N}
    origin: dict[str, Any]


TITLES = {
    "parameters": "What a parameter is, and how many this model has",
    "where": "Where the parameters live",
    "largest": "The largest tensor",
    "values": "What the numbers look like",
    "storage": "How the numbers are stored",
    "memory": "What loading it takes",
    "tokens": "How text becomes token IDs",
    "training": "How it was trained",
}


class _Formatter(string.Formatter):
    def format_field(self, value: Any, spec: str) -> str:
        from paramscope.units import bytes_label, decimal_label, size_label

        if value is None:
            return "unknown"
        if spec == "label":
            return size_label(int(value))
        if spec == "bytes":
            return bytes_label(int(value))
        if spec == "gb":
            return decimal_label(int(value))
        if spec == "pct":
            return f"{value:.2%}"
        if spec == "g":
            return f"{value:.4g}"
        if spec == "e":
            return f"{value:.3e}"
        if spec == "1f":
            return f"{value:,.1f}"
        if spec == "shape":
            return " × ".join(f"{d:,}" for d in value)
        if spec == "list":
            return ", ".join(f"{v:.4g}" for v in value)
        if spec == "pieces":
            return " | ".join(str(v) for v in value)
        if spec == "names":
            return ", ".join(str(v) for v in value)
        if spec == "ids":
            return ", ".join(str(v) for v in value)
        return super().format_field(value, spec)


def fill(template: str, figures: dict[str, Figure]) -> str:
    return _Formatter().format(template, **{k: f.value for k, f in figures.items()})


def prose(key: str, f: dict[str, Figure], level: str) -> tuple[str, tuple[str, ...]]:
    """The section's title and its paragraph templates for ``level``."""
    beginner = level == "beginner"
    return TITLES[key], tuple(_PROSE[key](f, beginner))


def _has(f: dict[str, Figure], key: str) -> bool:
    return key in f and bool(f[key].value)


def _parameters(f, beginner: bool) -> list[str]:
    out = []
    if beginner:
        out.append("A parameter is one number the model learned during training. All of them "
                   "together are the model: text goes in, is multiplied and added with these numbers, "
                   "and a prediction of the next token comes out.")
        out.append("This model holds {total_params:,} parameters, kept in {tensor_count:,} tensors "
                   "(named grids of numbers). Its size label \"{label}\" is that count rounded to three "
                   "significant digits: that is all such a name means. Each parameter takes "
                   "{fp32_bytes} bytes as a 32-bit float (fp32) and {fp16_bytes} as a 16-bit float "
                   "(fp16 or bf16), so the count alone tells you most of the memory a model needs.")
    else:
        out.append("N = {total_params:,} ({label}) parameters in {tensor_count:,} tensors; "
                   "{fp32_bytes} B each in fp32, {fp16_bytes} B in fp16/bf16.")
    if _has(f, "n_experts"):
        out.append("It is a mixture of experts: only {active_params:,} ({active_params:label}) of them "
                   "work on any one token; the rest wait in experts that token did not pick."
                   if beginner else
                   "Mixture of experts: {active_params:,} ({active_params:label}) active per token.")
    return out


_COMPONENTS_BEGINNER = {
    "embedding": "Embedding: {embedding_params:,} ({embedding_share:pct}). A lookup table that turns "
                 "each token ID into a list of numbers the rest of the model works on.",
    "attention": "Attention: {attention_params:,} ({attention_share:pct}). Lets each token look at the "
                 "other tokens of the text and take in what it needs from them.",
    "ffn": "Feed-forward: {ffn_params:,} ({ffn_share:pct}). Works on each token alone, widening its "
           "numbers and narrowing them back; this is where much of what the model knows is stored.",
    "router": "Router: {router_params:,} ({router_share:pct}). Picks which experts each token goes to.",
    "experts": "Experts: {experts_params:,} ({experts_share:pct}). Many separate feed-forward blocks per "
               "layer; each token visits only a few of them.",
    "shared_experts": "Shared experts: {shared_experts_params:,} ({shared_experts_share:pct}). Experts "
                      "that every token visits.",
    "norm": "Norms: {norm_params:,} ({norm_share:pct}). Small scale factors that keep the numbers in a "
            "steady range between steps.",
    "output": "Output head: {output_params:,} ({output_share:pct}). Turns the last list of numbers back "
              "into a score for every token of the vocabulary: the prediction.",
}
_COMPONENTS_EXPERT = {
    "embedding": "embedding {embedding_params:,} ({embedding_share:pct})",
    "attention": "attention {attention_params:,} ({attention_share:pct})",
    "ffn": "FFN {ffn_params:,} ({ffn_share:pct})",
    "router": "router {router_params:,} ({router_share:pct})",
    "experts": "routed experts {experts_params:,} ({experts_share:pct})",
    "shared_experts": "shared experts {shared_experts_params:,} ({shared_experts_share:pct})",
    "norm": "norms {norm_params:,} ({norm_share:pct})",
    "output": "output head {output_params:,} ({output_share:pct})",
}


def _components(f) -> list[str]:
    return [k.removesuffix("_params") for k in f if k.endswith("_params") and k != "total_params"
            and k != "active_params" and f"{k.removesuffix('_params')}_share" in f]


def _where(f, beginner: bool) -> list[str]:
    out = []
    comps = _components(f)
    if beginner:
        ends = ("the embedding and the output head sit at either end" if "output_params" in f
                or (f.get("tied_embeddings") and f["tied_embeddings"].value) else
                "the embedding comes first")
        out.append("The parameters sit in a few kinds of parts. The model repeats one block of "
                   "attention and feed-forward {n_layers:,} times (its layers); " + ends + "."
                   if _has(f, "n_layers") else "The parameters sit in a few kinds of parts:")
        for c in comps:
            out.append(_COMPONENTS_BEGINNER.get(
                c, c.capitalize() + ": {" + c + "_params:,} ({" + c + "_share:pct})."))
        if "vocab_rows" in f:
            extra = " The other {embedding_other:,} give positions or segment types." \
                if "embedding_other" in f else ""
            out.append("The embedding table has one row of {hidden_size:,} numbers for each of the "
                       "{vocab_size:,} tokens of the vocabulary: {vocab_size:,} × {hidden_size:,} = "
                       "{vocab_rows:,}." + extra)
        if "tied_embeddings" in f and "output_params" not in f and "embedding_params" in f:
            out.append("The output head is tied to the embedding: it reuses the same table, so it adds "
                       "no parameters of its own." if f["tied_embeddings"].value else
                       "This model has no output head: it gives the numbers of its last layer (an "
                       "encoder, used for embeddings or classification).")
        if _has(f, "n_experts"):
            out.append("Each layer holds {n_experts:,} experts and a router sends each token to "
                       "{n_experts_per_token:,} of them, so {active_params:,} parameters "
                       "({active_params:label}) do the work for one token.")
    else:
        parts = ", ".join(_COMPONENTS_EXPERT.get(c, c + " {" + c + "_params:,} ({" + c + "_share:pct})")
                          for c in comps)
        out.append(("L = {n_layers:,} layers; " if _has(f, "n_layers") else "") + parts + ".")
        if "vocab_rows" in f:
            out.append("Embedding V × d = {vocab_size:,} × {hidden_size:,} = {vocab_rows:,}"
                       + (" (+ {embedding_other:,} position/segment)" if "embedding_other" in f else "")
                       + "; head " + ("tied." if f.get("tied_embeddings") and f["tied_embeddings"].value
                                      else "untied." if "output_params" in f else "absent (encoder)."))
        if _has(f, "n_experts"):
            out.append("MoE: {n_experts_per_token:,} of {n_experts:,} experts per token; active "
                       "{active_params:,}.")
    return out


def _largest(f, beginner: bool) -> list[str]:
    comp = f["component"].value
    shape = f["shape"].value
    if len(shape) == 2 and comp in ("embedding", "output"):
        meaning = ("{dim0:,} rows, one for each token of the vocabulary, of {dim1:,} numbers each"
                   if beginner else "[vocab, d] = [{dim0:,}, {dim1:,}]")
    elif len(shape) == 2:
        meaning = ("a matrix that turns a list of {dim1:,} numbers into a list of {dim0:,}: each of its "
                   "{dim0:,} rows is one weighted sum of the {dim1:,} inputs" if beginner else
                   "[out, in] = [{dim0:,}, {dim1:,}]")
    elif len(shape) == 3:
        meaning = ("{dim0:,} experts stacked together, each a matrix of {dim1:,} × {dim2:,}" if beginner
                   else "[experts, out, in] = [{dim0:,}, {dim1:,}, {dim2:,}]")
    else:
        meaning = "shape {shape:shape}"
    if beginner:
        return ["The biggest single tensor is {name} ({component}): {shape:shape} = {params:,} numbers, "
                "{share:pct} of the model, stored as {dtype} in {bytes:bytes}. Its shape means "
                + meaning + "."]
    return ["{name} ({component}, {dtype}): " + meaning + " = {params:,} ({share:pct}), {bytes:bytes}."]


def _values(f, beginner: bool) -> list[str]:
    out = []
    if "first_values" in f:
        out.append("Here are the first {first_count} numbers of {name}, read from the file and "
                    "decoded: {first_values:list}." if beginner else
                    "{name}[0, :{first_count}] = {first_values:list}.")
    if beginner:
        out.append("Across all {count:,} numbers of that tensor the smallest is {min:g} and the largest "
                   "{max:g}; the average is {mean:g} and the typical distance from it (standard "
                   "deviation) is {std:g}. All but the most extreme hundredth at each end lie between "
                   "{p1:g} and {p99:g}" + (": learned numbers are mostly small and centred on zero"
                                           if _small(f) else "") + ". {zeros:,} of them are exactly zero.")
        bad = ("{all_nan:,} are not a number and {all_posinf:,} + {all_neginf:,} infinite"
               if f["all_nan"].value or f["all_posinf"].value or f["all_neginf"].value
               else "none is infinite or not a number")
        out.append("Over the whole model ({all_count:,} numbers) they range from {all_min:g} to "
                   "{all_max:g}; " + bad + ". The histogram below counts that tensor's values from its "
                   "smallest to its largest (bar heights on a log scale).")
    else:
        out.append("{name}: n = {count:,}, min {min:g}, max {max:g}, mean {mean:g}, std {std:g}, "
                   "1st–99th percentile [{p1:g}, {p99:g}], zeros {zeros:,}. Whole model: [{all_min:g}, "
                   "{all_max:g}], NaN {all_nan:,}, ±inf {all_posinf:,}/{all_neginf:,}. Histogram: "
                   "log-scale counts, min to max.")
    return out


def _small(f) -> bool:
    """Whether the middle of the distribution sits within (-1, 1) around a mean below its spread: the
    usual picture of trained weights, said in words only when it holds."""
    p1, p99, mean, std = (f[k].value for k in ("p1", "p99", "mean", "std"))
    return None not in (p1, p99, mean, std) and -1 < p1 < p99 < 1 and abs(mean) < std


def _storage(f, beginner: bool) -> list[str]:
    types = f["types"].value
    out = []
    if beginner:
        out.append("The file stores {weights_bytes:,} bytes of weights ({weights_bytes:bytes}), "
                   "{bits_per_param:g} bits per parameter on average." + (" Each stored type:" if types
                                                                          else ""))
    else:
        out.append("{weights_bytes:,} B ({weights_bytes:bytes}), {bits_per_param:g} bits/param:")
    for n in range(len(types)):
        if f[f"t{n}_block_size"].value > 1:
            how = (" A quantized type: numbers are stored in blocks of {t%d_block_size:,} that share "
                   "scale factors, {t%d_type_size:,} bytes per block, rounding each number to a few "
                   "bits" + _scheme(types[n]) + "." if beginner else
                   " Blocks of {t%d_block_size:,} in {t%d_type_size:,} B.")
        else:
            how = (" A plain type: {t%d_type_size:,} bytes per number." if beginner
                   else " {t%d_type_size:,} B per value.")
        if f[f"t{n}_bits"].value is None:  # position IDs, masks: stored, but not learned
            out.append(("{types[%d]}: {t%d_bytes:,} bytes that are not parameters (buffers such as "
                        "position IDs)." + how).replace("%d", str(n)))
            continue
        out.append(("{types[%d]}: {t%d_params:,} parameters ({t%d_share:pct}) in {t%d_bytes:,} bytes, "
                    "{t%d_bits:g} bits per parameter." + how).replace("%d", str(n)))
    if "pickle_summary" in f:
        out.append(("This file is a pickle, a Python format that can run code when it is loaded; "
                    "paramscope read it without running anything. Its verdict: {pickle_summary}."
                    + (" Do not load it with torch.load." if f["pickle_could_run_code"].value else ""))
                   if beginner else "Pickle verdict: {pickle_summary}.")
    return out


def _scheme(name: str) -> str:
    """How a ggml type family rounds, in words (ggml-common.h and ggml-quants.c)."""
    if name.endswith("_K"):
        return "; a k-quant: each block is split into sub-blocks with scales of their own"
    if name.startswith("IQ"):
        return "; an i-quant: small groups of numbers are picked from a fixed grid of patterns"
    if name.endswith("_0"):
        return ": each number is the block's scale times a small whole number"
    if name.endswith("_1"):
        return ": each number is the block's scale times a small whole number, plus the block's minimum"
    return ""


def _memory(f, beginner: bool) -> list[str]:
    if "error" in f:
        return ["Memory cannot be sized here: {error}"]
    out = []
    if beginner:
        out.append("To load the model its weights must fit in memory: {weights_fp32:bytes} "
                   "({weights_fp32:gb}) in fp32, {weights_fp16:bytes} ({weights_fp16:gb}) in fp16, "
                   "{weights_stored:bytes} ({weights_stored:gb}) as this file stores them "
                   "({stored_types:names}), and {weights_q4_k_m:bytes} ({weights_q4_k_m:gb}) in 4-bit "
                   "(llama.cpp's Q4_K_M).")
        if _has(f, "kv_cache_bytes"):
            out.append("While it writes, the model keeps the keys and values of every token so far (the "
                       "KV cache): {kv_cache_bytes:bytes} for {context:,} tokens of context in {kv_type}. "
                       "With {runtime}'s working buffers ({compute_bytes:bytes}) and overhead "
                       "({overhead_bytes:bytes}) the total as stored is {total_bytes:bytes} "
                       "({total_bytes:gb}).")
        else:
            out.append("It keeps no KV cache (it reads the whole text at once, as an encoder does). "
                       "With {runtime}'s working buffers ({compute_bytes:bytes}) and overhead "
                       "({overhead_bytes:bytes}) for {context:,} tokens the total as stored is "
                       "{total_bytes:bytes} ({total_bytes:gb}).")
    else:
        out.append("Weights: fp32 {weights_fp32:bytes}, fp16 {weights_fp16:bytes}, stored "
                   "{weights_stored:bytes}, Q4_K_M {weights_q4_k_m:bytes}. {runtime} at {context:,} "
                   "tokens: KV ({kv_type}) {kv_cache_bytes:bytes}, buffers {compute_bytes:bytes}, overhead "
                   "{overhead_bytes:bytes}, total {total_bytes:bytes} ({total_bytes:gb}).")
    return out


def _tokens(f, beginner: bool) -> list[str]:
    if "error" in f:
        return ["No tokenizer to show \"{text}\" with: {error}"]
    if beginner:
        return ["A model never sees letters. Its tokenizer ({tokenizer_type}) cuts text into pieces "
                "from a vocabulary of {tokenizer_vocab_size:,} and gives each piece its number, its ID. "
                "\"{text}\" ({characters:,} characters) becomes {count:,} tokens, about {chars_per_token:1f} "
                "characters each:",
                "pieces: {pieces:pieces}",
                "IDs: {ids:ids}",
                "Each ID picks one row of the embedding table; that row is what the model reads."
                + _space_marks(f["pieces"].value)]
    return ["{tokenizer_type}, vocab {tokenizer_vocab_size:,}: \"{text}\" → {count:,} tokens "
            "({chars_per_token:1f} chars/token).", "pieces: {pieces:pieces}", "IDs: {ids:ids}"]


def _space_marks(pieces: list[str]) -> str:
    """SentencePiece writes a space as ▁, byte-level BPE (GPT-2, Llama 3) as Ġ: say so when they show."""
    marks = [m for m in ("▁", "Ġ") if any(m in p for p in pieces)]
    out = "".join(f" A {m} in a piece stands for the space before the word." for m in marks)
    if pieces and pieces[0][:1] in ("<", "["):
        out += " The first piece is a special token the tokenizer adds to mark where a text begins."
    return out


def _training(f, beginner: bool) -> list[str]:
    if "error" in f:
        return ["Training cannot be estimated here: {error}"]
    out = []
    if "training_tokens" in f:
        if beginner:
            out.append("Training showed the model {training_tokens:,} tokens ({training_tokens:label}) "
                       "of text, as published: {stated} ({url}). That is {tokens_per_param:1f} tokens "
                       "for each of its {n:,} parameters. The Chinchilla study found about "
                       "{chinchilla:g} tokens per parameter the cheapest way to reach a given quality; "
                       "this model saw {times_chinchilla:1f} times that"
                       + (": a smaller model trained longer costs more to train but less to run "
                          "afterwards." if f["times_chinchilla"].value > 1 else "."))
        else:
            out.append("D = {training_tokens:,} ({stated}; {url}); D/N = {tokens_per_param:1f} vs "
                       "Chinchilla {chinchilla:g} ({times_chinchilla:1f}×).")
    else:
        out.append("The catalogue has no published training-token count for this model, so only the "
                   "rule of thumb can be shown: Chinchilla's about {chinchilla:g} tokens per parameter "
                   "gives {optimal_tokens:,} tokens ({optimal_tokens:label}) for its {n:,} parameters."
                   if beginner else
                   "No published D; Chinchilla-optimal D = {chinchilla:g} × N = {optimal_tokens:,}.")
    out.append(("Training compute is about {flops_factor:g} × N × D: each parameter costs a "
                "multiply and an add per token going forward, and twice that coming back. "
                "{flops_factor:g} × {n:,} × {tokens:,} = {flops:e} floating-point operations.")
               if beginner else
               "C ≈ {flops_factor:g}·N·D = {flops_factor:g} × {n:,} × {tokens:,} = {flops:e} FLOPs.")
    if _has(f, "total_params") and f["total_params"].value != f["n"].value:
        out.append("N counts the active parameters ({n:,} of {total_params:,}): a token only passes "
                   "through the experts it was sent to.")
    return out


_PROSE = {"parameters": _parameters, "where": _where, "largest": _largest, "values": _values,
          "storage": _storage, "memory": _memory, "tokens": _tokens, "training": _training}
