"""Hostile inputs through every command that reads a file: the findings of the fuzzing campaign
(tools/fuzz_readers.py) kept as minimized regression cases, and the campaign's structure-aware mutators
(builders/fuzz_inputs.py) run under hypothesis.

Each command runs in a forked child with its address space capped and a deadline that only catches a
hang (builders/fuzz_run.py), and is judged by docs/cli.md: exit 0, 1 or 2; on 1 exactly one
``Error: …`` line on stderr naming the file; never a traceback or the bug status 70; with ``--json`` a
JSON document on stdout, ``{"error": "…"}`` when the command fails. The fast part is deterministic (the
``ci`` hypothesis profile derandomizes); the long runs over the real files are marked slow.
"""

from __future__ import annotations

import json
import math
import random
import struct
from pathlib import Path

import numpy as np
import pytest
from gguf.constants import GGUFValueType as V
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import fuzz_inputs as fi
from builders.fuzz_run import problems, run
from builders.gguf_files import write_gguf
from builders.safetensors_files import write_safetensors
from paramscope.errors import HeaderError
from paramscope.formats import gguf

LLAMA_KV = {"llama.block_count": (1, V.UINT32, None), "llama.embedding_length": (8, V.UINT32, None),
            "llama.attention.head_count": (2, V.UINT32, None)}
ONE_TENSOR = [("token_embd.weight", np.ones((4, 8), np.float32), None)]
CONFIG = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64,
          "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
          "num_key_value_heads": 2, "vocab_size": 100, "max_position_embeddings": 256}
# every command that reads a model source, with the options it needs
SOURCE_COMMANDS = [["inspect"], ["inspect", "--tensors"], ["inspect", "--layers"], ["size"],
                   ["fit", "--gpu", "h100"], ["train"], ["stats"], ["quantize-error"], ["explain"],
                   ["tokens", "{f}", "hi"]]


def argv(cmd: list[str], f: Path, *extra: str) -> list[str]:
    return [cmd[0], *([c.format(f=f) for c in cmd[1:]] if "{f}" in cmd else [str(f), *cmd[1:]]), *extra]


def assert_contract(args: list[str], *names: str) -> int:
    o = run(args)
    assert problems(o, names) == [], (args, o.code, o.err[-2000:])
    return o.code  # type: ignore[return-value]


# --- --json errors on every command ---------------------------------------------------------------------


def test_json_errors_on_every_command(tmp_path: Path) -> None:
    """Found blind: with --json a failing command printed nothing on stdout (the error went to stderr
    only), so a script parsing stdout met an empty document. Now {"error": "one line"} as the web API."""
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00")
    good = write_gguf(tmp_path / "ok.gguf", ONE_TENSOR, kv=LLAMA_KV)
    for cmd in [*SOURCE_COMMANDS, ["diff", "{f}", str(good)]]:
        args = argv(cmd, bad, "--json")
        o = run(args)
        assert o.code == 1 and problems(o, (bad.name,)) == [], (args, o.code, o.out, o.err)
        assert json.loads(o.out)["error"] == o.err.removeprefix("Error: ").rstrip("\n")
    for args in (["ls", str(tmp_path / "none"), "--json"], ["scan", str(tmp_path / "none"), "--json"],
                 ["size", "no-such-model-anywhere", "--json"], ["inspecct", str(bad), "--json"]):
        o = run(args)
        assert o.code == 1 and problems(o) == [] and set(json.loads(o.out)) == {"error"}, args


def test_json_error_only_with_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF")
    o = run(["inspect", str(bad)])
    assert o.code == 1 and o.out == "" and o.err.startswith(f"Error: {bad}: ")
    o = run(["tokens", str(bad), "--", "--json"])  # text after --, not the option
    assert o.code == 1 and o.out == ""


# --- config.json: minimized findings ----------------------------------------------------------------


