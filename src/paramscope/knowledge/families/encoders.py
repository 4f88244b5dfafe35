"""The two pre-Llama layouts still everywhere: GPT-2 (``h.N.…``) and BERT (``encoder.layer.N.…``).

Both use LayerNorm with biases, learned absolute positions and biased projections.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from paramscope.errors import FormatError, UnsupportedError
from paramscope.knowledge.families.dims import Dims, num_labels
from paramscope.knowledge.families.hfconfig import MAX_LAYERS, HfConfig
from paramscope.knowledge.families.tensors import TensorList
from paramscope.model.dtypes import DType


def _conv1d(t: TensorList, name: str, in_features: int, out_features: int) -> None:
    """GPT-2's Conv1D stores its weight transposed against nn.Linear: (in, out)."""
    t.add(f"{name}.weight", in_features, out_features)
    t.add(f"{name}.bias", out_features)


def gpt2_tensors(d: Dims, t: TensorList) -> None:
    """GPT2Model as the original checkpoints name it (no ``transformer.`` prefix).

    Old checkpoints also carry ``h.N.attn.bias``, the causal-mask buffer (1, 1, n_ctx, n_ctx); current
    transformers registers it non-persistent, so it is not listed (it holds no parameters either).
    The head is tied to ``wte`` by default and then not stored (124,439,808 parameters for gpt2).
    """
    h = d.hidden
    t.embedding("wte", d.vocab, h)
    t.embedding("wpe", d.context, h)
    for i in range(d.n_layers):
        p = f"h.{i}."
        t.norm(p + "ln_1", h, bias=True)
        _conv1d(t, p + "attn.c_attn", h, 3 * h)
        _conv1d(t, p + "attn.c_proj", h, h)
        t.norm(p + "ln_2", h, bias=True)
        _conv1d(t, p + "mlp.c_fc", h, d.ffn)
        _conv1d(t, p + "mlp.c_proj", d.ffn, h)
    t.norm("ln_f", h, bias=True)
    if not d.tied:
        t.linear("lm_head", d.vocab, h)


def bert_tensors(d: Dims, t: TensorList) -> None:
    """BERT-style encoders (BertModel, RobertaModel, XLM-R, CamemBERT, ELECTRA, ERNIE…).

    The bare model (``…Model``, as sentence-transformers saves it, e.g. all-MiniLM-L6-v2) has no name
    prefix and a pooler; a ``…ForMaskedLM`` checkpoint prefixes the body with the family's
    base_model_prefix ("bert.", "roberta.") and adds its MLM head instead of the pooler (the decoder is
    tied to the word embeddings, so not stored). ``embeddings.position_ids`` is an int64 buffer
    (1, max_position_embeddings), listed as a non-parameter for checkpoints saved by transformers 3.1
    to 4.30: it became a persistent buffer in v3.1.0 (huggingface/transformers#6882) and
    non-persistent again in v4.31.0 ("Clean load keys", huggingface/transformers#24505).
    """
    h, fam = d.hidden, d.family
    arch = _arch(d)
    mlm = arch.endswith("ForMaskedLM") and fam.names.get("mlm", "") in MLM_HEADS
    head = _encoder_head(d, arch) if not mlm else None
    base = fam.names.get("prefix", "") if mlm or head else ""
    width = d.hf.int("embedding_size", h, minimum=1)  # ELECTRA embeds narrower, then projects
    e = base + "embeddings."
    t.embedding(e + "word_embeddings", d.vocab, width)
    t.embedding(e + "position_embeddings", d.context + fam.pos_offset, width)  # YOSO: 2 more rows
    t.embedding(e + "token_type_embeddings", d.hf.int("type_vocab_size", minimum=1), width)
    if d.hf.flag("use_task_id"):  # ErnieEmbeddings
        t.embedding(e + "task_type_embeddings", d.hf.int("task_type_vocab_size", 3, minimum=1), width)
    t.norm(e + "LayerNorm", width, bias=True)
    if _saved_position_ids(d.hf.raw.get("transformers_version")):
        t.add(e + "position_ids", 1, d.context, dtype=DType.I64, parameter=False)
    if width != h:
        t.linear(base + "embeddings_project", h, width, bias=True)
    for i in range(d.n_layers):
        p = f"{base}encoder.layer.{i}."
        for proj in ("query", "key", "value"):
            t.linear(f"{p}attention.self.{proj}", h, h, bias=True)
        t.linear(p + "attention.output.dense", h, h, bias=True)
        t.norm(p + "attention.output.LayerNorm", h, bias=True)
        t.linear(p + "intermediate.dense", d.ffn, h, bias=True)
        t.linear(p + "output.dense", h, d.ffn, bias=True)
        t.norm(p + "output.LayerNorm", h, bias=True)
    if mlm:
        MLM_HEADS[fam.names["mlm"]](d, t)
    elif head is not None:
        pooler, layers = head
        if pooler and fam.names.get("pooler", "pooler"):
            t.linear(base + "pooler.dense", h, h, bias=True)
        for layer, out in layers:
            t.linear(layer, {"hidden": h, "labels": num_labels(d.hf), "one": 1, "two": 2}[out], h, bias=True)
    elif fam.names.get("pooler", "pooler"):
        t.linear("pooler.dense", h, h, bias=True)


