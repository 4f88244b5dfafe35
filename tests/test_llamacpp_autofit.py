"""llama.cpp's --fit (runtimes/llamacpp/autofit.py): on one GPU, the largest placement whose projection
leaves --fit-target free, MoE experts parked from the last layers, dense layers filled from the back.
Checked against the projections llama.cpp printed while fitting (tests/fixtures/engine_logs/llamacpp/
*-fit*: "id=0, n_layer=N, ..., mem=M MiB" and "- DEV: N layers, U MiB used, F MiB free"), and end to end
on the Hermes 3 8B log, whose free memory (5141 MiB) the log prints."""

from __future__ import annotations

import pytest

import paramscope
from paramscope.analyses.sizing.runtimes.llamacpp.autofit import (
    FIT_TARGET_BYTES,
    fit_gpus,
    fit_one_gpu,
    hosted_experts,
    largest,
    layer_ranges,
)
from paramscope.analyses.sizing.runtimes.llamacpp.offload import layer_split

MIB = 2**20

# (record, slots, {n_layer: projected MiB} as printed, free MiB (used + free of the final line), chosen)
PRINTED = [
    ("ollama-llamaserver-hermes3-8b-q4-0-rtx2060-fit15", 33, {33: 8392, 15: 4089}, 4089 + 1052, 15),
    ("qwen35-9b-udq4kxl-vulkan-1070ti-b9849-fit31-np4", 33, {32: 5885, 31: 5742}, 5742 + 1155, 31),
    ("qwen35-9b-udq4kxl-vulkan-3060laptop-b9849-fit20-np1", 33, {20: 4080, 21: 4217}, 4080 + 1092, 20),
    ("r37l-qwen35-9b-udq4kxl-vulkan-3060laptop-b9849-fit18-np4", 33, {19: 4025, 18: 3882}, 3882 + 1140, 18),
]


def _printed_probe(points: dict[int, int], slots: int):
    """The engine's own projections, a straight line through the two it printed (a dense model's layers
    are alike), every layer at n_layer = slots."""
    (a, ma), (b, mb) = sorted(points.items())
    per_layer = (mb - ma) / (b - a)

    def probe(ngl: int | None, cpu: frozenset[int]) -> int:
        n = slots if ngl is None else ngl
        return round((ma + per_layer * (n - a)) * MIB)
    return probe


@pytest.mark.parametrize(("record", "slots", "points", "free", "chosen"), PRINTED,
                         ids=[p[0] for p in PRINTED])
def test_the_largest_count_that_leaves_the_target_free(record, slots, points, free, chosen):
    choice = fit_one_gpu(_printed_probe(points, slots), free * MIB - FIT_TARGET_BYTES, slots, ())
    assert choice is not None and choice.n_gpu_layers == chosen and not choice.cpu_expert_layers
    assert choice.how == "filling dense layers back-to-front"


def test_the_hermes_log_end_to_end():
    """paramscope's own projection with the free memory the log printed picks the 15 layers llama.cpp
    did (the output layer and the last 14: 'set ngl_per_device[0].n_layer=15')."""
    e = paramscope.size("llama-3.1-8b", runtime="llama.cpp", weights="q4_0", gpu="5141MiB", context=32768,
                        fit="on").estimate
    assert any("--fit (filling dense layers back-to-front): 15 of 33 layers on the GPU" in line
               for line in e.explain)
    assert e.per_device[0].total_bytes <= 5141 * MIB - FIT_TARGET_BYTES
    assert e.host_bytes > 0 and e.fits


def test_off_prices_every_layer_and_says_what_fit_would_do():
    asked = dict(runtime="llama.cpp", weights="q4_0", gpu="5141MiB", context=32768)
    off = paramscope.size("llama-3.1-8b", **asked).estimate
    on = paramscope.size("llama-3.1-8b", **asked, fit="on").estimate
    assert not off.fits and off.host_bytes < on.host_bytes
    assert off.total_bytes == on.total_bytes  # the same bytes, placed elsewhere
    assert any("--fit (on by default since December 2025) would not load this" in n and "-ngl 15" in n
               for n in off.notes)


