"""How fast it can go: decode is memory-bandwidth bound, prefill is compute bound.

Both figures are upper bounds (roofline), stated with their assumptions:

- **Decode.** Each step reads every active weight once and the whole KV cache of every sequence, so
  ``tokens/s per sequence ≤ bandwidth / (active weight bytes + KV bytes)``; with ``batch`` sequences the
  weights are read once for all of them, so the aggregate is ``batch ×`` that. With N GPUs in tensor
  parallel the bandwidths add up (ideal scaling, no communication cost).
- **Prefill.** ``FLOPs = 2 × active params × tokens`` for the matrix multiplications (one multiply and
  one add per weight per token; Kaplan et al. 2020, §2.1) plus causal attention
  ``Σ_layers tokens × keys_seen × heads × (d_k + d_v)`` (QKᵀ and AV, halved by the causal mask), where a
  sliding-window layer sees at most its window. Time ≥ FLOPs / peak FLOP/s.
- **MoE.** Active weight bytes = bytes outside the routed experts + routed expert bytes × k / E: the
  same convention as active parameters (docs/formulas.md).
"""

from __future__ import annotations

from paramscope.model import ArchConfig, Model
from paramscope.records import record


@record
class SpeedEstimate:
    """Decode and prefill speed bounds from the bytes read per token."""

    active_weight_bytes: int
    kv_bytes: int  # KV cache read per decode step, all sequences
    batch: int
    n_devices: int
    bandwidth: float | None  # bytes/s, all devices together
    peak_flops: float | None  # FLOP/s, all devices together
    prefill_tokens: int
    prefill_flops: float
    explain: tuple[str, ...]

    @property
    def bytes_per_step(self) -> int:
        return self.active_weight_bytes + self.kv_bytes

    @property
    def decode_tokens_per_s(self) -> float | None:
        """Per sequence."""
        return self.bandwidth / self.bytes_per_step if self.bandwidth else None

    @property
    def decode_tokens_per_s_total(self) -> float | None:
        tps = self.decode_tokens_per_s
        return tps * self.batch if tps is not None else None

    @property
    def prefill_seconds(self) -> float | None:
        return self.prefill_flops / self.peak_flops if self.peak_flops else None


def active_weight_bytes(weights_bytes: int, routed_expert_bytes: int, cfg: ArchConfig | None) -> int:
    """Bytes one token reads: everything but the routed experts, plus k of E of those."""
    if cfg is None or not cfg.n_experts or not routed_expert_bytes:
        return weights_bytes
    k, e = cfg.n_experts_per_token, cfg.n_experts
    return weights_bytes - routed_expert_bytes + routed_expert_bytes * k // e


def attention_flops(cfg: ArchConfig, tokens: int) -> float:
    """Causal attention FLOPs of a prefill of ``tokens``: QKᵀ and AV over the keys each query sees."""
    kinds = cfg.layer_types or ("full",) * cfg.n_layers
    width = cfg.n_heads * (cfg.head_dim_k + cfg.head_dim_v)
    total = 0.0
    for kind in kinds:
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
          n_devices: int = 1) -> SpeedEstimate:
    bw = bandwidth * n_devices if bandwidth else None
    fl = peak_flops * n_devices if peak_flops else None
    matmul = 2.0 * active_params * prefill_tokens
    attn = attention_flops(cfg, prefill_tokens) if cfg else 0.0
    lines = [f"bytes per decode step = active weights {active_bytes:,} B + KV cache {kv_bytes:,} B "
             f"= {active_bytes + kv_bytes:,} B"]
    if bw:
        tps = bw / (active_bytes + kv_bytes)
        lines.append(f"decode ≤ {bw / 1e9:,.0f} GB/s / {active_bytes + kv_bytes:,} B = {tps:,.1f} tokens/s "
                     f"per sequence; × {batch} sequences = {tps * batch:,.1f} tokens/s")
    lines.append(f"prefill FLOPs = 2 × {active_params:,} params × {prefill_tokens:,} tokens + attention "
                 f"{attn:.3e} = {matmul + attn:.3e}")
    if fl:
        lines.append(f"prefill ≥ {matmul + attn:.3e} FLOP / {fl:.3e} FLOP/s = {(matmul + attn) / fl:.3f} s "
                     "(at 100 % of peak; real kernels reach 40–70 %)")
    return SpeedEstimate(active_bytes, kv_bytes, batch, n_devices, bw, fl, prefill_tokens, matmul + attn,
                         tuple(lines))


def speed_for(model: Model, est, device, n_devices: int = 1) -> SpeedEstimate:
    """The bounds for a ``memory.SizeEstimate`` of ``model`` on ``n_devices`` × ``device``.

    Routed-expert bytes scale with the weights when they were re-priced (same ratio as the whole).
    """
    from paramscope.analyses.contents.inventory import inventory

    inv = inventory(model)
    experts = inv.by_component.get("experts")
    stored = inv.weights_bytes
    expert_bytes = experts.bytes * est.weights_bytes // stored if experts and stored else 0
    active = active_weight_bytes(est.weights_bytes, expert_bytes, model.config)
    flops = device.half_flops if device else None
    bandwidth = device.bandwidth if device else None
    return speed(model.config, active_params=inv.active_params, active_bytes=active,
                 kv_bytes=est.kv_cache_bytes, batch=est.batch, prefill_tokens=est.context,
                 bandwidth=bandwidth, peak_flops=flops, n_devices=n_devices)
