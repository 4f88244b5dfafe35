"""The JSON of each CLI command, produced without the CLI: the same analysis, the same renderer
function, so `GET /api/size?source=X&context=N` equals `paramscope size X --context N --json`.

Shared by the server (``app``) and the static report (``report``); no FastAPI here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paramscope.model import Model


@dataclass(frozen=True, slots=True)
class SizeArgs:
    """The options of `paramscope size` / `fit` (``cli.size_cmd.add_model_options``), same defaults."""

    context: int | None = None
    batch: int = 1
    weights: str | None = None
    kv_type: str | None = None
    runtime: str = "llama.cpp"
    ubatch: int = 512
    swa_full: bool = False


def open_source(text: str) -> Model:
    from paramscope.formats import open_model

    return open_model(text)


def inspect_json(model: Model, *, tensors: bool = False, layers: bool = False) -> dict[str, Any]:
    """`paramscope inspect --json` (``cli.inspect_cmd.run``)."""
    from paramscope.analyses.inventory import inventory
    from paramscope.analyses.pickle_safety import assess
    from paramscope.render.jsonable import inventory_json

    out = inventory_json(inventory(model), tensors=tensors, layers=layers)
    safety = assess(model)
    if safety:
        from paramscope.render.scan_view import verdict_json

        out["pickle_safety"] = verdict_json(safety)
    return out


def _request(a: SizeArgs, device=None, n: int = 1):
    from paramscope.analyses.memory import SizeRequest

    return SizeRequest(context=a.context, batch=a.batch, weights=a.weights, kv_type=a.kv_type,
                       runtime=a.runtime, ubatch=a.ubatch, swa_full=a.swa_full, device=device, n_devices=n)


def size_json(model: Model, a: SizeArgs, gpu: str | None = None) -> dict[str, Any]:
    """`paramscope size --json` (``cli.size_cmd.run``)."""
    from paramscope.analyses.memory import estimate
    from paramscope.render import jsonable

    device, n = None, 1
    if gpu:
        from paramscope.knowledge.hardware import parse_gpu_spec

        device, n = parse_gpu_spec(gpu)
    return jsonable.size_json(estimate(model, _request(a, device, n)))


def fit_json(model: Model, a: SizeArgs, gpu: str, ram_gb: float | None = None) -> dict[str, Any]:
    """`paramscope fit --gpu NAME --json` (``cli.fit_cmd.run``); the GPU is required here, since the
    server's own GPU says nothing about the browser user's."""
    from paramscope.analyses.fit import fit
    from paramscope.analyses.memory import estimate
    from paramscope.analyses.speed import speed_for
    from paramscope.cli.fit_cmd import _device
    from paramscope.render import jsonable
    from paramscope.system import detect

    device = _device(gpu)
    ram = int(ram_gb * 2**30) if ram_gb else detect().available_ram_bytes
    report = fit(model, _request(a, device, 1), ram_bytes=ram)
    n = report.devices_needed or 1
    speed = speed_for(model, estimate(model, _request(a, device, n)), device, n)
    return jsonable.fit_json(report, speed, ram)


def tokens_json(source: str | Model, text: str, *, no_special: bool = False) -> dict[str, Any]:
    """`paramscope tokens SOURCE TEXT --json` (``cli.tokens_cmd.run``)."""
    from paramscope.render.tokens_view import tokens_json as render
    from paramscope.tokenize import tokenizer

    return render(tokenizer(source).tokenize(text, add_special=not no_special))


def decoded_json(source: str | Model, ids: str) -> dict[str, Any]:
    """`paramscope tokens SOURCE --ids ID,ID,… --json`."""
    from paramscope.render.tokens_view import decoded_json as render
    from paramscope.tokenize import parse_ids, tokenizer

    parsed = parse_ids(ids)
    return render(tokenizer(source).decoded(parsed))


def stats_json(model: Model, patterns: list[str] | None = None) -> dict[str, Any]:
    """`paramscope stats --json` (``cli.stats_cmd.run``)."""
    from paramscope.analyses.stats import weight_stats
    from paramscope.render.stats_view import stats_json as render
    from paramscope.sources.mapped import MappedFiles

    with MappedFiles() as source:
        result = weight_stats(model, source, patterns=patterns or [], progress=None)
    return render(result)
