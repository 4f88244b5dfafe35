"""State-space and linear-attention mixers (Mamba, Mamba-2, Gated DeltaNet) and hybrid layer plans.

A hybrid family's row names a ``mixer`` rule (``MIXERS``): which token mixer each layer has
(attention, a Mamba mixer, both in parallel, a linear-attention mixer) and the numbers of that mixer,
read from the config under the family's spelling. The tensors follow each family's modeling file; the
fixed per-sequence state each recurrent layer keeps instead of a KV cache follows llama.cpp and vLLM:

- conv state: the last ``d_conv - 1`` inputs of the causal conv1d, for every conv channel
  (llama.cpp ``hparams.n_embd_r()``: ``(ssm_d_conv - 1) * (ssm_d_inner + 2*ssm_n_group*ssm_d_state)``;
  vLLM ``MambaStateShapeCalculator``: ``(conv_kernel - 1, conv_dim)``);
- ssm state: Mamba-1 ``d_inner × d_state`` (llama.cpp ``n_embd_s()``: ``ssm_d_state * ssm_d_inner``),
  Mamba-2 ``heads × head_dim × d_state`` (vLLM ``mamba2_state_shape``), Gated DeltaNet
  ``value heads × key head dim × value head dim`` (vLLM ``gated_delta_net_state_shape``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from paramscope.errors import FormatError
from paramscope.knowledge.families.hfconfig import HfConfig
from paramscope.knowledge.families.tensors import TensorList
from paramscope.records import record


@record
class Mixer:
    """The numbers of one family's recurrent mixer (the same for every recurrent layer)."""

    kind: str  # "mamba" (Mamba-1), "mamba2", "deltanet" (Gated DeltaNet)
    d_inner: int  # channels of the inner stream (Mamba) / value width (DeltaNet)
    d_state: int = 0
    d_conv: int = 4
    dt_rank: int = 0  # Mamba-1
    n_groups: int = 1  # Mamba-2: B/C groups
    n_heads: int = 0  # Mamba-2 heads / DeltaNet value heads
    head_dim: int = 0  # Mamba-2 head dim / DeltaNet value head dim
    n_k_heads: int = 0  # DeltaNet key heads
    k_head_dim: int = 0
    conv_bias: bool = True
    proj_bias: bool = False
    gated_norm: bool = True  # Mamba-2's RMSNorm over d_inner before out_proj
    bc_norms: bool = False  # Jamba: dt/b/c RMSNorms
    block: int = 0  # MiniMax lightning attention: the block length of its decay buffers

    @property
    def conv_dim(self) -> int:
        """Channels of the causal conv1d."""
        if self.kind == "mamba":
            return self.d_inner
        if self.kind == "mamba2":
            return self.d_inner + 2 * self.n_groups * self.d_state
        return 2 * self.n_k_heads * self.k_head_dim + self.n_heads * self.head_dim

    @property
    def conv_state(self) -> int:
        """Values of conv state one layer keeps per sequence: (d_conv − 1) × conv channels."""
        return (self.d_conv - 1) * self.conv_dim

    @property
    def ssm_state(self) -> int:
        """Values of recurrent state one layer keeps per sequence."""
        if self.kind == "mamba":
            return self.d_inner * self.d_state
        if self.kind == "mamba2":
            return self.n_heads * self.head_dim * self.d_state
        return self.n_heads * self.k_head_dim * self.head_dim


# -- tensors ----------------------------------------------------------------------------------------
def mamba_tensors(m: Mixer, hidden: int, t: TensorList, p: str) -> None:
    """MambaMixer (modeling_mamba.py; FalconMamba, Jamba's JambaMambaMixer the same plus dt/b/c norms)."""
    t.linear(p + "in_proj", 2 * m.d_inner, hidden, m.proj_bias)
    t.add(p + "conv1d.weight", m.d_inner, 1, m.d_conv)
    if m.conv_bias:
        t.add(p + "conv1d.bias", m.d_inner)
    t.linear(p + "x_proj", m.dt_rank + 2 * m.d_state, m.d_inner)
    t.linear(p + "dt_proj", m.d_inner, m.dt_rank, bias=True)
    t.add(p + "A_log", m.d_inner, m.d_state)
    t.add(p + "D", m.d_inner)
    t.linear(p + "out_proj", hidden, m.d_inner, m.proj_bias)
    if m.bc_norms:
        t.norm(p + "dt_layernorm", m.dt_rank)
        t.norm(p + "b_layernorm", m.d_state)
        t.norm(p + "c_layernorm", m.d_state)


