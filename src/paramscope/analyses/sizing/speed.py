"""How fast it can go: decode is memory-bandwidth bound, prefill is compute bound.

Two kinds of figure. The **bounds** (roofline), stated with their assumptions below; and, where public
measurements of the runtime on that kind of device exist, **calibrated** low / typical / high figures:
for decode, a fit of those runs (a share of the bandwidth and a fixed overhead per step) times the 10th
percentile / median / 90th percentile of measured ÷ fitted, at most the bound; for prefill, the bound ÷
the FLOP utilisation those runs reached (knowledge/speed_calibration.py, derived from tests/fixtures/speed/
by tools/speed_calibration.py). They
are given for one device at batch 1 with everything on it, the setting measured; elsewhere only the
bound, labelled "bound".

- **Decode.** Each step reads every active weight once and the whole KV cache of every sequence, so
  ``tokens/s per sequence ≤ bandwidth / (active weight bytes + KV bytes)``; with ``batch`` sequences the
  weights are read once for all of them, so the aggregate is ``batch ×`` that. With N GPUs in tensor
  parallel the bandwidths add up (ideal scaling, no communication cost). An input embedding table that
  is not also the output head is not read whole: a step looks up one row of it (llama.cpp ``get_rows``),
  so its bytes are left out (gpt-oss-20b: 1.16 GB of 4.87 GB).
- **Prefill.** ``FLOPs = 2 × matmul params × tokens`` for the matrix multiplications (one multiply and
  one add per weight per token; Kaplan et al. 2020, §2.1), where the matmul params are the active ones
  less the embedding lookup (no multiplication) and the output head, which a prefill runs for the last
  token only (llama.cpp and vLLM compute logits for the tokens that are sampled), plus causal attention
  ``Σ_layers tokens × keys_seen × heads × (d_k + d_v)`` (QKᵀ and AV, halved by the causal mask), where a
  sliding-window layer sees at most its window. Time ≥ FLOPs / peak FLOP/s.
- **MoE.** Active weight bytes = bytes outside the routed experts + routed expert bytes × k / E: the
  same convention as active parameters (docs/formulas.md).
- **Text tokens.** The bounds are for text: a multimodal model's towers (vision, audio and their
  projector) run once per image or clip, in the prefill of a prompt that holds one, so a decode step does
  not read them and a text prefill does not multiply by them; the per-layer embedding tables of Gemma 3n
  and Gemma 4 (``embed_tokens_per_layer``) are looked up, a row per layer per token, as the input
  embedding is (Gemma 4 E2B: 4.70 GB of its 10.2 are that table, 0.94 its towers).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from paramscope.analyses.sizing.runtimes.common import per_layer_heads
from paramscope.knowledge.speed_calibration import Calibration, lookup, parse_version
from paramscope.model import ArchConfig, Model
from paramscope.model.memo import ModelMemo
from paramscope.records import record

if TYPE_CHECKING:  # annotations only: a size without --gpu never loads the GPU table
    from paramscope.knowledge.hardware import Device

BOUND = "bound"


@record
class SpeedEstimate:
    """Decode and prefill speed bounds from the bytes read per token."""

    active_weight_bytes: int
    kv_bytes: int  # KV cache read per decode step, all sequences
    batch: int
    n_devices: int
    bandwidth: float | None  # bytes/s of the devices that read weights at once (speed: devices_at_once)
    peak_flops: float | None  # FLOP/s, all devices together
    prefill_tokens: int
    prefill_flops: float
    explain: tuple[str, ...]
    decode_calibration: Calibration | None = None  # measured bandwidth utilisation of this backend
    prefill_calibration: Calibration | None = None  # measured FLOP utilisation of this backend
    devices_at_once: int = 0  # devices reading weights together for a token (0: all n_devices)
    host_read_bytes: int = 0  # of bytes_per_step, those read in host memory (layers kept there)
    host_bandwidth: float | None = None  # the host RAM's bytes/s (HOST_RAM where not known)
    host_ram_assumed: bool = True  # the bandwidth is HOST_RAM's, not the RAM the request named

    @property
    def bytes_per_step(self) -> int:
        return self.active_weight_bytes + self.kv_bytes

    @property
    def decode_tokens_per_s(self) -> float | None:
        """Per sequence: the devices' share at their bandwidth, and what the host holds at the RAM's,
        one after the other (llama.cpp runs a host layer on the CPU)."""
        if not self.bandwidth or not self.bytes_per_step:
            return None
        if self.host_read_bytes and self.host_bandwidth:
            on_devices = max(self.bytes_per_step - self.host_read_bytes, 0)
            return 1 / (on_devices / self.bandwidth + self.host_read_bytes / self.host_bandwidth)
        return self.bandwidth / self.bytes_per_step

    @property
    def decode_tokens_per_s_total(self) -> float | None:
        tps = self.decode_tokens_per_s
        return tps * self.batch if tps is not None else None

    @property
    def prefill_seconds(self) -> float | None:
        return self.prefill_flops / self.peak_flops if self.peak_flops else None

    @property
    def decode_label(self) -> str:
        c = self.decode_calibration
        return c.label if c is not None and self.decode_range else BOUND

    @property
    def prefill_label(self) -> str:
        c = self.prefill_calibration
        return c.label if c is not None and self.prefill_range else BOUND

    @property
    def decode_range(self) -> tuple[float, float, float] | None:
        """Calibrated (low, typical, high) decode tokens/s per sequence: the fit for this bound (an
        efficiency and a per-step overhead; without one, the bound) × the quantiles of measured ÷ fitted,
        never above the bound."""
        c, bound = self.decode_calibration, self.decode_tokens_per_s
        if c is None or bound is None:
            return None
        fitted = c.fitted(bound)
        low, typical, high = (min(fitted * q, bound) for q in (c.low, c.typical, c.high))
        return low, typical, high

    @property
    def prefill_range(self) -> tuple[float, float, float] | None:
        """Calibrated prefill seconds (fast, typical, slow): the bound ÷ utilisation (high, typical, low)."""
        c, bound = self.prefill_calibration, self.prefill_seconds
        if c is None or bound is None:
            return None
        return bound / c.high, bound / c.typical, bound / c.low


# What a text token's decode step does not read and a text prefill does not multiply (see above)
TOWER_COMPONENTS = frozenset({"vision", "audio", "projector"})
PER_LAYER_LOOKUP = re.compile(r"(?:^|\.)embed_tokens_per_layer\.")


def unread_by_text(model: Model) -> tuple[int, int]:
    """(bytes as stored, parameters) of the tensors a text token does not run through: the towers and the
    per-layer embedding tables (TOWER_COMPONENTS, PER_LAYER_LOOKUP). Kept per model: every estimate of a
    search asks (DeepSeek-V3's 90k tensors take 44 ms to place, 50 times in one `fit`)."""
    return _UNREAD.get(model, (), lambda: _unread_by_text(model))


def _unread_by_text(model: Model) -> tuple[int, int]:
    from paramscope.knowledge.roles import place

    unread = [t for t in model.tensors
              if place(t.name).component in TOWER_COMPONENTS or PER_LAYER_LOOKUP.search(t.name)]
    return sum(t.nbytes for t in unread), sum(t.params for t in unread)


_UNREAD: ModelMemo[tuple[int, int]] = ModelMemo(32)


def active_weight_bytes(weights_bytes: int, routed_expert_bytes: int, cfg: ArchConfig | None) -> int:
    """Bytes one token reads: everything but the routed experts, plus k of E of those."""
    if cfg is None or not cfg.n_experts or not routed_expert_bytes:
        return weights_bytes
    k, e = cfg.n_experts_per_token, cfg.n_experts
    return weights_bytes - routed_expert_bytes + routed_expert_bytes * k // e


def attention_flops(cfg: ArchConfig, tokens: int) -> float:
    """Causal attention FLOPs of a prefill of ``tokens``: QKᵀ and AV over the keys each query sees."""
    kinds = cfg.layer_types or ("full",) * cfg.n_layers
    # query heads per layer where they differ (OpenELM, a GGUF's head_count array): each layer's own
    heads = per_layer_heads(cfg, "n_heads_per_layer") or (cfg.n_heads,) * len(kinds)
    total = 0.0
    for kind, n_heads in zip(kinds, heads, strict=False):
        width = n_heads * (cfg.head_dim_k + cfg.head_dim_v)
        if kind == "full":
            seen = tokens * (tokens + 1) / 2  # Σ over queries of the keys before them
        elif kind == "sliding" and cfg.sliding_window:
            w = min(cfg.sliding_window, tokens)
            seen = tokens * w - w * (w - 1) / 2
        else:  # linear attention / SSM layers: no quadratic term
            continue
        total += 2 * seen * width
    return total


def speed(cfg: ArchConfig | None, *, active_params: int, active_bytes: int, kv_bytes: int, batch: int,
          prefill_tokens: int, bandwidth: float | None, peak_flops: float | None,
          n_devices: int = 1, lookup_params: int = 0, head_params: int = 0,
          calibration: tuple[Calibration | None, Calibration | None] = (None, None),
          devices_at_once: int = 0) -> SpeedEstimate:
    """The bounds; ``lookup_params``: an embedding table only looked up (no FLOPs); ``head_params``: the
    output head, run for the last token of a prefill only; ``calibration``: (decode, prefill) rows;
    ``devices_at_once``: the devices that read their weights together for a token (0: all of them).
    A layer split passes each token through the devices in turn, so one decode step reads the weights
    at one device's bandwidth however many hold them; a prefill can overlap its micro-batches over the
    devices (llama.cpp's pipeline parallelism), so its FLOP bound counts them all."""
    reading = min(devices_at_once or n_devices, n_devices)
    bw = bandwidth * reading if bandwidth else None
    fl = peak_flops * n_devices if peak_flops else None
    dense = active_params - lookup_params - head_params
    matmul = 2.0 * dense * prefill_tokens + 2.0 * head_params
    attn = attention_flops(cfg, prefill_tokens) if cfg else 0.0
    lines = [f"bytes per decode step = active weights {active_bytes:,} B + KV cache {kv_bytes:,} B "
             f"= {active_bytes + kv_bytes:,} B"]
    if bw and active_bytes + kv_bytes:  # a model that reads no bytes per token has no bandwidth bound
        tps = bw / (active_bytes + kv_bytes)
        turn = (f" ({reading} of the {n_devices} devices at a time: each holds whole layers and a token "
                f"passes through them in turn)" if reading < n_devices else "")
        lines.append(f"decode ≤ {bw / 1e9:,.0f} GB/s{turn} / {active_bytes + kv_bytes:,} B = {tps:,.1f} "
                     f"tokens/s per sequence; × {batch} sequences = {tps * batch:,.1f} tokens/s")
    head = f" + 2 × {head_params:,} output-head params × 1 token" if head_params else ""
    lines.append(f"prefill FLOPs = 2 × {dense:,} params × {prefill_tokens:,} tokens{head} + attention "
                 f"{attn:.3e} = {matmul + attn:.3e}")
    if fl:
        lines.append(f"prefill ≥ {matmul + attn:.3e} FLOP / {fl:.3e} FLOP/s = {(matmul + attn) / fl:.3f} s "
                     "(at 100 % of the dense 16-bit peak)")
    est = SpeedEstimate(active_bytes, kv_bytes, batch, n_devices, bw, fl, prefill_tokens, matmul + attn,
                        tuple(lines), *calibration, devices_at_once=reading)
    c, r = est.decode_calibration, est.decode_range
    if c is not None and r is not None and est.decode_tokens_per_s is not None:
        fit = (f"1 / (1 / ({c.efficiency:.0%} × {est.decode_tokens_per_s:,.3g}) + {c.overhead_ms:.2f} ms) = "
               f"{c.fitted(est.decode_tokens_per_s):,.3g} × measured ÷ fitted"
               if (c.efficiency, c.overhead_ms) != (1, 0) else "bound × measured utilisation")
        est = _explained(est, f"decode tokens/s {c.label}: {fit} p10 / median / p90 {c.low:.0%} / "
                              f"{c.typical:.0%} / {c.high:.0%} (at most the bound) = "
                              + " / ".join(f"{x:,.3g}" for x in r))
    c, r = est.prefill_calibration, est.prefill_range
    if c is not None and r is not None:
        est = _explained(est, f"prefill seconds {c.label}: bound ÷ measured FLOP utilisation p90 / median / "
                              f"p10 {c.high:.0%} / {c.typical:.0%} / {c.low:.0%} = "
                              + " / ".join(f"{x:,.3g}" for x in r))
    return est


def _explained(est: SpeedEstimate, line: str) -> SpeedEstimate:
    from paramscope.records import replace

    return replace(est, explain=(*est.explain, line))


def _mtp_left_out(model: Model) -> int:
    """The bytes of the MTP layers the checkpoint stores, which no runtime loads with the model
    (sizing/mtp.py)."""
    from paramscope.analyses.sizing.mtp import stored_mtp_tensors

    return sum(t.nbytes for t in stored_mtp_tensors(model))


def speed_for(model: Model, est, device, n_devices: int = 1) -> SpeedEstimate:
    """The bounds for a ``memory.SizeEstimate`` of ``model`` on ``n_devices`` × ``device``, and the
    calibrated figures of ``est.runtime`` on that kind of device where measured (one device, batch 1).

    Routed-expert and embedding bytes scale with the weights when they were re-priced (same ratio as the
    whole).
    """
    from paramscope.analyses.contents.inventory import inventory
    from paramscope.knowledge.config_tensors import unloaded_buffers

    inv = inventory(model)
    # on the weights' own basis: less the buffers no engine loads, which sizing leaves out of them too, and
    # the stored MTP layers, which no runtime loads with the model (sizing/mtp.py)
    stored = inv.weights_bytes - sum(t.nbytes for t in unloaded_buffers(model.tensors)) - _mtp_left_out(
        model)

    def repriced(component: str) -> int:
        found = inv.by_component.get(component)
        return found.bytes * est.weights_bytes // stored if found and stored else 0

    active = active_weight_bytes(est.weights_bytes, repriced("experts"), model.config)
    embedding, output = inv.by_component.get("embedding"), inv.by_component.get("output")
    # an embedding table with its own output head beside it is only looked up; a tied one is the head
    lookup_params = embedding.params if embedding and output else 0
    head = output or embedding
    head_params = head.params if head else 0
    if lookup_params:
        active -= repriced("embedding")
    # the towers and per-layer lookup tables as the estimate holds them (none where the runtime left the
    # towers unbuilt), which no text token reads; their parameters no text prefill multiplies
    active -= est.unread_bytes
    lookup_params += unread_by_text(model)[1]
    # layers or KV kept in host memory (llama.cpp -ngl below all layers, --no-kv-offload; the input
    # embedding alone stays there anyway): the runs measured had everything on the device
    # (the repriced embedding is the whole's ratio, a few % off the embedding's own type: hence the slack)
    offloaded = (est.host_bytes + est.disk_bytes > 1.1 * repriced("embedding") + (1 << 20)
                 or est.host_read_bytes > 0)
    flops = device.half_flops if device else None
    bandwidth = device.bandwidth if device else None
    calibration: tuple[Calibration | None, Calibration | None] = (None, None)
    if device is not None and n_devices == 1 and est.batch == 1 and not offloaded:
        # the runs of the era the runtime's release falls in (vLLM: the release the figures follow)
        release = parse_version(str(dict(est.runtime_settings).get("vllm_release") or ""))
        calibration = (lookup(est.runtime, device.vendor, device.kind, "decode", release),
                       lookup(est.runtime, device.vendor, device.kind, "prefill", release))
    result = speed(model.config, active_params=inv.active_params, active_bytes=active,
                   kv_bytes=est.kv_read_bytes, batch=est.batch, prefill_tokens=est.context,
                   bandwidth=bandwidth, peak_flops=flops, n_devices=n_devices, lookup_params=lookup_params,
                   head_params=head_params, calibration=calibration, devices_at_once=est.devices_at_once)
    if result.decode_range and est.runtime in MOE_BELOW_FIT and model.config and model.config.is_moe:
        result = _explained(result, MOE_BELOW_FIT[est.runtime])
    if device is not None and device.kind != "cpu" and est.host_read_bytes and result.decode_tokens_per_s:
        result = with_host_reads(result, est.host_read_bytes, est.host_ram)
    return result


# The RAM beside a GPU, where the machine's own is not known: dual-channel DDR5-5600 (89.6 GB/s), a
# desktop's (knowledge/hardware.py "ddr5-5600-2ch"); fit_advice.py takes the same
HOST_RAM = "ddr5-5600-2ch"


def host_ram_bandwidth() -> float:
    from paramscope.knowledge.hardware import BY_KEY

    bw = BY_KEY[HOST_RAM].bandwidth
    assert bw is not None, f"{HOST_RAM}: its row in knowledge/hardware.py states a bandwidth"
    return bw


def with_host_reads(result: SpeedEstimate, host_read: int, host_ram: Device | None = None) -> SpeedEstimate:
    """The decode bound with ``host_read`` of each step's bytes read in host memory at the bandwidth of
    ``host_ram`` (--host-ram), else the assumed HOST_RAM's (llama.cpp -ngl below all, --n-cpu-moe, --fit
    on, --no-kv-offload): a step runs the devices' layers and then the host's, so their times add."""
    from paramscope.records import replace

    named = host_ram is not None and host_ram.bandwidth
    ram = host_ram.bandwidth if host_ram is not None and host_ram.bandwidth else host_ram_bandwidth()
    held = replace(result, host_read_bytes=min(host_read, result.bytes_per_step), host_bandwidth=ram,
                   host_ram_assumed=not named)
    on_devices = held.bytes_per_step - held.host_read_bytes
    whose = f"{host_ram.key}, --host-ram" if named and host_ram is not None else \
        "assumed dual-channel DDR5-5600"
    assert result.bandwidth is not None and held.decode_tokens_per_s is not None
    return _explained(held, f"decode ≤ 1 / ({on_devices:,} B / {result.bandwidth / 1e9:,.0f} GB/s + "
                            f"{held.host_read_bytes:,} B in host memory / {ram / 1e9:,.1f} GB/s, {whose}) "
                            f"= {held.decode_tokens_per_s:,.1f} tokens/s per sequence")


# The serving engines' decode fits are of dense runs; their mixture-of-experts runs at one request came in
# below them (docs/formulas.md): said where a request is one
MOE_BELOW_FIT = dict.fromkeys(("vllm", "sglang"), (
    "decode of a mixture of experts: the serving engines' runs at one request came in at 0.65-0.78x their "
    "dense fit (vLLM's Qwen3-30B-A3B NVFP4 on a DGX Spark, SGLang's Gemma 4 26B-A4B on an H200): read the "
    "calibrated figure at the low end of its range or below"))
