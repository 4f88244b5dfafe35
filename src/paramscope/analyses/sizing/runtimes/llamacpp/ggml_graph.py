"""A small model of ggml's compute graphs and of ggml-alloc's graph allocator (ggml/src/ggml-alloc.c).

llama.cpp's compute buffer is what ggml-alloc's ``ggml_gallocr`` reserves for the worst-case graph: it
walks the graph in execution order, places every intermediate tensor in a free block (best fit, blocks
merged when freed, sizes padded to the buffer's alignment), frees a tensor after its last consumer, and
lets some ops write into their input's memory (in place). The buffer is the highest address it ever
used. A per-phase formula can only approximate that; replaying the allocator on the same graph gives
the byte count llama.cpp prints.

This module holds the graph side (tensors with ggml's shapes, strides and view rules, and the
depth-first order ``ggml_build_forward_expand`` gives nodes and leafs) and the allocator; which graph
llama.cpp builds for an architecture is in ``llamacpp_graph``. Checked against llama-cpp-python 0.3.36's
vendored ggml (ggml.c, ggml-alloc.c).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from paramscope.model.dtypes import DType

INPUT, OUTPUT = 1, 2  # GGML_TENSOR_FLAG_INPUT / _OUTPUT

# ggml-alloc.c, ggml_op_can_inplace: the ops whose result may take over an input's memory
INPLACE_OPS = frozenset({
    "FILL", "SCALE", "DIAG_MASK_ZERO", "DIAG_MASK_INF", "ADD", "ADD_ID", "ADD1", "SUB", "MUL", "DIV",
    "SQR", "SQRT", "LOG", "UNARY", "ROPE", "ROPE_BACK", "SILU_BACK", "RMS_NORM", "RMS_NORM_BACK", "CLAMP",
    "SOFT_MAX", "SOFT_MAX_BACK",
})
VIEW_OPS = frozenset({"VIEW", "RESHAPE", "PERMUTE", "TRANSPOSE"})

# (bytes per block, values per block) of the types a graph holds; quantized ones only in KV cache views
_PLAIN = {"f32": (4, 1), "f16": (2, 1), "bf16": (2, 1), "i32": (4, 1), "i64": (8, 1)}


def type_layout(t: str | DType) -> tuple[int, int]:
    if isinstance(t, DType):
        info = t.info
        return info.type_size, info.block_size
    return _PLAIN[t]


class Tensor:
    """A ggml_tensor as far as allocation is concerned. Identity is the object (as a pointer in C): equal
    only to itself, hashed by identity. A plain class with slots rather than a dataclass: a mutable
    node (ggml_set_output sets flags after creation), and every `size` imports this module at start-up,
    where a dataclass costs ~0.5 ms to create."""

    __slots__ = ("external", "extra", "flags", "name", "nb", "ne", "op", "src", "type", "view_src")

    def __init__(self, op: str, type: str | DType, ne: tuple[int, int, int, int],
                 nb: tuple[int, int, int, int], src: tuple[Tensor | None, ...] = (),
                 view_src: Tensor | None = None, flags: int = 0, external: bool = False,
                 name: str = "") -> None:
        self.op = op  # "NONE" for leafs
        self.type = type
        self.ne = ne
        self.nb = nb
        self.src = src
        self.view_src = view_src  # the root tensor whose memory a view uses
        self.flags = flags
        self.external = external  # memory outside the graph's buffer: weights, KV cache
        self.name = name
        # bytes the backend's get_alloc_size adds beyond ggml_nbytes (CUDA's flash attention: f16 copies of
        # a quantized K and V, ``flash_attn_f16_extra``)
        self.extra = 0

    @property
    def nbytes(self) -> int:
        """ggml_nbytes."""
        ne0, ne1, ne2, ne3 = self.ne
        if ne0 <= 0 or ne1 <= 0 or ne2 <= 0 or ne3 <= 0:
            return 0
        nb0, nb1, nb2, nb3 = self.nb
        rest = (ne1 - 1) * nb1 + (ne2 - 1) * nb2 + (ne3 - 1) * nb3
        size, blck = type_layout(self.type)
        if blck == 1:
            return size + (ne0 - 1) * nb0 + rest
        return ne0 * nb0 // blck + rest

    @property
    def alloc_size(self) -> int:
        """ggml_backend_buft_get_alloc_size: nbytes, plus what the backend keeps beside the data."""
        return self.nbytes + self.extra

    @property
    def n_elements(self) -> int:
        return self.ne[0] * self.ne[1] * self.ne[2] * self.ne[3]

    def is_contiguous(self) -> bool:
        return self.nb == contiguous_strides(self.type, self.ne)


def contiguous_strides(t: str | DType, ne: Sequence[int]) -> tuple[int, int, int, int]:
    size, blck = type_layout(t)
    nb0 = size
    nb1 = size * (ne[0] // blck)
    nb2 = nb1 * ne[1]
    return nb0, nb1, nb2, nb2 * ne[2]


def _ne4(ne: Sequence[int]) -> tuple[int, int, int, int]:
    return (*ne, 1, 1, 1, 1)[:4]  # type: ignore[return-value]


def row_size(t: str | DType, n: int) -> int:
    size, blck = type_layout(t)
    return size * n // blck


# --- tensor constructors and ops (ggml.c), each with ggml's result shape, type, sources and view rule --
def new(t: str | DType, ne: Sequence[int], op: str = "NONE", src: Iterable[Tensor | None] = (),
        name: str = "", flags: int = 0, external: bool = False) -> Tensor:
    ne4 = _ne4(ne)
    return Tensor(op, t, ne4, contiguous_strides(t, ne4), tuple(src), None, flags, external, name)


def leaf(t: str | DType, ne: Sequence[int], name: str, *, external: bool = False) -> Tensor:
    """A weight or cache tensor (external) or a graph input (ggml_set_input)."""
    return new(t, ne, name=name, flags=0 if external else INPUT, external=external)


def _root(a: Tensor) -> Tensor:
    return a.view_src if a.view_src is not None else a


def view(a: Tensor, ne: Sequence[int], nb: Sequence[int] = (), op: str = "VIEW") -> Tensor:
    """ggml_view_Nd (``nb``: its nb1, nb2, nb3 arguments; the strides not given follow ggml_view_2d/3d)
    and ggml_reshape_Nd (no ``nb``: contiguous). The memory of ``a``'s root; src[0] = a."""
    ne4 = _ne4(ne)
    strides = list(contiguous_strides(a.type, ne4))
    for i, stride in enumerate(nb, start=1):
        strides[i] = stride
    for i in range(len(nb) + 1, 4):
        if nb:
            strides[i] = strides[i - 1] * ne4[i - 1]
    return Tensor(op, a.type, ne4, _ne4(strides), (a,), _root(a))