# The task heads of the BERT-layout classes (``names["heads"]`` of a row picks the style): whether the
# body keeps its pooler, and the head's Linear layers (all biased) with their output width: the hidden
# size, num_labels, or a fixed 1 or 2. From transformers' modeling_bert.py / modeling_ernie.py
# (BertForSequenceClassification and BertForMultipleChoice pool, the token and QA heads build the body
# with add_pooling_layer=False), modeling_roberta.py and its copies XLM-R, CamemBERT, Data2VecText
# (RobertaClassificationHead: classifier.dense + classifier.out_proj, no pooler; only the
# multiple-choice head pools), modeling_electra.py (never a pooler; ElectraClassificationHead, and a
# SequenceSummary before the multiple-choice classifier) and modeling_yoso.py (YosoClassificationHead;
# qa_outputs of 2; pre_classifier before the multiple-choice classifier). Checked class for class against
# transformers (tests/test_real_configs_batch_h.py).
_ROBERTA_CLASSIFIER = (("classifier.dense", "hidden"), ("classifier.out_proj", "labels"))
ENCODER_HEADS: dict[str, dict[str, tuple[bool, tuple[tuple[str, str], ...]]]] = {
    "bert": {"ForSequenceClassification": (True, (("classifier", "labels"),)),
             "ForTokenClassification": (False, (("classifier", "labels"),)),
             "ForQuestionAnswering": (False, (("qa_outputs", "labels"),)),
             "ForMultipleChoice": (True, (("classifier", "one"),))},
    "roberta": {"ForSequenceClassification": (False, _ROBERTA_CLASSIFIER),
                "ForTokenClassification": (False, (("classifier", "labels"),)),
                "ForQuestionAnswering": (False, (("qa_outputs", "labels"),)),
                "ForMultipleChoice": (True, (("classifier", "one"),))},
    "electra": {"ForSequenceClassification": (False, _ROBERTA_CLASSIFIER),
                "ForTokenClassification": (False, (("classifier", "labels"),)),
                "ForQuestionAnswering": (False, (("qa_outputs", "labels"),)),
                "ForMultipleChoice": (False, (("sequence_summary.summary", "hidden"),
                                              ("classifier", "one")))},
    "yoso": {"ForSequenceClassification": (False, _ROBERTA_CLASSIFIER),
             "ForTokenClassification": (False, (("classifier", "labels"),)),
             "ForQuestionAnswering": (False, (("qa_outputs", "two"),)),
             "ForMultipleChoice": (False, (("pre_classifier", "hidden"), ("classifier", "one")))},
}


