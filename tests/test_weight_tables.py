"""Config-only listings of real checkpoints, as stored, against the checkpoints' own weight tables.

tests/fixtures/weight_tables/ holds reports a model inspector wrote from real checkpoint files (github.com/
gogongxt/python, scripts/models/: the config transformers printed and every stored tensor, compressed by
index ranges; README.md there). From the config alone we must list the file tensor for tensor: names,
shapes and dtypes equal. Where the file differs in a way one of our notes announces, the test applies
exactly that note's adjustment, asserts the note is there, and asserts the listing differs without it.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from paramscope import records
from paramscope.knowledge.config_tensors import config_tensors, stored_mtp
from paramscope.knowledge.families import expected_tensors
from paramscope.knowledge.quant_configs import from_config
from paramscope.model import Tensor
from paramscope.model.dtypes import DType

FIXTURES = Path(__file__).parent / "fixtures" / "weight_tables"

# torch's dtype names (the reports print torch dtypes) → ours, with torch's element size in bytes.
TORCH: dict[str, tuple[DType, int]] = {
    "torch.float32": (DType.F32, 4), "torch.bfloat16": (DType.BF16, 2), "torch.float16": (DType.F16, 2),
    "torch.float8_e4m3fn": (DType.F8_E4M3, 1), "torch.float8_e5m2": (DType.F8_E5M2, 1),
    "torch.float8_e8m0fnu": (DType.F8_E8M0, 1), "torch.uint8": (DType.U8, 1), "torch.int8": (DType.I8, 1),
    "torch.int32": (DType.I32, 4), "torch.int64": (DType.I64, 8),
}

Listing = dict[str, tuple[tuple[int, ...], DType]]


def _load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def expand(pattern: str) -> list[str]:
    """``model.layers.0-47.mlp.experts.0-127.w`` → every name its ranges stand for (ranges inclusive)."""
    parts = re.split(r"(?<![\w-])(\d+-\d+)(?![\w-])", pattern)
    choices = [[p] if i % 2 == 0 else [str(k) for k in range(int(p.split("-")[0]), int(p.split("-")[1]) + 1)]
               for i, p in enumerate(parts)]
    return ["".join(c) for c in itertools.product(*choices)]


def real_listing(fx: dict[str, Any]) -> Listing:
    out: Listing = {}
    for pattern, shape, dtype in fx["rows"]:
        for name in expand(pattern):
            assert name not in out, name
            out[name] = (tuple(shape), TORCH[dtype][0])
    return out


def _listing(ts: Sequence[Tensor]) -> Listing:
    out: Listing = {t.name: (t.shape, t.dtype) for t in ts}
    assert len(out) == len(ts), "a name listed twice"
    return out


def _ours(cfg: dict[str, Any]) -> tuple[tuple[Tensor, ...], tuple[str, ...]]:
    return config_tensors(expected_tensors(cfg), from_config(cfg), cfg)


def _diff(a: Listing, b: Listing) -> str:
    names = sorted(set(a) ^ set(b)) or sorted(n for n in a if a[n] != b[n])
    return f"{len(names)} differ, e.g. " + "; ".join(f"{n}: {a.get(n)} vs {b.get(n)}" for n in names[:5])


# --- the announced adjustments -------------------------------------------------------------------------

SCALES_BF16_NOTE = "checkpoints that store them in bfloat16 or float16 (Qwen's FP8 releases)"
SCALES_F32_NOTE = "checkpoints that store them in float32 (GLM-4.5-FP8)"
MTP_NOTE = "not listed: the checkpoint also stores"
BUFFERS_NOTE = "rotary_emb.inv_freq buffers"

Pair = tuple[tuple[Tensor, ...], Listing]  # our tensors, the file's listing


def scales_in_bf16(ts: tuple[Tensor, ...], real: Listing, cfg: dict[str, Any]) -> Pair:
    """The FP8 note's adjustment: weight_scale_inv stored in bfloat16, not float32."""
    return tuple(records.replace(t, dtype=DType.BF16, nbytes=t.n_elements * 2)
                 if t.name.endswith(".weight_scale_inv") else t for t in ts), real


