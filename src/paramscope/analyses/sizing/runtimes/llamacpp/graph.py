"""The graph llama.cpp reserves its compute buffer for, rebuilt op by op for the architectures it covers.

llama_context::sched_reserve builds the worst-case prompt graph (n_ubatch tokens, each an output) and
the one-token-per-sequence graph, and ggml-alloc sizes the compute buffer for the larger
(ggml_graph.reserve). The functions below follow llama-cpp-python 0.3.36's vendored llama.cpp:
src/llama-graph.cpp (build_inp_embd, build_norm, build_qkv, build_attn for llm_graph_input_attn_kv and
_kv_iswa, build_attn_mha, build_ffn, build_moe_ffn), src/llama-kv-cache.cpp (cpy_k, cpy_v, get_k, get_v,
the index and rotation inputs) and the model files src/models/ (llama, qwen2, qwen3, qwen3moe, gemma3,
phi3, openai-moe): the same ops with the same sources in the same order, and ggml_build_forward_expand
where they call it, so that nodes and leafs come out in llama.cpp's order.
"""

from __future__ import annotations

from paramscope.analyses.sizing.runtimes.llamacpp import ggml_graph as gg
from paramscope.analyses.sizing.runtimes.llamacpp.ggml_graph import OUTPUT, Graph, Tensor
from paramscope.errors import UnsupportedError
from paramscope.model import ArchConfig
from paramscope.model.dtypes import DType
from paramscope.model.memo import ModelMemo
from paramscope.records import record

# architecture → (q/k biases, q/k RMS norms, Gemma's scaled embeddings, post-norms and GELU)
GRAPH_FAMILIES: dict[str, tuple[bool, bool, bool]] = {
    "llama": (False, False, False),
    "mistral": (False, False, False),
    "qwen2": (True, False, False),
    "qwen3": (False, True, False),
    "qwen3moe": (False, True, False),
    "gemma3": (False, True, True),
    "phi3": (False, False, False),  # fused QKV and gate/up projections: its own layer (phi3_layer)
    "gpt-oss": (True, False, False),  # sinks, biased experts, the last hidden state an output
    # llm_build_mistral3 (Ministral 3): the llama graph, plus with a temperature_scale an input of one f32
    # per token and a MUL of Q per layer, left out (Ministral 3 3B on a CPU, -ub 1024, Ollama 0.33.2:
    # 168.03 MiB printed, 168.023 replayed as llama; its per-phase estimate was −2.4 %)
    "mistral3": (False, False, False),
}
SLIDING = frozenset({"gemma3", "gpt-oss"})  # the architectures whose sliding-window graph is rebuilt
# transformers model_type (ArchConfig.family of a config.json) → the GGUF architecture convert_hf_to_gguf
# writes for it (Mistral and Mixtral become "llama")
HF_FAMILIES = {"llama": "llama", "mistral": "llama", "mixtral": "llama", "qwen2": "qwen2", "qwen3": "qwen3",
               "qwen3_moe": "qwen3moe", "gemma3": "gemma3", "gemma3_text": "gemma3", "phi3": "phi3",
               "gpt_oss": "gpt-oss", "ministral3": "mistral3"}
_WEIGHT = "f16"  # weights are external: their type does not enter the compute buffer
# ArchConfig.extra keys of per-layer heads and FFN widths (knowledge/gguf_arch.py PER_LAYER, spelled again
# so that a size needs no GGUF reader; tests/test_kv_layers.py holds them equal)
PER_LAYER_KEYS = ("n_heads_per_layer", "n_kv_heads_per_layer", "ffn_size_per_layer")


def graph_arch(cfg: ArchConfig) -> str | None:
    """The llama.cpp architecture whose graph this model gets, if paramscope rebuilds it."""
    arch = cfg.architecture if cfg.architecture in GRAPH_FAMILIES else HF_FAMILIES.get(cfg.family)
    kinds = set(cfg.layer_types or ("full",))
    if arch is None or not kinds <= {"full", "sliding"} or cfg.is_mla or cfg.n_shared_experts \
            or cfg.n_dense_layers or len(cfg.layer_types) not in (0, cfg.n_layers):
        return None
    if min(cfg.n_layers, cfg.hidden_size, cfg.n_heads, cfg.n_kv_heads, cfg.head_dim_k, cfg.head_dim_v,
           cfg.vocab_size) <= 0 or cfg.n_heads % cfg.n_kv_heads:
        return None
    if any(len(set(cfg.extra.get(key) or ())) > 1 for key in PER_LAYER_KEYS):
        # the rebuilt graph gives every layer n_head, n_head_kv and n_ff; llama.cpp reads them per layer
        # (hparams.n_head(il), n_head_kv(il), n_ff(il)) where the GGUF lists them: not rebuilt here
        return None
    if "sliding" in kinds and arch not in SLIDING:
        return None
    return arch


