"""llama.cpp's token IDs for texts that write special tokens out ("<|im_start|>user\\n…<|im_end|>",
"<start_of_turn>", "<s>", "[INST]"), parsed as llama.cpp parses them (``parse_special``), on every
vocabulary-only GGUF llama.cpp ships (models/ggml-vocab-*.gguf in the llama-cpp-python 0.3.36 sdist,
``python tools/fetch_models.py llamacpp-vocabs``) and on Gemma 3 270M (``python tools/fetch_models.py
gemma``), written to tests/fixtures/llamacpp_special_ids.json for tests/test_tokens_special.py.

Runs under llama-cpp-python's interpreter (standard library and llama_cpp only; never a test
dependency). The special tokens of each vocabulary are the ones llama.cpp itself says it cuts out of
the text: every ID whose attribute (``llama_vocab_get_attr``, after llama.cpp's own overrides) has
CONTROL, USER_DEFINED or UNKNOWN, the set of llama-vocab.cpp's ``cache_special_tokens``. The texts:

- all of them, in groups: written next to each other, between spaces, between newlines, inside words;
- a seeded sample (and every one whose text is short or looks like a chat marker) in templates: the
  token twice, with spaces or newlines around it, inside a word, cut short ("<|im_sta"), the first half
  followed by the whole;
- chat prompts in the common formats, and seeded random mixtures of tokens, words and whitespace.

Each text is tokenized three ways: ``Llama.tokenize(text, add_bos=True, special=True)`` ("special"),
``add_bos=False, special=True`` ("special_bare") and ``add_bos=True, special=False`` ("plain"); the
group texts only the first way (null in the others, to keep the file small). "attrs" holds, for
every token with one, the attribute bits that decide the cutting (UNKNOWN, CONTROL, USER_DEFINED,
LSTRIP, RSTRIP) as ``llama_vocab_get_attr`` reports them.

    /tmp/tok-venv/bin/python bench/make_special_fixture.py VOCAB_DIR GEMMA_GGUF [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "llamacpp_special_ids.json"
SEED = 20261204
# llama.h enum llama_token_attr
ATTR_UNKNOWN, ATTR_CONTROL, ATTR_USER = 1 << 0, 1 << 3, 1 << 4
ATTR_LSTRIP, ATTR_RSTRIP = 1 << 7, 1 << 8
KEPT = ATTR_UNKNOWN | ATTR_CONTROL | ATTR_USER | ATTR_LSTRIP | ATTR_RSTRIP  # the bits "attrs" records
GROUP = 100  # tokens per group text
LARGE = 1000  # a vocabulary with more such tokens gets two group texts per group instead of four
SAMPLE = 40  # tokens per vocabulary in the per-token templates (besides the marker-looking ones)
N_RANDOM = 30

CHATS = [
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi there!<|im_end|>\n"
    "<|im_start|>assistant\n",
    "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n4<end_of_turn>",
    "<s>[INST] Hello [/INST] Hi!</s><s>[INST] Again [/INST]",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n",
    "<|user|>\nHello<|end|>\n<|assistant|>\nHi<|end|>\n<|endoftext|>",
    "[CLS] first [SEP] second [SEP]", "The capital of France is <mask>.", "a [MASK] b",
    "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hi<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>",
    "<｜begin▁of▁sentence｜>User: hi\n\nAssistant:", "<fim_prefix>def f():<fim_suffix>\n<fim_middle>",
    "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>", "<bos><bos>text", "<unk> <unk>", "<pad>x</s>",
    "<|endoftext|>\n<|endoftext|>", "<|im_start|><|im_start|><|im_end|>", "<|im_sta", "<|im_start", "<s",
    "</", "<start_of_turn", "start_of_turn>", "[INST", "[/INST]", "<|turn>user\nhi<turn|>\n<|turn>model\n",
]
WORDS = ["hello", "world", "The", "quick", "fox", "123", "déjà", "中文", "😀", "x", "<", ">", "|", "[", "]"]
SPACES = ["", " ", "  ", "\n", "\n\n", "\t", " \n ", "\r\n"]


def specials(llm) -> list[str]:
    """The texts of the tokens llama.cpp's tokenizer_st_partition cuts out (cache_special_tokens)."""
    import llama_cpp

    vocab = llm._model.vocab
    out = []
    for i in range(llama_cpp.llama_vocab_n_tokens(vocab)):
        if llama_cpp.llama_vocab_get_attr(vocab, i) & (ATTR_CONTROL | ATTR_USER | ATTR_UNKNOWN):
            try:
                out.append(llama_cpp.llama_vocab_get_text(vocab, i).decode("utf-8"))
            except UnicodeDecodeError:
                continue
    return out


