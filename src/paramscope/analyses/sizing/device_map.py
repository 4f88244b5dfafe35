"""Where ``from_pretrained(..., device_map="auto", max_memory=...)`` puts each part of a model.

transformers 5.x computes the map itself (integrations/accelerate.py ``_get_device_map``), with
accelerate's helpers for the parts it does not override (``get_max_layer_size``, accelerate's
``get_max_memory`` for the order of the devices). This module is that rule over paramscope's neutral
tensors, so the answer needs neither torch nor accelerate; tests/test_transformers_device_map_oracle.py
holds it equal to transformers' own on meta models (10 real configs, random budgets).

The rule, as ``_get_device_map`` runs it:

- ``max_memory`` in device order: GPUs by index, then ``cpu``, then ``disk`` (accelerate
  utils/modeling.py ``get_max_memory``); ``disk`` is always there and takes whatever is left.
- ``"auto"``, ``"balanced"`` and ``"balanced_low_0"`` first lower each GPU's budget but the last to an
  even share of the model plus 1.25 × its largest no-split block or leaf (``get_balanced_memory``);
  ``balanced_low_0`` keeps GPU 0 to what the others cannot hold (``generate`` works there).
  ``"sequential"`` fills GPU 0, then GPU 1, … as given.
- ``infer_auto_device_map`` walks the modules in definition order: a module that fits the current device
  goes there whole; one that does not is split into its direct parameters and children, unless it is a
  no-split block (``model._no_split_modules``: the decoder layers, a vision tower's encoder layers) or a
  leaf, which then moves the walk on to the next device. On GPU 0 and on the CPU (``main_devices``) the
  room of the largest remaining layer is kept free: an offloaded layer is copied there to run. Tied
  copies weigh nothing and go with the module holding the tensor they copy.

Modules from tensor names: a module is a name's dotted prefix; a numbered module (``layers.7``) and an
``embeddings`` module are no-split blocks, as the classes transformers lists mostly are (a class that lists
less, SmolVLM's vision attention but not its vision layers, splits where this does not). Siblings are
ordered as the modeling code defines them, not as a checkpoint sorts them (``lm_head`` before ``model``):
multimodal towers, projector, embeddings, the rest (layers), final norms, output head (``ORDER``); Mllama,
which defines its projector after the language model, is the exception seen.

Exact: the map and the bytes per device, for parameters (what the checkpoint holds, at the type asked),
and for the non-persistent buffers where the tensors given include them (the oracle test's meta models:
a rotary embedding after the final norm). A Model read from a checkpoint or config holds no such buffers
(rotary ``inv_freq``, CLIP's ``position_ids``: bytes to a few KB that transformers also places, so a
budget within that of a boundary may fall the other way); quantizers'
own adjustments (bitsandbytes keeps 10 % of each budget free: ``adjust_max_memory``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from paramscope.errors import UsageError
from paramscope.knowledge.roles import place
from paramscope.records import record
from paramscope.units import parse_bytes

MODES = ("auto", "balanced", "balanced_low_0", "sequential")
CPU, DISK = "cpu", "disk"
Device = int | str  # a GPU index, "cpu" or "disk"

# Sibling modules in the order the modeling code defines them, by the component (knowledge/roles.py) of
# their earliest-defined part: LlavaModel defines vision_tower, multi_modal_projector, language_model;
# LlamaModel embed_tokens, layers, norm, rotary_emb; LlamaForCausalLM model, then lm_head. Unlisted
# components: 3. "rotary": a rotary embedding module of the text model (its non-persistent inv_freq
# buffers), which the Llama template and its copies (Qwen, Mistral, Gemma, Phi, GPT-NeoX) define after the
# final norm
ORDER = {"vision": 0, "audio": 0, "projector": 1, "embedding": 2, "embedding/position": 2,
         "embedding/token_type": 2, "norm": 4, "rotary": 5, "output": 6}
TOWERS = frozenset({"vision", "audio", "projector"})  # a tower's rotary embedding stays in its tower
_ROTARY = re.compile(r"(?:^|\.)rotary_emb\w*\.")
# (a norm outside the layers is taken as the final one: LFM2's embedding_norm and BART's
# layernorm_embedding are defined after the layers; Bloom's word_embeddings_layernorm, before them, is not)
# Modules kept whole besides the layers: the ``*Embeddings`` modules many _no_split_modules list
# (BertPreTrainedModel: "BertEmbeddings"; CLIP: "CLIPVisionEmbeddings"; Idefics3, SigLIP, ViT alike)
NO_SPLIT_NAMES = frozenset({"embeddings"})
# encoder-decoders define the encoder before the decoder (WhisperModel, T5Model, BartModel), whatever the
# names sort as; an encoder is no earlier than its other siblings (CLIPVisionTransformer defines
# embeddings and pre_layrnorm before its encoder)
NAME_ORDER = {"decoder": 2}  # others: 1
_NUMBERED = re.compile(r"\d+")


@record
class Node:
    """A module (or a parameter held directly by one): its bytes and what it is made of."""

    name: str
    size: int
    children: tuple[Node, ...] = ()  # direct parameters first, then child modules (named_parameters,
    # then named_children, as infer_auto_device_map splits a module)
    no_split: bool = False
    is_module: bool = True  # False: a parameter held directly by a module with children

    @property
    def is_layer(self) -> bool:
        """accelerate ``get_max_layer_size``: a module without children, or a no-split one."""
        return not self.children or self.no_split


@record
class DeviceMap:
    """The placement: each module's device, and bytes per device in device order."""

    mode: str
    max_memory: tuple[tuple[Device, int | None], ...]  # as asked, in device order (None: not limited)
    budgets: tuple[tuple[Device, int | None], ...]  # after get_balanced_memory: what the walk used
    placed: tuple[tuple[str, Device], ...]  # module (or parameter) → device, in walk order
    bytes_by_device: tuple[tuple[Device, int], ...]  # every device of max_memory, disk last
    reserved: int  # the room kept on the main devices for the largest layer when something moved on

    def on(self, device: Device) -> int:
        return dict(self.bytes_by_device).get(device, 0)

    @property
    def gpus(self) -> tuple[int, ...]:
        return tuple(d for d, _ in self.bytes_by_device if isinstance(d, int))

    @property
    def main_device(self) -> Device:
        """Where offloaded modules run (accelerate big_modeling.py ``dispatch_model``): the first GPU
        holding a module, else the CPU."""
        used = [d for d in self.gpus if self.on(d)]
        return used[0] if used else CPU

    def device_of(self, name: str) -> Device | None:
        """The device of a tensor or module name: its own entry or its closest placed ancestor's."""
        return self.devices_of((name,))[name]

    def devices_of(self, names: Iterable[str]) -> dict[str, Device | None]:
        found = dict(self.placed)
        out: dict[str, Device | None] = {}
        for full in names:
            name = full
            while name and name not in found:
                name = name.rpartition(".")[0]
            out[full] = found.get(name)
        return out


