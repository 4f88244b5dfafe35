"""transformers itself, on the ``meta`` device: the tensors ``save_pretrained`` would write for a config.

This is the reference our family table is tested against, and the fallback that counts a model type
the table has no row for (``pip install 'paramscope[oracle]'``). Nothing is allocated: the model is
built under ``torch.device("meta")``, where every parameter has a shape and a dtype but no storage.
Repository code is never run: a config with ``auto_map`` (one that needs ``trust_remote_code``) or a
``model_type`` that transformers does not define natively is refused with one line.

What a checkpoint holds is what ``PreTrainedModel.save_pretrained`` writes (modeling_utils.py):
``state_dict()`` (parameters and persistent buffers), less ``_keys_to_ignore_on_save``, less tied
duplicates (``remove_tied_weights_from_state_dict``: the tied LM head is stored once, as the
embedding), then ``revert_weight_conversion`` (core_model_loading.py), which turns the in-memory
layout of transformers ≥ 5 (fused 3-D expert tensors, renamed prefixes) back into the names and
shapes of the published checkpoints — the same names our table lists.

Those two steps and the config's construction are most of a big MoE config's count; the module runs
them with transformers' own decisions but without its per-tensor overheads (a regex compiled per key,
every renaming tried on every key, the module path walked from the top per key), and pauses the
cyclic garbage collector while a model is counted: twice as fast on the biggest default configs.
``fast=False`` runs transformers' own functions; tests/test_oracle_fast.py holds the answers equal.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import math
import re
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from copy import deepcopy
from functools import cache
from typing import Any

from paramscope.errors import UnsupportedError
from paramscope.gcpause import gc_paused
from paramscope.knowledge.families.hfconfig import saved_by_v4
from paramscope.model import Tensor
from paramscope.model.dtypes import DType, parse_dtype
from paramscope.records import record

INSTALL_HINT = "pip install 'paramscope[oracle]'"

# The classes a config without ``architectures`` is built as, first that builds wins (auto classes of
# transformers/models/auto/modeling_auto.py, looked up by config class as ``from_config`` does): a
# generative head where the type has one, else the bare model.
DEFAULT_HEADS = ("AutoModelForCausalLM", "AutoModelForImageTextToText", "AutoModelForSeq2SeqLM",
                 "AutoModelForSpeechSeq2Seq", "AutoModel")

# Model types whose default config transformers 5.24 cannot build (DbrxAttentionConfig has no
# rope_theta; Nemotron's and HunYuan's head_dim, Nemotron's num_key_value_heads default to None): the
# fewest fields that let it, each at the value the family's own default implies, so the comparison is
# still of the default model
DEFAULT_COMPLETIONS: dict[str, dict[str, Any]] = {
    "dbrx": {"attn_config": {"rope_theta": 10000.0}},
    "nemotron": {"head_dim": 128, "num_key_value_heads": 48},
    "hunyuan_v1_dense": {"head_dim": 128},
    "hunyuan_v1_moe": {"head_dim": 128},
    "dots1": {"n_routed_experts": 128, "n_shared_experts": 2, "num_experts_per_tok": 6},  # None by default
    # Lfm2MoeConfig.layer_types is None by default and Lfm2MoeDecoderLayer indexes it; the table reads a
    # config without one as attention in every layer (Lfm2Config's full_attn_idxs default)
    "lfm2_moe": {"layer_types": ["full_attention"] * 32},
    # AyaVisionConfig's default SigLIP has 14 heads over 1152 dimensions, which SiglipAttention refuses;
    # the head count shapes no tensor, so the default tower with 16 (So400m's) is the same model
    "aya_vision": {"vision_config": {"model_type": "siglip_vision_model", "hidden_size": 1152,
                                     "intermediate_size": 4304, "patch_size": 14, "image_size": 384,
                                     "num_hidden_layers": 26, "num_attention_heads": 16,
                                     "vision_use_head": False}},
}


def available() -> bool:
    """True when torch and transformers can be imported (the ``oracle`` extra)."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers"))


@cache
def _modules() -> tuple[Any, Any]:
    torch = importlib.import_module("torch")
    transformers = importlib.import_module("transformers")
    transformers.logging.set_verbosity_error()
    return torch, transformers


def version() -> str:
    return str(_modules()[1].__version__)


