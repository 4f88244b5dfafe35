"""Special tokens written in the text ("<|im_start|>user\\n…", "<start_of_turn>", "<s>", "[INST]"), cut
out as llama.cpp's tokenizer_st_partition cuts them (src/llama-vocab.cpp), with the LSTRIP/RSTRIP
attributes llama_vocab::impl::load gives some models.

- tests/fixtures/llamacpp_special_ids.json: for every vocabulary-only GGUF llama.cpp ships and Gemma 3
  270M, texts made of every token llama.cpp cuts out (by its own attributes) with the IDs the live
  llama.cpp gave with special parsing on (add_bos on and off) and off, recorded by
  bench/make_special_fixture.py under llama-cpp-python 0.3.36;
- st_partition on its own, against the C++ loop's rules (hypothesis);
- the command line's flag, --json and a tokenizer.json's special tokens.

Nothing here imports llama_cpp.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import paramscope
from paramscope.tokenize import Tokenizer, tokenizer_for
from paramscope.tokenize.core import C_SPACE, LSTRIP, RSTRIP, SPECIAL_ONLY, st_partition

FIXTURE = Path(__file__).parent / "fixtures" / "llamacpp_special_ids.json"
RECORDED = json.loads(FIXTURE.read_text(encoding="utf-8"))["vocabs"]
GEMMA = "gemma-3-270m-q4_k_m.gguf"
VOCABS = sorted(n for n in RECORDED if n != GEMMA)
SPM = ["ggml-vocab-baichuan.gguf", "ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf", GEMMA]
WAYS = {"special": (True, True), "special_bare": (False, True), "plain": (True, False)}  # add, parse


def differences(tok: Tokenizer, name: str, step: int = 1) -> list[tuple]:
    rec = RECORDED[name]
    out = []
    for way, (add, parse) in WAYS.items():
        for text, want in list(zip(rec["texts"], rec[way], strict=True))[::step]:
            if want is None:  # a group text: recorded one way only
                continue
            got = tok.ids(text, add_special=add, parse_special=parse)
            if got != want:
                out.append((way, text, got, want))
    return out


def path_of(name: str, llamacpp_vocabs: Path, request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue("gemma_gguf") if name == GEMMA else llamacpp_vocabs / name


def test_every_vocabulary_is_recorded(llamacpp_vocabs):
    assert sorted(p.name for p in llamacpp_vocabs.glob("ggml-vocab-*.gguf")) == VOCABS
    assert GEMMA in RECORDED


@pytest.mark.parametrize("name", [*VOCABS, GEMMA])
def test_special_ids_equal_llamacpp(llamacpp_vocabs, request, name):
    """Every recorded text, three ways: special tokens parsed with and without BOS/EOS, and not."""
    tok = paramscope.tokenizer(path_of(name, llamacpp_vocabs, request))
    assert differences(tok, name) == []


@pytest.mark.parametrize("name", [*VOCABS, GEMMA])
def test_token_attributes_equal_llamacpp(llamacpp_vocabs, request, name):
    """The attribute bits that decide the cutting (UNKNOWN, CONTROL, USER_DEFINED, LSTRIP, RSTRIP) of
    every token, as llama_vocab_get_attr reported them after llama.cpp's overrides by text and model."""
    from paramscope.formats import open_model
    from paramscope.tokenize import gguf_vocab

    kept = (gguf_vocab.ATTR_UNKNOWN | gguf_vocab.ATTR_CONTROL | gguf_vocab.ATTR_USER
            | gguf_vocab.ATTR_LSTRIP | gguf_vocab.ATTR_RSTRIP)
    attrs = gguf_vocab.read_vocab(open_model(path_of(name, llamacpp_vocabs, request))).attrs & kept
    assert [[i, int(attrs[i])] for i in attrs.nonzero()[0].tolist()] == RECORDED[name]["attrs"]