def _encoder_head(d: Dims, arch: str) -> tuple[bool, tuple[tuple[str, str], ...]] | None:
    """The task head ``architectures[0]`` names, None for the bare model (…Model, or no architectures);
    a head the table does not list (…ForPreTraining, …ForCausalLM, Splinter's QA head) is refused in one
    line rather than counted as the bare model."""
    if not arch or (arch.endswith("Model") and not arch.endswith("LMHeadModel")):
        return None
    suffix = arch[arch.rfind("For"):] if "For" in arch else arch
    head = ENCODER_HEADS.get(d.family.names.get("heads", ""), {}).get(suffix)
    if head is None:
        raise UnsupportedError(f"{d.hf.source}: architectures {arch}: paramscope's table lists the "
                               f"{d.family.model_type} encoder, not this head")
    return head


def _bert_mlm(d: Dims, t: TensorList) -> None:
    """BertOnlyMLMHead: transform (dense + LayerNorm) and the output bias."""
    p = "cls.predictions."
    t.linear(p + "transform.dense", d.hidden, d.hidden, bias=True)
    t.norm(p + "transform.LayerNorm", d.hidden, bias=True)
    t.add(p + "bias", d.vocab)
    if not d.tied:  # an untied decoder is stored, with its own copy of the bias
        t.linear(p + "decoder", d.vocab, d.hidden, bias=True)


def _roberta_mlm(d: Dims, t: TensorList) -> None:
    """RobertaLMHead: dense, layer_norm and the output bias."""
    t.linear("lm_head.dense", d.hidden, d.hidden, bias=True)
    t.norm("lm_head.layer_norm", d.hidden, bias=True)
    t.add("lm_head.bias", d.vocab)
    if not d.tied:
        t.linear("lm_head.decoder", d.vocab, d.hidden, bias=True)


MLM_HEADS = {"bert": _bert_mlm, "roberta": _roberta_mlm}


def _saved_position_ids(version: object) -> bool:
    """True for a config saved by transformers 3.1 ≤ version < 4.31 (see bert_tensors)."""
    if not isinstance(version, str):
        return False
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(itertools.takewhile(str.isdigit, piece))
        if not digits:
            return False
        parts.append(int(digits))
    return (3, 1) <= tuple(parts) < (4, 31)


def t5_tensors(d: Dims, t: TensorList, relative_every_block: bool = False) -> None:
    """T5ForConditionalGeneration (models/t5/modeling_t5.py): one ``shared`` embedding, an encoder and
    a decoder of T5Blocks, RMS-style layer norms without bias, and bias-free projections.

    Attention is num_heads × d_kv wide (not d_model: t5-11b has 128 heads of 128 in a 1024-wide model);
    only block 0 of each stack learns the relative position buckets (relative_attention_bias,
    buckets × heads). The feed-forward is DenseReluDense (wi, wo) or, for "gated-…" feed_forward_proj
    (T5 v1.1, Flan-T5, mT5), wi_0 and wi_1. The head is tied to ``shared`` unless
    tie_word_embeddings is false: T5 v1.1, Flan-T5 and mT5 checkpoints store their own lm_head.weight
    (Flan-T5-base: 247,577,856 parameters with it). transformers 5 forces tie_word_embeddings = True
    in T5Config/MT5Config ("we tie weights always"), so for those configs its meta-device model lists
    one tensor fewer than the published checkpoints; we follow the checkpoints.

    T5EncoderModel (and MT5EncoderModel, UMT5EncoderModel: ``architectures[0]`` ending ``EncoderModel``)
    is ``shared`` and the encoder stack alone, no decoder and no head: the text encoder of every FLUX,
    SD3, PixArt and BRIA pipeline (BRIA-3.2's, tests/fixtures/quantized_totals/out_of_sample_r6.json).
    """
    h, hf = d.hidden, d.hf
    inner = d.n_heads * d.head_dim
    buckets = hf.int("relative_attention_num_buckets", 32, minimum=1)
    gated = str(hf.value("feed_forward_proj", "relu")).startswith("gated-")
    t.embedding("shared", d.vocab, h)

    def attention(p: str, relative: bool) -> None:
        for proj in ("q", "k", "v"):
            t.linear(p + proj, inner, h)
        t.linear(p + "o", h, inner)
        if relative:
            t.embedding(p + "relative_attention_bias", buckets, d.n_heads)

    def feed_forward(p: str) -> None:
        for wi in ("wi_0", "wi_1") if gated else ("wi",):
            t.linear(f"{p}DenseReluDense.{wi}", d.ffn, h)
        t.linear(p + "DenseReluDense.wo", h, d.ffn)
        t.norm(p + "layer_norm", h)

    encoder_only = is_encoder_class(d)
    decoder_layers = 0 if encoder_only else hf.int("num_decoder_layers", d.n_layers)
    for stack, layers in (("encoder", d.n_layers), ("decoder", decoder_layers)):
        if not layers:
            continue
        for i in range(layers):
            p = f"{stack}.block.{i}.layer."
            attention(p + "0.SelfAttention.", relative=i == 0 or relative_every_block)
            t.norm(p + "0.layer_norm", h)
            if stack == "decoder":
                attention(p + "1.EncDecAttention.", relative=False)
                t.norm(p + "1.layer_norm", h)
            feed_forward(p + ("2." if stack == "decoder" else "1."))
        t.norm(f"{stack}.final_layer_norm", h)
    if not d.tied and not encoder_only:
        t.linear("lm_head", d.vocab, h)