def native_model_types() -> list[str]:
    """Every model_type transformers defines natively (its CONFIG_MAPPING)."""
    auto = importlib.import_module("transformers.models.auto.configuration_auto")
    _modules()
    return sorted(auto.CONFIG_MAPPING_NAMES)


def not_native(cfg: Mapping[str, Any]) -> str | None:
    """Why transformers cannot build this config without repository code, or None when it can.

    A config with ``auto_map`` whose model_type transformers defines natively (DeepSeek-V3's) is built
    with the native class, as ``from_pretrained`` does without ``trust_remote_code``.
    """
    model_type = cfg.get("model_type")
    if isinstance(model_type, str) and model_type in native_model_types():
        return None
    if cfg.get("auto_map"):
        return ("its modeling code lives in its repository (auto_map), which paramscope never runs "
                "(trust_remote_code)")
    return f"transformers {version()} does not define it"


def foreign_architecture(cfg: Mapping[str, Any]) -> str | None:
    """Why the config is another model's under a model_type transformers defines, or None: its
    ``architectures`` name only classes transformers does not have (Grok-2's config says model_type "git",
    transformers' GIT captioning model, and Grok1ForCausalLM, which no transformers builds: counted as GIT
    it came to 54.9B parameters of its 269.6B)."""
    archs = cfg.get("architectures")
    model_type = cfg.get("model_type")
    if not isinstance(archs, list) or not archs or not all(isinstance(a, str) for a in archs):
        return None
    transformers = importlib.import_module("transformers")
    if any(hasattr(transformers, a) for a in archs):
        return None
    # the classes transformers maps the model_type to, spelled loosely (Kimi-K2.5's configs say
    # KimiK25ForConditionalGeneration, transformers Kimi_K25ForConditionalGeneration: the same model)
    auto = importlib.import_module("transformers.models.auto.modeling_auto")
    mapped: set[str] = set()
    for attr in dir(auto):
        names = getattr(auto, attr)
        if attr.startswith("MODEL") and attr.endswith("MAPPING_NAMES") and isinstance(names, Mapping):
            value = names.get(model_type)
            mapped.update(value if isinstance(value, list | tuple) else [value] if value else [])

    def loose(name: str) -> str:
        return name.replace("_", "").lower()

    if not mapped or {loose(a) for a in archs} & {loose(str(m)) for m in mapped}:
        return None
    return (f"its architectures ({', '.join(archs)}) are no class transformers builds for model_type "
            f"{model_type!r} ({', '.join(sorted(map(str, mapped))[:3])}…): another model, repository code")


def check_native(cfg: Mapping[str, Any], source: str) -> str:
    """The config's model_type, or UnsupportedError when building it would need repository code."""
    reason = not_native(cfg)
    if reason is not None:
        raise UnsupportedError(f"{source}: model_type {cfg.get('model_type')!r}: {reason}")
    return str(cfg["model_type"])


class ConfigRefused(UnsupportedError):
    """transformers' own config class refuses the values (a real config.json it cannot load: Llama 4
    Scout's integer attn_temperature_tuning, DBRX's integer moe_normalize_expert_weights)."""


class BuildFailed(UnsupportedError):
    """transformers accepts the config but builds none of its model classes here (its own failure, or an
    optional dependency missing: Gemma 3n's vision tower needs timm): nothing to compare with."""