def test_a_mixture_of_experts_parks_the_last_layers_experts():
    e = paramscope.size("qwen3-30b-a3b", runtime="llama.cpp", weights="q4_k_m", gpu="rtx-3060",
                        context=32768, fit="on").estimate
    line = next(x for x in e.explain if x.startswith("--fit"))
    assert "converting dense-only layers to full layers front-to-back" in line
    hosted = line.split("routed experts of layers ")[1].split(" in host memory")[0]
    first, last = hosted.split("–")
    assert last == "47" and 0 < int(first) < 47  # a suffix of the 48 layers
    device = e.per_device[0].device
    assert e.per_device[0].total_bytes <= device.usable_bytes - FIT_TARGET_BYTES


def test_the_front_to_back_search_keeps_the_most_experts_that_fit():
    """A synthetic MoE: 10 layers, each 100 MiB of experts and 10 of the rest; the GPU takes 600 MiB."""
    experts = tuple(range(10))

    def probe(ngl: int | None, cpu: frozenset[int]) -> int:
        assert ngl is None
        return (10 * 110 - 100 * len(cpu)) * MIB

    choice = fit_one_gpu(probe, 600 * MIB, 11, experts)
    assert choice is not None and choice.n_gpu_layers is None
    assert choice.cpu_expert_layers == frozenset(range(5, 10))  # 5 × 110 + 5 × 10 = 600


def test_the_user_s_placement_stops_it():
    """Any -ngl, 0 included (llama.cpp's fit aborts unless -ngl is its default), and --n-cpu-moe; --fit on
    then says it changes nothing."""
    asked = dict(runtime="llama.cpp", weights="q4_0", gpu="5141MiB", context=32768, fit="on")
    for own in ({"n_gpu_layers": 0}, {"n_gpu_layers": 10}, {"n_gpu_layers": 99}):
        e = paramscope.size("llama-3.1-8b", **asked, **own).estimate
        assert not any(x.startswith("--fit") for x in e.explain)
        assert any(n.startswith("--fit on changes nothing here: -ngl") for n in e.notes)
    off = paramscope.size("llama-3.1-8b", **(asked | {"fit": "off"}), n_gpu_layers=0).estimate
    assert not any("would not load this" in n for n in off.notes)
    moe = paramscope.size("qwen3-30b-a3b", runtime="llama.cpp", weights="q4_k_m", gpu="rtx-3060",
                          context=32768, fit="on", n_cpu_moe=4).estimate
    assert not any(x.startswith("--fit") for x in moe.explain)


def test_builds_before_it_and_models_that_fit_say_nothing():
    late = paramscope.size("llama-3.1-8b", runtime="llama.cpp", weights="q4_0", gpu="5141MiB", context=32768,
                           llamacpp_build="late-2025").estimate
    assert not any("--fit" in n for n in late.notes)
    roomy = paramscope.size("llama-3.1-8b", runtime="llama.cpp", weights="q4_0", gpu="rtx-4090",
                            context=8192).estimate
    assert roomy.fits and not any("--fit" in n for n in roomy.notes)


def test_less_than_the_target_free_is_enough_to_move_layers():
    """A model that fits with under 1 GiB to spare is moved all the same: llama.cpp keeps the target."""
    asked = dict(runtime="llama.cpp", weights="q4_0", context=32768)
    need = paramscope.size("llama-3.1-8b", gpu="rtx-4090", **asked).estimate.per_device[0].total_bytes
    whole = paramscope.size("llama-3.1-8b", gpu=f"{need // MIB + 512}MiB", **asked).estimate
    assert whole.fits and whole.per_device[0].total_bytes == need
    assert any("would not load this" in n for n in whole.notes)


def test_largest_and_ranges():
    assert largest(lambda k: k <= 7, 0, 33) == 7
    assert largest(lambda k: False, 0, 33) == 0
    assert largest(lambda k: True, 0, 33) == 33
    assert layer_ranges([5, 6, 7, 9, 11, 12]) == "5–7, 9, 11–12"
    assert layer_ranges([]) == "none"
    split = layer_split(paramscope.open_model("qwen3-30b-a3b"))
    assert len(split.experts_by_layer) == 48


