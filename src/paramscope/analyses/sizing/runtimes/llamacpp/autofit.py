"""llama.cpp's automatic fitting of the parameters a user left unset to the free memory of one GPU
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
   split stop it only over several GPUs, which paramscope does not fit.)
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


CONTEXT_ALIGN = 256  # "round down context for CUDA backend" (common_params_fit_impl)


# how fit_context settled: the trained context kept, shortened to what fits, or --fit-ctx (nothing fits)
KEPT, SHORTENED, SHORTEST = "kept", "shortened", "shortest"


def fit_context(used: Callable[[int], int], target: int, longest: int, shortest: int) -> tuple[int, str]:
    """The context llama.cpp's fit gives a run without -c on one GPU, and how: the model's trained context
    where the projection at it leaves the target free (KEPT); else the line between the projections at
    the trained context and at --fit-ctx, read at the target and rounded down to 256 (``n_ctx = n_min +
    (n_max − n_min) × (target − used_min) / (used_max − used_min)``, SHORTENED); --fit-ctx where even
    that does not fit (SHORTEST: the layers are fitted next)."""
    full = used(longest)
    if full <= target or longest <= shortest:
        return longest, KEPT
    low = used(shortest)
    if target > low and full > low:
        ctx = shortest + (longest - shortest) * (target - low) // (full - low)
        return max(ctx - ctx % CONTEXT_ALIGN, shortest), SHORTENED
    return shortest, SHORTEST


def fit_unavailable(req: MemoryRequest, build: str) -> str | None:
    """Why llama.cpp would not run its fit at all here (or paramscope does not model it), None where it
    would: a build family that has the fit, mainline, one GPU. Its context step then runs whatever the
    placement (``fit_skipped`` adds what stops the layer step)."""
    if req.device is None or req.device.kind != "gpu":
        return "no GPU to fit"
    if build not in FIT_BUILDS:
        return f"builds of the {build} family have no --fit (it came in mid-December 2025)"
    if option(req, "llamacpp_fork") != "mainline":
        return f"{option(req, 'llamacpp_fork')} has no --fit"
    if req.n_devices != 1:
        return "its fit over several GPUs is not modelled"
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