def reshape(a: Tensor, *ne: int) -> Tensor:
    return view(a, ne, op="RESHAPE")


def permute(a: Tensor, *axes: int) -> Tensor:
    ne, nb = [0] * 4, [0] * 4
    for i, ax in enumerate(axes):
        ne[ax], nb[ax] = a.ne[i], a.nb[i]
    return Tensor("PERMUTE", a.type, _ne4(ne), _ne4(nb), (a,), _root(a))


def transpose(a: Tensor) -> Tensor:
    ne, nb = list(a.ne), list(a.nb)
    ne[0], ne[1], nb[0], nb[1] = ne[1], ne[0], nb[1], nb[0]
    return Tensor("TRANSPOSE", a.type, _ne4(ne), _ne4(nb), (a,), _root(a))


def view_tensor(a: Tensor, op: str, src: Iterable[Tensor | None]) -> Tensor:
    """ggml_view_tensor with an op: the ops that write into ``a`` (set_rows, cpy, *_inplace)."""
    return Tensor(op, a.type, a.ne, a.nb, tuple(src), _root(a))


def unary_like(op: str, a: Tensor, *others: Tensor | None) -> Tensor:
    """ggml_dup_tensor(a) as the result: element-wise ops, norms, rope, softmax, scale."""
    return new(a.type, a.ne, op, (a, *others))


def mul_mat(a: Tensor, b: Tensor) -> Tensor:
    return new("f32", (a.ne[1], b.ne[1], b.ne[2], b.ne[3]), "MUL_MAT", (a, b))


def mul_mat_id(a: Tensor, b: Tensor, ids: Tensor) -> Tensor:
    return new("f32", (a.ne[1], ids.ne[0], b.ne[2], 1), "MUL_MAT_ID", (a, b, ids))


def get_rows(a: Tensor, b: Tensor) -> Tensor:
    t = "i32" if a.type == "i32" else "f32"
    return new(t, (a.ne[0], b.ne[0], b.ne[1], b.ne[2]), "GET_ROWS", (a, b))


def cont(a: Tensor, *ne: int) -> Tensor:
    return new(a.type, ne or a.ne, "CONT", (a,))


def glu_split(a: Tensor, b: Tensor) -> Tensor:
    return new(a.type, a.ne, "GLU", (a, b))


