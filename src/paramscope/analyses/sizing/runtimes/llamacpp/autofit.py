"""llama.cpp's automatic fitting of the parameters a user left unset to the free memory of its GPUs
(``--fit``, on by default since PR 16653, mid-December 2025: ``llama_params_fit`` in src/llama.cpp, then
``common_fit_params`` in common/fit.cpp from PR 22171, April 2026; ``llama-fit-params`` prints its
choice).

What it does on one GPU, in the order common_params_fit_impl does it:

1. Project the memory of every layer on the GPU (a dry run: weights + KV cache + compute buffers). If the
   GPU keeps ``--fit-target`` free (1024 MiB by default), nothing changes.
2. Without ``-c`` (llama.cpp's default n_ctx 0: the model's trained context), the context is shortened
   first, down to ``--fit-ctx`` (4096) at the least, to what leaves the target free (``fit_context``); on
   one GPU that ends it when it suffices. paramscope does this for a request without ``--context``.
3. ``-ngl`` (any value, 0 included) or a tensor override (``-ot``, ``--n-cpu-moe``) given by the user
   stops it ("... already set by user, abort"): the placement is the user's. (``--tensor-split`` and a row
   split stop it only over several GPUs: ``fit_gpus``.)
4. A mixture of experts whose every layer fits on the GPU with all its routed experts in host memory keeps
   the experts of the *first* layers on the GPU, as many as fit ("converting dense-only layers to full
   layers and filling them front-to-back"): the experts of the last layers stay in host memory, the
   opposite end from ``--n-cpu-moe``. One boundary layer may keep part of its experts (``ffn_up``, or up
   and gate) on the GPU, less than one layer's experts: not modelled.
5. Otherwise (a dense model, or one whose non-expert part alone is too large) whole layers go to the GPU
   from the back, the output layer first, as many as fit ("filling dense layers back-to-front"); of a
   mixture of experts the GPU then holds the first of its layers whole and the rest without their experts.

Each search keeps the largest count whose projection leaves the target free (llama.cpp's regula falsi
stops at a gap of one layer with the lower bound). The projection is paramscope's own memory model, the
one the size estimate prints, so the choice is as exact as those figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from paramscope.analyses.sizing.request import MemoryRequest
from paramscope.analyses.sizing.runtimes import option
from paramscope.records import record

MiB = 1 << 20
FIT_TARGET_BYTES = 1024 * MiB  # common.h fit_params_target: 1024 MiB free on each device
# the build families whose llama-server / llama-cli run the fit by default (params.py BUILDS: early-2026
# starts with PR 18148, the same weeks as PR 16653)
FIT_BUILDS = frozenset({"current", "mid-2026", "early-2026"})

# (n_gpu_layers or None for all, layers whose routed experts stay in host memory) → projected GPU bytes
Probe = Callable[[int | None, frozenset[int]], int]


@record
class FitChoice:
    """The placement llama.cpp's fit settles on for one GPU."""

    n_gpu_layers: int | None  # None: every layer (the default -ngl)
    cpu_expert_layers: frozenset[int]  # layers on the GPU whose routed experts stay in host memory
    gpu_bytes: int  # the projection of that placement
    target_bytes: int  # what the GPU may hold: its free memory less --fit-target
    how: str  # the step that chose it, in llama.cpp's words


def largest(ok: Callable[[int], bool], lo: int, hi: int) -> int:
    """The largest k in [lo, hi] with ok(k), for a predicate true up to some point and false after it;
    lo when none is."""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid - 1)
    return lo


def fit_one_gpu(probe: Probe, target: int, n_slots: int, expert_layers: tuple[int, ...]) -> FitChoice | None:
    """llama.cpp's choice for one GPU (module docstring), None where every layer fits as asked.
    ``n_slots``: the repeating layers and the output layer (-ngl's range); ``expert_layers``: the layers
    holding routed experts."""
    everything = probe(None, frozenset())
    if everything <= target:
        return None
    experts = tuple(sorted(expert_layers))
    if experts and probe(None, frozenset(experts)) <= target:
        def hosted(n_full: int) -> frozenset[int]:
            return frozenset(il for il in experts if il >= n_full)

        n_full = largest(lambda n: probe(None, hosted(n)) <= target, 0, n_slots - 1)
        return FitChoice(None, hosted(n_full), probe(None, hosted(n_full)), target,
                         "converting dense-only layers to full layers front-to-back")

    def dense_only(ngl: int) -> frozenset[int]:
        # the GPU's slice starts at n_slots − ngl (the output layer is the last slot); its first layer
        # stays whole, the others leave their experts in host memory
        start = n_slots - ngl
        return frozenset(il for il in experts if il > start)

    ngl = largest(lambda n: probe(n, dense_only(n)) <= target, 0, n_slots)
    return FitChoice(ngl, dense_only(ngl), probe(ngl, dense_only(ngl)), target,
                     "filling dense-only layers back-to-front" if experts else
                     "filling dense layers back-to-front")