def attrs(llm) -> list[list[int]]:
    """[ID, attribute bits of KEPT] for every token holding one of them, as llama.cpp set them."""
    import llama_cpp

    vocab = llm._model.vocab
    found = ((i, llama_cpp.llama_vocab_get_attr(vocab, i) & KEPT)
             for i in range(llama_cpp.llama_vocab_n_tokens(vocab)))
    return [[i, a] for i, a in found if a]


def texts_for(tokens: list[str], rng: random.Random) -> tuple[list[str], int]:
    """The texts, and how many of them are the group texts (after the chats)."""
    groups: list[str] = []
    for k in range(0, len(tokens), GROUP):
        group = tokens[k:k + GROUP]
        groups += ["".join(group), "a" + "b c".join(group) + "d"]
        if len(tokens) <= LARGE:
            groups += [" ".join(group), "\n".join(group) + "\n"]
    out: list[str] = []
    marked = [t for t in tokens if len(t) <= 3 or (t[:1] in "<[" and t[-1:] in ">]" and "unused" not in t)]
    sample = list(dict.fromkeys(marked[:SAMPLE] + rng.sample(tokens, min(SAMPLE, len(tokens)))))
    for t in sample:
        half = t[:max(1, len(t) // 2)]
        out += [f"Hello {t} world", f"{t}{t}", f"  {t}  x", f"\n{t}\n", f"ab{t}cd", f"{t} {t}\n\n{t}"]
        if len(t) > 1:
            out += [t[:-1], f"{half}{t}", f"x {t[1:]} {t[:-1]}y"]
    for _ in range(N_RANDOM):
        parts = []
        for _ in range(rng.randint(2, 10)):
            r = rng.random()
            parts.append(rng.choice(tokens) if r < 0.4 and tokens else rng.choice(WORDS) if r < 0.8
                         else rng.choice(SPACES))
        out.append("".join(p + rng.choice(SPACES) for p in parts))
    groups = [g for g in dict.fromkeys(groups) if g not in CHATS]
    return list(dict.fromkeys([*CHATS, *groups, *out])), len(groups)


def main() -> int:
    import llama_cpp

    ap = argparse.ArgumentParser()
    ap.add_argument("vocab_dir", type=Path)
    ap.add_argument("gemma", type=Path)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    paths = [*sorted(args.vocab_dir.glob("ggml-vocab-*.gguf")), args.gemma]
    vocabs = {}
    for path in paths:
        llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
        rng = random.Random(f"{SEED}:{path.name}")
        texts, n_groups = texts_for(specials(llm), rng)
        ids: dict[str, list] = {"special": [], "special_bare": [], "plain": []}
        for k, t in enumerate(texts):
            b = t.encode("utf-8")
            group = len(CHATS) <= k < len(CHATS) + n_groups
            ids["special"].append(llm.tokenize(b, add_bos=True, special=True))
            # the group texts only with special tokens parsed and BOS/EOS added (null otherwise)
            ids["special_bare"].append(None if group else llm.tokenize(b, add_bos=False, special=True))
            ids["plain"].append(None if group else llm.tokenize(b, add_bos=True, special=False))
        vocabs[path.name] = {"attrs": attrs(llm), "texts": texts, **ids}
        print(path.name, len(texts), "texts", sum(map(len, ids["special"])), "tokens", file=sys.stderr)
    fixture = {"source": "llama-cpp-python 0.3.36 (llama.cpp vendored in its sdist): Llama.tokenize(text, "
                         "add_bos=…, special=…) on models/ggml-vocab-*.gguf of that sdist and on "
                         "gemma-3-270m-q4_k_m.gguf (tools/fetch_models.py gemma); made by "
                         "bench/make_special_fixture.py",
               "vocabs": vocabs}
    args.out.write_text(json.dumps(fixture, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{args.out}: {len(vocabs)} vocabularies", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