def mamba2_tensors(m: Mixer, hidden: int, t: TensorList, p: str) -> None:
    """Mamba2Mixer: in_proj → [z (d_inner), xBC (conv_dim), dt (heads)]; per-head dt_bias, A_log, D."""
    t.linear(p + "in_proj", m.d_inner + m.conv_dim + m.n_heads, hidden, m.proj_bias)
    t.add(p + "conv1d.weight", m.conv_dim, 1, m.d_conv)
    if m.conv_bias:
        t.add(p + "conv1d.bias", m.conv_dim)
    t.add(p + "dt_bias", m.n_heads)
    t.add(p + "A_log", m.n_heads)
    t.add(p + "D", m.n_heads)
    if m.gated_norm:
        t.norm(p + "norm", m.d_inner)
    t.linear(p + "out_proj", hidden, m.d_inner, m.proj_bias)


def deltanet_tensors(m: Mixer, hidden: int, t: TensorList, p: str) -> None:
    """Qwen3NextGatedDeltaNet: in_proj_qkvz (q, k, v, z), in_proj_ba (β, α per value head), conv1d
    over q/k/v without bias, per-head dt_bias and A_log, a gated RMSNorm over one value head."""
    key, value = m.n_k_heads * m.k_head_dim, m.n_heads * m.head_dim
    t.linear(p + "in_proj_qkvz", 2 * key + 2 * value, hidden)
    t.linear(p + "in_proj_ba", 2 * m.n_heads, hidden)
    t.add(p + "conv1d.weight", m.conv_dim, 1, m.d_conv)
    t.add(p + "dt_bias", m.n_heads)
    t.add(p + "A_log", m.n_heads)
    t.norm(p + "norm", m.head_dim)
    t.linear(p + "out_proj", hidden, value)


def deltanet_split_tensors(m: Mixer, hidden: int, t: TensorList, p: str) -> None:
    """Qwen3_5GatedDeltaNet: Qwen3-Next's mixer with its input projections split: in_proj_qkv (q, k, v),
    in_proj_z, in_proj_b and in_proj_a (one β and one α per value head)."""
    key, value = m.n_k_heads * m.k_head_dim, m.n_heads * m.head_dim
    t.linear(p + "in_proj_qkv", 2 * key + value, hidden)
    t.linear(p + "in_proj_z", value, hidden)
    t.linear(p + "in_proj_b", m.n_heads, hidden)
    t.linear(p + "in_proj_a", m.n_heads, hidden)
    t.add(p + "conv1d.weight", m.conv_dim, 1, m.d_conv)
    t.add(p + "dt_bias", m.n_heads)
    t.add(p + "A_log", m.n_heads)
    t.norm(p + "norm", m.head_dim)
    t.linear(p + "out_proj", hidden, value)


def lightning_tensors(m: Mixer, hidden: int, t: TensorList, p: str) -> None:
    """MiniMaxLightningAttention: a fused qkv_proj, an output_gate, out_proj and an RMSNorm over
    heads × head_dim, plus its persistent decay buffers: slope_rate (H, 1, 1), query_decay and key_decay
    (H, block, 1), diagonal_decay (1, H, block, block)."""
    inner, h, b = m.n_heads * m.head_dim, m.n_heads, m.block
    t.linear(p + "qkv_proj", 3 * inner, hidden)
    t.linear(p + "output_gate", inner, hidden)
    t.linear(p + "out_proj", hidden, inner)
    t.norm(p + "norm", inner)
    t.add(p + "slope_rate", h, 1, 1, parameter=False)
    t.add(p + "query_decay", h, b, 1, parameter=False)
    t.add(p + "key_decay", h, b, 1, parameter=False)
    t.add(p + "diagonal_decay", 1, h, b, b, parameter=False)


def shortconv_tensors(m: Mixer, hidden: int, t: TensorList, p: str) -> None:
    """Lfm2ShortConv: in_proj to B, C and x (3 · hidden), a depthwise conv1d of conv_L_cache taps over
    hidden channels, out_proj; biases only with conv_bias."""
    t.linear(p + "in_proj", 3 * hidden, hidden, m.conv_bias)
    t.add(p + "conv.weight", hidden, 1, m.d_conv)
    if m.conv_bias:
        t.add(p + "conv.bias", hidden)
    t.linear(p + "out_proj", hidden, hidden, m.conv_bias)


MIXER_TENSORS: dict[str, Callable[[Mixer, int, TensorList, str], None]] = {
    "mamba": mamba_tensors, "mamba2": mamba2_tensors, "deltanet": deltanet_tensors,
    "deltanet_split": deltanet_split_tensors, "lightning": lightning_tensors, "shortconv": shortconv_tensors,
}