def hf_config(cfg: Mapping[str, Any], source: str = "config.json", *, fast: bool = True) -> Any:
    """The transformers config object, exactly as ``AutoConfig.from_pretrained`` would build it."""
    model_type = check_native(cfg, source)
    auto = importlib.import_module("transformers.models.auto.configuration_auto")
    body = {k: v for k, v in cfg.items() if k != "model_type"}
    config_class = auto.CONFIG_MAPPING[model_type]
    try:
        # PreTrainedConfig.from_dict without keyword arguments is config_class(**body), then a log line
        # at info level whose f-string writes the whole config as JSON even where logging is off (a
        # third of the call); a class with its own from_dict (TimmWrapperConfig) is asked as it is
        if fast and _checked() and getattr(config_class.from_dict, "__func__", None) is _from_dict():
            return config_class(**body)
        return config_class.from_dict(body)
    except Exception as e:  # a config class rejecting the values: one line, not a traceback
        raise ConfigRefused(f"{source}: transformers rejects this {model_type} config: "
                               f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from e


def _from_dict() -> Any:
    return importlib.import_module("transformers.configuration_utils").PreTrainedConfig.from_dict.__func__


def model_classes(config: Any, cfg: Mapping[str, Any], preferred: tuple[str, ...] = ()) -> list[Any]:
    """The classes a checkpoint of this config may have been saved from, most likely first:
    ``architectures[0]`` when transformers defines it, then ``preferred`` (the class our table row
    describes), then the default heads of the config's class."""
    _, transformers = _modules()
    archs = [a for a in cfg.get("architectures") or () if isinstance(a, str)]
    out: list[Any] = []
    for name in (*archs[:1], *preferred):
        cls = getattr(transformers, name, None)
        if cls is not None and hasattr(cls, "_from_config") and cls not in out:
            out.append(cls)
    if out:
        return out
    for auto_name in DEFAULT_HEADS:
        mapping = getattr(transformers, auto_name)._model_mapping
        try:
            found = mapping.get(type(config), None)
        except (ValueError, ImportError, AttributeError):  # a mapping entry transformers itself lacks
            continue
        for cls in found if isinstance(found, tuple | list) else (found,):  # some map to several
            if cls is not None and cls not in out:
                out.append(cls)
    if not out:
        raise UnsupportedError(f"model_type {config.model_type!r}: transformers has no model class for it")
    return out


def torch_dtype_of(cfg: Mapping[str, Any]) -> DType | None:
    """``dtype``/``torch_dtype`` named by the config, if any."""
    for key in ("torch_dtype", "dtype"):
        name = cfg.get(key)
        if isinstance(name, str):
            try:
                return parse_dtype(name.removeprefix("torch."))
            except KeyError:
                continue
    return None


@record
class Reference:
    """What transformers says a checkpoint of one config holds."""

    class_name: str  # the model class built, e.g. "LlamaForCausalLM"
    tensors: tuple[Tensor, ...]
    # transformers' load-time key renamings (conversion_mapping.py, legacy ones included): two
    # spellings of one checkpoint name (Gemma 3's "vision_tower.vision_model." and
    # "vision_tower.") meet here, so comparisons apply it to both sides
    rename: Renamer
    # tensors the model has but saves once, as the tensor they are tied to (a tied lm_head); T5Config
    # and its kin force tying in transformers 5 even where the checkpoints store their own head
    tied: tuple[Tensor, ...] = ()


def reference(cfg: Mapping[str, Any], source: str = "config.json", preferred: tuple[str, ...] = (),
              dtype: DType | None = None, *, fast: bool = True) -> Reference:
    """The tensors ``save_pretrained`` writes for a model built from ``cfg`` (see the module doc).

    ``dtype`` is the type of floating parameters (default: the config's, else float32 as
    ``from_config`` builds); integer buffers keep their own. ``fast=False`` calls transformers' own
    functions for every step (tests/test_oracle_fast.py holds the two answers equal).
    """
    return (_reference_collector_paused if fast else _reference)(cfg, source, preferred, dtype, fast)


def _reference(cfg: Mapping[str, Any], source: str, preferred: tuple[str, ...], dtype: DType | None,
               fast: bool) -> Reference:
    config = hf_config(cfg, source, fast=fast)
    _tie_as_saved(config, cfg)
    dtype = dtype or torch_dtype_of(cfg) or DType.F32
    failures = []
    for cls in model_classes(config, cfg, preferred):
        try:
            model = _build(cls, config, dtype)
            state, tied = _state_to_save(model, fast)
            break
        except Exception as e:  # transformers' own failure on this config: reported in one line
            failures.append(_failure(cls, e))
    else:
        raise BuildFailed(f"{source}: transformers could not build {failures[0]}")
    return _saved(model, state, tied, dtype)


def _failure(cls: Any, e: Exception) -> str:
    """One class's failure to build or save, in the one line a refusal quotes."""
    return f"{cls.__name__}: {type(e).__name__}: {(str(e).splitlines() or [''])[0][:160]}"


def _tie_as_saved(config: Any, cfg: Mapping[str, Any]) -> None:
    """A wrapper's config that transformers 4.x saved naming no tie_word_embeddings: its head tied as 4.x
    tied it, by the text config (hfconfig.saved_by_v4), not by transformers 5's wrapper default."""
    if not saved_by_v4(cfg) or isinstance(cfg.get("tie_word_embeddings"), bool):
        return
    text = config.get_text_config(decoder=True)
    tied = getattr(text, "tie_word_embeddings", None)  # a 5.x text config may not define it (Qwen3-VL's)
    if text is not config and isinstance(tied, bool):
        config.tie_word_embeddings = tied


def _build(cls: Any, config: Any, dtype: DType) -> Any:
    """``cls._from_config(config)`` on the meta device, floating parameters of ``dtype``."""
    torch, _ = _modules()
    with torch.device("meta"), _torch_init_skipped():
        return cls._from_config(config, dtype=getattr(torch, _TORCH_NAMES.get(dtype, "float32")))


def _saved(model: Any, state: dict[str, Any], tied: dict[str, Any], dtype: DType) -> Reference:
    """The Reference of what _state_to_save found, floating tensors without a known type of ``dtype``."""
    buffers = {n for n, _ in model.named_buffers(remove_duplicate=False)}
    renamer = Renamer(model)
    # a saved name the conversion mapping changed (Granite Speech's encoder.… is the model's
    # model.encoder.…) is a buffer when its load-time name is one; only names ending as some buffer does
    # are renamed to ask (BatchNorm's running_mean was counted as a parameter before)
    leaves = {n.rsplit(".", 1)[-1] for n in buffers}
    plain = {n.removeprefix(renamer._prefix) for n in buffers}

    def is_buffer(name: str) -> bool:
        return name in buffers or (name.rsplit(".", 1)[-1] in leaves and renamer(name) in plain)

    # a default MoE config saves 100k+ tensors of a few hundred (dtype, shape) kinds: each kind's DType,
    # shape tuple and byte count are worked out once
    kinds: dict[tuple[Any, Any], tuple[tuple[int, ...], DType, int]] = {}

    def tensors(items: dict[str, Any]) -> tuple[Tensor, ...]:
        out = []
        for name, t in items.items():
            kind = kinds.get((t.dtype, t.shape))
            if kind is None:
                dt = _DTYPES.get(str(t.dtype).removeprefix("torch."), dtype)
                shape = tuple(t.shape)
                kind = kinds[t.dtype, t.shape] = (shape, dt, dt.nbytes(math.prod(shape)))
            out.append(Tensor(name, kind[0], kind[1], kind[2], is_parameter=not is_buffer(name)))
        return tuple(out)

    return Reference(type(model).__name__, tensors(state), renamer, tensors(tied))


# A default MoE model is a few hundred thousand Python objects, none of them garbage before its count
# ends, and every full collection while it is built and counted walks all of them: a quarter of a big
# config's time (dots3_note, glm5_next, kimi_k25, deepseek_v3, mistral_large4: 3.8 s → 2.5 s). The
# collector waits until the count is done, as timeit makes it wait.
_reference_collector_paused = gc_paused(_reference)


# torch's layers fill their new parameters as they are built (Linear.reset_parameters: kaiming_uniform_,
# …). On the meta device that fills nothing and changes no name, shape or dtype, yet it is a third of a
# build's time. While a model is built the torch.nn.init functions do nothing, as transformers' own
# no_init_weights makes them (its list of the modules holding them); not its patch of init_weights,
# which would also leave the weights untied. One build at a time: the patch is process-wide.
_BUILD_LOCK = threading.Lock()


def _skip(*args: Any, **kwargs: Any) -> None:
    return None


@contextmanager
def _torch_init_skipped() -> Iterator[None]:
    init = importlib.import_module("transformers.initialization")
    names = getattr(init, "TORCH_INIT_FUNCTIONS", {})
    with _BUILD_LOCK:
        saved = [(module, name, getattr(module, name))
                 for module in (sys.modules.get(m) for m in getattr(init, "TORCH_MODULES_TO_PATCH", ()))
                 if module is not None for name in names if hasattr(module, name)]
        try:
            for module, name, _ in saved:
                setattr(module, name, _skip)
            yield
        finally:
            for module, name, original in saved:
                setattr(module, name, original)


def saved_tensors(cfg: Mapping[str, Any], source: str = "config.json", preferred: tuple[str, ...] = (),
                  dtype: DType | None = None, *, fast: bool = True) -> tuple[Tensor, ...]:
    return reference(cfg, source, preferred, dtype, fast=fast).tensors


def _state_to_save(model: Any, fast: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """What save_pretrained writes, and the tied duplicates it leaves out."""
    mu = importlib.import_module("transformers.modeling_utils")
    cml = importlib.import_module("transformers.core_model_loading")
    state = model.state_dict()
    for key in model._keys_to_ignore_on_save or ():
        state.pop(key, None)
    with _parameters_looked_up_once(model) if fast and _checked() else nullcontext():
        kept = mu.remove_tied_weights_from_state_dict(dict(state), model)
    tied = {k: v for k, v in state.items() if k not in kept}
    revert = _revert_weight_conversion if fast else cml.revert_weight_conversion
    return dict(revert(model, kept)), tied


# -- remove_tied_weights_from_state_dict, each submodule found once --------------------------------
# On the meta device remove_tied_weights_from_state_dict (modeling_utils.py) tells tied tensors apart by
# the identity of model.get_parameter_or_buffer(name), for every key: torch's get_submodule walks the
# whole dotted path each time (three quarters of its time). While it runs, our own model answers
# with the same calls made a step at a time, each submodule path resolved once:
# m.get_parameter("a.b.w") is m.get_submodule("a.b").get_parameter("w"), and m.get_submodule("a.b") is
# m.get_submodule("a").get_submodule("b") (torch's get_submodule walks the atoms one by one). Anything
# else (a buffer, extra state, a name that is neither) goes to the model's own method. Only our model
# object carries it, and only for that call.


@contextmanager
def _parameters_looked_up_once(model: Any) -> Iterator[None]:
    own = model.get_parameter_or_buffer
    submodules: dict[str, Any] = {"": model}

    def submodule(path: str) -> Any:
        found = submodules.get(path)
        if found is None:
            parent, _, atom = path.rpartition(".")
            found = submodules[path] = submodule(parent).get_submodule(atom)
        return found

    def get_parameter_or_buffer(target: str) -> Any:
        path, _, name = target.rpartition(".")
        try:
            return submodule(path).get_parameter(name)
        except AttributeError:
            return own(target)

    model.get_parameter_or_buffer = get_parameter_or_buffer
    try:
        yield
    finally:
        del model.get_parameter_or_buffer
        # submodule refers to itself (a cycle only the collector frees): without the modules, the
        # model is freed as soon as it is dropped rather than at the next full collection
        submodules.clear()


# -- revert_weight_conversion, without a regex compiled per tensor ---------------------------------
# transformers' revert_weight_conversion (core_model_loading.py) is most of a default MoE config's count:
# - it files every key that no reverse converter matches under a WeightRenaming(original_key,
#   renamed_key) of its own, whose constructor compiles the key as a regex (half of its time). Such an
#   entry only hands its one tensor back under renamed_key (WeightRenaming.convert) when the key is a
#   plain name, so here it is that pair;
# - it passes every key through every reverse renaming (apply_renamings: 30 of them for dots3_note's
#   38k tensors), each a few Python calls deep before its regex says no. Here each renaming is first
#   asked at C speed which keys its _scoped_match can match at all (_candidates), and only those go
#   through its rename_source_key.
# Every decision (the conversions, which converter or renaming applies, the renamed names, the
# converters' outputs and their order) is still transformers' own call; the loops around them are
# revert_weight_conversion's and apply_renamings', which is why the fast path runs only with the very
# source it was checked against (_CHECKED) and otherwise calls transformers.

# A WeightRenaming built from a name of these characters has that name as its only source and target
# pattern (process_target_pattern and process_source_pattern change only "^", "(…)" and "\\") and
# compiles: what the shortcut assumes
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.]+")

# sha256 of the transformers code the fast paths repeat or assume (_checked_sources), as in
# transformers 5.24.0; tests/test_oracle_fast.py fails when the installed one differs, to have the fast
# paths checked again rather than silently lost
_CHECKED = "309d1ddd397675e139f3abe3880f3000cd060b1a36e111289b8c373ff331fbbb"


class _Fallback(Exception):
    """Keys meet under one name: transformers' own merging decides (its plain call)."""


def _renamers_matching_first(cml: Any) -> tuple[Any, ...]:
    """The rename_source_key methods that return (key, None) untouched, state and all, when
    _scoped_match finds nothing (the first thing they do)."""
    return (cml.WeightTransform.rename_source_key, cml.GroupWeightRename.rename_source_key,
            cml.Inkling2IndexOffsetWeightRename.rename_source_key)


def _checked_sources() -> str:
    inspect = importlib.import_module("inspect")
    cml = importlib.import_module("transformers.core_model_loading")
    mu = importlib.import_module("transformers.modeling_utils")
    r = cml.WeightRenaming
    parts = (cml.revert_weight_conversion, cml.apply_renamings, r.__init__, r.__setattr__, r.add_tensor,
             r.materialize_tensors, r.convert, r._scoped_match, cml.process_target_pattern,
             cml.process_source_pattern, *_renamers_matching_first(cml), cml.LayerPairCollapse,
             mu.remove_tied_weights_from_state_dict, mu.PreTrainedModel.get_parameter_or_buffer, _from_dict())
    return "".join(inspect.getsource(p) for p in parts)


@cache
def _checked() -> bool:
    """Whether the installed transformers has the very code the fast paths were checked against."""
    try:
        source = _checked_sources()
    except Exception:  # a transformers without these pieces, or without their source: its own calls
        return False
    return hashlib.sha256(source.encode()).hexdigest() == _CHECKED


def _revert_weight_conversion(model: Any, state: dict[str, Any]) -> dict[str, Any]:
    """transformers' ``revert_weight_conversion(model, state)``, the same dict in the same order."""
    cml = importlib.import_module("transformers.core_model_loading")
    if _checked():
        try:
            return _revert_fast(model, state, cml)
        except _Fallback:
            pass
    return dict(cml.revert_weight_conversion(model, state))


def _revert_fast(model: Any, state: dict[str, Any], cml: Any) -> dict[str, Any]:
    # revert_weight_conversion step by step, but for the (tensor,) entries of plain renamed keys and the
    # renamings applied a renaming at a time (_rename_all)
    if getattr(model, "_weight_conversions", None) is not None:  # a from_pretrained model: not built here
        raise _Fallback
    cm = importlib.import_module("transformers.conversion_mapping")
    conversions = [c for c in cm.get_model_conversion_mapping(model, add_legacy=False)
                   if not isinstance(c, cml.PrefixChange)]
    if not conversions:
        return state
    reverse = [c.reverse_transform() for c in conversions[::-1]]
    renamings = [c for c in reverse if isinstance(c, cml.WeightRenaming)]
    converters = [c for c in reverse if isinstance(c, cml.WeightConverter)]
    pattern_to_converter = {k: c for c in converters for k in c.source_patterns}

    # first the converters, key by key in transformers' order; the keys none of them takes are renamed
    items = sorted(state.items(), key=lambda kv: cml.dot_natural_key(kv[0]))
    converted = [cml.apply_converters(original_key, converters) for original_key, _ in items]
    unconverted = [i for i, (_, pattern) in enumerate(converted) if pattern is None]
    renamed = dict(zip(unconverted, _rename_all([items[i][0] for i in unconverted], renamings, cml),
                       strict=True))

    tensor_type = _modules()[0].Tensor
    entries: dict[str, Any] = {}
    for i, (original_key, tensor) in enumerate(items):
        renamed_key, source_pattern = converted[i]
        entry = entries.get(renamed_key)
        if source_pattern is not None:
            if entry is None:
                entry = entries[renamed_key] = deepcopy(pattern_to_converter[source_pattern])
            elif not isinstance(entry, cml.WeightConverter):
                raise _Fallback
            entry.add_tensor(renamed_key, original_key, source_pattern, tensor)
            continue
        renamed_key = renamed[i]
        if renamed_key in entries:
            raise _Fallback
        if (isinstance(tensor, tensor_type) and _PLAIN_NAME.fullmatch(original_key)
                and _PLAIN_NAME.fullmatch(renamed_key)):
            entries[renamed_key] = (tensor,)
        else:
            entry = entries[renamed_key] = cml.WeightRenaming(original_key, renamed_key)
            entry.add_tensor(renamed_key, original_key, original_key, tensor)

    # then each entry's tensors; a converter's outputs are renamed once all are known, each renaming
    # seeing them in the order transformers' loop shows them to it
    realized: list[tuple[str, Any, bool]] = []
    for first_name, entry in entries.items():
        if isinstance(entry, tuple):
            realized.append((first_name, entry[0], False))
            continue
        converter = isinstance(entry, cml.WeightConverter)
        for target_name, param in entry.convert(first_name, model=model, config=model.config).items():
            realized.append((target_name, param[0] if isinstance(param, list) else param, converter))
    to_rename = [i for i, (_, _, converter) in enumerate(realized) if converter]
    names = [name for name, _, _ in realized]
    for i, name in zip(to_rename, _rename_all([names[i] for i in to_rename], renamings, cml), strict=True):
        names[i] = name
    out: dict[str, Any] = {}
    for name, (_, param, _) in zip(names, realized, strict=True):
        out[name] = param
    return out


def _rename_all(keys: list[str], renamings: list[Any], cml: Any) -> list[str]:
    """``[apply_renamings(k, renamings) for k in keys]``, a renaming at a time: each renaming sees the
    keys in the same order and state as there (a GroupWeightRename remembers its guard key), less those
    its own first test would turn away unchanged."""
    keys = list(keys)
    # the keys under each scope (dots3_note: 15 renamings scoped to the audio tower, 11 to the vision
    # tower, none matching its 36k expert keys), and the keys joined in one string (a renaming whose
    # pattern needs text no key holds is skipped in one scan), each made once while no key changes
    scoped: dict[tuple[str, str], list[int]] = {}
    joined: list[str] = []
    for renaming in renamings:
        for i in _candidates(renaming, keys, scoped, joined, cml):
            renamed = renaming.rename_source_key(keys[i])[0]
            if renamed != keys[i]:
                keys[i] = renamed
                scoped.clear()
                joined.clear()
    return keys


def _candidates(renaming: Any, keys: list[str], scoped: dict[tuple[str, str], list[int]],
                joined: list[str], cml: Any) -> Iterable[int]:
    """Where in ``keys`` ``renaming._scoped_match`` matches (WeightTransform._scoped_match's own steps,
    in comprehensions: no Python call per key), or every index where its rename_source_key does not
    start with that test. A renaming whose pattern needs a piece of text that no key holds (the legacy
    ``LayerNorm.gamma``, ``.weight_g`` … that every model carries) matches none: one scan of the keys
    joined, not a regex search per key."""
    if type(renaming).rename_source_key not in _renamers_matching_first(cml):
        return range(len(keys))
    needs = _needed_text(renaming.compiled_sources.pattern, renaming.compiled_sources.flags)
    if needs is not None:
        if not joined:
            joined.append("\n".join(keys))
        if not any(text in joined[0] for text in needs):
            return ()
    search = renaming.compiled_sources.search
    if renaming.scope_prefix is None:
        if needs is not None and len(needs) == 1:  # the text first: a search only where it is
            (text,) = needs
            return [i for i, k in enumerate(keys) if text in k and search(k)]
        return [i for i, k in enumerate(keys) if search(k)]
    scope_prefix = f"{renaming.scope_prefix}." if renaming.scope_prefix != "" else ""
    base_model_prefix = f"{renaming.base_model_prefix}." if renaming.base_model_prefix != "" else ""
    longest = base_model_prefix + scope_prefix
    under = scoped.get((longest, scope_prefix))
    if under is None:
        under = scoped[longest, scope_prefix] = [i for i, k in enumerate(keys)
                                                 if k.startswith((longest, scope_prefix))]
    return [i for i in under
            if search(keys[i].removeprefix(longest if keys[i].startswith(longest) else scope_prefix))]


@cache
def _needed_text(pattern: str, flags: int) -> frozenset[str] | None:
    """Pieces of text one of which every match of the regex contains, or None where none is known.

    Read from the parsed pattern (the standard library's own parser): the longest run of literal
    characters matched once at the top level (groups included), or, for an alternation, one such run
    per branch. A key that contains none of them cannot match; keys are names (no newline), so none
    of the pieces can straddle two keys joined by newlines."""
    if flags & re.IGNORECASE:
        return None
    try:
        parsed = importlib.import_module("re._parser").parse(pattern, flags)
    except Exception:  # a parser other than CPython 3.11+'s: every key is searched
        return None
    needs = _needed_in(list(parsed))
    return needs if needs and all(needs) and not any("\n" in t for t in needs) else None


def _needed_in(items: list[Any]) -> frozenset[str] | None:
    constants = importlib.import_module("re._constants")
    flat: list[Any] = []
    stack = list(reversed(items))
    while stack:  # groups matched once, without flags of their own, are their items in sequence
        op, arg = stack.pop()
        if op is constants.SUBPATTERN and not arg[1] and not arg[2]:
            stack.extend(reversed(list(arg[3])))
        else:
            flat.append((op, arg))
    options: list[frozenset[str]] = []
    run: list[str] = []
    for op, arg in [*flat, (None, None)]:
        if op is constants.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            options.append(frozenset({"".join(run)}))
            run = []
        if op is constants.BRANCH:
            branches = [_needed_in(list(branch)) for branch in arg[1]]
            if all(b is not None for b in branches):
                options.append(frozenset().union(*(b for b in branches if b is not None)))
    return max(options, key=lambda o: min(map(len, o)), default=None)


class Renamer:
    """transformers' load-time renamings of one model (``from_pretrained``'s ``apply_renamings`` with the
    legacy ones), less ``base_model_prefix``: ``renamer(name)`` for one name, ``renamer.all(names)`` for
    many, the same answers as one call per name in that order.

    ``all`` is what comparisons use: two lists of up to 100k names (ours and transformers', mostly the
    same) each passed through the renamings, a few Python calls deep per renaming and name, were a fifth
    of the families' test time. There each renaming is applied a renaming at a time (_rename_all: only
    to the names its pattern can match at all), and where every renaming forgets what it has seen (all
    but GroupWeightRename: _stateless_renamers), each distinct name is renamed once per Renamer.

    The renamings are looked up in the model (a walk of its modules) the first time a name is renamed:
    the fallback, which only counts, never asks. Until then the Renamer holds the model.
    """

    __slots__ = ("_cache", "_cml", "_model", "_prefix", "_renamings", "_stateless")

    def __init__(self, model: Any) -> None:
        self._model: Any = model
        self._cml: Any = None
        self._renamings: list[Any] = []
        self._stateless = False
        # a checkpoint saved from the bare model (GPT-2's "h.0.…") loads into the head class
        # ("transformer.h.0.…"): from_pretrained adds or strips base_model_prefix, so names compare
        # without it
        self._prefix = f"{model.base_model_prefix}." if model.base_model_prefix else ""
        self._cache: dict[str, str] = {}

    def _looked_up(self) -> list[Any]:
        if self._model is not None:
            cm = importlib.import_module("transformers.conversion_mapping")
            self._cml = importlib.import_module("transformers.core_model_loading")
            self._renamings = [c for c in cm.get_model_conversion_mapping(self._model, add_legacy=True)
                               if isinstance(c, self._cml.WeightRenaming)]
            self._stateless = all(type(r).rename_source_key in _stateless_renamers(self._cml)
                                  for r in self._renamings)
            self._model = None
        return self._renamings

    def __call__(self, name: str) -> str:
        """transformers' own ``apply_renamings``, less the prefix."""
        renamings = self._looked_up()
        return self._cml.apply_renamings(name, renamings).removeprefix(self._prefix)

    def all(self, names: Iterable[str]) -> list[str]:
        renamings = self._looked_up()
        prefix = self._prefix
        names = list(names)
        if not _checked():
            return [self(n) for n in names]
        if not self._stateless:  # each renaming sees every name, in order, as apply_renamings shows them
            return [n.removeprefix(prefix) for n in _rename_all(names, renamings, self._cml)]
        cache = self._cache
        new = [n for n in names if n not in cache] if cache else names
        renamed = _rename_all(new, renamings, self._cml)
        if prefix:
            renamed = [n.removeprefix(prefix) for n in renamed]
        cache.update(zip(new, renamed, strict=True))
        return renamed if new is names else list(map(cache.__getitem__, names))


def _stateless_renamers(cml: Any) -> tuple[Any, ...]:
    """The rename_source_key methods whose answer depends on the key alone (each sets _was_used, which
    only says whether it ever matched: true after the same distinct keys either way)."""
    return (cml.WeightTransform.rename_source_key, cml.Inkling2IndexOffsetWeightRename.rename_source_key,
            cml.LayerPairCollapse.rename_source_key)


_TORCH_NAMES = {DType.F32: "float32", DType.F16: "float16", DType.BF16: "bfloat16", DType.F64: "float64"}
_DTYPES = {"float32": DType.F32, "float16": DType.F16, "bfloat16": DType.BF16, "float64": DType.F64,
           "int64": DType.I64, "int32": DType.I32, "int8": DType.I8, "uint8": DType.U8, "bool": DType.BOOL}
