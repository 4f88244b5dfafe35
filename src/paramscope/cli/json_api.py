"""The JSON of each command, in one place: the CLI's ``--json``, the web server's API and the static
report all call these, so `GET /api/size?source=X&context=N` is `paramscope size X --context N --json`
by construction. No FastAPI here.
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
    from paramscope.analyses.contents.inventory import inventory
    from paramscope.analyses.safety.pickle_safety import assess
    from paramscope.render.jsonable import inventory_json

    out = inventory_json(inventory(model), tensors=tensors, layers=layers)
    safety = assess(model)
    if safety:
        from paramscope.render.scan_view import verdict_json

        out["pickle_safety"] = verdict_json(safety)
    return out


def size_json(model: Model, a: SizeArgs, gpu: str | None = None) -> dict[str, Any]:
    """`paramscope size --json` (``cli.size_cmd.run``)."""
    from paramscope.analyses.sizing.memory import estimate
    from paramscope.cli.size_cmd import devices, request
    from paramscope.render import jsonable

    device, n = devices(gpu)
    return jsonable.size_json(estimate(model, request(a, device, n)))


def fit_json(model: Model, a: SizeArgs, gpu: str, ram_gb: float | None = None) -> dict[str, Any]:
    """`paramscope fit --gpu NAME --json` (``cli.fit_cmd.run``); the GPU is required here, since the
    server's own GPU says nothing about the browser user's."""
    from paramscope.cli.fit_cmd import fit_parts
    from paramscope.render import jsonable

    return jsonable.fit_json(*fit_parts(model, a, gpu, ram_gb))


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
    from paramscope.analyses.values.stats import weight_stats
    from paramscope.render.stats_view import stats_json as render
    from paramscope.sources.mapped import MappedFiles

    with MappedFiles() as source:
        result = weight_stats(model, source, patterns=patterns or [], progress=None)
    return render(result)