def umt5_tensors(d: Dims, t: TensorList) -> None:
    """UMT5ForConditionalGeneration (models/umt5/modeling_umt5.py): T5's tensors, but every
    self-attention block (UMT5LayerSelfAttention) learns its own relative_attention_bias."""
    t5_tensors(d, t, relative_every_block=True)


def is_encoder_class(d: Dims) -> bool:
    """An encoder-decoder family's encoder class (T5EncoderModel, MT5EncoderModel, UMT5EncoderModel):
    the encoder stack alone, which keeps no KV cache."""
    return bool(d.family.decoder_layers) and _arch(d).endswith("EncoderModel")


def _arch(d: Dims) -> str:
    archs = d.hf.raw.get("architectures")
    return archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str) else ""


def distilbert_tensors(d: Dims, t: TensorList) -> None:
    """DistilBertModel (models/distilbert/modeling_distilbert.py): word and position embeddings (no
    token types), transformer.layer.N with q/k/v/out_lin, sa_layer_norm, ffn.lin1/lin2 and
    output_layer_norm, all biased. …ForMaskedLM prefixes the body with ``distilbert.`` and adds
    vocab_transform, vocab_layer_norm and the vocab_projector bias (its weight is the tied embedding).
    distilbert-base-uncased: 66,362,880 parameters in the bare model."""
    h = d.hidden
    mlm = _arch(d).endswith("ForMaskedLM")
    base = "distilbert." if mlm else ""
    t.embedding(base + "embeddings.word_embeddings", d.vocab, h)
    t.embedding(base + "embeddings.position_embeddings", d.context, h)
    t.norm(base + "embeddings.LayerNorm", h, bias=True)
    for i in range(d.n_layers):
        p = f"{base}transformer.layer.{i}."
        for proj in ("q_lin", "k_lin", "v_lin", "out_lin"):
            t.linear(p + "attention." + proj, h, h, bias=True)
        t.norm(p + "sa_layer_norm", h, bias=True)
        t.linear(p + "ffn.lin1", d.ffn, h, bias=True)
        t.linear(p + "ffn.lin2", h, d.ffn, bias=True)
        t.norm(p + "output_layer_norm", h, bias=True)
    if mlm:
        t.linear("vocab_transform", h, h, bias=True)
        t.norm("vocab_layer_norm", h, bias=True)
        if d.tied:
            t.add("vocab_projector.bias", d.vocab)
        else:
            t.linear("vocab_projector", d.vocab, h, bias=True)


