"""The engine start-up logs in tests/fixtures/engine_logs/: every record checks out against its own excerpt.

The validator is tools/engine_logs.py (also `python tools/engine_logs.py --check`); the second half of this
file feeds it broken copies of real records, so that each of its rules is seen to fail when it should.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import engine_logs  # noqa: E402


def test_every_record_checks_out():
    records, problems = engine_logs.check_all()
    assert problems == []
    # a floor at what is collected today, so that a lost fixture shows
    # (issue 14 aims at 40 logs; 43 today: 30 vLLM, 12 llama.cpp, 1 SGLang)
    by_engine = {e: sum(r.engine == e for r in records) for e in engine_logs.ENGINES}
    assert by_engine["vllm"] >= 30 and by_engine["llamacpp"] >= 12 and by_engine["sglang"] >= 1


def test_units_are_bytes_as_the_engines_print_them():
    r = engine_logs.load(engine_logs.FIXTURES / "vllm" / "10517-llama31-8b-3090-20k.json")
    weights = r.first("weights")
    assert weights is not None and weights.unit == "GB"
    assert weights.bytes == round(14.9888 * 2**30)  # vLLM's "GB" is GiB
    tokens = engine_logs.Figure("kv_tokens", "178,880", "tokens", "GPU KV cache size: 178,880 tokens")
    assert tokens.number == 178880 and tokens.bytes is None


def test_a_setting_falls_back_to_the_cited_default_only():
    r = engine_logs.load(engine_logs.FIXTURES / "vllm" / "10517-llama31-8b-3090-20k.json")
    assert r.setting("block_size") == 16  # default, cited
    assert r.setting("max_model_len") == 20000  # stated
    assert r.setting("max_num_batched_tokens") is None  # neither


# --- the validator catches what it should --------------------------------------------------------------
def _copy(tmp_path: Path, engine: str, rid: str) -> tuple[Path, dict]:
    for e in engine_logs.ENGINES:
        (tmp_path / e).mkdir()
    (tmp_path / "configs").mkdir()
    src = engine_logs.FIXTURES / engine / rid
    shutil.copy(src.with_suffix(".log"), tmp_path / engine)
    return tmp_path / engine / f"{rid}.json", json.loads(src.with_suffix(".json").read_text())


def _problems(tmp_path: Path, path: Path, record: dict) -> list[str]:
    path.write_text(json.dumps(record))
    return engine_logs.check_all(tmp_path)[1]


def _figure(record: dict, name: str) -> dict:
    return next(f for f in record["figures"] if f["name"] == name)


def test_the_unchanged_copy_passes(tmp_path):
    path, record = _copy(tmp_path, "vllm", "10517-llama31-8b-3090-29k")
    assert _problems(tmp_path, path, record) == []


@pytest.mark.parametrize(("edit", "expected"), [
    # a figure whose value was mistyped is no longer in its text, or its text not in the log
    (lambda r: _figure(r, "gpu_blocks").update(value="1479"), "value is not in its text"),
    (lambda r: _figure(r, "gpu_blocks").update(value="1479", text="# GPU blocks: 1479"), "is not in"),
    # vLLM's own arithmetic: 1478 blocks x 16 = 23648 tokens; budget − peak − non-torch = KV
    (lambda r: r["defaults"]["block_size"].update(value=32), "blocks x 32 != 23648 tokens"),
    (lambda r: r["settings"].update(gpu_memory_utilization=0.95), "!= 2.89"),
    (lambda r: r["settings"].update(max_model_len="29000"), "is not int"),
    (lambda r: r["settings"].update(block_size=16), "default given for block_size"),
    (lambda r: r["settings"].pop("dtype"), "missing ['dtype']"),
    (lambda r: r["figures"].append({"name": "compute_buffer", "value": "2.89", "unit": "GiB",
                                    "text": "kv_cache_size=2.89GiB"}), "not a vllm figure name"),
    (lambda r: _figure(r, "kv_cache_memory").update(unit="MiB"), "does not print the unit MiB"),
    (lambda r: r.update(source="github.com/vllm-project/vllm/issues/10517"), "not an https URL"),
    (lambda r: r.update(id="other"), "differs from the file name"),
])
def test_vllm_rules_fail_when_broken(tmp_path, edit, expected):
    path, record = _copy(tmp_path, "vllm", "10517-llama31-8b-3090-29k")
    edit(record)
    problems = _problems(tmp_path, path, record)
    assert any(expected in p for p in problems), problems


def _reprint(path: Path, record: dict, name: str, old: str, new: str) -> None:
    """Change what the engine printed for one figure, in the log copy and in the record alike."""
    log = path.with_suffix(".log")
    fig = _figure(record, name)
    assert fig["text"] in log.read_text() and old in fig["text"]
    text = fig["text"].replace(old, new)
    log.write_text(log.read_text().replace(fig["text"], text))
    fig.update(value=fig["value"].replace(old, new), text=text)


@pytest.mark.parametrize(("name", "old", "new", "expected"), [
    ("k_size", "1280.00", "1290.00", "K 1290.00 + V 1280.00 != KV size 2560.00"),
    ("kv_buffer", "64.00", "96.00", "KV buffers add up to 2592.00, the size line says 2560.00"),
    ("layers_offloaded", "78/81", "82/81", "layers offloaded 82/81 is not A/B with A <= B"),
])
def test_llamacpp_arithmetic_fails_when_a_printed_figure_changes(tmp_path, name, old, new, expected):
    path, record = _copy(tmp_path, "llamacpp", "8035-llama3-70b-4060ti-3060-partial")
    assert _problems(tmp_path, path, record) == []
    _reprint(path, record, name, old, new)
    assert any(expected in p for p in _problems(tmp_path, path, record))


def test_a_missing_config_fixture_is_reported(tmp_path):
    path, record = _copy(tmp_path, "llamacpp", "8035-llama3-70b-4060ti-3060-partial")
    record["model"]["config"] = "missing.config.json"
    assert any("missing.config.json is not in" in p for p in _problems(tmp_path, path, record))


@pytest.mark.parametrize(("name", "old", "new", "expected"), [
    ("activation_peak", "1.26", "2.26", "budget 71.29 - weights - non-torch - activation = 52.28 != 53.29"),
    ("memory_budget", "71.29", "70.29", "budget 70.29 != 79.22 x 0.9"),
])
def test_vllm_budget_fails_when_a_printed_figure_changes(tmp_path, name, old, new, expected):
    path, record = _copy(tmp_path, "vllm", "10511-llama3-8b-80g-tp1")
    assert _problems(tmp_path, path, record) == []
    _reprint(path, record, name, old, new)
    assert any(expected in p for p in _problems(tmp_path, path, record))


def test_vllm_concurrency_fails_when_a_printed_figure_changes(tmp_path):
    path, record = _copy(tmp_path, "vllm", "12569-llama31-70b-w8a8")
    assert _problems(tmp_path, path, record) == []
    _reprint(path, record, "max_concurrency", "10.79", "11.79")
    assert any("concurrency 11.79 != 1381 x 16 / 2048" in p for p in _problems(tmp_path, path, record))


def test_a_log_without_its_record_is_reported(tmp_path):
    path, record = _copy(tmp_path, "vllm", "10517-llama31-8b-3090-29k")
    path.write_text(json.dumps(record))
    (tmp_path / "vllm" / "stray.log").write_text("INFO ...\n")
    assert any("stray.log: log without a record" in p for p in engine_logs.check_all(tmp_path)[1])


def test_a_broken_json_names_its_file(tmp_path):
    path, _ = _copy(tmp_path, "vllm", "10517-llama31-8b-3090-29k")
    path.write_text("{not json")
    assert any(p.startswith("10517-llama31-8b-3090-29k.json: not valid JSON") for p in
               engine_logs.check_all(tmp_path)[1])


def test_the_command_line_exits_1_on_a_problem(tmp_path, capsys):
    path, record = _copy(tmp_path, "vllm", "10517-llama31-8b-3090-29k")
    assert engine_logs.main(["--check", "--root", str(tmp_path)]) == 1  # no .json yet: log without record
    path.write_text(json.dumps(record))
    assert engine_logs.main(["--check", "--root", str(tmp_path)]) == 0
    assert "1 records" in capsys.readouterr().out