# --- several GPUs ---------------------------------------------------------------------------------
# (slots per device front to back, or None for llama.cpp's default even split of every slot; layers whose
# routed experts stay in host memory) → each device's projected bytes
DevicesProbe = Callable[[tuple[int, ...] | None, frozenset[int]], tuple[int, ...]]


@record
class GpusFitChoice:
    """The placement llama.cpp's fit settles on over several identical GPUs."""

    layers: tuple[int, ...]  # slots per device, front to back (the --tensor-split it writes)
    cpu_expert_layers: frozenset[int]  # layers on a GPU whose routed experts stay in host memory
    device_bytes: tuple[int, ...]  # the projection of that placement, per device
    target_bytes: int  # what each GPU may hold: its free memory less --fit-target
    how: str


def hosted_experts(layers: tuple[int, ...], parts: tuple[int, ...], n_slots: int,
                   experts: frozenset[int]) -> frozenset[int]:
    """The layers whose routed experts a placement leaves in host memory (set_ngl_tensor_split_tbo): the
    GPUs hold the last sum(layers) slots, device by device front to back; of each device's slice the
    first ``layers − parts`` are whole and the next ``parts`` keep their experts in host memory (the last
    device's last slot is the output layer, which holds none)."""
    il, out = n_slots - sum(layers), set[int]()
    for n, p in zip(layers, parts, strict=True):
        il += n - p
        out.update(range(il, il + p))
        il += p
    return frozenset(out) & experts


def fit_gpus(probe: DevicesProbe, target: int, n_slots: int, expert_layers: tuple[int, ...], n_devices: int,
             replace_even: bool = False) -> GpusFitChoice | None:
    """llama.cpp's choice over ``n_devices`` identical GPUs (common_params_fit_impl, steps 3 and 4), None
    where the default even split leaves the target free on every one (and ``replace_even`` is not set: after
    its context step shortened the context, llama.cpp places the layers again whatever the even split
    would do).

    Step 3 fills the devices from the last to the first, each with as many of the slots not yet placed as
    leave it the target free; of a mixture of experts every layer so placed keeps its routed experts in
    host memory (the last device's first layer whole). Step 4, for a mixture of experts whose projection
    with every expert in host memory leaves room over all devices together, converts those layers to whole
    ones, front to back: each device from the first takes as many as fit from the devices after it. The
    boundary layer llama.cpp then tries to part-fill (its ``ffn_up``, or up and gate, on the GPU) is not
    modelled: the choice can keep one layer's experts fewer on a GPU than llama.cpp."""
    if not replace_even and all(b <= target for b in probe(None, frozenset())):
        return None
    experts = frozenset(expert_layers)
    nd = n_devices
    layers, parts = [0] * nd, [0] * nd

    def bytes_at(ls: list[int], ps: list[int]) -> tuple[int, ...]:
        return probe(tuple(ls), hosted_experts(tuple(ls), tuple(ps), n_slots, experts))

    def dense_only(d: int, k: int) -> tuple[list[int], list[int]]:
        ls, ps = layers.copy(), parts.copy()
        ls[d] = k
        if experts:
            ps[d] = k if d < nd - 1 else max(k - 1, 0)
        return ls, ps

    for d in reversed(range(nd)):
        def dense_fits(k: int, d: int = d) -> bool:
            return bytes_at(*dense_only(d, k))[d] <= target

        k = largest(dense_fits, 0, n_slots - sum(layers[d + 1:]))
        layers, parts = dense_only(d, k)

    def choice(how: str) -> GpusFitChoice:
        hosted = hosted_experts(tuple(layers), tuple(parts), n_slots, experts)
        return GpusFitChoice(tuple(layers), hosted, probe(tuple(layers), hosted), target, how)

    if not experts:
        return choice("filling dense layers back-to-front")
    surplus = sum(target - b for b in probe(None, experts))
    if surplus <= 0 or not any(layers):
        return choice("filling dense-only layers back-to-front")
    start = nd
    while start > 0 and layers[start - 1] > 0:
        start -= 1
    d = 0
    while d <= start < nd:
        movable = sum(parts[start:])
        def whole_fits(c: int, d: int = d, ls: list[int] = layers, ps: list[int] = parts, s: int = start
                       ) -> bool:
            return bytes_at(*_made_whole(ls, ps, s, d, c)[:2])[d] <= target

        c = largest(whole_fits, 0, movable)
        layers, parts, start = _made_whole(layers, parts, start, d, c)
        d += 1
    return choice("converting dense-only layers to full layers front-to-back")