@pytest.mark.parametrize("name", SPM)
def test_restricted_engine_parses_special_tokens(llamacpp_vocabs, request, name, tmp_path, monkeypatch):
    """The command line's path for SPM vocabularies (a cached vocabulary, an engine over what the text
    can reach) keeps the special tokens: every fourth text but the long group texts, from a cold cache
    (the first) and then a warm one."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = path_of(name, llamacpp_vocabs, request)
    rec = RECORDED[name]
    cases = [(t, want) for t, want, plain in zip(rec["texts"], rec["special"], rec["plain"], strict=True)
             if plain is not None][::4]
    wrong = [(t, got, want) for t, want in cases
             if (got := tokenizer_for(path, text=t).ids(t, parse_special=True)) != want]
    assert wrong == []


def test_counts_equal_llamacpp(llamacpp_vocabs):
    tok = paramscope.tokenizer(llamacpp_vocabs / "ggml-vocab-qwen2.gguf")
    rec = RECORDED["ggml-vocab-qwen2.gguf"]
    text = "\n".join(rec["texts"])
    assert tok.count(text, parse_special=True) == len(tok.ids(text, parse_special=True))
    for t, want in zip(rec["texts"], rec["special"], strict=True):
        assert tok.count(t, parse_special=True) == len(want)
    for t, want in zip(rec["texts"], rec["plain"], strict=True):
        assert want is None or tok.count(t) == len(want)


# --- st_partition on its own: the rules of the C++ loop --------------------------------------------

SPECIALS = [("<|a|>", 10, SPECIAL_ONLY), ("<b>", 11, 0), ("<c>", 12, SPECIAL_ONLY | LSTRIP | RSTRIP),
            ("x", 13, RSTRIP)]


def test_partition_examples():
    text = "hi <|a|>  <c>  yx  z<b>"
    # "<|a|>" first (longest), then "<b>", "<c>" (its spaces dropped both sides), "x" (those after it)
    assert st_partition(text, SPECIALS, True) == [
        (0, 3, None), (3, 8, 10), (10, 13, 12), (15, 16, None), (16, 17, 13), (19, 20, None), (20, 23, 11)]
    assert st_partition(text, SPECIALS, False) == [(0, 16, None), (16, 17, 13), (19, 20, None), (20, 23, 11)]
    assert st_partition("", SPECIALS, True) == []
    assert st_partition("<c><c>", SPECIALS, True) == [(0, 3, 12), (3, 6, 12)]


specials_st = st.lists(st.tuples(st.sampled_from(["<s>", "</s>", "<|x|>", "ab", "a", " ", "\n\n", "[I]"]),
                                 st.sampled_from([0, SPECIAL_ONLY, LSTRIP, RSTRIP, LSTRIP | RSTRIP])),
                       max_size=5, unique_by=lambda s: s[0])
text_st = st.lists(st.sampled_from(["<s>", "</s>", "<|x|>", "ab", "a", "b", " ", "\n", "\t", "<", "s>", "é"]),
                   max_size=12).map("".join)


@given(specials_st, text_st, st.booleans())
def test_partition_covers_the_text(specials, text, parse):
    """Pieces come in order, never overlap, and what lies between them is only the spaces LSTRIP or
    RSTRIP dropped next to a token; each token piece spells its token; no raw piece still holds a
    token that took part; raw pieces are never empty."""
    ordered = sorted(specials, key=lambda s: -len(s[0].encode()))
    table = [(t, i, f) for i, (t, f) in enumerate(ordered)]
    pieces = st_partition(text, table, parse)
    at = 0
    for start, end, token_id in pieces:
        assert start >= at and set(text[at:start]) <= set(C_SPACE)
        assert end > start
        if token_id is not None:
            assert text[start:end] == table[token_id][0]
        else:
            assert not any(t in text[start:end] for t, _, f in table if parse or not f & SPECIAL_ONLY)
        at = end
    assert set(text[at:]) <= set(C_SPACE)
    kept = [(t, i, f) for t, i, f in table if parse or not f & SPECIAL_ONLY]
    if not any(f & (LSTRIP | RSTRIP) for _, _, f in kept):
        assert "".join(text[s:e] for s, e, _ in pieces) == text


# --- the command line, --json, and a tokenizer.json -----------------------------------------------


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    from paramscope.cli import tokens_cmd

    p = argparse.ArgumentParser()
    tokens_cmd.configure(p)
    p.add_argument("--json", action="store_true", dest="as_json")
    code = tokens_cmd.run(p.parse_args(list(argv)))
    return code, capsys.readouterr().out


def test_cli_parses_special_tokens_by_default(gemma_gguf, capsys, tmp_path, monkeypatch):
    """As llama-tokenize: special tokens parsed unless --no-parse-special; --json says which."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    rec = RECORDED[GEMMA]
    chat = "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n4<end_of_turn>"
    at = rec["texts"].index(chat)
    code, out = run_cli(capsys, str(gemma_gguf), chat, "--json")
    parsed = json.loads(out)
    assert code == 0 and parsed["parse_special"] is True
    assert [t["id"] for t in parsed["tokens"]] == rec["special"][at]
    assert parsed["tokens"][1] == {"id": 105, "text": "<start_of_turn>", "start": 0, "end": 15}
    code, out = run_cli(capsys, str(gemma_gguf), chat, "--json", "--no-parse-special")
    plain = json.loads(out)
    assert plain["parse_special"] is False and [t["id"] for t in plain["tokens"]] == rec["plain"][at]
    assert run_cli(capsys, str(gemma_gguf), chat, "--count") == (0, f"{len(rec['special'][at])}\n")
    assert run_cli(capsys, str(gemma_gguf), chat, "--count", "--no-parse-special") == (
        0, f"{len(rec['plain'][at])}\n")


def test_tokenizer_json_special_tokens(minilm_dir):
    """A tokenizer.json's special added tokens ([SEP]): cut out when parsed, spelled out when not, as
    transformers does with split_special_tokens False and True."""
    from transformers import AutoTokenizer

    tok = paramscope.tokenizer(minilm_dir)
    text = "first [SEP] second [MASK]"
    for parse in (True, False):
        ref = AutoTokenizer.from_pretrained(str(minilm_dir), split_special_tokens=not parse)
        assert tok.ids(text, parse_special=parse) == ref(text)["input_ids"]
        assert tok.count(text, parse_special=parse) == len(ref(text)["input_ids"])


def test_library_default_is_each_references_own(minilm_dir, gemma_gguf):
    """Not told, the library follows its reference: transformers parses a tokenizer.json's special tokens
    (split_special_tokens False), llama.cpp's tokenize leaves a GGUF's control tokens as text
    (special=False); `count_tokens` (size --context-from-file) so too."""
    from transformers import AutoTokenizer

    from paramscope.tokenize import count_tokens

    text = "first [SEP] second [MASK]"
    tok = paramscope.tokenizer(minilm_dir)
    ref = AutoTokenizer.from_pretrained(str(minilm_dir))(text)["input_ids"]
    assert tok.ids(text) == ref and tok.count(text) == len(ref)
    assert count_tokens(tok, text) == len(ref)
    gguf = paramscope.tokenizer(gemma_gguf)
    turn = "<start_of_turn>user\nHi<end_of_turn>"
    assert gguf.ids(turn) == gguf.ids(turn, parse_special=False) != gguf.ids(turn, parse_special=True)
