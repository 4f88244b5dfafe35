"""Pre-tokenizers of GGUF "gpt2" (byte-level BPE) vocabularies, by ``tokenizer.ggml.pre``.

llama.cpp splits text with a list of regular expressions chosen by the pre-tokenizer name, each
expression splitting the pieces the previous one left, matches and the text between them both kept
as pieces (src/llama-vocab.cpp, ``llm_tokenizer_bpe``; src/unicode.cpp, ``unicode_regex_split``).
The expressions below are llama.cpp's, including its case-insensitive rewrite of ``(?i:'s|'t|…)``.
A name not in ``PRE_NAMES`` is reported as unsupported rather than guessed.
"""

from __future__ import annotations

from paramscope.records import record

_GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
_CONTRACTIONS = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
_LLAMA3 = (_CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
           r"|\s+(?!\S)|\s+")
_QWEN2 = (_CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
          r"|\s+(?!\S)|\s+")


@record
class PreTokenizer:
    kind: str  # llama.cpp's LLAMA_VOCAB_PRE_TYPE_* name, lower case
    regexes: tuple[str, ...]
    ignore_merges: bool = False  # a piece that is itself a token is taken whole (llama3, tekken…)
    add_bos: bool | None = None  # the default add_bos for this pre-tokenizer (the file's key wins)


# LLAMA_VOCAB_PRE_TYPE_* → its expressions (llm_tokenizer_bpe's constructor).
KINDS: dict[str, tuple[str, ...]] = {
    "default": (r"[\p{P}\$\+<=>\^~\|]+", _GPT2, r"\p{N}+", r"[0-9][0-9][0-9]"),
    "gpt2": (_GPT2,),
    "llama3": (_LLAMA3,),
    "qwen2": (_QWEN2,),
    "starcoder": (r"\p{N}", _GPT2),
    "falcon": (r"[\p{P}\$\+<=>\^~\|`]+", _GPT2, r"[0-9][0-9][0-9]"),
}

_LLAMA3_NAMES = ("llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
                 "jina-v5-nano")
_GPT2_NAMES = ("gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0",
               "mellum", "modern-bert", "exaone4", "mpt", "olmo", "jais", "trillion", "granite-docling",
               "jina-v1-en", "jina-v2-code", "roberta-bpe")
_QWEN2_NAMES = ("qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan",
                "solar-open")
_STARCODER_NAMES = ("starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b",
                    "mellum2")

# tokenizer.ggml.pre → pre-tokenizer (llama_vocab::impl::load, the tokenizer_pre chain).
PRE_NAMES: dict[str, PreTokenizer] = {
    "default": PreTokenizer("default", KINDS["default"]),
    "falcon": PreTokenizer("falcon", KINDS["falcon"]),
    "dbrx": PreTokenizer("llama3", KINDS["llama3"]),
    "smaug-bpe": PreTokenizer("llama3", KINDS["llama3"]),
    **{n: PreTokenizer("llama3", KINDS["llama3"], ignore_merges=True, add_bos=True) for n in _LLAMA3_NAMES},
    **{n: PreTokenizer("gpt2", KINDS["gpt2"]) for n in _GPT2_NAMES},
    **{n: PreTokenizer("qwen2", KINDS["qwen2"]) for n in _QWEN2_NAMES},
    **{n: PreTokenizer("starcoder", KINDS["starcoder"]) for n in _STARCODER_NAMES},
}