def _made_whole(layers: list[int], parts: list[int], start: int, d: int, c: int
                ) -> tuple[list[int], list[int], int]:
    """``c`` dense-only layers, taken from the devices from ``start`` on in order, made whole on device d
    (``d`` may be ``start`` itself); and the first device left with dense-only layers."""
    ls, ps, s, done = layers.copy(), parts.copy(), start, 0
    while s < len(ls):
        n = min(c - done, ps[s])
        ls[s] -= n  # one at a time: s may be d
        ps[s] -= n
        ls[d] += n
        done += n
        if ps[s] > 0:
            break
        s += 1
    return ls, ps, s


def gpus_placement_words(choice: GpusFitChoice, n_slots: int) -> str:
    words = (f"{sum(choice.layers)} of {n_slots} layers on the GPUs, "
             f"{'+'.join(map(str, choice.layers))} per GPU (the last ones on the last GPU)")
    if choice.cpu_expert_layers:
        words += f", the routed experts of layers {layer_ranges(choice.cpu_expert_layers)} in host memory"
    return words


def gpus_fit_explanation(choice: GpusFitChoice, n_slots: int) -> str:
    per_gpu = "+".join(f"{b:,}" for b in choice.device_bytes)
    return (f"--fit ({choice.how}): {gpus_placement_words(choice, n_slots)}; projected {per_gpu} B of the "
            f"{choice.target_bytes:,} B each GPU may hold (usable memory less --fit-target)")


# the words of the note of a placement priced over several GPUs, and of the same placement not priced
# (adapter.engine_choice_notes rewrites the one into the other)
PRICED_GPUS = "--fit on: llama.cpp keeps"
WOULD_GPUS = ("llama.cpp's --fit (on by default since December 2025) would not load this as priced: it "
              "keeps")
PRICED_END = "; the figures follow that placement"
WOULD_END = "; `size --fit on` prices that placement"


def gpus_fit_note(choice: GpusFitChoice, n_slots: int, target_mib: int) -> str:
    """The note of a placement over several GPUs that the figures follow."""
    return (f"{PRICED_GPUS} {target_mib} MiB free on each GPU ({choice.how}): "
            f"{gpus_placement_words(choice, n_slots)} (as -ngl {sum(choice.layers)} --tensor-split "
            f"{','.join(map(str, choice.layers))}){PRICED_END}")


CONTEXT_ALIGN = 256  # "round down context for CUDA backend" (common_params_fit_impl)


# how fit_context settled: the trained context kept, shortened to what fits, or --fit-ctx (nothing fits)
KEPT, SHORTENED, SHORTEST = "kept", "shortened", "shortest"


def fit_context(used: Callable[[int], int], target: int, longest: int, shortest: int,
                room: int | None = None) -> tuple[int, str]:
    """The context llama.cpp's fit gives a run without -c, and how: the model's trained context where the
    projection at it leaves the target free (KEPT); else the line between the projections at the trained
    context and at --fit-ctx, read at the target and rounded down to 256 (``n_ctx = n_min + (n_max − n_min)
    × (target − used_min) / (used_max − used_min)``, SHORTENED); --fit-ctx where even that does not fit
    (SHORTEST: the layers are fitted next). Over several GPUs ``used`` is their sum, ``room`` what they may
    hold together (the context is kept where that suffices) and ``target`` less, by the layers' waste
    (``gpus_context_target``)."""
    full = used(longest)
    if full <= (target if room is None else room) or longest <= shortest:
        return longest, KEPT
    low = used(shortest)
    if target > low and full > low:
        ctx = shortest + (longest - shortest) * (target - low) // (full - low)
        return max(ctx - ctx % CONTEXT_ALIGN, shortest), SHORTENED
    return shortest, SHORTEST