# -- each family's numbers and layer plan -------------------------------------------------------------
def _dt_rank(hf: HfConfig, key: str, hidden: int) -> int:
    # MambaConfig / JambaConfig: "auto" (the default) is ceil(hidden / 16)
    return math.ceil(hidden / 16) if hf.value(key) in (None, "auto") else hf.int(key, minimum=1)


def _mamba(hf: HfConfig, hidden: int) -> Mixer:
    """MambaConfig / FalconMambaConfig: intermediate_size = expand × hidden."""
    return Mixer("mamba", hf.int("intermediate_size", hf.int("expand", 2) * hidden, minimum=1),
                 d_state=hf.int("state_size", 16, minimum=1), d_conv=hf.int("conv_kernel", 4, minimum=1),
                 dt_rank=_dt_rank(hf, "time_step_rank", hidden), conv_bias=hf.flag("use_conv_bias", True),
                 proj_bias=hf.flag("use_bias"))


def _jamba_mamba(hf: HfConfig, hidden: int) -> Mixer:
    """JambaConfig spelling (mamba_expand, mamba_d_state…), with the dt/b/c RMSNorms."""
    return Mixer("mamba", hf.int("mamba_expand", 2) * hidden, d_state=hf.int("mamba_d_state", 16, minimum=1),
                 d_conv=hf.int("mamba_d_conv", 4, minimum=1), dt_rank=_dt_rank(hf, "mamba_dt_rank", hidden),
                 conv_bias=hf.flag("mamba_conv_bias", True), proj_bias=hf.flag("mamba_proj_bias"),
                 bc_norms=True)


def _mamba2(hf: HfConfig, hidden: int) -> Mixer:
    """Mamba2Config: num_heads × head_dim = expand × hidden."""
    heads = hf.int("num_heads", 128, minimum=1)
    return Mixer("mamba2", int(hf.value("expand", 2) * hidden), d_state=hf.int("state_size", 128, minimum=1),
                 d_conv=hf.int("conv_kernel", 4, minimum=1), n_groups=hf.int("n_groups", 8, minimum=1),
                 n_heads=heads, head_dim=hf.int("head_dim", 64, minimum=1),
                 conv_bias=hf.flag("use_conv_bias", True), proj_bias=hf.flag("use_bias"))


def _prefixed_mamba2(hf: HfConfig, hidden: int, gated_norm: bool | str) -> Mixer:
    """FalconH1 / GraniteMoeHybrid spelling: mamba_n_heads, mamba_d_head, mamba_d_ssm…"""
    heads = hf.int("mamba_n_heads", 128, minimum=1)
    d_inner = hf.opt_int("mamba_d_ssm", minimum=1) or hf.int("mamba_expand", 2) * hidden
    # mamba_d_head defaults to "auto" in all three configs: the width over the heads
    auto = hf.value("mamba_d_head") in (None, "auto")
    head_dim = d_inner // heads if auto else hf.int("mamba_d_head", minimum=1)
    if heads * head_dim != d_inner:
        # FalconH1Config / BambaConfig / GraniteMoeHybridConfig.validate_architecture refuse it: the heads
        # must tile the Mamba width exactly (a config that lost mamba_d_ssm falls back to 1024 and fails)
        raise FormatError(hf.source, "mamba_n_heads x mamba_d_head must equal the Mamba width (mamba_d_ssm, "
                          "else mamba_expand x hidden_size)", found=heads * head_dim, expected=d_inner)
    norm = gated_norm if isinstance(gated_norm, bool) else hf.flag(gated_norm)
    return Mixer("mamba2", d_inner, d_state=hf.int("mamba_d_state", 256, minimum=1),
                 d_conv=hf.int("mamba_d_conv", 4, minimum=1), n_groups=hf.int("mamba_n_groups", 1, minimum=1),
                 n_heads=heads, head_dim=head_dim, conv_bias=hf.flag("mamba_conv_bias", True),
                 proj_bias=hf.flag("mamba_proj_bias"), gated_norm=norm)


def _deltanet(hf: HfConfig, hidden: int, kind: str = "deltanet") -> Mixer:
    return Mixer(kind, 0, d_conv=hf.int("linear_conv_kernel_dim", 4, minimum=1),
                 n_heads=hf.int("linear_num_value_heads", minimum=1),
                 head_dim=hf.int("linear_value_head_dim", minimum=1),
                 n_k_heads=hf.int("linear_num_key_heads", minimum=1),
                 k_head_dim=hf.int("linear_key_head_dim", minimum=1))


