"""``paramscope explain``: a guided tour of one model, every figure taken from our own commands.

The tour is sections (what a parameter is, where they live, the largest tensor, what the numbers look
like, how they are stored, what loading takes, how text becomes tokens, how it was trained). Each
section holds *figures* and *paragraphs*. A figure is a value with its origin: the command, options and
JSON path it was read from (``inspect``, ``size``, ``stats``, ``tokens``, ``train``), the catalogue's
training-token table, the decoder (the first values of a tensor), the dtype table, or a formula over the
section's other figures. Paragraphs are templates (``app/explain_prose.py``) filled only from those
figures, so every number printed is one the result also carries, and ``tests/test_explain.py`` re-reads
each figure from its origin. ``level`` changes the words, never the figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from paramscope.app import explain_prose
from paramscope.app.common import Source, open_source, remote_json, source_text
from paramscope.app.explain_prose import Figure
from paramscope.errors import ParamscopeError, UsageError
from paramscope.records import record

if TYPE_CHECKING:
    from paramscope.model import Model

SAMPLE_TEXT = "The cat sat on the mat."
LEVELS = ("beginner", "expert")
# (size --weights, figure key): the precisions a newcomer compares; None = as the file stores them.
# q4_k_m is llama.cpp's most downloaded 4-bit file type (docs/quantization.md).
LOAD_AS = ((None, "stored"), ("fp32", "fp32"), ("fp16", "fp16"), ("q4_k_m", "q4_k_m"))
# top-level components the prose knows by name, in the order a forward pass meets them
KNOWN_COMPONENTS = ("embedding", "attention", "ffn", "router", "experts", "shared_experts", "norm", "output")


@record
class ExplainRequest:
    source: Source
    level: str = "beginner"  # beginner or expert: the words, not the numbers
    text: str = SAMPLE_TEXT  # the sentence turned into token IDs
    values: bool = True  # read the weights (statistics, first values) when the source has them
    context: int | None = None  # KV cache for this many tokens (default: size's default)


@record
class Section:
    key: str
    title: str
    figures: dict[str, Figure]
    templates: tuple[str, ...]  # the paragraphs before their figures are filled in
    paragraphs: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "text": list(self.paragraphs),
                "figures": {k: f.value for k, f in self.figures.items()},
                "origins": {k: f.origin for k, f in self.figures.items()}}


@record
class ExplainResult:
    request: ExplainRequest
    model: Model
    sections: tuple[Section, ...]
    exit_code: int = 0

    def section(self, key: str) -> Section | None:
        return next((s for s in self.sections if s.key == key), None)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.model.source, "level": self.request.level, "text": self.request.text,
                "sections": [s.to_json() for s in self.sections]} | remote_json(self.model)


@dataclass
class _Runs:
    """Each underlying command's JSON, run once with the options a figure's origin names."""

    source: Source
    model: Model
    results: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = field(default_factory=dict)
    cache: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = field(default_factory=dict)

    def result(self, command: str, **options: Any) -> Any:
        key = (command, tuple(sorted(options.items())))
        if key not in self.results:
            self.results[key] = _run(command, self.source if command == "tokens" else self.model, options)
        return self.results[key]

    def json(self, command: str, **options: Any) -> Any:
        key = (command, tuple(sorted(options.items())))
        if key not in self.cache:
            self.cache[key] = self.result(command, **options).to_json()
        return self.cache[key]

    def fig(self, command: str, path: list[Any], **options: Any) -> Figure:
        value = self.json(command, **options)
        for step in path:
            value = value[step]
        return Figure(value, {"command": command, "options": options, "path": path})


def _run(command: str, source: Source, options: dict[str, Any]) -> Any:
    """``paramscope.<command>(source, **options)``, whose ``to_json()`` is the CLI's ``--json``."""
    import importlib

    module = importlib.import_module(f"paramscope.app.{command}")
    return getattr(module, command)(source, **options)


def formula(expr: str, figures: dict[str, Figure]) -> Figure:
    """A figure computed from the section's others by ``expr`` (names, numbers, + - * / and parentheses),
    evaluated the way ``tests/test_explain.py`` re-evaluates it; None where it divides by zero (a file
    with no parameters)."""
    try:
        value = evaluate(expr, {k: f.value for k, f in figures.items()})
    except ZeroDivisionError:
        value = None
    return Figure(value, {"formula": expr})


