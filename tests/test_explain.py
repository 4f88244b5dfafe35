"""``paramscope explain``: every figure of the tour equals what its origin reports, read again here from
the command's own JSON (``paramscope.<command>(source, **options).to_json()``), the training-token CSV,
numpy's and gguf-py's type sizes, and the gguf / safetensors libraries' decoding of the same bytes; and
every number in the prose is a placeholder filled from a figure."""

from __future__ import annotations

import csv
import io
import json
import re
import string
import subprocess
import sys
from importlib import resources
from typing import Any

import numpy as np
import pytest

import paramscope
from paramscope.errors import ParamscopeError

# (id, source fixture or catalogue name); the real files are slow fixtures (conftest)
# One worker runs this module (under pytest-xdist), so each tour and command is computed once a run (the
# fixtures below keep them); it is the worker of the session's gguf-py reader of the Gemma file
# (conftest.py), which the Gemma case reads (_reference_first_values)
pytestmark = pytest.mark.xdist_group("gguf-reader")

SOURCES = [("gemma", "gemma_gguf"), ("minilm", "minilm_dir"), ("llama-3.1-70b", None),
           ("mixtral-8x7b", None)]


@pytest.fixture(scope="module")
def command_json():
    """The underlying commands, each run once per (source, command, options) for the whole module."""
    cache: dict[str, Any] = {}

    def run(source: str, command: str, options: dict[str, Any]) -> Any:
        key = json.dumps([source, command, options], sort_keys=True)
        if key not in cache:
            try:
                cache[key] = getattr(paramscope, command)(source, **options).to_json()
            except ParamscopeError as e:
                cache[key] = e
        return cache[key]
    return run


@pytest.fixture(scope="module")
def tours(request):
    return {}


def _source(request, fixture: str | None, name: str) -> str:
    return str(request.getfixturevalue(fixture)) if fixture else name


def _tour(request, tours, name: str, fixture: str | None):
    if name not in tours:
        source = _source(request, fixture, name)
        tours[name] = (source, paramscope.explain(source))
    return tours[name]


def _walk(value: Any, origin: dict[str, Any]) -> Any:
    for step in origin["path"]:
        value = value[step]
    if origin.get("keys"):
        return list(value)
    if "each" in origin:
        return [item[origin["each"]] for item in value]
    return value


def _training_rows() -> dict[str, dict[str, str]]:
    text = (resources.files("paramscope.knowledge.catalogue") / "training.csv").read_text(encoding="utf-8")
    return {r["config"]: r for r in csv.DictReader(io.StringIO(text))}


def _reference_type_field(dtype: str, field: str) -> int:
    """Block and byte sizes from outside paramscope: numpy for plain types, gguf-py for ggml types."""
    import gguf

    plain = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32,
             "I16": np.int16, "I8": np.int8, "U8": np.uint8}
    if dtype in plain:
        return 1 if field == "block_size" else np.dtype(plain[dtype]).itemsize
    if dtype == "BF16":
        return 1 if field == "block_size" else 2
    block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[dtype]]
    return block if field == "block_size" else size