def glu(a: Tensor) -> Tensor:
    """ggml_swiglu / ggml_geglu of one tensor holding both halves: half as wide."""
    return new(a.type, (a.ne[0] // 2, *a.ne[1:]), "GLU", (a, None))


def argsort(a: Tensor) -> Tensor:
    return new("i32", a.ne, "ARGSORT", (a,))


def sum_rows(a: Tensor) -> Tensor:
    return new(a.type, (1, a.ne[1], a.ne[2], a.ne[3]), "SUM_ROWS", (a,))


def flash_attn_ext(q: Tensor, k: Tensor, v: Tensor, mask: Tensor, f16_copies: bool = False) -> Tensor:
    """``f16_copies``: the backend keeps f16 copies of a K and V of another type beside the result
    (``flash_attn_f16_extra``)."""
    out = new("f32", (v.ne[0], q.ne[2], q.ne[1], q.ne[3]), "FLASH_ATTN_EXT", (q, k, v, mask))
    if f16_copies:
        out.extra = flash_attn_f16_extra(out, k, v)
    return out


F16_COPY_ALIGN = 128  # fattn-common.cuh: GGML_PAD(data.end, 128) before each copy


def flash_attn_f16_extra(out: Tensor, k: Tensor, v: Tensor) -> int:
    """ggml-cuda's get_alloc_size for FLASH_ATTN_EXT (llama.cpp PR 23907, "cuda: reserve space for
    quantize kv-cache at startup", June 2026; fattn-common.cuh ggml_cuda_flash_attn_ext_get_f16_extra_data):
    the prompt batch's tile and MMA kernels read f16, so a K or V of another type gets an f16 copy of all
    its elements (the whole cache the view spans) after the result, each aligned to 128 bytes; a V that is
    a view of K (MLA) shares K's copy."""
    end = out.nbytes
    if k.type not in ("f16", DType.F16):
        end = -(-end // F16_COPY_ALIGN) * F16_COPY_ALIGN + k.n_elements * 2
    v_is_k = v.view_src is not None and v.view_src is k.view_src and v.nb == k.nb
    if v.type not in ("f16", DType.F16) and not v_is_k:
        end = -(-end // F16_COPY_ALIGN) * F16_COPY_ALIGN + v.n_elements * 2
    return end - out.nbytes


def cast(a: Tensor, t: str | DType) -> Tensor:
    """ggml_cast: a CPY into a new tensor of type ``t`` (ggml also makes the result its own src[1], which
    changes no allocation)."""
    return new(t, a.ne, "CPY", (a,))


def set_rows(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    return view_tensor(a, "SET_ROWS", (a, b, c))


class Graph:
    """ggml_cgraph: nodes and leafs in the order ggml_build_forward_expand visits them.

    A plain class, not a dataclass: a mutable work list, and every `size` and `fit` imports this module
    at start-up, where each dataclass costs ~0.5 ms to create on Python 3.11."""

    __slots__ = ("_seen", "leafs", "nodes")

    def __init__(self) -> None:
        self.nodes: list[Tensor] = []
        self.leafs: list[Tensor] = []
        self._seen: set[Tensor] = set()  # a Tensor hashes by identity (eq=False), as a pointer would

    def expand(self, t: Tensor) -> None:
        """ggml_visit_parents_graph: depth first, sources left to right, each tensor once."""
        seen = self._seen
        stack: list[tuple[Tensor, int]] = [(t, 0)]
        while stack:
            cur, i = stack.pop()
            if i == 0:
                if cur in seen:
                    continue
                seen.add(cur)
            srcs = cur.src
            while i < len(srcs) and (srcs[i] is None or srcs[i] in seen):
                i += 1
            if i < len(srcs):
                stack.append((cur, i + 1))
                stack.append((srcs[i], 0))  # type: ignore[arg-type]
                continue
            (self.leafs if cur.op == "NONE" else self.nodes).append(cur)


# --- ggml-alloc.c: ggml_dyn_tallocr and ggml_gallocr_alloc_graph_impl ----------------------------------
class DynAllocator:
    """One chunk of ggml_dyn_tallocr (a CPU buffer type has no maximum size, so one chunk)."""

    def __init__(self, alignment: int) -> None:
        self.alignment = alignment
        self.blocks: list[list[int]] = [[0, 1 << 62]]  # [offset, size], sorted by offset; last: the tail
        self.max_size = 0

    def _pad(self, size: int) -> int:
        return (size + self.alignment - 1) // self.alignment * self.alignment

    def alloc(self, size: int) -> int:
        size = self._pad(size)
        best, best_size = -1, None
        for i in range(len(self.blocks) - 1):  # best fit among all blocks but the last
            block_size = self.blocks[i][1]
            if block_size >= size and (best_size is None or block_size <= best_size):
                best, best_size = i, block_size
        if best == -1:
            best = len(self.blocks) - 1
        block = self.blocks[best]
        addr = block[0]
        block[0] += size
        block[1] -= size
        if block[1] == 0:
            del self.blocks[best]
        self.max_size = max(self.max_size, addr + size)
        return addr

    def free(self, addr: int, size: int) -> None:
        size = self._pad(size)
        blocks = self.blocks
        for i, block in enumerate(blocks):
            if block[0] + block[1] == addr:  # the freed bytes follow this block
                block[1] += size
                if i < len(blocks) - 1 and block[0] + block[1] == blocks[i + 1][0]:
                    block[1] += blocks[i + 1][1]
                    del blocks[i + 1]
                return
            if addr + size == block[0]:  # they precede it
                block[0] = addr
                block[1] += size
                if i > 0 and blocks[i - 1][0] + blocks[i - 1][1] == block[0]:
                    blocks[i - 1][1] += block[1]
                    del blocks[i]
                return
        pos = 0
        while pos < len(blocks) and blocks[pos][0] < addr:
            pos += 1
        blocks.insert(pos, [addr, size])


class _HashNode:
    """ggml_hash_node: consumers and views not yet run, and the memory the tensor holds (a plain class
    with slots: the replay makes one per tensor, and a dataclass costs ~0.5 ms to create at start-up)."""

    __slots__ = ("addr", "allocated", "n_children", "n_views")

    def __init__(self) -> None:
        self.n_children = 0
        self.n_views = 0
        self.allocated = False
        self.addr = 0


def _same_layout(a: Tensor, b: Tensor) -> bool:
    return a.type == b.type and a.ne == b.ne and a.nb == b.nb


def reserve(graph: Graph, alignment: int = 32) -> int:
    """ggml_gallocr_reserve: the buffer size (the allocator's high-water mark) for ``graph``."""
    alloc = DynAllocator(alignment)
    pad = alloc._pad
    # ggml_hash_set, keyed by the tensor itself (it hashes by identity); a node made on first lookup
    hash_nodes: defaultdict[Tensor, _HashNode] = defaultdict(_HashNode)

    def allocate(t: Tensor) -> None:
        if t.external or t.view_src is not None:
            return
        h = hash_nodes[t]
        if h.allocated:
            return
        h.allocated = True
        if t.op in INPLACE_OPS:
            for parent in t.src:
                if parent is None:
                    continue
                p = hash_nodes[parent]
                if not p.allocated:  # external, a view, or not ours
                    continue
                if parent.flags & OUTPUT or (parent.view_src is not None and parent.view_src.flags & OUTPUT):
                    continue
                if not _same_layout(t, parent):
                    continue
                if p.n_children == 1 and p.n_views == 0:
                    h.addr = p.addr
                    p.allocated = False  # the node owns the memory now
                    size = pad(t.alloc_size)
                    extra = pad(parent.alloc_size) - size
                    if extra > 0:
                        alloc.free(p.addr + size, extra)
                    return
        h.addr = alloc.alloc(t.alloc_size)

    def free(t: Tensor, h: _HashNode) -> None:
        if t.flags & OUTPUT:
            return
        alloc.free(h.addr, t.alloc_size)
        h.allocated = False

    for t in graph.leafs:
        allocate(t)
    for node in graph.nodes:
        if node.view_src is not None and node.op != "NONE":
            hash_nodes[node.view_src].n_views += 1
        if node.flags & INPUT:
            allocate(node)
        for src in node.src:
            if src is None:
                continue
            hash_nodes[src].n_children += 1
            if src.flags & INPUT:
                allocate(src)
    for node in graph.nodes:
        srcs = node.src
        for src in srcs:
            if src is not None:
                allocate(src)
        allocate(node)
        for src in srcs:
            if src is None:
                continue
            p = hash_nodes[src]
            p.n_children -= 1
            if p.n_children == 0 and p.n_views == 0:
                view_src = src.view_src
                if view_src is not None:
                    root = hash_nodes[view_src]
                    root.n_views -= 1
                    if root.n_views == 0 and root.n_children == 0 and root.allocated:
                        free(view_src, root)
                elif p.allocated:
                    free(src, p)
    return alloc.max_size