def _speed(**asked):
    from paramscope.analyses.sizing.speed import speed_for

    e = paramscope.size(**asked).estimate
    device = e.per_device[0].device
    return e, speed_for(paramscope.open_model(asked["source"]), e, device)


def test_a_decode_step_reads_the_host_s_share_at_the_ram_s_bandwidth():
    """k of E of the experts kept in host memory are read per token there, at the assumed dual-channel
    DDR5-5600 (89.6 GB/s), after the GPU's share at the GPU's bandwidth."""
    from paramscope.analyses.sizing.speed import host_ram_bandwidth

    asked = dict(source="qwen3-30b-a3b", runtime="llama.cpp", weights="q4_k_m", gpu="rtx-3060",
                 context=32768)
    _, whole = _speed(**asked)
    e, s = _speed(**asked, fit="on")
    assert whole.host_read_bytes == 0 and s.bytes_per_step == whole.bytes_per_step
    hosted = next(n for n in e.notes if n.startswith("--fit: "))
    expert_bytes = int(hosted.split(": ")[1].split(" B")[0].replace(",", ""))
    assert s.host_read_bytes == e.host_read_bytes == expert_bytes * 8 // 128  # 8 of 128 experts
    ram = host_ram_bandwidth()
    assert ram == 89.6e9
    expected = 1 / ((s.bytes_per_step - s.host_read_bytes) / s.bandwidth + s.host_read_bytes / ram)
    assert s.decode_tokens_per_s == pytest.approx(expected)
    assert s.decode_tokens_per_s < whole.decode_tokens_per_s
    assert s.decode_range is None  # the runs measured had everything on the GPU: no calibrated figure


def test_host_layers_are_read_whole_but_the_embedding():
    """-ngl below all: the host layers' weights and KV cache are read per token, the input embedding is
    only looked up."""
    asked = dict(source="llama-3.1-8b", runtime="llama.cpp", weights="q4_0", gpu="rtx-4090", context=8192)
    e, s = _speed(**asked, n_gpu_layers=20)
    embedding = 128256 * 4096 * 18 // 32  # token_embd in Q4_0: 18 B a block of 32
    assert e.host_read_bytes == e.host_bytes - embedding
    assert 0 < s.host_read_bytes < s.bytes_per_step


def test_the_context_line_through_two_projections():
    """r41l-granite41-8b-*-fit31488-*: 30834 MiB projected at the trained 131,072 tokens, 10782 MiB at
    --fit-ctx 4096, 16140 MiB free: 'context size reduced from 131072 to 31488'."""
    from paramscope.analyses.sizing.runtimes.llamacpp.autofit import fit_context

    def used(n: int) -> int:
        return {131072: 30834, 4096: 10782}[n] * MIB

    assert fit_context(used, 16140 * MIB - FIT_TARGET_BYTES, 131072, 4096) == (31488, "shortened")
    assert fit_context(used, 40000 * MIB, 131072, 4096) == (131072, "kept")  # it fits whole
    assert fit_context(used, 5000 * MIB, 131072, 4096) == (4096, "shortest")  # not even the shortest


def test_without_a_context_llama_cpp_takes_the_trained_one_and_fit_shortens_it():
    asked = dict(runtime="llama.cpp", weights="q4_k_m", gpu="rtx-3060")
    off = paramscope.size("llama-3.1-8b", **asked).estimate
    assert off.context == 8192
    note = next(n for n in off.notes if n.startswith("llama-server without -c"))
    on = paramscope.size("llama-3.1-8b", **asked, fit="on").estimate
    assert 4096 < on.context < 131072 and on.context % 256 == 0
    assert f"would run {on.context:,} tokens (the model's trained 131,072, shortened by --fit" in note
    assert "llama.cpp without -c: the model's trained 131,072" in on.context_note
    assert on.fits and on.per_device[0].total_bytes <= on.per_device[0].device.usable_bytes
    # a context given is llama.cpp's -c: kept, nothing said
    given = paramscope.size("llama-3.1-8b", **asked, fit="on", context=8192).estimate
    assert given.context == 8192 and not any(n.startswith("llama-server without -c") for n in given.notes)
    roomy = paramscope.size("llama-3.1-8b", runtime="llama.cpp", weights="q4_k_m", gpu="h100",
                            fit="on").estimate
    assert roomy.context == 131072