def has_graph(cfg: ArchConfig) -> bool:
    """Whether the buffer can be computed from llama.cpp's graph for this architecture."""
    return graph_arch(cfg) is not None


@record
class GraphParams:
    """The ubatch and KV cache one graph is built for."""

    n_tokens: int
    n_outputs: int
    n_seqs: int  # the ubatch's sequences (n_seqs_unq of ubatch_reserve)
    n_streams: int  # KV cache streams
    kv_unified: bool
    flash_attn: bool
    cells: dict[str, int]  # cells per stream, by layer kind ("full", "sliding")
    type_k: DType
    type_v: DType
    # the graph runs on a GPU backend: ggml_backend_sched gives every graph input to the CPU backend, so
    # the GPU's buffer holds only the copies its ops consume, and inp_embd, which nothing consumes when
    # tokens are given, is in no GPU buffer
    on_gpu: bool = False
    # the third, "mixed batch", input path of builds from b11401 (params.py MIXED_BATCH_BUILDS); on the CPU
    # backend only, where its host inputs live
    mixed_batch: bool = False
    # builds before PR 23764 (params.py F32_MASK_BUILDS) reserve the KQ mask in f32 and, with flash
    # attention, cast it to f16 in the graph: both in the compute buffer while the cast runs (``mask``)
    f32_mask: bool = False
    # V stored transposed (params.py LlamaCppParams.v_trans): without flash attention, unless "auto" made
    # the cache with it on and then resolved it off, when each layer's V is copied transposed
    # (build_attn_mha's ``v_cont``)
    v_trans: bool | None = None
    # CUDA / ROCm from PR 23907 (params.py F16_KV_COPY_BUILDS): the flash attention result's allocation
    # holds f16 copies of a K and V of another type
    f16_kv_copies: bool = False

    @property
    def v_transposed(self) -> bool:
        return not self.flash_attn if self.v_trans is None else self.v_trans


def _w(name: str, *ne: int) -> Tensor:
    return gg.leaf(_WEIGHT, ne, name, external=True)


