"""ggml_graph: the graph order and allocator rules of ggml.c / ggml-alloc.c on graphs small enough to
follow by hand (the recorded llama.cpp figures in test_llamacpp_profile / test_llamacpp_archs check the
whole on real graphs)."""

from __future__ import annotations

from paramscope.analyses.sizing.runtimes import ggml_graph as gg


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