def evaluate(expr: str, names: dict[str, Any]) -> Any:
    """Arithmetic over named figures, without ``eval``: ints stay exact, ``/`` gives a float."""
    import ast
    import operator

    ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            return ops[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.Name):
            return names[node.id]
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return node.value
        raise ValueError(f"not arithmetic: {ast.dump(node)}")

    return walk(ast.parse(expr, mode="eval"))


def explain(source: Source | ExplainRequest, **options: Any) -> ExplainResult:
    """A guided tour of ``source``: ``paramscope.explain("model.gguf").section("parameters").figures``."""
    req = source if isinstance(source, ExplainRequest) else ExplainRequest(source, **options)
    if req.level not in LEVELS:
        raise UsageError(f"level {req.level!r}: choose {' or '.join(LEVELS)}")
    model = open_source(req.source)
    runs = _Runs(req.source, model)
    builders = (_parameters, _where, _largest, _values, _storage, _memory, _tokens, _training)
    sections = []
    for build in builders:
        built = build(runs, req)
        if built is None:
            continue
        key, figures = built
        title, templates = explain_prose.prose(key, figures, req.level)
        paragraphs = tuple(explain_prose.fill(t, figures) for t in templates)
        sections.append(Section(key, title, figures, templates, paragraphs))
    # a pickle-based file that could run code exits 2, as `inspect` does (docs/security.md)
    return ExplainResult(req, model, tuple(sections), runs.result("inspect", tensors=True).exit_code)


Built = tuple[str, dict[str, Figure]] | None


def _parameters(runs: _Runs, req: ExplainRequest) -> Built:
    f = {k: runs.fig("inspect", [k], tensors=True)
         for k in ("total_params", "label", "tensor_count", "active_params")}
    if "n_experts" in runs.json("inspect", tensors=True)["hyperparameters"]:
        f["n_experts"] = runs.fig("inspect", ["hyperparameters", "n_experts"], tensors=True)
    for dtype, key in (("F32", "fp32_bytes"), ("F16", "fp16_bytes")):
        f[key] = _dtype_field(dtype, "type_size")
    return "parameters", f


def _dtype_field(name: str, fieldname: str) -> Figure:
    from paramscope.model.dtypes import DType

    return Figure(getattr(DType(name).info, fieldname), {"dtype": name, "field": fieldname})


def _where(runs: _Runs, req: ExplainRequest) -> Built:
    ins = runs.json("inspect", tensors=True)
    f: dict[str, Figure] = {"total_params": runs.fig("inspect", ["total_params"], tensors=True)}
    for k in ("n_layers", "hidden_size", "vocab_size", "n_heads", "n_kv_heads", "ffn_size", "tied_embeddings",
              "n_experts", "n_experts_per_token", "n_shared_experts", "expert_ffn_size"):
        if k in ins["hyperparameters"]:
            f[k] = runs.fig("inspect", ["hyperparameters", k], tensors=True)
    for comp in ins["by_component_detail"]:
        if "/" in comp or comp == "total":
            continue
        f[f"{comp}_params"] = runs.fig("inspect", ["by_component_detail", comp, "params"], tensors=True)
        f[f"{comp}_share"] = runs.fig("inspect", ["by_component_detail", comp, "share"], tensors=True)
    if "embedding_params" in f and f.get("vocab_size") and f.get("hidden_size"):
        f["vocab_rows"] = formula("vocab_size * hidden_size", f)
        if f["vocab_rows"].value < f["embedding_params"].value:
            f["embedding_other"] = formula("embedding_params - vocab_rows", f)
    if f.get("n_experts") and f["n_experts"].value:
        f["active_params"] = runs.fig("inspect", ["active_params"], tensors=True)
    return "where", f


def _largest_index(ins: dict[str, Any]) -> int | None:
    params = [t["params"] if t["is_parameter"] else -1 for t in ins.get("tensors", [])]
    if not params or max(params) <= 0:
        return None
    return params.index(max(params))  # the first of equals, in file order