class _Builder:
    def __init__(self, cfg: ArchConfig, gp: GraphParams) -> None:
        self.cfg, self.gp, self.g = cfg, gp, Graph()
        self.arch = graph_arch(cfg)
        if self.arch is None:
            raise UnsupportedError(f"no llama.cpp graph rebuilt for {cfg.architecture}")
        self.qkv_bias, self.qk_norm, self.gemma = GRAPH_FAMILIES[self.arch]
        self.kinds = cfg.layer_types or ("full",) * cfg.n_layers
        self.iswa = "sliding" in self.kinds

    # --- llm_graph_context helpers -----------------------------------------------------------------
    def norm(self, x: Tensor, name: str) -> Tensor:
        x = gg.unary_like("RMS_NORM", x)
        return gg.unary_like("MUL", x, _w(name, x.ne[0]))

    def hadamard(self, cur: Tensor, rot: Tensor) -> Tensor:
        """llama_mul_mat_hadamard (llama-impl.h)."""
        n = rot.ne[0]
        res = (gg.reshape(cur, n, cur.n_elements // n) if cur.is_contiguous()
               else gg.cont(cur, n, cur.n_elements // n))
        res = gg.mul_mat(rot, res)
        return gg.reshape(res, *cur.ne)

    def inputs(self) -> None:
        cfg, gp = self.cfg, self.gp
        t = gp.n_tokens
        self.inp_pos = gg.leaf("i32", (t,), "inp_pos")
        mask_streams = 1 if gp.kv_unified else gp.n_seqs
        head_k, head_v = cfg.head_dim_k, cfg.head_dim_v
        n_embd_v_gqa = cfg.n_kv_heads * head_v
        self.attn_inp: dict[str, dict[str, Tensor | None]] = {}
        for kind in ("full", "sliding") if self.iswa else ("full",):
            n_kv = gp.cells[kind]
            v_rows = t * n_embd_v_gqa if gp.v_transposed else t
            k_rot = v_rot = None
            if gp.type_k.info.quantized and head_k % 64 == 0:
                nrot = 64
                while head_k % (nrot * 2) == 0:
                    nrot *= 2
                k_rot = gg.leaf("f32", (nrot, nrot), "attn_inp_k_rot")
            if gp.type_v.info.quantized and head_v % 64 == 0:
                v_rot = gg.leaf("f32", (64, 64), "attn_inp_v_rot")
            self.attn_inp[kind] = {
                "k_idxs": gg.leaf("i64", (t,), "attn_inp_k_idxs"),
                "v_idxs": gg.leaf("i64", (v_rows,), "attn_inp_v_idxs"),
                "mask": self.mask(n_kv, t // mask_streams, mask_streams),
                "k_rot": k_rot, "v_rot": v_rot,
            }
        self.out_ids = gg.leaf("i32", (gp.n_outputs,), "out_ids")

    def mask(self, n_kv: int, rows: int, streams: int) -> Tensor:
        """build_attn_inp_kq_mask: f16 under flash attention, else f32. The builds before PR 23764 (b9410)
        made it f32 always and cast it for flash attention (``self_kq_mask_cnv``), so the buffer held the
        f32 mask and its f16 cast at once. On a GPU the f32 mask comes as the copy the cast reads, made
        when the cast runs and freed after it, not with the graph's other inputs: so the logs say, five of
        them to within 6 KiB (gpt-oss-20b at 131,072 cells and -ub 2048 on Metal, b7217: 1,672.08 MiB
        printed, 1,672.09 replayed; where the copy is made with the other inputs the freed gigabyte leaves a
        hole the logits cannot use, 2,635 MiB)."""
        gp = self.gp
        shape = (n_kv, rows, 1, streams)
        if gp.flash_attn and not gp.f32_mask:
            return gg.leaf("f16", shape, "attn_inp_kq_mask")
        if not gp.flash_attn:
            return gg.leaf("f32", shape, "attn_inp_kq_mask")
        if gp.on_gpu:
            host = gg.leaf("f32", shape, "attn_inp_kq_mask", external=True)  # in the CPU's buffer
            return gg.cast(gg.new("f32", shape, "CPY", (host,)), "f16")
        return gg.cast(gg.leaf("f32", shape, "attn_inp_kq_mask"), "f16")

    # --- llama_kv_cache ----------------------------------------------------------------------------
    def cache(self, il: int) -> tuple[Tensor, Tensor, int]:
        cfg, gp = self.cfg, self.gp
        size = gp.cells[self.kinds[il]]
        k = gg.leaf(gp.type_k, (cfg.n_kv_heads * cfg.head_dim_k, size, gp.n_streams), f"cache_k_l{il}",
                    external=True)
        v = gg.leaf(gp.type_v, (cfg.n_kv_heads * cfg.head_dim_v, size, gp.n_streams), f"cache_v_l{il}",
                    external=True)
        return k, v, size

    def attention(self, q: Tensor, k_cur: Tensor, v_cur: Tensor, il: int) -> Tensor:
        cfg, gp, g = self.cfg, self.gp, self.g
        inp = self.attn_inp["sliding" if self.kinds[il] == "sliding" else "full"]
        k_rot, v_rot = inp["k_rot"], inp["v_rot"]
        if k_rot is not None:
            q = self.hadamard(q, k_rot)
            k_cur = self.hadamard(k_cur, k_rot)
        if v_rot is not None:
            v_cur = self.hadamard(v_cur, v_rot)
        order = (q, k_cur, v_cur) if self.iswa else (q, v_cur, k_cur)
        for t in order:
            g.expand(t)
        k_cache, v_cache, kv_size = self.cache(il)
        ns = gp.n_streams
        # cpy_k
        n_embd_k = k_cur.ne[0] * k_cur.ne[1]
        k_view = gg.view(k_cur, (n_embd_k, k_cur.ne[2]), (k_cur.nb[2],))
        k_dst = gg.reshape(k_cache, n_embd_k, kv_size * ns) if ns > 1 else k_cache
        g.expand(gg.set_rows(k_dst, k_view, inp["k_idxs"]))  # type: ignore[arg-type]
        # cpy_v
        n_embd_v = v_cur.ne[0] * v_cur.ne[1]
        if not gp.v_transposed:
            v_view = gg.view(v_cur, (n_embd_v, v_cur.ne[2]), (v_cur.nb[2],))
            v_dst = gg.reshape(v_cache, n_embd_v, kv_size * ns) if ns > 1 else v_cache
        else:
            if gg.row_size(v_cur.type, n_embd_v) == v_cur.nb[2]:
                v_flat = gg.reshape(v_cur, n_embd_v, v_cur.ne[2])
            else:
                v_flat = gg.cont(v_cur, n_embd_v, v_cur.ne[2])
            v_dst = gg.reshape(v_cache, 1, v_cache.n_elements)
            v_view = gg.reshape(v_flat, 1, v_flat.n_elements)
        g.expand(gg.set_rows(v_dst, v_view, inp["v_idxs"]))  # type: ignore[arg-type]
        # get_k, get_v
        hk, hv, nkv = cfg.head_dim_k, cfg.head_dim_v, cfg.n_kv_heads
        tk, tv = gp.type_k, gp.type_v
        k = gg.view(k_cache, (hk, nkv, kv_size, ns),
                    (gg.row_size(tk, hk), gg.row_size(tk, hk * nkv), gg.row_size(tk, hk * nkv * kv_size)))
        if not gp.v_transposed:
            v = gg.view(v_cache, (hv, nkv, kv_size, ns),
                        (gg.row_size(tv, hv), gg.row_size(tv, hv * nkv), gg.row_size(tv, hv * nkv * kv_size)))
        else:
            v = gg.view(v_cache, (kv_size, nkv, hv, ns),
                        (gg.row_size(tv, kv_size * hv), gg.row_size(tv, kv_size),
                         gg.row_size(tv, kv_size * hv * nkv)))
        cur = self.attention_mha(q, k, v, inp["mask"])  # type: ignore[arg-type]
        if v_rot is not None:
            cur = self.hadamard(cur, v_rot)
        cur = gg.mul_mat(_w(f"blk.{il}.attn_output.weight", cfg.n_heads * hv, cfg.hidden_size), cur)
        if self.arch == "gpt-oss":
            cur = gg.unary_like("ADD", cur, _w(f"blk.{il}.attn_output.bias", cfg.hidden_size))
        return cur

    def attention_mha(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor) -> Tensor:
        ns = k.ne[3]
        q = gg.view(q, (q.ne[0], q.ne[1], q.ne[2] // ns, ns), (q.nb[1], q.nb[2], q.nb[2] * (q.ne[2] // ns)))
        q = gg.permute(q, 0, 2, 1, 3)
        k = gg.permute(k, 0, 2, 1, 3)
        v = gg.permute(v, 0, 2, 1, 3)
        if self.gp.flash_attn:
            cur = gg.flash_attn_ext(q, k, v, mask, self.gp.f16_kv_copies)
            cur = gg.reshape(cur, cur.ne[0] * cur.ne[1], cur.ne[2] * cur.ne[3])
        else:
            kq = gg.mul_mat(k, q)
            kq = gg.unary_like("SOFT_MAX", kq, mask)
            if not self.gp.v_transposed:  # build_attn_mha: "note: avoid this branch"
                v = gg.cont(gg.transpose(v))
            kqv = gg.mul_mat(v, kq)
            cur = gg.permute(kqv, 0, 2, 1, 3)
            cur = gg.cont(cur, cur.ne[0] * cur.ne[1], cur.ne[2] * cur.ne[3])
        self.g.expand(cur)
        return cur

    def ffn(self, cur: Tensor, il: int) -> Tensor:
        cfg = self.cfg
        b = f"blk.{il}."
        tmp = gg.mul_mat(_w(b + "ffn_up.weight", cfg.hidden_size, cfg.ffn_size), cur)
        gate = gg.mul_mat(_w(b + "ffn_gate.weight", cfg.hidden_size, cfg.ffn_size), cur)
        cur = gg.glu_split(gate, tmp)  # swiglu / geglu
        return gg.mul_mat(_w(b + "ffn_down.weight", cfg.ffn_size, cfg.hidden_size), cur)

    def moe_ffn(self, cur: Tensor, il: int) -> Tensor:
        """build_moe_ffn: softmax gating, weights normalized (norm_w), no weight scale; gpt-oss: biased
        router and experts (add_id), softmax over the selected experts' logits (SOFTMAX_WEIGHT)."""
        cfg, g = self.cfg, self.g
        oss = self.arch == "gpt-oss"
        b = f"blk.{il}."
        n_embd, n_tokens = cur.ne[0], cur.ne[1]
        n_expert, k, n_ff = cfg.n_experts, cfg.n_experts_per_token, cfg.expert_ffn_size
        logits = gg.mul_mat(_w(b + "ffn_gate_inp.weight", n_embd, n_expert), cur)
        if oss:
            logits = gg.unary_like("ADD", logits, _w(b + "ffn_gate_inp.bias", n_expert))
        probs = logits if oss else gg.unary_like("SOFT_MAX", logits, None)
        order = gg.argsort(probs)
        selected = gg.view(order, (k, order.ne[1], order.ne[2], order.ne[3]), order.nb[1:])
        weights = gg.get_rows(gg.reshape(probs, 1, n_expert, n_tokens), selected)
        if oss:
            weights = gg.reshape(weights, k, n_tokens)
            weights = gg.unary_like("SOFT_MAX", weights, None)
            weights = gg.reshape(weights, 1, k, n_tokens)
        else:
            weights = gg.reshape(weights, k, n_tokens)
            weights_sum = gg.sum_rows(weights)
            weights_sum = gg.unary_like("CLAMP", weights_sum)
            weights = gg.unary_like("DIV", weights, weights_sum)
            weights = gg.reshape(weights, 1, k, n_tokens)
        g.expand(weights)
        cur = gg.reshape(cur, n_embd, 1, n_tokens)

        def experts_mm(name: str, x: Tensor, n_in: int, n_out: int) -> Tensor:
            y = gg.mul_mat_id(_w(b + name + ".weight", n_in, n_out, n_expert), x, selected)
            if oss:
                y = gg.unary_like("ADD_ID", y, _w(b + name + ".bias", n_out, n_expert), selected)
            return y

        up = experts_mm("ffn_up_exps", cur, n_embd, n_ff)
        gate = experts_mm("ffn_gate_exps", cur, n_embd, n_ff)
        cur = gg.glu_split(gate, up)  # swiglu / swiglu_oai
        experts = experts_mm("ffn_down_exps", cur, n_ff, n_embd)
        experts = gg.unary_like("MUL", experts, weights)
        g.expand(experts)
        views = [gg.view(experts, (n_embd, n_tokens), (experts.nb[2],)) for _ in range(k)]
        for v in views:
            g.expand(v)
        out = views[0]
        for v in views[1:]:
            out = gg.unary_like("ADD", out, v)
            g.expand(out)
        return gg.cont(out) if k == 1 else out

    def phi3_layer(self, inp_l: Tensor, il: int) -> Tensor:
        """src/models/phi3.cpp: one attn_qkv matrix (Q, K, V are strided views of its output), Q scaled
        after RoPE, ffn_up holding gate and up (one GLU halves it), residual adds in phi3's order."""
        cfg, t = self.cfg, self.gp.n_tokens
        b = f"blk.{il}."
        hk, hv, n_kv = cfg.head_dim_k, cfg.head_dim_v, cfg.n_kv_heads
        residual = inp_l
        cur = self.norm(inp_l, b + "attn_norm.weight")
        width = cfg.n_heads * hk + n_kv * (hk + hv)
        qkv = gg.mul_mat(_w(b + "attn_qkv.weight", cfg.hidden_size, width), cur)
        q = gg.view(qkv, (hk, cfg.n_heads, t), (gg.row_size("f32", hk), qkv.nb[1]))
        k = gg.view(qkv, (hk, n_kv, t), (gg.row_size("f32", hk), qkv.nb[1]))
        v = gg.view(qkv, (hv, n_kv, t), (gg.row_size("f32", hv), qkv.nb[1]))
        q = gg.unary_like("ROPE", q, self.inp_pos, None)
        k = gg.unary_like("ROPE", k, self.inp_pos, None)
        q = gg.unary_like("SCALE", q)
        cur = self.attention(q, k, v, il)
        if il == cfg.n_layers - 1:
            cur = gg.get_rows(cur, self.out_ids)
            residual = gg.get_rows(residual, self.out_ids)
        cur = gg.unary_like("ADD", cur, residual)
        residual = cur
        cur = self.norm(cur, b + "ffn_norm.weight")
        up = gg.mul_mat(_w(b + "ffn_up.weight", cfg.hidden_size, 2 * cfg.ffn_size), cur)
        cur = gg.mul_mat(_w(b + "ffn_down.weight", cfg.ffn_size, cfg.hidden_size), gg.glu(up))
        return gg.unary_like("ADD", residual, cur)

    # --- the model (src/models/*.cpp) -------------------------------------------------------------
    def build(self) -> Graph:
        cfg, gp, g = self.cfg, self.gp, self.g
        n_embd, t = cfg.hidden_size, gp.n_tokens
        hk, hv = cfg.head_dim_k, cfg.head_dim_v
        tok_embd = _w("token_embd.weight", n_embd, cfg.vocab_size)
        tokens = gg.leaf("i32", (t,), "inp_tokens")
        inp_embd = gg.leaf("f32", (n_embd, t), "inp_embd")
        inp_l = gg.get_rows(tok_embd, tokens)
        g.expand(inp_l)  # ggml_build_forward_select: both inputs enter the graph
        mixed = gp.mixed_batch and not gp.on_gpu
        if mixed:  # build_inp_embd's mixed path: ggml_build_forward_order(gf, embd2) after the first
            embd2 = gg.get_rows(tok_embd, gg.leaf("i32", (t,), "inp_mixed_tokens"))
            g.expand(embd2)
        if not gp.on_gpu:
            g.expand(inp_embd)
        if mixed:  # ggml_set_rows(ggml_dup(mixed_embd), embd2, mixed_slots): nothing reads it
            slots = gg.leaf("i64", (t,), "inp_mixed_slots")
            copied = gg.unary_like("DUP", gg.leaf("f32", (n_embd, t), "inp_mixed_embd"))
            g.expand(gg.set_rows(copied, embd2, slots))
        if self.gemma:
            inp_l = gg.unary_like("SCALE", inp_l)
        self.inputs()
        for il in range(cfg.n_layers):
            if self.arch == "phi3":
                inp_l = self.phi3_layer(inp_l, il)
                continue
            b = f"blk.{il}."
            inp_sa = inp_l
            cur = self.norm(inp_l, b + "attn_norm.weight")
            qkv = []
            for what, heads, head in (("q", cfg.n_heads, hk), ("k", cfg.n_kv_heads, hk),
                                      ("v", cfg.n_kv_heads, hv)):
                x = gg.mul_mat(_w(f"{b}attn_{what}.weight", n_embd, heads * head), cur)
                if self.qkv_bias:
                    x = gg.unary_like("ADD", x, _w(f"{b}attn_{what}.bias", heads * head))
                qkv.append(x)
            q = gg.reshape(qkv[0], hk, cfg.n_heads, t)
            k = gg.reshape(qkv[1], hk, cfg.n_kv_heads, t)
            v = gg.reshape(qkv[2], hv, cfg.n_kv_heads, t)
            if self.qk_norm:
                q = self.norm(q, b + "attn_q_norm.weight")
            q = gg.unary_like("ROPE", q, self.inp_pos, None)
            if self.qk_norm:
                k = self.norm(k, b + "attn_k_norm.weight")
            k = gg.unary_like("ROPE", k, self.inp_pos, None)
            if self.gemma:
                q = gg.unary_like("SCALE", q)
            cur = self.attention(q, k, v, il)
            if il == cfg.n_layers - 1 and self.arch != "gpt-oss":  # gpt-oss: after the last layer
                cur = gg.get_rows(cur, self.out_ids)
                inp_sa = gg.get_rows(inp_sa, self.out_ids)
            if self.gemma:
                cur = self.norm(cur, b + "post_attention_norm.weight")
                sa_out = gg.unary_like("ADD", cur, inp_sa)
                cur = self.norm(sa_out, b + "ffn_norm.weight")
                cur = self.ffn(cur, il)
                cur = self.norm(cur, b + "post_ffw_norm.weight")
                cur = gg.unary_like("ADD", cur, sa_out)
            else:
                ffn_inp = gg.unary_like("ADD", cur, inp_sa)
                norm = "post_attention_norm" if self.arch == "gpt-oss" else "ffn_norm"
                cur = self.norm(ffn_inp, b + norm + ".weight")
                cur = self.moe_ffn(cur, il) if cfg.is_moe else self.ffn(cur, il)
                cur = gg.unary_like("ADD", cur, ffn_inp)
            inp_l = cur
        if self.arch == "gpt-oss":
            inp_l.flags |= OUTPUT  # t_h_nextn, the last hidden state for every token
            inp_l = gg.get_rows(inp_l, self.out_ids)
        embd = self.norm(inp_l, "output_norm.weight")
        logits = gg.mul_mat(_w("output.weight", n_embd, cfg.vocab_size), embd)
        embd.flags |= OUTPUT  # llm_graph_result::set_outputs: t_embd and t_logits
        logits.flags |= OUTPUT
        g.expand(logits)
        return g


def build_graph(cfg: ArchConfig, gp: GraphParams) -> Graph:
    return _Builder(cfg, gp).build()


def compute_buffer_bytes(cfg: ArchConfig, *, n_ubatch: int, n_tokens: int, n_seqs: int, n_streams: int,
                         kv_unified: bool, flash_attn: bool, cells: dict[str, int], type_k: DType,
                         type_v: DType, on_gpu: bool = False, n_outputs: int = 0,
                         mixed_batch: bool = False, f32_mask: bool = False,
                         v_trans: bool | None = None, f16_kv_copies: bool = False) -> tuple[int, int]:
    """The CPU compute buffer sched_reserve allocates: (bytes, the prompt graph's node count).

    The prompt graph (``n_tokens`` tokens: n_ubatch rounded up to a multiple of the sequences, n_ubatch
    outputs, or ``n_outputs`` where the context caps them) and the generation graph (one token and one
    output per sequence) are both reserved; the buffer keeps the larger size.
    """
    outputs = n_outputs or n_ubatch
    key = (n_ubatch, outputs, n_tokens, n_seqs, n_streams, kv_unified, flash_attn,
           tuple(sorted(cells.items())), type_k, type_v, on_gpu, mixed_batch, f32_mask, v_trans,
           f16_kv_copies)
    return _BUFFERS.get(cfg, key, lambda: _replay(cfg, n_ubatch, outputs, n_tokens, n_seqs, n_streams,
                                                  kv_unified, flash_attn, cells, type_k, type_v, on_gpu,
                                                  mixed_batch, f32_mask, v_trans, f16_kv_copies))


# Searches (the largest batch, the longest context, the fit matrix's cells) ask for the same buffer of one
# frozen ArchConfig again and again: a report of Mixtral asked 557 times for 117 distinct buffers, each a
# replay of ~30k graph nodes. Kept by the config's identity (model/memo.py), the oldest first out.
_BUFFERS: ModelMemo[tuple[int, int]] = ModelMemo(512)


def _replay(cfg: ArchConfig, n_ubatch: int, n_outputs: int, n_tokens: int, n_seqs: int, n_streams: int,
            kv_unified: bool, flash_attn: bool, cells: dict[str, int], type_k: DType, type_v: DType,
            on_gpu: bool, mixed_batch: bool = False, f32_mask: bool = False,
            v_trans: bool | None = None, f16_kv_copies: bool = False) -> tuple[int, int]:
    sizes = []
    n_nodes = 0
    graphs = [(n_tokens, n_outputs)]
    if n_ubatch < n_seqs:  # otherwise every tensor of the prompt graph is at least as large
        graphs.append((n_seqs, n_seqs))
    for tokens, outputs in graphs:
        gp = GraphParams(tokens, outputs, n_seqs, n_streams, kv_unified, flash_attn, cells, type_k, type_v,
                         on_gpu, mixed_batch, f32_mask, v_trans, f16_kv_copies)
        graph = build_graph(cfg, gp)
        n_nodes = n_nodes or len(graph.nodes)
        sizes.append(gg.reserve(graph))
    return max(sizes), n_nodes


__all__ = ["GRAPH_FAMILIES", "GraphParams", "build_graph", "compute_buffer_bytes", "graph_arch", "has_graph"]