@pytest.mark.parametrize(("change", "fragment"), [
    # found blind: a number of 4,400 digits is ValueError in json.loads (CPython's int_max_str_digits),
    # not JSONDecodeError, and escaped config_json.parse as "internal error" (exit 70)
    ('"hidden_size": ' + "9" * 4400, "not valid JSON (found Exceeds the limit (4300 digits)"),
    ('"vocab_size": -' + "1" * 5000, "not valid JSON"),
    # found blind: model_type as a list reached a set lookup in the family table (TypeError, exit 70)
    ('"model_type": ["llama"]', "field 'model_type' must be a string"),
    ('"model_type": {"a": 1}', "field 'model_type' must be a string"),
    ('"architectures": 7', "field 'architectures' must be a list of class names"),
    ('"architectures": ["LlamaForCausalLM", 3]', "'architectures' must be a list of class names"),
    ('"text_config": {"model_type": [1]}', "field text_config.'model_type' must be a string"),
])
def test_config_findings(tmp_path: Path, change: str, fragment: str) -> None:
    text = json.dumps(CONFIG)
    key = change.split(":")[0]
    body = text[1:-1] if key.strip('"') not in CONFIG else ", ".join(
        p for p in text[1:-1].split(", ") if not p.startswith(key))
    for folder, name in ((tmp_path, "config.json"), (tmp_path / "dir", "config.json")):
        folder.mkdir(exist_ok=True)
        path = folder / name
        path.write_text("{" + body + ", " + change + "}")
        if folder.name == "dir":
            write_safetensors(folder / "model.safetensors", {"model.embed_tokens.weight": ("F16", [100, 64])})
        for cmd in (["inspect"], ["size"], ["fit", "--gpu", "h100"], ["train"], ["explain"]):
            target = path if folder == tmp_path else folder
            o = run(argv(cmd, target, "--json"))
            assert o.code == 1 and problems(o, (str(path),)) == [], (cmd, o.err)
            assert fragment in o.err, (cmd, o.err)


def test_config_with_numbers_json_allows_and_python_reads() -> None:
    """NaN, Infinity and 1e999 parse (Python's json, like transformers' loader, takes them): a field that
    must be a whole number then refuses them in one line, the families' own check."""
    for raw in ("NaN", "Infinity", "-Infinity", "1e999"):
        text = json.dumps(CONFIG).replace('"hidden_size": 64', f'"hidden_size": {raw}')
        path = Path(f"/tmp/fuzz-cfg-{raw}.json")
        try:
            path.write_text(text)
            assert_contract(["size", str(path), "--json"], path.name)
        finally:
            path.unlink(missing_ok=True)


# --- GGUF metadata kinds: minimized findings ------------------------------------------------------------


@pytest.mark.parametrize(("key", "value", "fragment"), [
    # each found blind (exit 70 in diff, tokens, fit, train, explain or quantize-error), minimized
    ("tokenizer.ggml.tokens", (2**40, V.UINT64, None), "'tokenizer.ggml.tokens' must be an array of strings"),
    ("tokenizer.ggml.tokens", (1e38, V.FLOAT32, None), "must be an array of strings"),
    ("tokenizer.ggml.model", (-math.inf, V.FLOAT32, None), "'tokenizer.ggml.model' must be a string"),
    ("tokenizer.ggml.model", (["a", "b"], V.ARRAY, V.STRING), "must be a string (found arr)"),
    ("tokenizer.ggml.pre", ([1, 2], V.ARRAY, V.UINT32), "'tokenizer.ggml.pre' must be a string"),
    ("tokenizer.ggml.token_type", (0, V.UINT32, None), "must be an array of integers"),
    ("general.file_type", (-math.inf, V.FLOAT32, None), "'general.file_type' must be a whole number"),
    ("llama.context_length", (-(2**31), V.INT32, None), "'llama.context_length' must be a whole number ≥ 0"),
    ("llama.block_count", (True, V.BOOL, None), "'llama.block_count' must be a whole number ≥ 0 (found bool"),
    ("llama.vocab_size", (-1.5, V.FLOAT32, None), "must be a whole number ≥ 0"),
    ("llama.attention.head_count", ([4, -1], V.ARRAY, V.INT32), "or an array of them (one per layer)"),
    ("llama.rope.freq_base", ("10000", V.STRING, None), "'llama.rope.freq_base' must be a number"),
])
def test_gguf_key_kinds(tmp_path: Path, key: str, value: tuple, fragment: str) -> None:
    kv = {k: v for k, v in LLAMA_KV.items() if k != key} | {key: value}
    path = write_gguf(tmp_path / "m.gguf", ONE_TENSOR, kv=kv)
    with pytest.raises(HeaderError) as caught:
        gguf.read(path)
    assert str(caught.value).startswith(f"{path}: ") and fragment in str(caught.value)
    for cmd in (["tokens", "{f}", "hi"], ["diff", "{f}", str(path)], ["fit", "--gpu", "h100"]):
        o = run(argv(cmd, path))
        assert o.code == 1 and problems(o, (path.name,)) == [] and fragment in o.err, (cmd, o.err)


