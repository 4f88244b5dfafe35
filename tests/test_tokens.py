"""Tokenizers: Gemma 3's GGUF vocabulary and all-MiniLM-L6-v2's tokenizer.json against llama.cpp's own IDs
(tests/fixtures, made by bench/make_token_fixture.py; MiniLM's vocabulary converted to GGUF as
convert_hf_to_gguf.py does, so llama.cpp's WordPiece engine runs on it), and small GGUF vocabularies of
every supported type written with gguf-py's GGUFWriter, checked against hand-computed IDs (confirmed once
with llama.cpp 0.3.36) and against equivalent tokenizers objects."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gguf import GGUFWriter

from paramscope.errors import ParamscopeError, SourceError, UnsupportedError, UsageError
from paramscope.formats import open_model
from paramscope.tokenize import (
    TokenIdError,
    Tokenizer,
    build_tokenizer,
    count_tokens,
    parse_ids,
    read_text,
    tokenizer,
)
from paramscope.tokenize.core import CHUNK_CHARS

tokenizers = pytest.importorskip("tokenizers")

FIXTURE = Path(__file__).parent / "fixtures" / "gemma_llamacpp_ids.json"
CASES: list[dict[str, Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"]
TEXTS = [c["text"] for c in CASES]
FOX = "The quick brown fox jumps over the lazy dog."
BYTES = [f"<0x{b:02X}>" for b in range(256)]


@pytest.fixture(scope="session")
def gemma(gemma_tokenizer) -> Tokenizer:
    return gemma_tokenizer


@pytest.fixture(scope="session")
def minilm(minilm_dir) -> Tokenizer:
    return tokenizer(minilm_dir)


def write_vocab(path: Path, model: str, tokens: Sequence[str], types: Sequence[int] | None = None,
                scores: Sequence[float] | None = None, merges: Sequence[str] | None = None,
                pre: str | None = None, **keys: Any) -> Path:
    """A GGUF file holding only a vocabulary; ``keys`` are GGUFWriter.add_<key> calls."""
    w = GGUFWriter(path, "llama")
    w.add_tokenizer_model(model)
    if pre is not None:
        w.add_tokenizer_pre(pre)
    w.add_token_list(list(tokens))
    if types is not None:
        w.add_token_types(list(types))
    if scores is not None:
        w.add_token_scores(list(scores))
    if merges is not None:
        w.add_token_merges(list(merges))
    for key, value in keys.items():
        getattr(w, f"add_{key}")(value)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


# --- Gemma 3 270M GGUF against llama.cpp -------------------------------------------------------------

def test_fixture_is_varied():
    assert len(CASES) >= 200
    joined = "".join(TEXTS)
    for sample in ("你好", "مرحبا", "Привет", "😀", "def ", "\t", "\n\n", "  ", "3.14159"):
        assert sample in joined
    assert any(t.startswith(" ") for t in TEXTS) and any(t.endswith(" ") for t in TEXTS)
    assert CASES[0]["text"] == FOX and CASES[0]["ids"][:4] == [2, 818, 3823, 8864]


def test_gemma_ids_equal_llamacpp(gemma):
    wrong = [(c["text"], gemma.ids(c["text"]), c["ids"]) for c in CASES if gemma.ids(c["text"]) != c["ids"]]
    assert not wrong, f"{len(wrong)} of {len(CASES)} differ, first: {wrong[0]}"


def test_gemma_fox(gemma):
    assert gemma.ids(FOX) == [2, 818, 3823, 8864, 37423, 38167, 1024, 506, 31770, 4799, 236761]
    tokens = gemma.encode(FOX)
    assert [t.text for t in tokens[:4]] == ["<bos>", "The", "▁quick", "▁brown"]
    assert [(t.start, t.end) for t in tokens[:4]] == [(0, 0), (0, 3), (3, 9), (9, 15)]
    assert tokens[0].kind == "special" and tokens[1].kind == "normal"
    assert gemma.ids(FOX, add_special=False)[0] == 818


def test_gemma_decode_returns_the_text(gemma):
    # "▁" typed literally gets the ID a space gets (llama.cpp escapes spaces to it), so that text alone
    # cannot come back: no decoder can tell the two apart.
    assert gemma.ids("▁") == gemma.ids(" ")
    for text in TEXTS:
        if "▁" not in text:
            assert gemma.decode(gemma.ids(text)) == text, text


def test_gemma_token_kinds(gemma):
    tokens = gemma.encode("a\n\n<b>𓀀")
    kinds = [(t.text, t.kind) for t in tokens]
    assert kinds[:4] == [("<bos>", "special"), ("a", "normal"), ("\n\n", "user"), ("<b>", "user")]
    assert [t.kind for t in tokens[4:]] == ["byte"] * 4  # U+13000 is not in the vocabulary: 4 UTF-8 bytes
    assert {(t.start, t.end) for t in tokens[4:]} == {(6, 7)}
    assert gemma.token_text(238) == "<0x00>" and gemma.kind(238) == "byte"
    assert gemma.vocab_size == 262_144
    assert gemma.details["add_space_prefix"] is False and gemma.details["bos"] == 2


def test_gemma_decode_skips_special_tokens(gemma):
    assert gemma.decode([2, 818, 3823]) == "The quick"
    assert gemma.decode([2, 818, 3823], skip_special=False) == "<bos>The quick"
    with pytest.raises(TokenIdError, match="262,144"):
        gemma.decode([2, 262_144])


def test_long_text_counted_in_chunks(gemma, minilm):
    text = "\n".join(TEXTS) * 40
    assert len(text) > 3 * CHUNK_CHARS
    for tok in (gemma, minilm):
        chunks = list(tok.chunks(text))
        assert len(chunks) > 3 and "".join(chunks) == text
        seen: list[tuple[int, int]] = []
        assert tok.count(text, on_progress=lambda *done, seen=seen: seen.append(done)) == len(tok.ids(text))
        assert seen[-1] == (len(text), len(text))
    assert gemma.count("") == 1 and gemma.count("", add_special=False) == 0


def test_built_once_per_file(gemma, gemma_gguf, minilm_dir):
    assert tokenizer(str(gemma_gguf)) is gemma and tokenizer(open_model(gemma_gguf)) is gemma
    assert tokenizer(minilm_dir) is tokenizer(minilm_dir / "tokenizer.json")
    assert build_tokenizer(minilm_dir) is not tokenizer(minilm_dir)


def test_count_tokens_api(gemma_gguf, minilm_dir):
    assert count_tokens(gemma_gguf, FOX) == 11
    assert count_tokens(str(minilm_dir), "Hello, world!") == 6
    model = open_model(gemma_gguf)
    assert count_tokens(model, FOX) == 11


# --- all-MiniLM-L6-v2 tokenizer.json against llama.cpp's WordPiece ------------------------------------
MINILM_FIXTURE = Path(__file__).parent / "fixtures" / "minilm_llamacpp_ids.json"


def llama_cpp_wpm_deviates(text: str) -> bool:
    """Does the text hold a character on which llama.cpp's WPM pre-processing departs from BERT's
    BasicTokenizer (which tokenizer.json's BertNormalizer and BertPreTokenizer follow)? llama.cpp's NFD
    (unicode.cpp) has no algorithmic Hangul decomposition, so a syllable stays whole where BERT splits it
    into jamo; it strips every combining mark where BERT strips only Mn (nonspacing), so Devanagari and
    Bengali vowel signs (Mc) vanish; and it reads \\v and \\f as spaces where BERT drops control
    characters."""
    return any(0xAC00 <= ord(c) <= 0xD7A3 or unicodedata.category(c) == "Mc" or c in "\v\f" for c in text)


def test_minilm_matches_llama_cpp(minilm):
    cases = json.loads(MINILM_FIXTURE.read_text(encoding="utf-8"))["cases"]
    assert [c["text"] for c in cases] == TEXTS  # the same texts as Gemma's fixture
    differ = [c["text"] for c in cases if minilm.ids(c["text"]) != c["ids"]]
    # every difference is one of llama.cpp's documented departures from BERT, and they are few
    assert [t for t in differ if not llama_cpp_wpm_deviates(t)] == []
    assert len(cases) - len(differ) >= 0.95 * len(cases)


def test_minilm_special_tokens_and_decoding(minilm):
    # [CLS] hello , world ! [SEP]: the IDs llama.cpp gives (the fixture's second case), no padding
    ids = minilm.ids("Hello, world!")
    assert ids == [101, 7592, 1010, 2088, 999, 102]  # [CLS] … [SEP], no padding to 128
    tokens = minilm.encode("Hello, world!")
    assert tokens[0].kind == tokens[-1].kind == "special" and tokens[1].text == "hello"
    assert minilm.decode(ids) == "hello, world!"


def test_minilm_splits_hangul_into_jamo_as_bert_does(minilm):
    """Where llama.cpp departs from BERT: NFD turns 한 (U+D55C) into ᄒ ᅡ ᆫ, each a vocabulary entry."""
    jamo = unicodedata.normalize("NFD", "한")
    assert len(jamo) == 3
    assert minilm.ids("한", add_special=False)[0] == minilm.ids(jamo[0], add_special=False)[0]


def test_minilm_no_truncation(minilm):
    assert len(minilm.ids("word " * 1000)) == 1002


def test_tokenizer_json_path(minilm_dir):
    tok = tokenizer(minilm_dir / "tokenizer.json")
    assert tok.ids("Hello") == [101, 7592, 102] and tok.name == "all-MiniLM-L6-v2"


# --- small GGUF vocabularies of each type --------------------------------------------------------------

def spm_vocab(tmp_path: Path, **keys: Any) -> Tokenizer:
    tokens = ["<unk>", "<s>", "</s>", *BYTES, "▁", "a", "b", "c", "▁a", "ab", "bc", "aa", "▁b", "<u>"]
    types = [2, 3, 3] + [6] * 256 + [1] * 9 + [4]
    scores = [0.0] * 259 + [-1.0, -2.0, -3.0, -4.0, -10.0, -20.0, -5.0, -6.0, -7.0, 0.0]
    return tokenizer(write_vocab(tmp_path / "spm.gguf", "llama", tokens, types, scores,
                                 bos_token_id=1, eos_token_id=2, unk_token_id=0, **keys))


def test_spm_hand_computed(tmp_path):
    tok = spm_vocab(tmp_path, add_space_prefix=True)
    a, b, sp, sp_a, bc, aa, sp_b, user = 260, 261, 259, 263, 265, 266, 267, 268
    # "▁abc": "bc" (-5) beats "▁a" (-10) beats "ab" (-20, stale once "bc" formed)
    assert tok.ids("abc") == [1, sp_a, bc]
    # "▁aaa": the two "aa" pairs score alike; the leftmost wins
    assert tok.ids("aaa") == [1, sp, aa, a]
    assert tok.ids("é") == [1, sp, 3 + 0xC3, 3 + 0xA9]  # byte fallback
    # user-defined tokens are cut out first; each piece after one gets its own space prefix
    assert tok.ids("a<u>b") == [1, sp_a, user, sp_b]
    assert tok.ids("") == [1] and tok.ids(" ") == [1, sp, sp]
    assert tok.decode(tok.ids("abc aaa")) == "abc aaa"
    assert not tok.chunkable  # a space prefix per piece: cutting would add spaces
    assert tok.ids("ab", add_special=False) == [sp_a, b]


def test_spm_without_space_prefix(tmp_path):
    tok = spm_vocab(tmp_path, add_space_prefix=False, add_eos_token=True)
    assert tok.ids("abc") == [1, 260, 265, 2] and tok.chunkable


def test_no_chunks_when_a_token_spans_a_line_start(tmp_path):
    tokens = ["<unk>", "<s>", "</s>", *BYTES, "a", "\n", "b", "\nb"]
    tok = tokenizer(write_vocab(tmp_path / "nl.gguf", "llama", tokens, [2, 3, 3] + [6] * 256 + [1] * 4,
                                [0.0] * 259 + [-1.0, -2.0, -3.0, -4.0], add_space_prefix=False))
    text = "a\nb" * CHUNK_CHARS
    assert not tok.chunkable and list(tok.chunks(text)) == [text]
    assert tok.ids("a\nb") == [1, 259, 262]


GPT2_TOKENS = ["<|bos|>", "h", "e", "l", "o", "Ġ", "w", "r", "d", "1", "2", "3", "4", "5",
               "he", "ll", "hell", "hello", "Ġw", "or", "Ġwor", "Ġworl", "Ġworld", "12", "123", "45", "dr"]
GPT2_MERGES = ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "Ġwor l", "Ġworl d",
               "1 2", "12 3", "4 5"]


def gpt2_vocab(tmp_path: Path, pre: str) -> Tokenizer:
    types = [3] + [1] * (len(GPT2_TOKENS) - 1)
    return tokenizer(write_vocab(tmp_path / f"bpe-{pre}.gguf", "gpt2", GPT2_TOKENS, types, merges=GPT2_MERGES,
                                 pre=pre, bos_token_id=0, eos_token_id=0))


@pytest.mark.parametrize(("pre", "digits", "dr", "bos"), [
    ("gpt-2", [24, 25], [8, 7], []),
    ("default", [24, 25], [8, 7], []),
    ("llama-bpe", [24, 25], [26], [0]),  # \p{N}{1,3}; a piece that is a token is taken whole; BOS
    ("qwen2", [9, 10, 11, 12, 13], [8, 7], []),  # one digit at a time
])
def test_gpt2_hand_computed(tmp_path, pre, digits, dr, bos):
    tok = gpt2_vocab(tmp_path, pre)
    assert tok.ids("hello world") == [*bos, 17, 22]
    assert tok.ids("12345") == [*bos, *digits]
    assert tok.ids("dr") == [*bos, *dr]
    assert tok.decode(tok.ids("hello world")) == "hello world"


def test_gpt2_equals_trained_tokenizers(tmp_path):
    """A byte-level BPE trained here, written as a GGUF, against the trained object itself (whose
    pre-tokenizer is tokenizers' own GPT-2 regex), and as llama-bpe against the original llama3 regex
    from Llama 3's tokenizer.json."""
    from tokenizers import Regex, models, pre_tokenizers, trainers

    ref = tokenizers.Tokenizer(models.BPE())
    ref.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    ref.train_from_iterator(TEXTS, trainers.BpeTrainer(vocab_size=1500, initial_alphabet=alphabet,
                                                       show_progress=False))
    state = json.loads(ref.to_str())
    vocab = state["model"]["vocab"]
    tokens = sorted(vocab, key=vocab.get)
    merges = [m if isinstance(m, str) else " ".join(m) for m in state["model"]["merges"]]
    for pre in ("gpt-2", "llama-bpe"):
        tok = tokenizer(write_vocab(tmp_path / f"{pre}.gguf", "gpt2", tokens, merges=merges, pre=pre,
                                    add_bos_token=False))
        if pre == "llama-bpe":
            original = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+"
                        r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
            ref = tokenizers.Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m.split(" ")) for m in merges],
                                                  ignore_merges=True))
            ref.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.Split(Regex(original), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        for text in TEXTS:
            assert tok.ids(text) == ref.encode(text).ids, (pre, text)


def wpm_vocab(tmp_path: Path) -> Tokenizer:
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "▁hello", "▁play", "ing", "▁,", "▁!", "▁world", "▁cafe"]
    return tokenizer(write_vocab(tmp_path / "bert.gguf", "bert", tokens, [3, 3, 3, 3] + [1] * 7,
                                 bos_token_id=2, sep_token_id=3, unk_token_id=1))