def _reference_first_values(request, source: str, tensor: str, n: int) -> list[float]:
    """The tensor's first values decoded by the gguf library, or read by the safetensors library."""
    from pathlib import Path

    path = Path(source)
    if path.suffix == ".gguf":
        import gguf
        from gguf.quants import dequantize

        # the session's reader of the Gemma file (building one takes seconds), else a new one
        reader = (request.getfixturevalue("gemma_gguf_reference")
                  if path == Path(request.getfixturevalue("gemma_gguf")) else gguf.GGUFReader(path))
        t = next(t for t in reader.tensors if t.name == tensor)
        # gguf-py decodes rows whole: the first rows that hold n values (not all 168 M of the embedding)
        rows = t.data.reshape(-1, t.data.shape[-1])
        first = rows[: -(-n // int(t.shape[0]))]
        return [float(v) for v in dequantize(first, t.tensor_type).reshape(-1)[:n]]
    from safetensors.numpy import load_file

    for f in sorted(path.glob("*.safetensors")):
        arrays = load_file(f)
        if tensor in arrays:
            return [float(v) for v in arrays[tensor].reshape(-1)[:n]]
    raise AssertionError(f"{tensor} not found in {source}")


@pytest.mark.parametrize(("name", "fixture"), SOURCES, ids=[s[0] for s in SOURCES])
def test_every_figure_equals_its_origin(request, tours, command_json, name, fixture):
    source, result = _tour(request, tours, name, fixture)
    out = json.loads(json.dumps(result.to_json()))
    checked = 0
    for section in out["sections"]:
        figures = section["figures"]
        for key, origin in section["origins"].items():
            value = figures[key]
            if "command" in origin:
                got = command_json(source, origin["command"], origin["options"])
                if origin.get("error"):
                    assert isinstance(got, ParamscopeError) and str(got) == value, key
                else:
                    assert value == _walk(json.loads(json.dumps(got)), origin), (section["key"], key)
            elif "formula" in origin:
                if value is not None:
                    assert value == eval(origin["formula"], {"__builtins__": {}}, figures), key
            elif "table" in origin:
                row = _training_rows()[origin["key"]]
                expected = row["config"].removesuffix(".json") if origin["field"] == "config" else \
                    row[origin["field"]]
                assert str(value) == expected, key
            elif "dtype" in origin:
                assert value == _reference_type_field(origin["dtype"], origin["field"]), key
            elif "decode" in origin:
                ref = _reference_first_values(request, source, origin["decode"], origin["count"])
                assert (value == ref) if key == "first_values" else (value == len(ref)), key
            elif "request" in origin:
                assert value == result.request.text
            else:
                raise AssertionError(f"{key}: unknown origin {origin}")
            checked += 1
    assert checked > 40


@pytest.mark.parametrize(("name", "fixture"), SOURCES, ids=[s[0] for s in SOURCES])
def test_prose_numbers_are_placeholders(request, tours, name, fixture):
    """Between placeholders a template has no digits but in the names of formats (fp16, Q4_K_M,
    32-bit) and of percentiles (1st–99th), so every number printed comes from a figure."""
    _, result = _tour(request, tours, name, fixture)
    names = re.compile(r"fp32|fp16|bf16|\b(?:32|16|4)-bit|Q4_K_M|1st|99th")
    for section in result.sections:
        assert len(section.templates) == len(section.paragraphs) > 0
        for template in section.templates:
            literal = "".join(text for text, *_ in string.Formatter().parse(template))
            assert not re.search(r"\d", names.sub("", literal)), (section.key, template)


@pytest.mark.slow  # reads the real Gemma file (through request.getfixturevalue)
def test_sections_by_source(request, tours):
    _, gemma = _tour(request, tours, "gemma", "gemma_gguf")
    _, llama = _tour(request, tours, "llama-3.1-70b", None)
    _, mixtral = _tour(request, tours, "mixtral-8x7b", None)
    keys = [s.key for s in gemma.sections]
    assert keys == ["parameters", "where", "largest", "values", "storage", "memory", "tokens", "training"]
    assert "values" not in [s.key for s in llama.sections]  # a config has no weights to read
    # the GGUF file is matched to the catalogue by general.basename + general.size_label
    training = gemma.section("training").figures
    assert training["matched"].value == "gemma-3-270m"
    assert training["training_tokens"].value == 6 * 10**12
    assert llama.section("training").figures["training_tokens"].value == 15 * 10**12
    # no published count for Mixtral: only Chinchilla's rule, and N is the active count
    mix = mixtral.section("training").figures
    assert "training_tokens" not in mix
    active = mixtral.section("where").figures["active_params"].value
    assert mix["n"].value == active < mix["total_params"].value
    assert "tokenizer" in mixtral.section("tokens").paragraphs[0]


def test_levels_change_words_not_figures(gemma_gguf):
    a = paramscope.explain(str(gemma_gguf), level="beginner", values=False).to_json()
    b = paramscope.explain(str(gemma_gguf), level="expert", values=False).to_json()
    assert [s["figures"] for s in a["sections"]] == [s["figures"] for s in b["sections"]]
    assert [s["text"] for s in a["sections"]] != [s["text"] for s in b["sections"]]


def test_training_table_rows_are_catalogue_models():
    from paramscope.knowledge import catalogue

    files = {e.file for e in catalogue.entries()}
    rows = _training_rows()
    assert rows and set(rows) <= files
    for r in rows.values():
        assert None not in r, r  # a comma in an unquoted field
        assert int(r["tokens"]) >= 10**12 and r["source"].startswith("https://") and r["stated"]
    # unpublished counts stay out rather than guessed
    assert not {"Mistral-7B-v0.1.json", "Mixtral-8x7B-v0.1.json", "gpt2.json"} & set(rows)


def test_cli_text_fits_80_columns(gemma_gguf):
    import os

    done = subprocess.run([sys.executable, "-m", "paramscope", "explain", str(gemma_gguf)],
                          capture_output=True, text=True, timeout=300,
                          env=os.environ | {"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    train = paramscope.explain(str(gemma_gguf), values=False).section("training").figures
    formula = f"{train['flops_factor'].value:g} × {train['n'].value:,} × {train['tokens'].value:,}"
    assert formula in " ".join(line.strip() for line in lines)


def test_bad_level_is_one_line():
    done = subprocess.run([sys.executable, "-m", "paramscope", "explain", "llama-3.1-8b", "--level", "guru"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stderr.startswith("Error:") and len(done.stderr.splitlines()) == 1
    with pytest.raises(ParamscopeError):
        paramscope.explain("llama-3.1-8b", level="guru")


def test_first_values_match_gguf_across_blocks(gemma_gguf, gemma_gguf_reference):
    """For one tensor of each stored type, the first 300 values (more than one 256-value k-quant
    block, several 32-value blocks) equal gguf-py's dequantization of the tensor's first rows (a block
    never spans two rows: the same values as its first rows of the whole tensor, without decoding the
    embedding's 168M values)."""
    from gguf.quants import dequantize

    from paramscope.analyses.values.sample import first_values
    from paramscope.formats import open_model
    from paramscope.sources.mapped import MappedFiles

    model = open_model(gemma_gguf)
    ref = {t.name: t for t in gemma_gguf_reference.tensors}
    seen = set()
    with MappedFiles() as files:
        for t in model.tensors:
            if t.dtype in seen:
                continue
            seen.add(t.dtype)
            r = ref[t.name]
            rows = r.data.reshape(-1, r.data.shape[-1])
            expected = dequantize(rows[:300], r.tensor_type).reshape(-1)[:300]
            got = first_values(t, files, 300)
            assert np.array_equal(np.array(got, dtype=np.float32), expected), t.name
    assert len(seen) >= 4


@pytest.mark.slow  # runs long: the CLI in a subprocess
def test_pickle_that_could_run_code_exits_2(tmp_path):
    """A bare pickle with no parameters and no architecture: the tour says what cannot be answered, in
    one line per section, and the exit status is the safety verdict's, as for `inspect`."""
    from builders.pickle_files import G, R, dumps

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(dumps(R(G("os", "system"), ("true",))))
    result = paramscope.explain(str(evil))
    assert result.exit_code == paramscope.inspect(str(evil)).exit_code == 2
    assert result.section("storage").figures["pickle_could_run_code"].value is True
    assert "error" in result.section("memory").figures and "error" in result.section("training").figures
    done = subprocess.run([sys.executable, "-m", "paramscope", "explain", str(evil)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and done.stderr == "" and "os.system" in done.stdout