def test_gguf_key_kinds_accept_other_integer_widths(tmp_path: Path) -> None:
    """Looser than llama.cpp (which wants u32 exactly): any integer width, per-layer arrays, f64."""
    kv = {"llama.block_count": (2, V.UINT64, None), "llama.embedding_length": (8, V.INT32, None),
          "llama.attention.head_count": ([2, 2], V.ARRAY, V.INT32),
          "llama.rope.freq_base": (1e4, V.FLOAT64, None),
          "llama.context_length": (64, V.UINT16, None)}
    path = write_gguf(tmp_path / "m.gguf", ONE_TENSOR, kv=kv)
    assert gguf.read(path).config.n_layers == 2  # type: ignore[union-attr]


# --- values that are not there: minimized findings --------------------------------------------------


@pytest.mark.parametrize("tensors", [
    [],  # found blind: quantize-error KeyError 'total'; train ZeroDivisionError (0 parameters)
    [("token_embd.weight", np.zeros((0, 8), np.float32)),  # found blind: reshape of a 0-element tensor
     ("blk.0.attn_q.weight", np.zeros((8, 0), np.float32))],
    [("token_embd.weight", np.full((4, 8), np.nan, np.float32)),  # found blind: explain IndexError on
     ("blk.0.attn_q.weight", np.full((8, 8), np.inf, np.float32))],  # a histogram of no finite value
], ids=["no tensors", "empty tensors", "no finite values"])
def test_models_without_values(tmp_path: Path, tensors: list) -> None:
    path = write_gguf(tmp_path / "m.gguf", [(n, a, None) for n, a in tensors], kv=LLAMA_KV)
    for cmd in SOURCE_COMMANDS[:-1]:
        assert assert_contract(argv(cmd, path), path.name) == 0, cmd  # and no RuntimeWarning on stderr


# --- the mutators under hypothesis ----------------------------------------------------------------------


def _small_gguf(folder: Path) -> bytes:
    from gguf.constants import GGMLQuantizationType as T

    return write_gguf(folder / "seed.gguf", [
        ("token_embd.weight", np.ones((16, 32), np.float16), None),
        ("blk.0.attn_q.weight", np.zeros((32, 18), np.uint8), T.Q4_0),
        ("output_norm.weight", np.ones(32, np.float32), None)], kv=LLAMA_KV).read_bytes()


def _small_safetensors(folder: Path) -> Path:
    from safetensors.numpy import save_file

    path = folder / "seed.safetensors"
    save_file({"model.embed_tokens.weight": np.ones((16, 8), np.float16),
               "model.layers.0.self_attn.q_proj.weight": np.ones((8, 8), np.float32)}, str(path),
              {"format": "pt"})
    return path


def _check_all(target: Path, names: tuple[str, ...], commands: list[list[str]],
               rnd: random.Random | None = None, each: int = 0) -> None:
    """``inspect --json`` and then ``commands`` on the mutant (the first two only when inspect refused
    it). With ``rnd`` and ``each``, ``each`` of them drawn at random: over a test's 40 mutants every
    command still meets a dozen, at a third of the forks (tools/fuzz_readers.py runs them all)."""
    first = run(["inspect", str(target), "--json"])
    assert problems(first, names) == [], (first.code, first.err)
    if first.code != 0:
        commands = commands[:2]
    elif rnd is not None and 0 < each < len(commands):
        commands = rnd.sample(commands, each)
    for cmd in commands:
        o = run(argv(cmd, target))
        assert problems(o, names) == [], (cmd, o.code, o.err[-2000:])


FAST = settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                        HealthCheck.too_slow])
QUICK_COMMANDS = [["size", "--json"], ["stats"], ["train"], ["explain"]]


@FAST
@given(rnd=st.randoms(use_true_random=False))
def test_fuzz_gguf_header_fields(tmp_path_factory: pytest.TempPathFactory, rnd: random.Random) -> None:
    folder = tmp_path_factory.mktemp("g")
    seed = _small_gguf(folder)
    fields, end = fi.gguf_fields(seed)
    path = fi.write_gguf_mutant(rnd, seed, fields, end, len(seed) - end, folder / "m.gguf")
    _check_all(path, (path.name,), QUICK_COMMANDS)