def test_the_fit_command_plans_the_split_itself():
    from paramscope.errors import UsageError

    with pytest.raises(UsageError, match="size --fit on"):
        paramscope.fit("mixtral-8x7b", gpu="rtx-4090", fit="on")


def test_fit_on_says_when_llama_cpp_would_not_fit():
    base = {"runtime": "llama.cpp", "weights": "q4_k_m", "gpu": "rtx-3060", "context": 8192, "fit": "on"}
    for asked, why in ((dict(llamacpp_build="late-2025"), "late-2025 family have no --fit"),
                       (dict(llamacpp_fork="ik-2025"), "legacy family have no --fit"),
                       (dict(gpu="rtx-3060x2", split_mode="none"), "main GPU alone"),
                       (dict(gpu="rtx-3060x2", split_mode="row"), "row split stops"),
                       (dict(gpu="rtx-3060x2", tensor_split="1,1"), "tensor_split already set")):
        e = paramscope.size("qwen3-30b-a3b", **(base | asked)).estimate
        assert any(n.startswith("--fit on changes nothing here") and why in n for n in e.notes), asked


# --- several GPUs -------------------------------------------------------------------------------------

def _slots_probe(n_slots: int, dense: int, experts: int, n_experts_layers: int):
    """A synthetic model of ``n_slots`` slots (the last the output layer, ``dense`` MiB), each layer
    ``dense`` MiB whole but its experts (``experts`` MiB, layers below ``n_experts_layers``): each device's
    bytes, llama.cpp's default even split for None."""
    def probe(layers, cpu):
        if layers is None:
            half = n_slots // 2
            layers = (half, n_slots - half)
        il, out = n_slots - sum(layers), []
        for n in layers:
            out.append(sum(dense + (experts if j < n_experts_layers and j not in cpu else 0)
                           for j in range(il, il + n)) * MIB)
            il += n
        return tuple(out)
    return probe


def test_several_gpus_dense_fill_from_the_back():
    """A dense model of 40 slots at 100 MiB on two GPUs of 1500 MiB: the last GPU takes 15, the first
    the 15 before them, the first 10 layers stay in host memory (common_params_fit_impl, step 3)."""
    choice = fit_gpus(_slots_probe(40, 100, 0, 0), 1500 * MIB, 40, (), 2)
    assert choice is not None and choice.layers == (15, 15) and not choice.cpu_expert_layers
    assert choice.how == "filling dense layers back-to-front"
    assert fit_gpus(_slots_probe(40, 100, 0, 0), 2000 * MIB, 40, (), 2) is None  # the even split fits
    # after the context step shortened the context, llama.cpp places the layers again all the same
    again = fit_gpus(_slots_probe(40, 100, 0, 0), 2500 * MIB, 40, (), 2, replace_even=True)
    assert again is not None and again.layers == (15, 25)


def test_several_gpus_moe_whole_layers_front_to_back():
    """A mixture of experts of 49 slots (48 layers, 100 MiB dense part, 200 MiB of experts each) on two
    GPUs of 5000 MiB: step 3 puts every slot on the last GPU without its experts (4900 MiB); step 4
    makes the first 16 layers whole on the first GPU (16 × 300 = 4800), then as many of the last GPU's
    own 33 as fit there: 33 × 100 + 8 × 200 = 4900."""
    choice = fit_gpus(_slots_probe(49, 100, 200, 48), 5000 * MIB, 49, tuple(range(48)), 2)
    assert choice is not None and sum(choice.layers) == 49 and choice.layers == (16, 33)
    assert choice.how == "converting dense-only layers to full layers front-to-back"
    assert all(b <= 5000 * MIB for b in choice.device_bytes)
    # the first GPU's 16 layers whole; of the last GPU's slice (16-48) the first 8 whole, 24 in host memory
    assert choice.cpu_expert_layers == frozenset(range(24, 48))
    assert hosted_experts((16, 33), (0, 32), 49, frozenset(range(48))) == frozenset(range(17, 48))