def parse_max_memory(text: str | Mapping[Any, Any]) -> dict[Device, int]:
    """``0=20GiB,1=20GiB,cpu=64GiB``, or from_pretrained's own ``{0: "20GiB", "cpu": "64GiB"}`` (a mapping,
    or its text) → bytes per device. Sizes as accelerate's ``convert_file_size_to_int`` reads them
    (GiB = 2³⁰, GB = 10⁹); 0 leaves a device out."""
    items: list[tuple[Any, Any]]
    if isinstance(text, Mapping):
        items = list(text.items())
    else:
        items = []
        for part in filter(None, (p.strip() for p in str(text).strip("{} ").split(","))):
            key, sep, value = part.partition("=") if "=" in part else part.partition(":")
            if not sep:
                raise UsageError(f"--max-memory: {part!r} is not DEVICE=SIZE (e.g. 0=20GiB,cpu=64GiB)")
            items.append((key.strip(" '\""), value.strip(" '\"")))
    out: dict[Device, int] = {}
    for key, value in items:
        k = str(key).strip().lower()
        device: Device = int(k) if k.isdigit() else k
        if device not in (CPU, DISK) and not isinstance(device, int):
            raise UsageError(f"--max-memory: unknown device {key!r} (GPU indices 0, 1, …, cpu or disk)")
        zero = value == 0 or str(value).strip() == "0"
        out[device] = 0 if zero else parse_bytes(value, f"--max-memory {k}")
    if not out:
        raise UsageError("--max-memory: no device given (e.g. 0=20GiB,cpu=64GiB)")
    return out