@FAST
@given(rnd=st.randoms(use_true_random=False))
def test_fuzz_gguf_metadata(tmp_path_factory: pytest.TempPathFactory, rnd: random.Random) -> None:
    path = fi.write_gguf_semantic(rnd, tmp_path_factory.mktemp("s") / "m.gguf")
    _check_all(path, (path.name,), [*QUICK_COMMANDS, ["quantize-error"], ["fit", "--gpu", "h100"]])


@FAST
@given(rnd=st.randoms(use_true_random=False))
def test_fuzz_safetensors(tmp_path_factory: pytest.TempPathFactory, rnd: random.Random) -> None:
    folder = tmp_path_factory.mktemp("st")
    path = fi.write_safetensors_mutant(rnd, _small_safetensors(folder), folder / "m.safetensors")
    _check_all(path, (path.name,), QUICK_COMMANDS)


@FAST
@given(rnd=st.randoms(use_true_random=False))
def test_fuzz_config(tmp_path_factory: pytest.TempPathFactory, rnd: random.Random) -> None:
    configs = sorted((Path(__file__).parent / "fixtures" / "configs").glob("*.json"))
    seed = json.loads(rnd.choice(configs).read_text())
    path = fi.write_config_mutant(rnd, seed, tmp_path_factory.mktemp("c") / "config.json")
    _check_all(path, (path.name,), [["size", "--json"], ["fit", "--gpu", "h100"], ["train"]])


@FAST
@given(rnd=st.randoms(use_true_random=False))
def test_fuzz_sharded_index(tmp_path_factory: pytest.TempPathFactory, rnd: random.Random) -> None:
    index = fi.write_index_mutant(rnd, tmp_path_factory.mktemp("i") / "sharded")
    _check_all(index.parent, (index.parent.name, index.name), QUICK_COMMANDS)


@FAST
@given(rnd=st.randoms(use_true_random=False))
def test_fuzz_pytorch_zip(tmp_path_factory: pytest.TempPathFactory, rnd: random.Random) -> None:
    folder = tmp_path_factory.mktemp("pt")
    seed = folder / "seed.pt"
    fi.write_torch_seed(seed)
    path = fi.write_zip_mutant(rnd, seed, folder / "m.pt")
    _check_all(path, (path.name,), [["scan", "--json"], *QUICK_COMMANDS])


@FAST
@given(rnd=st.randoms(use_true_random=False))
def test_fuzz_onnx(tmp_path_factory: pytest.TempPathFactory, rnd: random.Random) -> None:
    path = fi.write_onnx_mutant(rnd, tmp_path_factory.mktemp("o"))
    _check_all(path, (path.name,), QUICK_COMMANDS)


# --- the real files, longer (slow) --------------------------------------------------------------------


LONG = settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                        HealthCheck.too_slow])


@pytest.mark.slow
@LONG
@given(rnd=st.randoms(use_true_random=False))
def test_fuzz_gemma_header(gemma_gguf: Path, tmp_path_factory: pytest.TempPathFactory,
                           rnd: random.Random) -> None:
    head = _gemma_head(gemma_gguf)
    fields, end = fi.gguf_fields(head)
    path = fi.write_gguf_mutant(rnd, head, fields, end, gemma_gguf.stat().st_size - end,
                                tmp_path_factory.mktemp("gemma") / "gemma.gguf")
    _check_all(path, (path.name,), [["size", "--json"], ["fit", "--gpu", "h100"], ["tokens", "{f}", "Hello"],
                                    ["inspect", "--layers"]], rnd, each=2)


_HEAD: dict[Path, bytes] = {}


def _gemma_head(path: Path) -> bytes:
    if path not in _HEAD:
        with open(path, "rb") as f:
            head = f.read(8 << 20)
        _HEAD[path] = head[:fi.gguf_fields(head)[1]]
    return _HEAD[path]