def mpnet_tensors(d: Dims, t: TensorList) -> None:
    """MPNetModel (models/mpnet/modeling_mpnet.py): BERT's embeddings without token types, layers whose
    attention is attention.attn.q/k/v/o and attention.LayerNorm, one relative_attention_bias
    (buckets × heads) for the whole encoder, and a pooler; …ForMaskedLM prefixes ``mpnet.`` and adds
    RoBERTa's LM head instead of the pooler."""
    h = d.hidden
    mlm = _arch(d).endswith("ForMaskedLM")
    base = "mpnet." if mlm else ""
    e = base + "embeddings."
    t.embedding(e + "word_embeddings", d.vocab, h)
    t.embedding(e + "position_embeddings", d.context, h)
    t.norm(e + "LayerNorm", h, bias=True)
    for i in range(d.n_layers):
        p = f"{base}encoder.layer.{i}."
        for proj in ("q", "k", "v", "o"):
            t.linear(f"{p}attention.attn.{proj}", h, h, bias=True)
        t.norm(p + "attention.LayerNorm", h, bias=True)
        t.linear(p + "intermediate.dense", d.ffn, h, bias=True)
        t.linear(p + "output.dense", h, d.ffn, bias=True)
        t.norm(p + "output.LayerNorm", h, bias=True)
    t.embedding(base + "encoder.relative_attention_bias",
                d.hf.int("relative_attention_num_buckets", 32, minimum=1), d.n_heads)
    if mlm:
        _roberta_mlm(d, t)
    else:
        t.linear("pooler.dense", h, h, bias=True)


def modernbert_tensors(d: Dims, t: TensorList) -> None:
    """ModernBertModel (models/modernbert/modeling_modernbert.py): tok_embeddings and a LayerNorm
    (bias only with norm_bias), pre-norm layers with a fused Wqkv and Wo, a GLU MLP whose Wi stacks
    input and gate (2 · intermediate), and final_norm; layer 0's attn_norm is an Identity (nothing
    stored). …ForMaskedLM prefixes ``model.`` and adds head.dense/head.norm and the decoder bias (its
    weight is the tied embedding). The classification heads (…ForSequenceClassification,
    …ForTokenClassification, …ForQuestionAnswering, …ForMultipleChoice: fine-tunes such as
    MoritzLaurer/ModernBERT-large-zeroshot-v2.0) prefix ``model.`` and add the same head and a biased
    ``classifier`` of num_labels outputs (1 for multiple choice). ModernBERT-base: 149,014,272 parameters
    in the bare model."""
    h, hf = d.hidden, d.hf
    nb, ab, mb = hf.flag("norm_bias"), hf.flag("attention_bias"), hf.flag("mlp_bias")
    arch = _arch(d)
    mlm = arch.endswith("ForMaskedLM")
    classify = arch.startswith("ModernBertFor") and not mlm
    base = "model." if mlm or classify else ""
    t.embedding(base + "embeddings.tok_embeddings", d.vocab, h)
    t.norm(base + "embeddings.norm", h, bias=nb)
    for i in range(d.n_layers):
        p = f"{base}layers.{i}."
        if i:
            t.norm(p + "attn_norm", h, bias=nb)
        t.linear(p + "attn.Wqkv", 3 * h, h, bias=ab)
        t.linear(p + "attn.Wo", h, h, bias=ab)
        t.norm(p + "mlp_norm", h, bias=nb)
        t.linear(p + "mlp.Wi", 2 * d.ffn, h, bias=mb)
        t.linear(p + "mlp.Wo", h, d.ffn, bias=mb)
    t.norm(base + "final_norm", h, bias=nb)
    if mlm:
        t.linear("head.dense", h, h, bias=hf.flag("classifier_bias"))
        t.norm("head.norm", h, bias=nb)
        if not d.tied:
            t.add("decoder.weight", d.vocab, h)
        if hf.flag("decoder_bias", True):
            t.add("decoder.bias", d.vocab)
    elif classify:
        t.linear("head.dense", h, h, bias=hf.flag("classifier_bias"))
        t.norm("head.norm", h, bias=nb)
        labels = 1 if arch.endswith("ForMultipleChoice") else num_labels(hf)
        t.linear("classifier", labels, h, bias=True)


