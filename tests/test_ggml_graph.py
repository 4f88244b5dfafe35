"""ggml_graph: the graph order and allocator rules of ggml.c / ggml-alloc.c on graphs small enough to
follow by hand (the recorded llama.cpp figures in test_llamacpp_profile / test_llamacpp_archs check the
whole on real graphs)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from paramscope.analyses.sizing.runtimes.llamacpp import ggml_graph as gg
from paramscope.analyses.sizing.runtimes.llamacpp import graph as lg
from paramscope.model import ArchConfig
from paramscope.model.dtypes import DType
from paramscope.records import replace


def chain(inplace: bool) -> gg.Graph:
    x = gg.leaf("f32", (128,), "x", external=True)
    w = gg.leaf("f32", (128, 128), "w", external=True)
    a = gg.mul_mat(w, x)  # 128 floats: 512 B
    b = gg.unary_like("SCALE", a) if inplace else gg.mul_mat(w, a)
    c = gg.unary_like("SCALE", b) if inplace else gg.mul_mat(w, b)
    c.flags |= gg.OUTPUT
    g = gg.Graph()
    g.expand(c)
    return g


def test_depth_first_order():
    g = chain(False)
    assert [t.name for t in g.leafs] == ["w", "x"]  # sources left to right, each once
    assert [t.op for t in g.nodes] == ["MUL_MAT"] * 3


def test_in_place_ops_reuse_their_input():
    # b and c take a's memory
    assert gg.reserve(chain(True)) == 512


def test_freed_blocks_are_reused():
    # a [0, 512), b [512, 1024); a freed after b: c takes a's block
    assert gg.reserve(chain(False)) == 1024


def test_sizes_padded_to_the_alignment():
    x = gg.leaf("f32", (3,), "x")  # 12 B → 32
    y = gg.unary_like("SQR", x)
    y.flags |= gg.OUTPUT
    g = gg.Graph()
    g.expand(y)
    # x, an input, is the allocator's own and has no other consumer: y is written in place
    assert gg.reserve(g) == 32
    assert gg.reserve(g, alignment=64) == 64


def test_best_fit_merges_adjacent_free_blocks():
    a = gg.DynAllocator(32)
    offsets = [a.alloc(n) for n in (64, 32, 96, 32)]
    assert offsets == [0, 64, 96, 192]
    a.free(0, 64)
    a.free(96, 96)
    assert a.alloc(96) == 96  # the 96 B block fits exactly; the 64 B one is too small
    a.free(96, 96)
    a.free(64, 32)  # merges [0, 64) + [64, 96) + [96, 192)
    assert a.blocks[0] == [0, 192]
    assert a.alloc(160) == 0 and a.max_size == 224



# --- the compute buffers kept per config (llamacpp/graph.py _BUFFERS) ---------------------------------------
_SMALL = ArchConfig(family="llama", architecture="llama", n_layers=2, hidden_size=64, n_heads=4, n_kv_heads=2,
                    head_dim_k=16, head_dim_v=16, ffn_size=128, vocab_size=256, context_length=4096)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from((1, 7, 32, 512)), st.sampled_from((256, 1024, 4096)),
                          st.booleans(), st.sampled_from((1, 4))), min_size=1, max_size=6))
def test_kept_buffers_equal_a_fresh_replay(asks):
    """Each answer the memo gives is the replay of its own arguments: a change of any of them (tokens,
    cells, flash attention, sequences) is a new replay, never an earlier answer; and an equal but distinct
    config gets its own."""
    for ubatch, cells, flash, seqs in asks:
        kw = dict(n_ubatch=ubatch, n_tokens=-(-ubatch // seqs) * seqs, n_seqs=seqs, n_streams=1,
                  kv_unified=False, flash_attn=flash, cells={"full": cells}, type_k=DType.F16,
                  type_v=DType.F16)
        want = lg._replay(_SMALL, on_gpu=False, n_outputs=ubatch, **kw)
        assert lg.compute_buffer_bytes(_SMALL, **kw) == want
        assert lg.compute_buffer_bytes(replace(_SMALL), **kw) == want