@pytest.mark.slow
@LONG
@given(rnd=st.randoms(use_true_random=False))
def test_fuzz_minilm(minilm_dir: Path, tmp_path_factory: pytest.TempPathFactory, rnd: random.Random) -> None:
    folder = tmp_path_factory.mktemp("minilm")
    for f in minilm_dir.iterdir():
        if f.name not in ("config.json", "model.safetensors"):
            (folder / f.name).symlink_to(f)
    if rnd.random() < 0.5:
        (folder / "model.safetensors").symlink_to(minilm_dir / "model.safetensors")
        seed = json.loads((minilm_dir / "config.json").read_text())
        fi.write_config_mutant(rnd, seed, folder / "config.json")
    else:
        (folder / "config.json").symlink_to(minilm_dir / "config.json")
        fi.write_safetensors_mutant(rnd, minilm_dir / "model.safetensors", folder / "model.safetensors")
    _check_all(folder, (folder.name,), [["size", "--json"], ["train"], ["tokens", "{f}", "Hello"]])


@pytest.mark.slow
@LONG
@given(rnd=st.randoms(use_true_random=False))
def test_fuzz_gguf_metadata_all_commands(tmp_path_factory: pytest.TempPathFactory,
                                         rnd: random.Random) -> None:
    folder = tmp_path_factory.mktemp("s")
    path = fi.write_gguf_semantic(rnd, folder / "m.gguf")
    seed = write_gguf(folder / "seed.gguf", ONE_TENSOR, kv=LLAMA_KV)
    _check_all(path, (path.name,), [*SOURCE_COMMANDS, ["diff", "{f}", str(seed)], ["inspect", "--json"]],
               rnd, each=4)


def test_header_length_edges_never_allocate(tmp_path: Path) -> None:
    """Header lengths at the edges of u64 against a 1 KiB file: each refused in one line, in a child
    whose address space is capped (an allocation of the claimed length would fail there as exit 70)."""
    for n in (2**64 - 1, 2**63, 2**32, 99_999_999, 1025):
        path = tmp_path / f"h{n}.safetensors"
        path.write_bytes(struct.pack("<Q", n) + b"{" + b" " * 1015)
        assert assert_contract(["inspect", str(path)], path.name) == 1


# --- 80 columns on a long path --------------------------------------------------------------------------

LONG_DIR = ("a_very_long_directory_name_for_testing_the_header_wrapping_behaviour_of_every_command/"
            "another_quite_long_subdirectory_name_with_more_words_in_it")


def test_shell_lines_continue_a_long_path_inside_the_word() -> None:
    """Found blind: fit's llama-server command put a 187-column path on one line at 80 columns. A word
    longer than a line is now continued with a backslash-newline inside it; bash, the oracle, reads the
    lines back as the same words."""
    import subprocess

    from paramscope.render.text import shell_lines

    path = f"/tmp/{LONG_DIR}/gemma-3-270m-q4_k_m.gguf"
    command = f"llama-server -m {path} -c 8192 -np 1 -ngl 999"
    for width in (40, 80, 120):
        lines = shell_lines(command, width)
        assert all(len(line) <= width for line in lines), lines
        script = "printf '[%s]\\n' " + "\n".join(lines).removeprefix("  llama-server")
        out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
        assert out.split("\n")[:-1] == [f"[{w}]" for w in command.split(" ")[1:]]


@pytest.mark.parametrize("cmd", [
    ["inspect", "{g}"], ["inspect", "{g}", "--tensors"], ["inspect", "{m}", "--layers"], ["size", "{g}"],
    ["fit", "{g}", "--gpu", "h100"], ["train", "{g}"], ["stats", "{m}"],
    ["quantize-error", "{m}", "--sample", "0.05"], ["explain", "{m}"], ["tokens", "{g}", "Hello world"],
    ["scan", "{g}"], ["ls", "{d}"], ["diff", "{g}", "{g}"],
], ids=lambda c: " ".join(c[:1] + [a for a in c[1:] if a.startswith("-")]))
def test_every_command_fits_80_columns_on_a_long_path(tmp_path: Path, gemma_gguf: Path,
                                                       minilm_dir: Path, cmd: list[str]) -> None:
    from rich.cells import cell_len

    d = tmp_path / LONG_DIR
    (d / "minilm").mkdir(parents=True)
    (d / gemma_gguf.name).symlink_to(gemma_gguf)
    # files linked, folders real (as a Hugging Face cache snapshot lays them out): a linked folder
    # beside a scanned file may answer an import (red team round 6), which `scan` would rightly flag
    for f in minilm_dir.iterdir():
        if f.is_dir():
            (d / "minilm" / f.name).mkdir()
            for g in f.iterdir():
                (d / "minilm" / f.name / g.name).symlink_to(g)
        else:
            (d / "minilm" / f.name).symlink_to(f)
    args = [a.format(g=d / gemma_gguf.name, m=d / "minilm", d=d) for a in cmd]
    o = run(args, columns=80)
    assert o.code == 0 and problems(o) == [], (args, o.err)
    wide = [line for line in o.out.splitlines() if cell_len(line) > 80]
    assert not wide and "…" not in o.out, wide