def _seq2seq_layer(t: TensorList, p: str, h: int, ffn: int, cross: bool, k_bias: bool = True) -> None:
    """One BART/Whisper encoder or decoder layer: biased self-attention (Whisper's k_proj has no bias),
    the decoder's encoder_attn, fc1/fc2, LayerNorms with bias after each block's name."""
    blocks = ("self_attn", "encoder_attn") if cross else ("self_attn",)
    for block in blocks:
        t.linear(f"{p}{block}.k_proj", h, h, bias=k_bias)
        for proj in ("v_proj", "q_proj", "out_proj"):
            t.linear(f"{p}{block}.{proj}", h, h, bias=True)
        t.norm(f"{p}{block}_layer_norm", h, bias=True)
    t.linear(p + "fc1", ffn, h, bias=True)
    t.linear(p + "fc2", h, ffn, bias=True)
    t.norm(p + "final_layer_norm", h, bias=True)


def bart_tensors(d: Dims, t: TensorList) -> None:
    """BartForConditionalGeneration (models/bart/modeling_bart.py): one ``shared`` embedding (the
    encoder's and decoder's embed_tokens and the LM head are tied to it), learned positions with BART's
    offset of 2 rows, layernorm_embedding, encoder and decoder layers, and final_logits_bias, a
    persistent (1, vocab) buffer. BartModel (facebook/bart-large's ``architectures``) has neither the
    ``model.`` prefix nor the buffer. BartForSequenceClassification (facebook/bart-large-mnli) and
    BartForQuestionAnswering prefix ``model.`` and add, instead of the LM head and its buffer, a
    classification_head (dense, out_proj of num_labels) or qa_outputs (2 outputs)."""
    h, hf = d.hidden, d.hf
    arch = _arch(d)
    classify = arch.endswith(("ForSequenceClassification", "ForQuestionAnswering"))
    head = not arch.endswith("Model") and not classify
    base = "model." if head or classify else ""
    if head:
        t.add("final_logits_bias", 1, d.vocab, parameter=False)
    t.embedding(base + "shared", d.vocab, h)
    for stack in ("encoder", "decoder") if not d.tied else ():  # untied: each stack keeps its own copy
        t.embedding(f"{base}{stack}.embed_tokens", d.vocab, h)
    for stack, layers, ffn in (("encoder", d.n_layers, d.ffn),
                               ("decoder", hf.int("decoder_layers", maximum=MAX_LAYERS),
                                hf.int("decoder_ffn_dim", minimum=1))):
        p = f"{base}{stack}."
        t.embedding(p + "embed_positions", d.context + 2, h)
        for i in range(layers):
            _seq2seq_layer(t, f"{p}layers.{i}.", h, ffn, cross=stack == "decoder")
        t.norm(p + "layernorm_embedding", h, bias=True)
    if not d.tied and head:
        t.linear("lm_head", d.vocab, h)
    if arch.endswith("ForSequenceClassification"):
        t.linear("classification_head.dense", h, h, bias=True)
        t.linear("classification_head.out_proj", num_labels(hf), h, bias=True)
    elif classify:  # BartForQuestionAnswering sets num_labels = 2 whatever the config says
        t.linear("qa_outputs", 2, h, bias=True)


