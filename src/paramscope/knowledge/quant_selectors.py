"""Which modules a quantization config names, and with what: the name matching of each method, compiled once.

A quantized checkpoint's config picks layers by name: exact module names, names a module ends with, shell
globs, regular expressions. A stranger's config can list thousands of names (a Kimi-K2.5 export lists one per
expert) or a pattern that backtracks forever, so every matcher here is built once per config (exact names in
a dict, globs and expressions compiled) and an expression that can backtrack exponentially is refused
(``untrusted_regex``) rather than run. ``knowledge.quant_layouts`` (what a config stores) and
``knowledge.packing`` (what a file's packed tensors hold) share these, so both read a config alike.

The semantics follow the loader that reads each config (cited per function).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

# an expression longer than this is no module pattern (AMD's and Intel's longest are ~60 characters)
MAX_PATTERN = 1000
# characters that make an extra_config key a regular expression (vLLM 0.34 inc/config_parser.py)
INC_REGEX_CHARS = frozenset("*+?^$()[]{}|\\")
GLOB_CHARS = frozenset("*?[")
# at most three unbounded repeats an expression (``.*a.*b.*``: n³ tries on an n-character name); a counted
# repeat above 64 is as good as unbounded
MAX_OPEN_REPEATS, MAX_COUNTED_REPEAT = 3, 64
_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")


@lru_cache(maxsize=4096)
def untrusted_regex(pattern: str) -> re.Pattern[str] | None:
    """``pattern`` compiled, or None where it is not a usable expression: too long, invalid, or of a shape
    that can backtrack badly on a name that almost matches (``_risky``). None reads as "matches nothing";
    some harmless expressions (``(\\d+\\.)*x``) are refused with the rest."""
    if len(pattern) > MAX_PATTERN:
        return None
    try:
        import re._parser as sre_parse  # the parser re.compile itself runs

        tree = sre_parse.parse(pattern)
        if _risky(tree, False) or _open_repeats(tree) > MAX_OPEN_REPEATS:
            return None
        return re.compile(pattern)
    except (re.error, OverflowError, RecursionError, ValueError, TypeError):
        return None


def _risky(items: Any, inside: bool) -> bool:
    """Inside a repeat of more than one: another repeat (``(a*)*``, ``(.?){40}``) or an alternation
    (``(a|aa)+``, ``(.|\\w)*``; the parser factors ``(a|a)`` into a literal and an empty alternation): the
    shapes whose ways to match a string grow exponentially."""
    for op, av in items:
        name = str(op)
        if name in _REPEATS:
            _low, hi, body = av
            if inside or _risky(body, hi is None or hi > 1):
                return True
        elif (name == "BRANCH" and inside) or (
                name in _GROUPS and any(_risky(part, inside) for part in _GROUPS[name](av))):
            return True
    return False


def _open_repeats(items: Any) -> int:
    """Unbounded repeats in a pattern: k of them (``.*.*.*Z``) try n^k splits of an n-character name."""
    count = 0
    for op, av in items:
        name = str(op)
        if name in _REPEATS:
            count += (av[1] is None or av[1] > MAX_COUNTED_REPEAT) + _open_repeats(av[2])
        elif name in _GROUPS:
            count += sum(_open_repeats(part) for part in _GROUPS[name](av))
    return count


# the sub-patterns of a parsed group, alternation or look-around (re._parser's node arguments)
_GROUPS: dict[str, Callable[[Any], Sequence[Any]]] = {
    "SUBPATTERN": lambda av: [av[-1]], "BRANCH": lambda av: av[1],
    "ASSERT": lambda av: [av[1]], "ASSERT_NOT": lambda av: [av[1]]}


def glob_regex(pattern: str) -> re.Pattern[str] | None:
    """A shell glob as fnmatch reads it (case-sensitive), compiled once."""
    if len(pattern) > MAX_PATTERN:
        return None
    return re.compile(fnmatch.translate(pattern))


# --- compiled once per config: keyed by the identity of the object the config holds -------------------

_CACHE: dict[tuple[str, int], tuple[object, Any]] = {}


def _cached(kind: str, source: object, build: Callable[[], Any]) -> Any:
    key = (kind, id(source))
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is source:
        return hit[1]
    if len(_CACHE) > 256:
        _CACHE.clear()
    value = build()
    _CACHE[key] = (source, value)
    return value


class FirstMatch:
    """Keys in their config order, each an exact name or a pattern; ``first(name)`` is the value of the
    earliest key that matches. Exact keys are looked up in a dict and patterns only scanned up to it."""

    def __init__(self, items: Sequence[tuple[str, Any]], is_pattern: Callable[[str], bool],
                 compile_pattern: Callable[[str], re.Pattern[str] | None], search: bool = False) -> None:
        self.exact: dict[str, tuple[int, Any]] = {}
        self.patterns: list[tuple[int, re.Pattern[str], Any]] = []
        for i, (key, value) in enumerate(items):
            if is_pattern(key):
                rx = compile_pattern(key)
                if rx is not None:
                    self.patterns.append((i, rx, value))
            else:
                self.exact.setdefault(key, (i, value))
        self.search = search

    def first(self, name: str) -> Any:
        found = self.exact.get(name)
        limit = found[0] if found else len(self.exact) + len(self.patterns) + 1
        for i, rx, value in self.patterns:
            if i >= limit:
                break
            if (rx.search(name) if self.search else rx.match(name)) is not None:
                return value
        return found[1] if found else None


# --- Intel AutoRound (vLLM 0.34 inc/config_parser.py INCConfigParser._resolve_raw) ----------------------

def autoround_override(extra: Any, module: str) -> tuple[Mapping[str, Any], bool] | None:
    """The extra_config entry for a module and whether it was named (not found by an expression): its own
    name first, then a key it ends with (".lm_head"), then the first key with regular-expression characters
    searched in it; None when no key matches. A named entry's missing fields take the global config's
    values; a matched expression's, the layer's own defaults (16 bits outside the quantized blocks)."""
    if not isinstance(extra, Mapping) or not extra:
        return None
    named, patterns = _cached("autoround", extra, lambda: _autoround_index(extra))
    hit = named.get(module)
    if hit is not None:
        return hit[1], True
    parts = module.split(".")
    suffixes = [found for i in range(1, len(parts)) if (found := named.get(".".join(parts[i:]))) is not None]
    if suffixes:
        return min(suffixes, key=lambda f: f[0])[1], True  # the first such key in the config's order
    found = patterns.first(module)
    return (found, False) if found is not None else None


def _autoround_index(extra: Mapping[str, Any]) -> tuple[dict[str, tuple[int, Any]], FirstMatch]:
    entries = [(str(k), v) for k, v in extra.items() if isinstance(v, Mapping)]
    named = {k: (i, v) for i, (k, v) in enumerate(entries)}
    patterns = FirstMatch([(k, v) for k, v in entries if INC_REGEX_CHARS & set(k)], lambda k: True,
                          untrusted_regex, search=True)
    return named, patterns


# --- AMD Quark (quark/torch/quantization/config: the export's order) ------------------------------------

# Quark's element types → bits per weight (quark/torch/quantization/config/type.py Dtype)
QUARK_BITS = {"fp4": 4, "int4": 4, "uint4": 4, "fp6_e2m3": 6, "fp6_e3m2": 6, "fp8_e4m3": 8, "fp8_e5m2": 8,
              "int8": 8, "uint8": 8}


def quark_weight(spec: Any) -> Mapping[str, Any] | None:
    """A Quark spec's weight quantizer: the first of a list (NVFP4's two levels), or None."""
    weight = spec.get("weight") if isinstance(spec, Mapping) else None
    if isinstance(weight, list):
        weight = weight[0] if weight else None
    return weight if isinstance(weight, Mapping) else None


def quark_bits(spec: Any) -> int | None:
    """The bits per weight of a Quark spec's weight type (QUARK_BITS); None where unquantized or unknown."""
    weight = quark_weight(spec)
    return QUARK_BITS.get(str(weight.get("dtype"))) if weight else None