def scales_in_f32(ts: tuple[Tensor, ...], real: Listing, cfg: dict[str, Any]) -> Pair:
    """The compressed-tensors FP8 note's adjustment: weight_scale stored in float32, not the model dtype."""
    return tuple(records.replace(t, dtype=DType.F32, nbytes=t.n_elements * 4)
                 if t.name.endswith(".weight_scale") else t for t in ts), real


def with_mtp(ts: tuple[Tensor, ...], real: Listing, cfg: dict[str, Any]) -> Pair:
    """The MTP note's adjustment: the multi-token-prediction layers ``stored_mtp`` lists."""
    return (*ts, *stored_mtp(expected_tensors(cfg), from_config(cfg), cfg)), real


def without_buffers(ts: tuple[Tensor, ...], real: Listing, cfg: dict[str, Any]) -> Pair:
    """The config-only note's adjustment: the file's rotary_emb.inv_freq buffers are not parameters."""
    return ts, {n: v for n, v in real.items() if not n.endswith(".rotary_emb.inv_freq")}


Adjust = Callable[[tuple[Tensor, ...], Listing, dict[str, Any]], Pair]

# checkpoint → the notes whose adjustments its file needs (none: equal as listed)
CASES: dict[str, tuple[tuple[str, Adjust], ...]] = {
    "qwen3_30b_a3b_thinking_2507_fp8": ((SCALES_BF16_NOTE, scales_in_bf16),),
    "qwen3_235b_a22b_instruct_2507_fp8": ((SCALES_BF16_NOTE, scales_in_bf16),),
    "deepseek_v3": ((MTP_NOTE, with_mtp),),
    "kimi_k2_instruct": ((BUFFERS_NOTE, without_buffers),),
    "gpt_oss_20b": (),
    "glm_5.1_fp8": ((MTP_NOTE, with_mtp),),
    "llama2-7b-awq": (),
    # MTP first, so that the MTP layer's scales are stored in float32 too
    "glm_4.5_fp8": ((MTP_NOTE, with_mtp), (SCALES_F32_NOTE, scales_in_f32)),
    "glm_5.1": ((MTP_NOTE, with_mtp),),
}


def test_every_fixture_has_a_case() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_ranges_expand_to_the_reports_totals(name: str) -> None:
    fx = _load(name)
    real = real_listing(fx)
    assert len(real) == fx["tensors"]
    assert sum(math.prod(shape) for shape, _ in real.values()) == fx["elements"]


# the FP8 checkpoints of GLM and Qwen3-235B and Kimi K2 list tens of thousands of tensors (scales beside
# each weight): seconds each, so make test-fast leaves them out
LONG = {"glm_5.1_fp8", "glm_4.5_fp8", "qwen3_235b_a22b_instruct_2507_fp8", "kimi_k2_instruct"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=[pytest.mark.slow] * (n in LONG))
                                  for n in sorted(CASES)])
def test_config_only_listing_equals_the_checkpoint(name: str) -> None:
    fx = _load(name)
    cfg = fx["config"]
    real = real_listing(fx)
    ts, notes = _ours(cfg)
    adjusted, file = ts, real
    for note, adjust in CASES[name]:
        assert any(note in n for n in notes), f"{name}: the note announcing {adjust.__name__} is missing"
        adjusted, file = adjust(adjusted, file, cfg)
    assert _listing(adjusted) == file, _diff(_listing(adjusted), file)
    # bytes as stored, with torch's element sizes: what the file holds of the tensors compared
    torch_size = {TORCH[d][0]: TORCH[d][1] for _, _, d in fx["rows"]}
    assert sum(t.nbytes for t in adjusted) == sum(math.prod(s) * torch_size[d] for s, d in file.values())
    for skip in range(len(CASES[name])):  # each adjustment is needed: without it the listings differ
        partial, pfile = ts, real
        for i, (_, adjust) in enumerate(CASES[name]):
            if i != skip:
                partial, pfile = adjust(partial, pfile, cfg)
        assert _listing(partial) != pfile


def test_expand() -> None:
    assert expand("model.layers.0-1.mlp.experts.2-3.w") == [
        "model.layers.0.mlp.experts.2.w", "model.layers.0.mlp.experts.3.w",
        "model.layers.1.mlp.experts.2.w", "model.layers.1.mlp.experts.3.w"]
    assert expand("model.norm.weight") == ["model.norm.weight"]
