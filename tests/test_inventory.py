"""The inventory analysis on hand-built models: every count checked against arithmetic done here."""

from hypothesis import given, settings
from hypothesis import strategies as st

from paramscope.analyses.contents.inventory import _component_key, inventory
from paramscope.model import ArchConfig, Model, Tensor
from paramscope.model.dtypes import DType


def T(name, shape, dtype=DType.BF16, **kw):
    n = 1
    for d in shape:
        n *= d
    return Tensor(name, tuple(shape), dtype, dtype.nbytes(n), **kw)


def cfg(**kw):
    base = dict(family="llama", architecture="LlamaForCausalLM", n_layers=2, hidden_size=8, n_heads=2,
                n_kv_heads=1, head_dim_k=4, head_dim_v=4, ffn_size=16, vocab_size=32, context_length=64)
    return ArchConfig(**(base | kw))


def dense_model(tied=False, with_head=True):
    ts = [T("model.embed_tokens.weight", (32, 8))]
    for i in range(2):
        p = f"model.layers.{i}."
        ts += [T(p + "self_attn.q_proj.weight", (8, 8)), T(p + "self_attn.k_proj.weight", (4, 8)),
               T(p + "self_attn.v_proj.weight", (4, 8)), T(p + "self_attn.o_proj.weight", (8, 8)),
               T(p + "mlp.gate_proj.weight", (16, 8)), T(p + "mlp.up_proj.weight", (16, 8)),
               T(p + "mlp.down_proj.weight", (8, 16)), T(p + "input_layernorm.weight", (8,)),
               T(p + "post_attention_layernorm.weight", (8,))]
    ts.append(T("model.norm.weight", (8,)))
    if with_head:
        ts.append(T("lm_head.weight", (32, 8)))
    return Model("safetensors", "test", tuple(ts), cfg(tied_embeddings=tied))


def test_dense_counts_and_tree():
    inv = inventory(dense_model())
    per_layer = 64 + 32 + 32 + 64 + 3 * 128 + 16
    assert inv.total_params == 256 + 2 * per_layer + 8 + 256
    assert inv.active_params == inv.total_params
    c = inv.by_component
    assert c["attention/q"].params == 2 * 64
    assert c["attention"].params == 2 * (64 + 32 + 32 + 64)
    assert c["ffn"].params == 2 * 3 * 128
    assert c["norm"].params == 2 * 16 + 8
    assert c["total"].params == inv.total_params
    assert c["total"].bytes == inv.weights_bytes == 2 * inv.total_params
    assert abs(sum(v.share for k, v in c.items() if "/" not in k and k != "total") - 1) < 1e-12
    assert next(iter(c)) == "embedding" and list(c)[-1] == "total"
    assert inv.by_dtype["BF16"].params == inv.total_params
    assert inv.by_role["norm"].params == 40
    assert set(inv.by_layer) == {0, 1}
    assert inv.by_layer[1]["total"].params == per_layer
    assert inv.by_layer[1]["attention"].params == 192


def test_tied_head_stored_twice_counts_once():
    inv = inventory(dense_model(tied=True))
    untied = inventory(dense_model(tied=False))
    assert inv.total_params == untied.total_params - 256
    assert inv.weights_bytes == untied.weights_bytes  # the bytes are on disk all the same
    assert any("tied" in n for n in inv.notes)


def test_buffers_and_packed_tensors():
    ts = (
        T("embeddings.position_ids", (1, 512), DType.I64, is_parameter=False),
        T("layer.qweight", (8, 64), DType.I32, weight_bits=4),  # 4-bit GPTQ: 8 per int32
        T("layer.scales", (1, 64), DType.F16, is_parameter=False),
    )
    inv = inventory(Model("safetensors", "test", ts))
    assert inv.total_params == 8 * 64 * 8
    assert inv.weights_bytes == 512 * 8 + 8 * 64 * 4 + 64 * 2
    assert inv.by_dtype["I64"].params == 0 and inv.by_dtype["I64"].bytes == 4096
    assert any("position_ids" in n for n in inv.notes)


def test_moe_active_params():
    ts = [T("model.embed_tokens.weight", (32, 8))]
    for e in range(8):
        for w, shape in (("w1", (16, 8)), ("w2", (8, 16)), ("w3", (16, 8))):
            ts.append(T(f"model.layers.0.block_sparse_moe.experts.{e}.{w}.weight", shape))
    ts.append(T("model.layers.0.block_sparse_moe.gate.weight", (8, 8)))
    m = Model("safetensors", "t", tuple(ts), cfg(n_layers=1, n_experts=8, n_experts_per_token=2))
    inv = inventory(m)
    experts = 8 * 3 * 128
    assert inv.by_component["experts"].params == experts
    assert inv.total_params == 256 + experts + 64
    assert inv.active_params == 256 + 64 + experts * 2 // 8
    assert inv.active_label == "1.09K"