def quark_spec(config: Mapping[str, Any], module: str) -> Mapping[str, Any] | None:
    """The spec a Quark export gave a Linear: None when ``exclude`` names it (its own name, a shell glob,
    or "re:" and an expression matched from its start), else layer_quant_config's first matching glob,
    else layer_type_quant_config["Linear"], else global_quant_config."""
    exclude = config.get("exclude")
    if isinstance(exclude, list) and _cached("quark-exclude", exclude, lambda: _quark_exclude(exclude))(
            module):
        return None
    layers = config.get("layer_quant_config")
    if isinstance(layers, Mapping) and layers:
        spec = _cached("quark-layers", layers, lambda: FirstMatch(
            [(str(k), v) for k, v in layers.items() if isinstance(v, Mapping)],
            lambda k: bool(GLOB_CHARS & set(k)), glob_regex)).first(module)
        if spec is not None:
            return spec
    by_type = config.get("layer_type_quant_config")
    if isinstance(by_type, Mapping) and isinstance(by_type.get("Linear"), Mapping):
        return by_type["Linear"]
    spec = config.get("global_quant_config")
    return spec if isinstance(spec, Mapping) else None


def _quark_exclude(patterns: list[Any]) -> Callable[[str], bool]:
    items = [(str(p), True) for p in patterns]
    match = FirstMatch(items, lambda p: p.startswith("re:") or bool(GLOB_CHARS & set(p)),
                       lambda p: untrusted_regex(p[3:]) if p.startswith("re:") else glob_regex(p))
    return lambda module: match.first(module) is not None