def _largest(runs: _Runs, req: ExplainRequest) -> Built:
    ins = runs.json("inspect", tensors=True)
    i = _largest_index(ins)
    if i is None:
        return None
    f = {k: runs.fig("inspect", ["tensors", i, k], tensors=True)
         for k in ("name", "shape", "dtype", "params", "bytes", "component")}
    f["total_params"] = runs.fig("inspect", ["total_params"], tensors=True)
    f["share"] = formula("params / total_params", f)
    shape = f["shape"].value
    for j, key in enumerate(("dim0", "dim1", "dim2")[:len(shape)]):
        f[key] = Figure(shape[j], {"command": "inspect", "options": {"tensors": True},
                                   "path": ["tensors", i, "shape", j]})
    return "largest", f


def _values(runs: _Runs, req: ExplainRequest) -> Built:
    if not req.values or not runs.model.has_weights or "remote" in runs.model.metadata:
        return None  # hf: and ollama: sources are read as headers only: no values to show
    ins = runs.json("inspect", tensors=True)
    i = _largest_index(ins)
    st = runs.json("stats")
    if i is None:
        return None
    name: str = ins["tensors"][i]["name"]
    j = next((k for k, t in enumerate(st["tensors"]) if t["name"] == name), None)
    if j is None:
        return None
    f = {"name": runs.fig("stats", ["tensors", j, "name"])}
    for k in ("count", "min", "max", "mean", "std", "zeros"):
        f[k] = runs.fig("stats", ["tensors", j, k])
    for p in ("p1", "p99"):
        f[p] = runs.fig("stats", ["tensors", j, "percentiles", p])
    f["histogram_counts"] = runs.fig("stats", ["tensors", j, "histogram", "counts"])
    f["histogram_edges"] = runs.fig("stats", ["tensors", j, "histogram", "edges"])
    for k in ("count", "nan", "posinf", "neginf", "min", "max"):
        f[f"all_{k}"] = runs.fig("stats", ["by_component", "total", k])
    first = _first_values(runs.model, name)
    if first:
        f["first_values"] = Figure(list(first), {"decode": name, "count": len(first)})
        f["first_count"] = Figure(len(first), {"decode": name, "count": len(first)})
    return "values", f


def _first_values(model: Model, name: str) -> tuple[float, ...]:
    from paramscope.analyses.values.sample import first_values
    from paramscope.sources.mapped import MappedFiles

    tensor = next(t for t in model.tensors if t.name == name)
    with MappedFiles() as files:
        return first_values(tensor, files)


def _storage(runs: _Runs, req: ExplainRequest) -> Built:
    ins = runs.json("inspect", tensors=True)
    f = {k: runs.fig("inspect", [k], tensors=True) for k in ("total_params", "weights_bytes")}
    f["bits_per_param"] = formula("weights_bytes * 8 / total_params", f)
    f["types"] = Figure(list(ins["by_dtype"]), {"command": "inspect", "options": {"tensors": True},
                                                "path": ["by_dtype"], "keys": True})
    for n, dtype in enumerate(ins["by_dtype"]):
        for k in ("params", "bytes", "share"):
            f[f"t{n}_{k}"] = runs.fig("inspect", ["by_dtype", dtype, k], tensors=True)
        f[f"t{n}_bits"] = formula(f"t{n}_bytes * 8 / t{n}_params", f) if f[f"t{n}_params"].value else \
            Figure(None, {"formula": "none: no parameters"})
        for k in ("block_size", "type_size"):
            f[f"t{n}_{k}"] = _dtype_field(dtype, k)
    if "pickle_safety" in ins:
        for k in ("summary", "could_run_code"):
            f[f"pickle_{k}"] = runs.fig("inspect", ["pickle_safety", k], tensors=True)
    return "storage", f


def _failed(runs: _Runs, command: str, options: dict[str, Any]) -> Figure | None:
    """The one-line error of a command that cannot answer for this source (no architecture to size or
    train a bare state dict with), as a figure; None when it answers."""
    try:
        runs.json(command, **options)
    except ParamscopeError as e:
        return Figure(str(e), {"command": command, "options": options, "error": True})
    return None


