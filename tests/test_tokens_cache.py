"""The fast path of `paramscope tokens`: an SPM engine over the part of the vocabulary a text can reach
(``tokenize.restricted``), from a vocabulary kept between runs (``tokenize.cache``).

The reference is the full engine (``tokenize.tokenizer``, itself checked against llama.cpp's IDs in
test_tokens.py): the restricted one must give the same IDs, offsets, spellings, counts and decodings on
Gemma 3's real vocabulary and on generated ones, and its merges must be exactly ``spm_merges``'s, in
the same order, among the tokens it keeps.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("tokenizers")

from gguf import GGUFWriter

from paramscope.formats import open_model
from paramscope.tokenize import cache, restricted, tokenizer, tokenizer_for
from paramscope.tokenize.gguf_vocab import read_vocab
from paramscope.tokenize.spm import spm_merges

FIXTURE = Path(__file__).parent / "fixtures" / "gemma_llamacpp_ids.json"
TEXTS = [c["text"] for c in json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"]]
BYTES = [f"<0x{b:02X}>" for b in range(256)]
# characters that exercise every path: spaces and their runs (user-defined in Gemma), line breaks, tabs,
# accents, CJK, emoji (byte fallback), markup that Gemma holds as user tokens
ALPHABET = st.sampled_from([*"aeinrst THE.,!?'\"-\n\t\r0123", "  ", "\n\n", "é", "ß", "中文", "日本", "🙂",
                            "𓀀", "<b>", "</b>", "ü", "Ω"])
TEXT = st.lists(ALPHABET, max_size=40).map("".join)


@pytest.fixture(autouse=True)
def own_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg"))


@pytest.fixture(scope="session")
def gemma_full(gemma_tokenizer):
    return gemma_tokenizer


@pytest.fixture(scope="session")
def gemma_vocab(gemma_gguf, tmp_path_factory):
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.getbasetemp() / "xdg")
    tokenizer_for(gemma_gguf, text="x")  # fills the cache
    v = cache.load(gemma_gguf)
    assert v is not None
    return v


def same(full, fast, text: str) -> None:
    for special in (True, False):
        assert fast.encode(text, special) == full.encode(text, special), text
    ids = full.ids(text)
    assert fast.decode(ids) == full.decode(ids)
    assert fast.count(text) == full.count(text)
    assert fast.vocab_size == full.vocab_size and fast.kinds == full.kinds


def test_gemma_fixture_texts(gemma_full, gemma_vocab):
    for text in TEXTS:
        same(gemma_full, restricted.build(gemma_vocab, text), text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(TEXT)
def test_gemma_generated_texts(gemma_full, gemma_vocab, text):
    same(gemma_full, restricted.build(gemma_vocab, text), text)


def test_merges_are_spm_merges_restricted(gemma_gguf, gemma_vocab):
    """The kept merges, in order, are exactly the full list's merges among the kept tokens."""
    vocab = read_vocab(open_model(gemma_gguf))
    full = spm_merges(vocab.tokens, vocab.scores, vocab.ids)
    texts = [*TEXTS[:40], "Hello, world", "The quick brown fox jumps over the lazy dog."]
    reaches = [{s: vocab.ids[s] for s in restricted.candidates(text, gemma_vocab.longest, False)
                if s in vocab.ids} for text in texts]
    # the full list's merges whose two sides some text reaches, in order: a merge outside them is in no
    # text's answer, and one pass over the 500k merges is enough (not one per text)
    union = set().union(*reaches)
    some = [(a, b) for a, b in full if a in union and b in union]
    for text, reach in zip(texts, reaches, strict=True):
        assert restricted.merges(reach, gemma_vocab) == [(a, b) for a, b in some if a in reach
                                                         and b in reach and a + b in reach], text


def test_decoding_ids_needs_no_text(gemma_gguf, gemma_full):
    ids = [2, 818, 3823, 8864, 37423, 236743, 255999, 1]
    fast = tokenizer_for(gemma_gguf, ids=ids)
    assert fast.decoded(ids) == gemma_full.decoded(ids)


def spm_vocab(path: Path, scores: list[float], add_space_prefix: bool) -> Path:
    """A small SPM vocabulary with ties in its scores, a user-defined token and duplicates."""
    pieces = ["a", "b", "c", "ab", "bc", "abc", "▁", "▁a", "▁b", "ca", "aa", "▁ab", "cab", "a"]
    tokens = ["<unk>", "<s>", "</s>", *BYTES, *pieces, "<u>"]
    types = [2, 3, 3] + [6] * 256 + [1] * len(pieces) + [4]
    w = GGUFWriter(path, "llama")
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_scores([0.0] * 259 + scores[:len(pieces)] + [0.0])
    w.add_add_space_prefix(add_space_prefix)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from([-1.0, -2.0, -3.0, -5.0]), min_size=14, max_size=14),
       st.booleans(), st.lists(st.text("abc <u>é", max_size=12), min_size=1, max_size=5))
def test_generated_vocabularies(tmp_path, scores, prefix, texts):
    path = spm_vocab(tmp_path / f"v{hash((tuple(scores), prefix)) & 0xFFFF}.gguf", scores, prefix)
    full = tokenizer(open_model(path))
    for text in texts:
        same(full, tokenizer_for(path, text=text), text)


def test_cache_entry_checks(gemma_gguf, gemma_vocab, tmp_path):
    # gemma_vocab fills the cache here, whichever tests ran before on this worker (pytest-xdist)
    vocab = cache.load(gemma_gguf) or pytest.fail("not cached")
    assert vocab.size == 262_144 and vocab.token(818) == "The" and vocab.id_of("The") == 818
    folder = cache.cache_root() / cache.identity(gemma_gguf)
    assert sorted(p.name for p in folder.iterdir()) == sorted(["meta.json", *cache.FILES])
    # an altered entry is not trusted: rebuilt on next use
    data = (folder / "scores.f32").read_bytes()
    (folder / "scores.f32").write_bytes(data[:-4])
    assert cache.load(gemma_gguf) is None
    (folder / "scores.f32").write_bytes(data)
    assert cache.load(gemma_gguf) is not None
    # a changed file is a new entry
    copy = tmp_path / "copy.gguf"
    copy.write_bytes(Path(gemma_gguf).read_bytes()[:4096])
    before = cache.identity(copy)
    os.utime(copy, ns=(1, 1))
    assert cache.identity(copy) != before


def test_unwritable_cache_still_answers(gemma_gguf, tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    monkeypatch.setenv("XDG_CACHE_HOME", str(ro / "sub"))
    try:
        tok = tokenizer_for(gemma_gguf, text="Hello")
        assert tok.ids("Hello") == [2, 9259]
    finally:
        ro.chmod(0o700)


def test_other_sources_use_the_full_tokenizer(minilm_dir):
    tok = tokenizer_for(minilm_dir, text="hello world")
    assert tok is tokenizer(minilm_dir)
    long = "word " * (restricted.LONGEST_TEXT // 5 + 1)
    assert tokenizer_for(str(minilm_dir), text=long) is tokenizer(minilm_dir)