def quark_kv_output(config: Mapping[str, Any], module: str) -> bool:
    """Whether export.kv_cache_group names the module (its output scale is the KV cache's)."""
    export = config.get("export")
    groups = export.get("kv_cache_group") if isinstance(export, Mapping) else None
    if not isinstance(groups, list) or not groups:
        return False
    match = _cached("quark-kv", groups, lambda: FirstMatch(
        [(str(g), True) for g in groups], lambda g: bool(GLOB_CHARS & set(g)), glob_regex))
    return match.first(module) is not None


# --- NVIDIA ModelOpt MIXED_PRECISION (vLLM 0.34 modelopt.py ModelOptMixedPrecisionConfig) --------------

def modelopt_recipe(layers: Mapping[str, Any], module: str, experts: bool) -> Mapping[str, Any] | None:
    """The recipe vLLM's _resolve_quant_algo finds for a module: its own name (the head also as "lm_head";
    "model.language_model." and "language_model.model." taken for each other), else the first key under it
    (a prefix of "<module>."); for an expert's matrix the routed-experts module ("…mlp.experts") is the
    layer vLLM asks for: its own key, the first key under it, else the first key under its parent (vLLM's
    ".experts" fallback). None: unquantized."""
    if not layers:
        return None
    exact, under = _cached("modelopt", layers, lambda: _modelopt_index(layers))
    asked = [module]
    if experts and ".experts." in module:
        asked = [module[:module.rindex(".experts.") + len(".experts")]]
    for name in asked:
        for candidate in _modelopt_candidates(name):
            if candidate in exact:
                return exact[candidate]
        for candidate in _modelopt_candidates(name):
            if candidate in under:
                return under[candidate]
        if experts and name.endswith(".experts"):
            parent = name[:-len(".experts")]
            for candidate in _modelopt_candidates(parent):
                if candidate in under:
                    return under[candidate]
    return None


def _modelopt_candidates(name: str) -> list[str]:
    out = [name]
    if name.endswith("lm_head"):
        out.append("lm_head")
    for a, b in (("model.language_model.", "language_model.model."),
                 ("language_model.model.", "model.language_model.")):
        if name.startswith(a):
            out.append(b + name[len(a):])
    return out


def _modelopt_index(layers: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each key's recipe, and for every dotted prefix of a key the recipe of the first key under it."""
    exact: dict[str, Any] = {}
    under: dict[str, Any] = {}
    for key, recipe in layers.items():
        if not isinstance(recipe, Mapping):
            continue
        key = str(key)
        exact.setdefault(key, recipe)
        parts = key.split(".")
        for i in range(1, len(parts)):
            under.setdefault(".".join(parts[:i]), recipe)
    return exact, under