def _memory(runs: _Runs, req: ExplainRequest) -> Built:
    opts: dict[str, Any] = {} if req.context is None else {"context": req.context}
    if (error := _failed(runs, "size", opts)) is not None:
        return "memory", {"error": error}
    f: dict[str, Figure] = {}
    for weights, key in LOAD_AS:
        o = opts if weights is None else opts | {"weights": weights}
        f[f"weights_{key}"] = runs.fig("size", ["weights_bytes"], **o)
    for k in ("context", "kv_cache_bytes", "compute_bytes", "overhead_bytes", "total_bytes", "runtime",
              "kv_type"):
        f[k] = runs.fig("size", [k], **opts)
    ins = runs.json("inspect", tensors=True)
    f["stored_types"] = Figure(list(ins["by_dtype"]), {"command": "inspect", "options": {"tensors": True},
                                                       "path": ["by_dtype"], "keys": True})
    return "memory", f


def _tokens(runs: _Runs, req: ExplainRequest) -> Built:
    if (error := _failed(runs, "tokens", {"text": req.text})) is not None:
        return "tokens", {"text": Figure(req.text, {"request": "text"}), "error": error}
    f = {"text": Figure(req.text, {"request": "text"})}
    for k in ("count", "characters"):
        f[k] = runs.fig("tokens", [k], text=req.text)
    for k in ("name", "type", "vocab_size"):
        f[f"tokenizer_{k}"] = runs.fig("tokens", ["tokenizer", k], text=req.text)
    toks = runs.json("tokens", text=req.text)["tokens"]
    f["ids"] = Figure([t["id"] for t in toks], {"command": "tokens", "options": {"text": req.text},
                                                "path": ["tokens"], "each": "id"})
    f["pieces"] = Figure([t["text"] for t in toks], {"command": "tokens", "options": {"text": req.text},
                                                     "path": ["tokens"], "each": "text"})
    f["chars_per_token"] = formula("characters / count", f)
    return "tokens", f


def _training(runs: _Runs, req: ExplainRequest) -> Built:
    from paramscope.knowledge.catalogue.training import training_tokens

    row = None
    for name in catalogue_names(runs.model):
        if (row := training_tokens(name)) is not None:
            break
    f: dict[str, Figure] = {}
    opts: dict[str, Any] = {}
    if row is not None:
        origin = {"table": "training_tokens", "key": row.config}
        f["training_tokens"] = Figure(row.tokens, origin | {"field": "tokens"})
        f["stated"] = Figure(row.stated, origin | {"field": "stated"})
        f["url"] = Figure(row.source, origin | {"field": "source"})
        f["matched"] = Figure(row.config.removesuffix(".json"), origin | {"field": "config"})
        opts = {"tokens": row.tokens}
    if (error := _failed(runs, "train", opts)) is not None:
        return "training", f | {"error": error}
    f["n"] = runs.fig("train", ["active_params"], **opts)
    f["total_params"] = runs.fig("train", ["params"], **opts)
    f["optimal_tokens"] = runs.fig("train", ["optimal_tokens"], **opts)
    f["chinchilla"] = formula("optimal_tokens / n", f)
    f["tokens"] = runs.fig("train", ["tokens"], **opts)
    f["flops"] = runs.fig("train", ["flops"], **opts)
    f["flops_factor"] = formula("flops / (n * tokens)", f)
    if row is not None:
        f["tokens_per_param"] = formula("training_tokens / n", f)
        f["times_chinchilla"] = formula("tokens_per_param / chinchilla", f)
    return "training", f


def catalogue_names(model: Model) -> list[str]:
    """Names under which the catalogue may know this model: the catalogue entry itself, a GGUF file's
    ``general.basename`` + ``general.size_label`` ("gemma-3" + "270M"), the file or folder name."""
    import os

    names = []
    meta = model.metadata
    if isinstance(meta.get("catalogue"), str):
        names.append(meta["catalogue"].removesuffix(".json"))
    base, label = meta.get("general.basename"), meta.get("general.size_label")
    if isinstance(base, str) and isinstance(label, str):
        names.append(f"{base}-{label}".lower())
    text = source_text(model.source)
    stem = os.path.basename(os.path.normpath(text))
    names.extend([stem, stem.rsplit(".", 1)[0]])
    return [n for n in dict.fromkeys(names) if n]