def _lightning(hf: HfConfig, hidden: int) -> Mixer:
    """MiniMaxConfig: lightning attention over num_attention_heads × head_dim; its state is one
    head_dim × head_dim matrix per head (the KV outer-product sum), no conv."""
    heads = hf.int("num_attention_heads", minimum=1)
    head_dim = hf.int("head_dim", hidden // heads, minimum=1)
    return Mixer("lightning", heads * head_dim, d_conv=1, n_heads=heads, head_dim=head_dim,
                 k_head_dim=head_dim, block=hf.int("block_size", 256, minimum=1))


def _shortconv(hf: HfConfig, hidden: int) -> Mixer:
    """Lfm2Config: the conv keeps its last conv_L_cache − 1 inputs of every hidden channel; no other state
    (one "head" as wide as hidden, no key heads)."""
    return Mixer("shortconv", hidden, d_conv=hf.int("conv_L_cache", 3, minimum=1), n_heads=1, head_dim=hidden,
                 conv_bias=hf.flag("conv_bias"))


def _lfm2_layers(hf: HfConfig, n: int) -> tuple[str, ...]:
    # Lfm2Config.layer_types ("conv" / "full_attention"), else attention at full_attn_idxs (default: all)
    full = hf.int_list("full_attn_idxs") if hf.value("full_attn_idxs") is not None else tuple(range(n))
    return _given(hf, n, {"conv": "shortconv"}, lambda i: "attention" if i in full else "shortconv")


def _lfm3_types(hf: HfConfig, n: int) -> tuple[str, ...]:
    # Lfm3Config.layer_types, else "full_attention" where i % 4 == 2, "sliding_attention" where i % 4 == 0
    # and i > 0, "conv" elsewhere
    given = hf.str_list("layer_types")
    if given is not None:
        if len(given) != n:
            raise FormatError(hf.source, "layer_types has one entry per layer", found=len(given), expected=n)
        return given
    return tuple("full_attention" if i % 4 == 2 else "sliding_attention" if i % 4 == 0 and i > 0 else "conv"
                 for i in range(n))


def _given(hf: HfConfig, n: int, kinds: dict[str, str], default: Callable[[int], str]) -> tuple[str, ...]:
    """Per-layer blocks from the config's layer_types (or layers_block_type), else ``default(i)``."""
    given = hf.str_list("layer_types") or hf.str_list("layers_block_type")
    if given is not None and len(given) == n:
        return tuple(kinds.get(k, "attention") for k in given)
    return tuple(default(i) for i in range(n))


def _jamba_layers(hf: HfConfig, n: int) -> tuple[str, ...]:
    # JambaConfig.layers_block_type: attention where i % attn_layer_period == attn_layer_offset
    period, offset = hf.int("attn_layer_period", 8, minimum=1), hf.int("attn_layer_offset", 4)
    return tuple("attention" if i % period == offset else "mamba" for i in range(n))


# NemotronHConfig: one mixer per layer, from layers_block_type (its alias layer_types), else the first
# releases' hybrid_override_pattern ("M" Mamba-2, "*" attention, "-" MLP, "E" MoE), else its default
_NEMOTRON_H_PATTERN = {"M": "linear_attention", "*": "full_attention", "-": "mlp", "E": "moe"}
_NEMOTRON_H_BLOCKS = {"linear_attention": "mamba2", "mamba": "mamba2", "full_attention": "attention",
                      "attention": "attention", "mlp": "mlp", "moe": "moe"}


def nemotron_h_blocks(hf: HfConfig) -> tuple[str, ...]:
    """Per layer: "mamba2", "attention", "mlp" or "moe". The list's length is the layer count
    (NemotronHConfig.num_hidden_layers is a property of it; a num_hidden_layers key is ignored)."""
    given: Sequence[str] | None = hf.str_list("layers_block_type") or hf.str_list("layer_types")
    if given is None:
        pattern = hf.value("hybrid_override_pattern")
        if pattern is None:
            given = ["linear_attention", "moe", "full_attention", "mlp"]
        elif not isinstance(pattern, str) or set(pattern) - set(_NEMOTRON_H_PATTERN):
            raise FormatError(hf.source, "field 'hybrid_override_pattern' must be a string of M, *, - and E",
                              found=repr(pattern)[:80])
        else:
            given = [_NEMOTRON_H_PATTERN[c] for c in pattern]
    unknown = sorted(set(given) - set(_NEMOTRON_H_BLOCKS))
    if unknown or not given:
        raise FormatError(hf.source, "field 'layers_block_type' holds an unknown layer type",
                          found=", ".join(unknown) or "an empty list")
    return tuple(_NEMOTRON_H_BLOCKS[k] for k in given)


def _nemotron_h_mamba2(hf: HfConfig, hidden: int) -> Mixer:
    """NemotronHMamba2Mixer: mamba_num_heads × mamba_head_dim wide (not expand × hidden); the older
    mamba_* spellings win as NemotronHConfig.__post_init__ pops them; the gated RMSNorm always there."""
    heads, head_dim = hf.int("mamba_num_heads", 128, minimum=1), hf.int("mamba_head_dim", 64, minimum=1)
    groups = hf.raw.get("mamba_n_groups", hf.value("n_groups", 8))
    conv = hf.raw.get("mamba_d_conv", hf.value("conv_kernel", 4))
    bias = hf.raw.get("mamba_conv_bias", hf.value("use_conv_bias", True))
    for key, v in (("n_groups", groups), ("conv_kernel", conv)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise FormatError(hf.source, f"field {key!r} must be a positive whole number", found=repr(v))
    return Mixer("mamba2", heads * head_dim, d_state=hf.int("ssm_state_size", 128, minimum=1), d_conv=conv,
                 n_groups=groups, n_heads=heads, head_dim=head_dim, conv_bias=bias is True,
                 proj_bias=hf.flag("use_bias"), gated_norm=True)


@record
class MixerRule:
    mixer: Callable[[HfConfig, int], Mixer]
    layers: Callable[[HfConfig, int], tuple[str, ...]]  # per layer: key of decoder.LAYER_BLOCKS
    # the layer count when the config derives it from its layer list rather than num_hidden_layers
    count: Callable[[HfConfig], int] | None = None
    # per layer, the cache kind of an attention layer ("full" / "sliding") when its layer list says
    kinds: Callable[[HfConfig, int], tuple[str, ...]] | None = None


MIXERS: dict[str, MixerRule] = {
    "mamba": MixerRule(_mamba, lambda hf, n: ("mamba",) * n),
    "mamba2": MixerRule(_mamba2, lambda hf, n: ("mamba2",) * n),
    "jamba": MixerRule(_jamba_mamba, _jamba_layers),
    # FalconH1DecoderLayer: attention and Mamba-2 side by side in every layer
    "falcon_h1": MixerRule(lambda hf, h: _prefixed_mamba2(hf, h, "mamba_rms_norm"),
                           lambda hf, n: ("attention+mamba2",) * n),
    "granite_hybrid": MixerRule(
        lambda hf, h: _prefixed_mamba2(hf, h, True),
        lambda hf, n: _given(hf, n, {"mamba": "mamba2", "linear_attention": "mamba2"}, lambda i: "mamba2")),
    # BambaConfig: attention at attn_layer_indices, Mamba-2 everywhere else
    "bamba": MixerRule(
        lambda hf, h: _prefixed_mamba2(hf, h, True),
        lambda hf, n: tuple("attention" if i in hf.int_list("attn_layer_indices") else "mamba2"
                            for i in range(n))),
    # Qwen3NextConfig: "full_attention" every full_attention_interval-th layer, else "linear_attention"
    "qwen3_next": MixerRule(_deltanet, lambda hf, n: _given(
        hf, n, {"linear_attention": "deltanet"},
        lambda i: "attention" if (i + 1) % hf.int("full_attention_interval", 4, minimum=1) == 0
        else "deltanet")),
    "lfm2": MixerRule(_shortconv, _lfm2_layers),
    "lfm3": MixerRule(_shortconv, lambda hf, n: tuple("shortconv" if k == "conv" else "attention"
                                                      for k in _lfm3_types(hf, n)),
                      # Lfm3Config.sliding_window may be null: no window, those layers cache every token
                      kinds=lambda hf, n: tuple("sliding" if k == "sliding_attention"
                                                and hf.opt_int("sliding_window") else "full"
                                                for k in _lfm3_types(hf, n))),
    "nemotron_h": MixerRule(_nemotron_h_mamba2, lambda hf, n: nemotron_h_blocks(hf),
                            count=lambda hf: len(nemotron_h_blocks(hf))),
    # MiniMaxConfig.layer_types, else "full_attention" if (i + 1) % 2 else "linear_attention"
    "minimax": MixerRule(_lightning, lambda hf, n: _given(
        hf, n, {"linear_attention": "lightning"}, lambda i: "attention" if (i + 1) % 2 else "lightning")),
    "qwen3_5": MixerRule(lambda hf, h: _deltanet(hf, h, "deltanet_split"), lambda hf, n: _given(
        hf, n, {"linear_attention": "deltanet_split"},
        lambda i: "attention" if (i + 1) % hf.int("full_attention_interval", 4, minimum=1) == 0
        else "deltanet_split")),
}