def test_several_gpus_end_to_end():
    """Llama 3.1 70B Q4_K_M on two RTX 3090 at 32K: 36 layers on each, 9 in host memory; without -c, the
    context llama.cpp shortens to what the two hold (the layer waste taken off), then the layers placed
    from the back."""
    asked = dict(runtime="llama.cpp", weights="q4_k_m", gpu="rtx-3090x2", fit="on")
    e = paramscope.size("llama-3.1-70b", context=32768, **asked).estimate
    assert e.split == "--fit" and e.host_bytes > 0
    line = next(x for x in e.explain if x.startswith("--fit"))
    assert "72 of 81 layers on the GPUs, 36+36 per GPU" in line
    device = e.per_device[0].device
    assert all(d.total_bytes <= device.usable_bytes - FIT_TARGET_BYTES for d in e.per_device)
    free = paramscope.size("llama-3.1-70b", **asked).estimate
    assert 4096 < free.context < 131072 and free.context % 256 == 0
    assert all(d.total_bytes <= device.usable_bytes - FIT_TARGET_BYTES for d in free.per_device)
    off = paramscope.size("llama-3.1-70b", context=32768, **(asked | {"fit": "off"})).estimate
    assert off.split == "even split"
    assert any("would not load this" in n and "--tensor-split 36,36" in n for n in off.notes)


def test_several_gpus_glm47_log_within_a_layer():
    """The r53l GLM-4.7 log (two RTX PRO 6000 under Vulkan, -c 200000, q8_0 cache, --fit-target 8000):
    llama.cpp's fit put 31 layers on Vulkan0 (its KV buffer, 12,878.56 MiB, is 31 of the 92 layers'
    415.4 MiB) and the rest on Vulkan1 with part of the experts in host memory. Priced at Q5_K_M (the
    UD-Q5_K_XL mix is not a llama.cpp file type) with the device table's free memory, paramscope's fit
    comes within one layer of that split."""
    e = paramscope.size("tests/fixtures/engine_logs/configs/glm-4.6.config.json", runtime="llama.cpp",
                        weights="q5_k_m", gpu="rtx-pro-6000x2", context=200000, kv_type="q8_0", fit="on",
                        fit_target=8000, ubatch=2048, swa_full=True, flash_attn="on").estimate
    per_layer = 38220.25 / 92
    assert abs(e.per_device[0].kv_cache_bytes / MIB - 12878.56) <= per_layer + 1
    assert abs(e.per_device[1].kv_cache_bytes / MIB - 25341.69) <= per_layer + 1
    assert e.host_bytes > 100 * 2**30  # most routed experts in host memory, as the log's CPU_Mapped buffers


def test_several_gpus_review_fixes():
    """A named layer split (llama.cpp's default) changes nothing in the context step; the GPUs' weights
    and the host's add up to the weights where re-priced experts stay in host memory; the first GPU
    has its compute buffer (one GPU's) even with no layer on it, as it runs the host's large products."""
    asked = dict(runtime="llama.cpp", weights="q4_k_m", gpu="rtx-3090x2", fit="on")
    plain = paramscope.size("llama-3.1-70b", **asked).estimate
    named = paramscope.size("llama-3.1-70b", **asked, split_mode="layer").estimate
    assert plain.context == named.context < 131072
    moe = paramscope.size("mixtral-8x7b", runtime="llama.cpp", weights="q4_k_m", gpu="8GiBx4", context=32768,
                          fit="on").estimate
    assert moe.host_bytes > 0 and moe.split == "--fit"
    on_gpus = sum(d.weights_bytes for d in moe.per_device)
    expected = moe.weights_bytes + moe.duplicate_bytes - moe.host_bytes
    assert abs(on_gpus - expected) < moe.weights_bytes / 1000
    tiny = paramscope.size("llama-3.1-70b", runtime="llama.cpp", weights="q4_k_m", gpu="1GiBx4", context=8192,
                           fit="on").estimate
    one = paramscope.size("llama-3.1-70b", runtime="llama.cpp", weights="q4_k_m", gpu="1GiB", context=8192,
                          fit="on").estimate
    assert tiny.per_device[0].compute_bytes == one.per_device[0].compute_bytes > 0
