"""paramscope's GGUF tokenizer against llama.cpp itself, on every vocabulary-only GGUF llama.cpp ships
(models/ggml-vocab-*.gguf of the llama-cpp-python 0.3.36 sdist, fetched by tools/fetch_models.py):

- llama.cpp's own test vectors (.gguf.inp / .gguf.out, tests/test-tokenizer-0.cpp: add_special and
  parse_special false) where the vocabulary has them;
- tests/fixtures/llamacpp_vocab_ids.json: generated texts with the IDs the live llama.cpp gave
  (``Llama.tokenize(text, add_bos=True, special=False)``), recorded by bench/make_vocab_fixture.py;
- tests/fixtures/llamacpp_pre_ids.json: one name of every byte-level pre-tokenizer behaviour on the
  llama-bpe vocabulary, recorded by bench/llamacpp_pre_sweep.py --record.

Nothing here imports llama_cpp. A vocabulary paramscope cannot tokenize yet is listed in UNSUPPORTED
with the reason, and must then be refused with an error rather than give other IDs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import paramscope
from paramscope.errors import UnsupportedError
from paramscope.tokenize import Tokenizer, tokenizer_for
from paramscope.tokenize.bpe_pre import PRE_NAMES
from paramscope.tokenize.gguf_models import bpe_pre_tokenizer

FIXTURE = Path(__file__).parent / "fixtures" / "llamacpp_vocab_ids.json"
RECORDED = json.loads(FIXTURE.read_text(encoding="utf-8"))
SEP = b"\n__ggml_vocab_test__\n"
# The vocabularies of the archive (checked against the fetched folder below, so a new one is noticed).
VOCABS = ["aquila", "baichuan", "bert-bge", "command-r", "deepseek-coder", "deepseek-llm", "falcon",
          "gemma-4", "gpt-2", "gpt-neox", "llama-bpe", "llama-spm", "mpt", "nomic-bert-moe", "phi-3", "qwen2",
          "qwen35", "refact", "starcoder"]
WITH_VECTORS = ["bert-bge", "command-r", "deepseek-coder", "deepseek-llm", "falcon", "gemma-4", "gpt-2",
                "llama-bpe", "llama-spm", "mpt", "phi-3", "qwen2", "qwen35", "refact", "starcoder"]
UNSUPPORTED: dict[str, str] = {}  # vocabulary → why (none today)
SPM = ["baichuan", "llama-spm", "phi-3"]  # the "llama" ones, which the CLI runs on a restricted engine



def build(folder: Path, name: str) -> Tokenizer:
    return paramscope.tokenizer(folder / f"ggml-vocab-{name}.gguf")


def read_vectors(folder: Path, name: str) -> list[tuple[str, list[int]]]:
    """test-tokenizer-0.cpp's read_tests: inputs split at the marker (none after a last one), one line
    of IDs per input."""
    path = folder / f"ggml-vocab-{name}.gguf"
    inputs = Path(f"{path}.inp").read_bytes().split(SEP)
    if inputs and not inputs[-1]:
        inputs.pop()
    outputs = Path(f"{path}.out").read_text(encoding="utf-8").splitlines()
    assert len(inputs) == len(outputs)
    return [(i.decode("utf-8"), [int(x) for x in o.split()]) for i, o in zip(inputs, outputs, strict=True)]


def differences(tok: Tokenizer, cases: list[tuple[str, list[int]]], add_special: bool) -> list[tuple]:
    return [(text, got, want) for text, want in cases if (got := tok.ids(text, add_special)) != want]


def test_every_vocabulary_is_covered(llamacpp_vocabs):
    assert sorted(p.name[len("ggml-vocab-"):-len(".gguf")] for p in llamacpp_vocabs.glob("*.gguf")) == VOCABS
    assert sorted(p.name[len("ggml-vocab-"):-len(".gguf.inp")] for p in llamacpp_vocabs.glob("*.inp")) \
        == WITH_VECTORS
    assert sorted(n[len("ggml-vocab-"):-len(".gguf")] for n in RECORDED["ids"]) == VOCABS


@pytest.mark.parametrize("name", VOCABS)
def test_ids_equal_llamacpp(llamacpp_vocabs, name):
    """Both checks of one vocabulary in one test, so that it is built once (up to 262k tokens)."""
    if name in UNSUPPORTED:
        with pytest.raises(UnsupportedError) as e:
            build(llamacpp_vocabs, name)
        assert "\n" not in str(e.value)
        return
    tok = build(llamacpp_vocabs, name)
    if name in WITH_VECTORS:
        assert differences(tok, read_vectors(llamacpp_vocabs, name), add_special=False) == []
    recorded = list(zip(RECORDED["texts"], RECORDED["ids"][f"ggml-vocab-{name}.gguf"], strict=True))
    assert differences(tok, recorded, add_special=True) == []


@pytest.mark.parametrize("name", SPM)
def test_restricted_engine_equals_llamacpp(llamacpp_vocabs, name, tmp_path, monkeypatch):
    """The command line's path for SPM vocabularies (a cached vocabulary, an engine over what the text
    can reach) gives llama.cpp's IDs on its test vectors too."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = llamacpp_vocabs / f"ggml-vocab-{name}.gguf"
    vectors = read_vectors(llamacpp_vocabs, name) if name in WITH_VECTORS else []
    cases = [(t, ids, False) for t, ids in vectors]
    cases += [(t, ids, True) for t, ids in zip(RECORDED["texts"], RECORDED["ids"][path.name], strict=True)]
    wrong = [(t, got, ids) for t, ids, special in cases[::4]
             if (got := tokenizer_for(path, text=t).ids(t, special)) != ids]
    assert wrong == []


PRE_FIXTURE = json.loads((FIXTURE.parent / "llamacpp_pre_ids.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def llama_bpe(llamacpp_vocabs) -> Tokenizer:
    return build(llamacpp_vocabs, "llama-bpe")


@pytest.mark.xdist_group("llamacpp-pre")  # one worker builds the llama-bpe engine once for all of them
@pytest.mark.parametrize("pre", sorted(PRE_FIXTURE["ids"]))
def test_every_pre_tokenizer_equals_llamacpp(llama_bpe, pre):
    """One name of each byte-level pre-tokenizer behaviour (expressions, ignore_merges), as llama.cpp
    runs it on the llama-bpe vocabulary with tokenizer.ggml.pre set to that name
    (bench/llamacpp_pre_sweep.py --record): only the pre-tokenizer and ignore_merges differ between
    them, so the one built engine is reused with those swapped."""
    engine = llama_bpe.engine
    spec = PRE_NAMES[pre]
    saved = engine.pre_tokenizer, engine.model.ignore_merges
    engine.pre_tokenizer, engine.model.ignore_merges = bpe_pre_tokenizer(spec), spec.ignore_merges
    try:
        cases = zip(PRE_FIXTURE["texts"], PRE_FIXTURE["ids"][pre], strict=True)
        assert differences(llama_bpe, list(cases), add_special=False) == []
    finally:
        engine.pre_tokenizer, engine.model.ignore_merges = saved