def gpus_context_target(room: int, n_devices: int, model_bytes: int, n_layer: int, moe: bool) -> int:
    """What llama.cpp's context step aims at over several GPUs: their room less the waste of placing whole
    layers (a dense model) or whole tensors (about a third of a layer, a mixture of experts), half of one
    per device and one more: ``(nd + 1) × model_per_layer / (2 or 6)``, model_per_layer the weights on
    the GPUs over the layers."""
    return room - (n_devices + 1) * (model_bytes // max(n_layer, 1)) // (6 if moe else 2)


def fit_unavailable(req: MemoryRequest, build: str) -> str | None:
    """Why llama.cpp would not run its fit at all here (or paramscope does not model it), None where it
    would: a build family that has the fit, mainline, a GPU (or several of a layer split). Its context step
    then runs whatever the placement (``fit_skipped`` adds what stops the layer step)."""
    if req.device is None or req.device.kind != "gpu":
        return "no GPU to fit"
    if build not in FIT_BUILDS:
        return f"builds of the {build} family have no --fit (it came in mid-December 2025)"
    if option(req, "llamacpp_fork") != "mainline":
        return f"{option(req, 'llamacpp_fork')} has no --fit"
    if req.n_devices > 1 and option(req, "split_mode") == "none":
        return "--split-mode none runs on the main GPU alone, whose fit is not modelled"
    return None


def fit_skipped(req: MemoryRequest, build: str) -> str | None:
    """Why llama.cpp would not fit this request's placement, None where it would: ``fit_unavailable``,
    or a placement of the user's own (common_params_fit_impl aborts on any -ngl but its default,
    "n_gpu_layers already set by user", and on any tensor override, --n-cpu-moe's included;
    --tensor-split and a row split are tested only with several GPUs)."""
    if (unavailable := fit_unavailable(req, build)) is not None:
        return unavailable
    if req.options.get("n_gpu_layers") is not None:
        ngl = req.options["n_gpu_layers"]
        return f"-ngl {ngl} is set, so llama.cpp's fit stops (\"n_gpu_layers already set by user\")"
    if req.options.get("n_cpu_moe"):
        return "--n-cpu-moe is a tensor override, so llama.cpp's fit stops"
    if req.n_devices > 1 and req.options.get("tensor_split"):
        return "--tensor-split is set, so llama.cpp's fit stops (\"tensor_split already set by user\")"
    if req.n_devices > 1 and option(req, "split_mode") == "row":
        return ("a row split stops llama.cpp's fit (\"changing weight allocation for LLAMA_SPLIT_MODE_ROW "
                "not implemented\")")
    return None


def layer_ranges(layers: Iterable[int]) -> str:
    """Layer indices as runs: 0–3, 7, 9–12."""
    runs: list[list[int]] = []
    for il in sorted(layers):
        if runs and il == runs[-1][1] + 1:
            runs[-1][1] = il
        else:
            runs.append([il, il])
    return ", ".join(f"{a}–{b}" if b > a else f"{a}" for a, b in runs) or "none"


def placement_words(choice: FitChoice, n_slots: int) -> str:
    ngl = n_slots if choice.n_gpu_layers is None else choice.n_gpu_layers
    words = f"{ngl} of {n_slots} layers on the GPU"
    if choice.cpu_expert_layers:
        words += f", the routed experts of layers {layer_ranges(choice.cpu_expert_layers)} in host memory"
    return words


def fit_explanation(choice: FitChoice, n_slots: int) -> str:
    return (f"--fit ({choice.how}): {placement_words(choice, n_slots)}; projected {choice.gpu_bytes:,} B "
            f"of the {choice.target_bytes:,} B the GPU may hold (usable memory less --fit-target)")


def fit_note(choice: FitChoice, priced: bool, target_mib: int) -> str:
    """What the output says of the fit: the placement priced, or the one llama.cpp would choose."""
    if priced:
        return (f"--fit on: llama.cpp keeps {target_mib} MiB free on the GPU ({choice.how}): "
                f"{_short(choice)}; the figures follow that placement")
    return (f"llama.cpp's --fit (on by default since December 2025) would not load this as priced, which "
            f"leaves less than {target_mib} MiB of the GPU free: it would put "
            f"{_short(choice)} (`size --fit on` prices that placement)")


def _short(choice: FitChoice) -> str:
    ngl = choice.n_gpu_layers
    parts = ["every layer on the GPU" if ngl is None else "-ngl 0 (nothing on the GPU)" if ngl == 0 else
             "-ngl 1 (the output layer alone on the GPU)" if ngl == 1 else
             f"-ngl {ngl} (the output layer and the last {ngl - 1} repeating layers on the GPU)"]
    if choice.cpu_expert_layers:
        parts.append(f"the routed experts of layers {layer_ranges(choice.cpu_expert_layers)} in host memory")
    return " with ".join(parts)