def test_wpm_hand_computed(tmp_path):
    tok = wpm_vocab(tmp_path)
    assert tok.ids("Hello, PLAYING world!!") == [2, 4, 7, 5, 6, 9, 8, 8, 3]
    assert tok.ids("Café") == [2, 10, 3]  # lower-cased, accent stripped
    assert tok.ids("xyz playingx") == [2, 1, 1, 3]  # a word with any unmatched rest is [UNK] whole
    assert tok.ids("hello", add_special=False) == [4]
    assert [t.text for t in tok.encode("playing")] == ["[CLS]", "play", "##ing", "[SEP]"]


def test_wpm_minilm_as_gguf(tmp_path, minilm_dir):
    """MiniLM's vocabulary written the way convert_hf_to_gguf writes BERT ("▁word", "piece"): equal to
    the tokenizer.json where llama.cpp prepares text as BERT does, and to llama.cpp's own IDs where it
    does not (its NFD keeps one code point: a Hangul syllable becomes its first jamo; it strips every
    combining mark, Mc too)."""
    state = json.loads((minilm_dir / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = state["model"]["vocab"]
    special = {t["id"] for t in state["added_tokens"] if t["special"]}

    def phantom(t: str) -> str:
        return t if t.startswith("[") and t.endswith("]") else t[2:] if t.startswith("##") else "▁" + t

    tokens = [phantom(t) for t in sorted(vocab, key=vocab.get)]
    types = [3 if i in special else 1 for i in range(len(tokens))]
    tok = tokenizer(write_vocab(tmp_path / "minilm.gguf", "bert", tokens, types, bos_token_id=101,
                                sep_token_id=102, unk_token_id=100, pad_token_id=0))
    ref = tokenizer(minilm_dir)
    for text in ("Hello, naïve world!", FOX, "I can't believe it's not butter.", "3.14 × 2 = 6.28", "Привет"):
        assert tok.ids(text) == ref.ids(text), text
    # llama-cpp-python 0.3.36 on this file:
    hangul = [101, 1463, 29992, 30005, 29997, 29999, 1010, 1461, 29991, 999, 102]
    assert tok.ids("안녕하세요, 세계!") == hangul
    assert tok.ids("नमस्ते दुनिया") == [101, 1327, 29867, 29874, 29859, 1325, 29863, 29868, 102]


def ugm_vocab(tmp_path: Path, **keys: Any) -> Tokenizer:
    tokens = ["<pad>", "</s>", "<unk>", "▁", "▁a", "b", "▁ab", "a", "<", "/", "s", ">"]
    types = [3, 3, 2] + [1] * 9
    scores = [0.0, 0.0, 0.0, -2.0, -1.0, -3.0, -5.0, -4.0, -6.0, -6.0, -6.0, -6.0]
    return tokenizer(write_vocab(tmp_path / "t5.gguf", "t5", tokens, types, scores, eos_token_id=1,
                                 unk_token_id=2, pad_token_id=0, **keys))


def test_ugm_hand_computed(tmp_path):
    tok = ugm_vocab(tmp_path, add_space_prefix=True, remove_extra_whitespaces=True)
    assert tok.ids("ab") == [4, 5, 1]  # "▁a"+"b" (-4) beats "▁ab" (-5) and "▁"+"a"+"b" (-9)
    assert tok.ids("  a   b ") == [4, 3, 5, 1]  # spaces merged: "▁a▁b"
    assert tok.ids("zz") == [3, 2, 1]  # unknown characters, one [unk] for the run
    assert tok.ids("</s>") == [3, 8, 9, 10, 11, 1]  # a control token's text is not the token
    assert tok.ids("") == [1]
    assert tok.encode("ab")[-1].text == "</s>" and tok.token_text(1) == "</s>"
    assert tok.decode([4, 5, 1]) == "ab" and tok.decode([4, 5, 1], skip_special=False) == "ab</s>"


def test_ugm_keeps_spaces(tmp_path):
    tok = ugm_vocab(tmp_path, add_space_prefix=True, remove_extra_whitespaces=False)
    assert tok.ids(" ") == [3, 1]  # no prefix before nothing
    assert tok.ids(" ab") == [3, 4, 5, 1]


def test_ugm_equals_trained_unigram(tmp_path):
    """A Unigram model trained here, as a GGUF t5 vocabulary, against the trained object where the two
    agree: no leading, trailing or repeated spaces (Metaspace splits at each), no special token's text
    (tokenizers cuts it out; llama.cpp does not without special=true)."""
    from tokenizers import models, pre_tokenizers, trainers

    ref = tokenizers.Tokenizer(models.Unigram())
    ref.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=800, special_tokens=["<pad>", "</s>", "<unk>"],
                                      unk_token="<unk>", show_progress=False)
    ref.train_from_iterator(TEXTS, trainer)
    pieces = json.loads(ref.to_str())["model"]["vocab"]
    types = [3, 3, 2] + [1] * (len(pieces) - 3)
    tok = tokenizer(write_vocab(tmp_path / "uni.gguf", "t5", [p for p, _ in pieces], types,
                                [s for _, s in pieces], add_space_prefix=True, eos_token_id=1,
                                unk_token_id=2))
    # The file holds float32 scores (so does llama.cpp); near-ties must be broken on the same numbers.
    ref.model = models.Unigram([(p, float(np.float32(s))) for p, s in pieces], unk_id=2)
    # …nor a NUL (llama.cpp reads tokens as C strings: a "\x00" piece is "[EMPTY_<id>]" to it and us),
    # nor a literal "▁" (Metaspace then skips its prefix; llama.cpp counts only " " as a space).
    plain = [t for t in TEXTS if "  " not in t and t.strip(" ") == t
             and not any(s in t for s in ("<pad>", "</s>", "<unk>", "\x00", "▁"))]
    assert len(plain) > 100
    for text in plain:
        assert tok.ids(text, add_special=False) == ref.encode(text).ids, text


# --- errors -------------------------------------------------------------------------------------------

def test_unsupported_types_are_named(tmp_path):
    with pytest.raises(UnsupportedError, match="'rwkv'"):
        tokenizer(write_vocab(tmp_path / "rwkv.gguf", "rwkv", ["a", "b"]))
    # superbpe splits with an empty-match expression in llama.cpp: refused, the reason named
    with pytest.raises(UnsupportedError, match=r"'superbpe'.*empty-match"):
        tokenizer(write_vocab(tmp_path / "sb.gguf", "gpt2", ["a", "b", "ab"], merges=["a b"], pre="superbpe"))
    with pytest.raises(UnsupportedError, match="'no-such'"):
        tokenizer(write_vocab(tmp_path / "x.gguf", "gpt2", ["a", "b", "ab"], merges=["a b"], pre="no-such"))


def test_sources_without_a_tokenizer(tmp_path):
    with pytest.raises(SourceError, match="no tokenizer"):
        tokenizer("llama-3.1-8b")
    w = GGUFWriter(tmp_path / "bare.gguf", "llama")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(UnsupportedError, match="carries no vocabulary"):
        tokenizer(tmp_path / "bare.gguf")


def test_parse_ids():
    assert parse_ids("2,818, 3823") == parse_ids("[2 818 3823]") == [2, 818, 3823]
    with pytest.raises(TokenIdError, match="x"):
        parse_ids("2,x")
    with pytest.raises(TokenIdError):
        parse_ids(" , ")


def test_read_text(tmp_path):
    (tmp_path / "ok.txt").write_bytes("héllo".encode())
    (tmp_path / "bad.txt").write_bytes(b"ab\xffc")
    assert read_text(tmp_path / "ok.txt") == "héllo"
    with pytest.raises(SourceError, match="byte 0xff at offset 2"):
        read_text(tmp_path / "bad.txt")
    with pytest.raises(SourceError, match="cannot read"):
        read_text(tmp_path / "missing.txt")


def test_tokenizers_not_imported_by_other_paths():
    code = ("import sys, paramscope.tokenize, paramscope.cli.tokens_cmd; "
            "print('tokenizers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- the command, through an argparse harness (the command is registered in cli/app.py) ----------------

def cli(capsys, monkeypatch, *argv: str, stdin: str | None = None) -> tuple[int, str]:
    from paramscope.cli import tokens_cmd

    p = argparse.ArgumentParser()
    tokens_cmd.configure(p)
    p.add_argument("--json", action="store_true", dest="as_json")
    if stdin is not None:
        import io

        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    code = tokens_cmd.run(p.parse_args(list(argv)))
    return code, capsys.readouterr().out


def test_cli_json(capsys, monkeypatch, gemma_gguf):
    code, out = cli(capsys, monkeypatch, str(gemma_gguf), FOX, "--json")
    data = json.loads(out)
    assert code == 0 and data["count"] == 11
    assert data["tokens"][:2] == [{"id": 2, "text": "<bos>", "start": 0, "end": 0},
                                  {"id": 818, "text": "The", "start": 0, "end": 3}]
    assert data["chars_per_token"] == pytest.approx(44 / 10)


def test_cli_human(capsys, monkeypatch, gemma_gguf):
    code, out = cli(capsys, monkeypatch, str(gemma_gguf), "a  b\tc 𓀀")
    assert code == 0
    assert "a··b→c·𓀀⟨F0 93 80 80⟩" in out  # spaces, tab and byte-fallback bytes made visible
    assert "<0xF0>" in out and "11 tokens" in out


def test_cli_count_file_stdin_and_ids(capsys, monkeypatch, gemma_gguf, minilm_dir, tmp_path):
    (tmp_path / "doc.txt").write_text(FOX, encoding="utf-8")
    doc = str(tmp_path / "doc.txt")
    assert cli(capsys, monkeypatch, str(gemma_gguf), "--file", doc, "--count") == (0, "11\n")
    assert cli(capsys, monkeypatch, str(minilm_dir), "--count", stdin="hello world\n") == (0, "4\n")
    _, out = cli(capsys, monkeypatch, str(gemma_gguf), FOX, "--count", "--json", "--no-special")
    assert json.loads(out)["count"] == 10 and json.loads(out)["chars_per_token"] == pytest.approx(4.4)
    _, out = cli(capsys, monkeypatch, str(gemma_gguf), "--ids", "2,818,3823,8864", "--json")
    data = json.loads(out)
    assert data["text"] == "The quick brown" and data["tokens"][1] == {"id": 818, "text": "The"}
    _, out = cli(capsys, monkeypatch, str(gemma_gguf), "--ids", "2,818,3823,8864")
    assert "The quick brown" in out and "▁quick" in out


def test_cli_errors(capsys, monkeypatch, gemma_gguf, tmp_path):
    (tmp_path / "doc.txt").write_text("x", encoding="utf-8")
    with pytest.raises(UsageError, match="not both"):
        cli(capsys, monkeypatch, str(gemma_gguf), "text", "--file", str(tmp_path / "doc.txt"))
    with pytest.raises(TokenIdError):
        cli(capsys, monkeypatch, "no-such-model", "--ids", "1,two")  # fails before opening the model
    with pytest.raises(ParamscopeError):
        cli(capsys, monkeypatch, str(gemma_gguf), "--ids", "999999999")