# --- against the reference libraries ------------------------------------------------------------------

# Where paramscope refuses a file gguf-py's GGUFReader reads: rules gguf.cpp (gguf_init_from_file_impl)
# or llama.cpp's loader enforces and gguf-py does not check (gguf.py and gguf_metadata.py cite each).
STRICTER_THAN_GGUF_PY = ("overlap", "is not aligned", "too long for llama.cpp", "must be a whole number",
                         "must be a string", "must be an array", "must be a number",
                         "has an unknown ggml type",
                         "rows are not whole", "general.alignment", "which llama.cpp has removed",
                         "dimension 0 is negative", "element count overflows")


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rnd=st.randoms(use_true_random=False))
def test_gguf_mutants_read_as_gguf_py_reads_them(tmp_path_factory: pytest.TempPathFactory,
                                                 rnd: random.Random) -> None:
    """Measured: 300 header mutants, 21 read by both (identically), 19 refused only by us, each for a
    rule of gguf.cpp (overlap, alignment, GGML_MAX_NAME), none read only by us."""
    import warnings

    from gguf import GGUFReader

    from paramscope.errors import ParamscopeError

    folder = tmp_path_factory.mktemp("d")
    seed = _small_gguf(folder)
    fields, end = fi.gguf_fields(seed)
    path = fi.write_gguf_mutant(rnd, seed, fields, end, len(seed) - end, folder / "m.gguf")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = GGUFReader(path)
            theirs = [(t.name, tuple(reversed(t.shape.tolist())), t.tensor_type.name, int(t.data_offset),
                       int(t.n_bytes)) for t in ref.tensors]
    except Exception:  # any refusal of the reference library
        theirs = None
    try:
        ours = [(t.name, t.shape, t.dtype.value, t.offset, t.nbytes) for t in gguf.read_file(path).tensors]
    except ParamscopeError as e:
        assert theirs is None or any(rule in str(e) for rule in STRICTER_THAN_GGUF_PY), str(e)
        return
    assert theirs == ours


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rnd=st.randoms(use_true_random=False))
def test_safetensors_mutants_read_as_the_library_reads_them(tmp_path_factory: pytest.TempPathFactory,
                                                            rnd: random.Random) -> None:
    """Retyped, reshaped, renamed tensors and new __metadata__ (measured: 500 of 500 read by both,
    identically), and destructive mutants, which both must refuse."""
    from safetensors import safe_open

    from paramscope.errors import ParamscopeError
    from paramscope.formats import safetensors

    folder = tmp_path_factory.mktemp("d")
    seed = _small_safetensors(folder)
    mutate = fi.write_safetensors_semantic if rnd.random() < 0.7 else fi.write_safetensors_mutant
    path = mutate(rnd, seed, folder / "m.safetensors")
    try:
        with safe_open(str(path), framework="numpy") as f:
            names = f.keys()
            theirs = sorted((k, tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype()) for k in names)
    except Exception:  # any refusal of the reference library
        theirs = None
    try:
        ours = sorted((t.name, t.shape, t.dtype.value) for t in safetensors.read(path).tensors)
    except ParamscopeError:
        ours = None
    assert ours == theirs


@FAST
@given(rnd=st.randoms(use_true_random=False))
def test_fuzz_safetensors_semantic(tmp_path_factory: pytest.TempPathFactory, rnd: random.Random) -> None:
    folder = tmp_path_factory.mktemp("ss")
    path = fi.write_safetensors_semantic(rnd, _small_safetensors(folder), folder / "m.safetensors")
    _check_all(path, (path.name,), [*QUICK_COMMANDS, ["quantize-error"], ["inspect", "--tensors"]])