def whisper_tensors(d: Dims, t: TensorList) -> None:
    """WhisperForConditionalGeneration (models/whisper/modeling_whisper.py): an audio encoder (two
    Conv1d over num_mel_bins, max_source_positions learned positions, layers, layer_norm) and a text
    decoder (embed_tokens, max_target_positions positions, layers with encoder_attn, layer_norm); k_proj
    has no bias; proj_out is tied to the decoder's embed_tokens. whisper-large-v3: 1,543,490,560."""
    h, hf = d.hidden, d.hf
    e = "model.encoder."
    mels = hf.int("num_mel_bins", minimum=1)
    t.add(e + "conv1.weight", h, mels, 3)
    t.add(e + "conv1.bias", h)
    t.add(e + "conv2.weight", h, h, 3)
    t.add(e + "conv2.bias", h)
    t.embedding(e + "embed_positions", hf.int("max_source_positions", minimum=1), h)
    for i in range(d.n_layers):
        _seq2seq_layer(t, f"{e}layers.{i}.", h, d.ffn, cross=False, k_bias=False)
    t.norm(e + "layer_norm", h, bias=True)
    dec = "model.decoder."
    t.embedding(dec + "embed_tokens", d.vocab, h)
    t.embedding(dec + "embed_positions", hf.int("max_target_positions", minimum=1), h)
    for i in range(hf.int("decoder_layers", maximum=MAX_LAYERS)):
        _seq2seq_layer(t, f"{dec}layers.{i}.", h, hf.int("decoder_ffn_dim", minimum=1), cross=True,
                       k_bias=False)
    t.norm(dec + "layer_norm", h, bias=True)
    if not d.tied:
        t.linear("proj_out", d.vocab, h)


# T5GemmaModuleConfig defaults (Gemma 2 2B's shape), for an encoder or decoder section that omits a field
T5GEMMA_MODULE = {"vocab_size": 256000, "hidden_size": 2304, "intermediate_size": 9216,
                  "num_hidden_layers": 26, "num_attention_heads": 8, "num_key_value_heads": 4,
                  "head_dim": 256,
                  "attention_bias": False}


def t5gemma_tensors(d: Dims, t: TensorList) -> None:
    """T5GemmaForConditionalGeneration (models/t5gemma/modeling_t5gemma.py): an encoder and a decoder of
    Gemma 2 layers, each configured by its own section (the 9B-2B checkpoints pair unequal stacks), with
    its own embed_tokens and final norm; decoder layers add cross_attn, whose keys and values read the
    encoder's width. The head is the decoder's embedding unless untied (lm_head.out_proj)."""
    raw = d.hf.raw
    sections = {}
    for stack in ("encoder", "decoder"):
        section = raw.get(stack) or {}
        if not isinstance(section, Mapping):
            raise FormatError(d.hf.source, f"{stack} must be a JSON object", found=type(section).__name__)
        sections[stack] = HfConfig(section, T5GEMMA_MODULE, {}, d.hf.source)
    enc_hidden = sections["encoder"].int("hidden_size", minimum=1)
    for stack, hf in sections.items():
        h, heads = hf.int("hidden_size", minimum=1), hf.int("num_attention_heads", minimum=1)
        hd = hf.int("head_dim", h // heads, minimum=1)
        q, kv = heads * hd, hf.int("num_key_value_heads", heads, minimum=1) * hd
        bias, ffn = hf.flag("attention_bias"), hf.int("intermediate_size", minimum=1)
        p = f"model.{stack}."
        t.embedding(p + "embed_tokens", hf.int("vocab_size", minimum=1), h)
        for i in range(hf.int("num_hidden_layers", maximum=MAX_LAYERS)):
            lp = f"{p}layers.{i}."
            blocks = [("self_attn", h)] + ([("cross_attn", enc_hidden)] if stack == "decoder" else [])
            for block, kv_in in blocks:
                t.linear(f"{lp}{block}.q_proj", q, h, bias)
                t.linear(f"{lp}{block}.k_proj", kv, kv_in, bias)
                t.linear(f"{lp}{block}.v_proj", kv, kv_in, bias)
                t.linear(f"{lp}{block}.o_proj", h, q, bias)
                t.norm(f"{lp}pre_{block}_layernorm", h)
                t.norm(f"{lp}post_{block}_layernorm", h)
            t.linear(lp + "mlp.gate_proj", ffn, h)
            t.linear(lp + "mlp.up_proj", ffn, h)
            t.linear(lp + "mlp.down_proj", h, ffn)
            t.norm(lp + "pre_feedforward_layernorm", h)
            t.norm(lp + "post_feedforward_layernorm", h)
        t.norm(p + "norm", h)
    if not d.tied:
        dec = sections["decoder"]
        t.linear("lm_head.out_proj", dec.int("vocab_size", minimum=1), dec.int("hidden_size", minimum=1))