def test_quantized_bytes_by_dtype():
    ts = (T("token_embd.weight", (256, 64), DType.Q4_K), T("output_norm.weight", (64,), DType.F32))
    inv = inventory(Model("gguf", "t", ts))
    assert inv.by_dtype["Q4_K"].bytes == 256 * 64 // 256 * 144
    assert inv.by_dtype["Q4_K"].params == 256 * 64
    assert list(inv.by_dtype) == ["Q4_K", "F32"]


def test_memo_answers_by_identity_and_forgets_the_oldest():
    """model.memo.ModelMemo (inventory, weights_for, llama.cpp offload): one answer per model object and
    key; another object, even an equal one, is computed anew; past its size the oldest entry goes."""
    from paramscope.model.memo import ModelMemo

    calls: list[object] = []
    memo: ModelMemo[int] = ModelMemo(2)
    a, b, c = object(), object(), object()

    def ask(model: object, key: int) -> int:
        return memo.get(model, key, lambda: calls.append((model, key)) or len(calls))

    assert ask(a, 1) == 1 and ask(a, 1) == 1 and ask(a, 2) == 2 and len(calls) == 2
    assert ask(b, 1) == 3  # a third entry: (a, 1) was the oldest and is gone
    assert ask(a, 2) == 2 and ask(a, 1) == 4
    assert ask(c, 1) == 5 and len(calls) == 5


# --- the tallies, summed row by row ------------------------------------------------------------------------
# inventory sums rows alike (placement, dtype, parameter or not) first and the tallies from those; here
# every tally is summed over the rows one by one, as the analysis states it, in the order rows show keys.
_LEAVES = ("self_attn.q_proj.weight", "self_attn.q_proj.bias", "mlp.experts.3.up_proj.weight",
           "mlp.experts.3.up_proj.weight_scale_inv", "mlp.gate.weight", "input_layernorm.weight",
           "mlp.down_proj.qweight", "mlp.down_proj.scales")
_NAMES = ["model.embed_tokens.weight", "lm_head.weight", "model.norm.weight",
          "vision_tower.layers.1.fc1.weight",
          *(f"model.layers.{i}.{leaf}" for i in (0, 1, 7) for leaf in _LEAVES)]
_tensor = st.builds(lambda name, shape, dtype, per, param: T(name, shape, dtype, weight_bits=per,
                                                               is_parameter=param),
                    st.sampled_from(_NAMES), st.lists(st.integers(1, 9), min_size=1, max_size=3).map(tuple),
                    st.sampled_from([DType.BF16, DType.F32, DType.F8_E4M3, DType.I32]),
                    st.sampled_from([0, 4]), st.booleans())


def _by_rows(rows, keys, total):
    sums = {}
    for r in rows:
        for k in keys(r):
            acc = sums.setdefault(k, [0, 0, 0])
            acc[0] += r.params
            acc[1] += r.tensor.nbytes
            acc[2] += 1
    return [(k, (p, b, n, p / total if total else 0.0)) for k, (p, b, n) in sums.items()]


def _listed(tallies):
    return [(k, (t.params, t.bytes, t.tensors, t.share)) for k, t in tallies.items()]


@settings(max_examples=100, deadline=None)
@given(st.lists(_tensor, max_size=40, unique_by=lambda t: t.name), st.booleans())
def test_tallies_equal_summing_row_by_row(tensors, tied):
    inv = inventory(Model("safetensors", "test", tuple(tensors), cfg(tied_embeddings=tied)))
    counted = [r for r in inv.rows if r.counted]
    total = sum(r.params for r in counted)
    assert inv.total_params == total

    def ancestors(path):
        parts = path.split("/")
        return [*("/".join(parts[: i + 1]) for i in range(len(parts))), "total"]

    def ordered(by_rows, key):  # the analysis orders these three; ties keep the order rows show them
        return sorted(by_rows, key=key)

    assert _listed(inv.by_dtype) == ordered(_by_rows(counted, lambda r: [r.tensor.dtype.value], total),
                                            lambda kv: -kv[1][1])
    params = [r for r in counted if r.tensor.is_parameter]
    assert _listed(inv.by_role) == ordered(_by_rows(params, lambda r: [r.placement.role], total),
                                           lambda kv: -kv[1][0])
    assert [k for k, _ in _listed(inv.by_component)] == sorted(
        {k for r in counted for k in ancestors(r.placement.component)}, key=_component_key)
    by_rows = _by_rows(counted, lambda r: ancestors(r.placement.component), total)
    assert dict(_listed(inv.by_component)) == dict(by_rows)
    layers = sorted({r.placement.layer for r in counted if r.placement.layer is not None})
    assert list(inv.by_layer) == layers
    for i in layers:
        rows = [r for r in counted if r.placement.layer == i]
        assert _listed(inv.by_layer[i]) == _by_rows(rows, lambda r: [r.placement.component.split("/")[0],
                                                                     "total"], total)