# Tied copies a checkpoint does not store, by the tensor they copy: the encoder's and decoder's token
# embeddings of T5 and BART (modeling_t5.py / modeling_bart.py ``_tied_weights_keys``: both stacks'
# ``embed_tokens.weight`` are ``shared.weight``). They weigh nothing, but they hold the stacks to the
# embedding's device when those fit (infer_auto_device_map's tied groups).
TIED_COPIES = {"shared.weight": ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight")}


def tied_copies(names: Iterable[str]) -> list[list[str]]:
    """Tie groups (the tensor stored first, then its copies) for the stored ``names``: the copies of
    ``TIED_COPIES`` whose stack is there and whose own tensor is not."""
    stored = set(names)
    groups = []
    for name in stored:
        for source, copies in TIED_COPIES.items():
            if name == source or name.endswith("." + source):
                prefix = name[: len(name) - len(source)]
                found = [prefix + c for c in copies if prefix + c not in stored
                         and any(n.startswith(prefix + c.partition(".")[0] + ".") for n in stored)]
                if found:
                    groups.append([name, *found])
    return groups


def device_order(max_memory: Mapping[Device, int | None]) -> list[Device]:
    """accelerate ``get_max_memory``: GPUs by index, then cpu, then disk (always there)."""
    gpus = sorted(d for d in max_memory if isinstance(d, int))
    return [*gpus, *(d for d in (CPU, DISK) if d in max_memory or d == DISK)]


# --- the module tree from tensor names -------------------------------------------------------------
def module_tree(tensors: Iterable[tuple[str, int]], tied: Sequence[Sequence[str]] = (),
                no_split: Collection[str] | None = None) -> Node:
    """The root module of ``(name, bytes)`` pairs, modules in definition order (``ORDER``); a tensor
    others are tied to is an embedding whatever its name (T5's and BART's ``shared``). ``no_split``: the
    modules kept whole, where the model class is known (None: numbered ones and ``NO_SPLIT_NAMES``)."""
    # the tensor stored, its copies after it; a tied bias is a head's own (RobertaLMHead's decoder.bias is
    # lm_head.bias), not an embedding
    embeddings = {group[0] for group in tied if group and not group[0].endswith(".bias")}
    root: dict[str, Any] = {}
    rank: dict[str, tuple[int, int, int, int]] = {}
    for i, (name, size) in enumerate(tensors):
        parts = name.split(".")
        component = "embedding" if name in embeddings else place(name).component
        if component not in TOWERS and _ROTARY.search(name):  # GPT-J's is "embed_positions" inside
            component = "rotary"
        order = ORDER.get(component, 3)
        node = root
        for depth, part in enumerate(parts):
            prefix = ".".join(parts[:depth + 1])
            # a subtree goes where its earliest-defined part goes, a module that is that part before a
            # stack holding one (T5's shared embedding before its encoder); then by name, then as seen
            depth_rank = len(parts) - depth if order == ORDER["embedding"] else 0
            here = (order, depth_rank, NAME_ORDER.get(part, 1), i)
            seen = rank.get(prefix)
            rank[prefix] = min(here[:2], seen[:2]) + seen[2:] if seen else here
            if depth < len(parts) - 1:
                node = node.setdefault(part, {})
        node[parts[-1]] = (size,)  # a tensor: a 1-tuple among the dicts of child modules
    return _node("", root, rank, no_split)


def _node(name: str, body: dict[str, Any], rank: Mapping[str, tuple[int, int, int, int]],
          no_split: Collection[str] | None) -> Node:
    def full(key: str) -> str:
        return f"{name}.{key}" if name else key

    params = [Node(full(k), v[0], is_module=False) for k, v in body.items() if isinstance(v, tuple)]
    modules = [(k, v) for k, v in body.items() if isinstance(v, dict)]
    # numbered siblings (layers.0, layers.1, …) by number; named ones by ORDER
    modules.sort(key=lambda kv: (0, int(kv[0]), 0, 0, 0) if _NUMBERED.fullmatch(kv[0])
                 else (1, *rank[full(kv[0])]))
    children = [_node(full(k), v, rank, no_split) for k, v in modules]
    if not children:  # a leaf module: its tensors are its own, not units of their own
        return Node(name, sum(p.size for p in params))
    kids = (*params, *children)
    last = name.rpartition(".")[2]
    if no_split is not None:
        whole = name in no_split
    else:
        whole = bool(_NUMBERED.fullmatch(last)) or last in NO_SPLIT_NAMES
    return Node(name, sum(c.size for c in kids), kids, no_split=whole)


def _sizes(root: Node) -> tuple[dict[str, int], int, int]:
    """Sizes by name; the largest no-split block; the largest leaf (the module holding the tensors:
    compute_module_sizes' ``leaves_module_sizes``)."""
    sizes: dict[str, int] = {}
    big_block = big_leaf = 0
    stack = [root]
    while stack:
        n = stack.pop()
        sizes[n.name] = n.size
        if n.no_split:
            big_block = max(big_block, n.size)
        own = sum(c.size for c in n.children if not c.is_module) if n.children else n.size
        if n.is_module and own:
            big_leaf = max(big_leaf, own)
        stack.extend(n.children)
    return sizes, big_block, big_leaf


def _max_layer(nodes: Sequence[Node]) -> tuple[int, list[str]]:
    """accelerate utils/modeling.py ``get_max_layer_size``: the largest layer among ``nodes``."""
    best, names = 0, []
    todo = list(nodes)
    while todo:
        n = todo.pop(0)
        if not n.is_module or n.is_layer:
            if n.size > best:
                best, names = n.size, [n.name]
            elif n.size == best:
                names.append(n.name)
        else:
            todo = [c for c in n.children if c.is_module] + todo
    return best, names


# --- the rule ------------------------------------------------------------------------------------------
def balanced_memory(root: Node, max_memory: dict[Device, int | None], *, low_zero: bool,
                    user_set: bool = True) -> dict[Device, int | None]:
    """transformers integrations/accelerate.py ``get_balanced_memory``."""
    out = dict(max_memory)
    gpus = sorted(d for d, m in out.items() if isinstance(d, int) and m)
    if not gpus:
        return out
    if len(gpus) == 1:
        low_zero = False
        if not user_set:  # "We will use 90% of the memory on device 0 … and 10% for the buffer"
            out[gpus[0]] = int(out[gpus[0]] * 0.9)  # type: ignore[operator]
    _, big_block, big_leaf = _sizes(root)
    per_gpu = root.size // (len(gpus) - 1 if low_zero else len(gpus))
    per_gpu += int(1.25 * max(big_block, big_leaf))
    for idx in gpus[:-1]:
        cap = out[0] if low_zero and idx == 0 else per_gpu
        out[idx] = min(cap, out[idx])  # type: ignore[type-var]
    if low_zero:  # range(1, num_devices): GPU indices, as the source writes it
        rest = sum(out.get(i) or 0 for i in range(1, len(gpus)))
        out[0] = min(max(0, root.size - rest), out.get(0) or 0)
    return out


def infer_device_map(root: Node, budgets: Mapping[Device, int | None],
                     tied: Sequence[Sequence[str]] = ()) -> tuple[list[tuple[str, Device]], int]:
    """transformers integrations/accelerate.py ``infer_auto_device_map`` (without ``no_placement_params``,
    which only a few quantized MoE models set). ``tied``: groups of tied tensor names, the copies present
    in the tree with 0 bytes as ``compute_module_sizes`` counts them. Returns the placement and the room
    kept free on the main devices when the walk last moved on."""
    devices = device_order(budgets)
    gpus = [d for d in devices if isinstance(d, int)]
    main = {gpus[0], CPU} if gpus else {CPU}
    used = dict.fromkeys(devices, 0)
    todo: list[Node] = list(root.children) if root.children else [root]
    placed: list[tuple[str, Device]] = []
    current = 0
    max_size, max_names = _max_layer(todo)
    reserved = 0
    while todo:
        node = todo.pop(0)
        max_names = [n for n in max_names if n != node.name and not n.startswith(node.name + ".")]
        if not max_names:
            max_size, max_names = _max_layer([n for n in todo if n.is_module])
        # tied tensors outside this module whose partner is inside (the source's substring test)
        inside = node.name + "."
        groups = [g for g in tied
                  if any(inside in k + "." for k in g) and not all(inside in k + "." for k in g)]
        # each group sorted, as _init_infer_auto_device_map builds them: which partner is split first
        outside = [k for g in groups for k in sorted(g) if inside not in k + "."]
        partners: list[Node] = []  # get_module_size_with_ties: the entries still to treat holding them
        for k in outside:
            holder = next((n for n in todo if k.startswith(n.name + ".")), None)
            if holder is not None and all(p is not holder for p in partners):
                partners.append(holder)
        with_ties = node.size + sum(n.size for n in partners)
        device = devices[current]
        limit = budgets.get(device) if device != DISK else None
        kept = max_size if device in main else 0
        if limit is None or used[device] + with_ties <= limit - kept:
            used[device] += with_ties
            placed.append((node.name, device))
            for n in partners:  # tied modules go with it
                todo = [x for x in todo if x is not n]
                placed.append((n.name, device))
            continue
        if outside and used[device] + node.size <= limit - kept:
            # it fits without its tied partners: split the first partner that can be, and try again
            split = next((n for n in partners if n.children and not n.no_split), None)
            if split is not None:
                at = todo.index(split)
                todo = [node, *todo[:at], *split.children, *todo[at + 1:]]
                max_size, max_names = _max_layer([n for n in todo if n.is_module])
                continue
        if node.is_module and node.children and not node.no_split:  # split: its parts, in its place
            todo = list(node.children) + todo
            max_size, max_names = _max_layer([n for n in todo if n.is_module])
            continue
        reserved = max(reserved, kept)
        current += 1  # cannot be split: on to the next device, and try again there
        todo.insert(0, node)
    return placed, reserved


def device_map(tensors: Iterable[tuple[str, int]], mode: str, max_memory: Mapping[Device, int | None], *,
               user_set: bool = True, tied: Sequence[Sequence[str]] = (),
               no_split: Collection[str] | None = None) -> DeviceMap:
    """The placement of ``(name, bytes)`` tensors for ``device_map=mode`` within ``max_memory``
    (``user_set`` False: the budgets are the devices' own, as when from_pretrained gets none)."""
    if mode not in MODES:
        raise UsageError(f"device_map takes one of {', '.join(MODES)} (found {mode!r})")
    root = module_tree(tensors, tied, no_split)
    asked = {d: max_memory.get(d) for d in device_order(max_memory)}
    budgets = asked if mode == "sequential" else balanced_memory(
        root, asked, low_zero=mode == "balanced_low_0", user_set=user_set)
    placed, reserved = infer_device_map(root, budgets, tied)
    by_device = dict.fromkeys(asked, 0)
    sizes = _sizes(root)[0]
    for name, device in placed:
        by_device[device] += sizes[name]
    return DeviceMap(mode, tuple(asked.items()), tuple(budgets.items()), tuple(placed),
                     tuple(by_device.items()), reserved)
