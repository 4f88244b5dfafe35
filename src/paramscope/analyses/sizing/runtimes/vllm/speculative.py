"""vLLM's --speculative-config, as far as it changes memory (config/speculative.py, v1/spec_decode/):

- method "mtp" (and the per-family names older releases took, deepseek_mtp, qwen3_next_mtp …): the
  checkpoint's multi-token-prediction layers are loaded as a drafter beside the model, in "Model loading
  took" (the drafter is loaded inside the same memory profiler), sharing the model's embedding and head
  (sizing/mtp.py ``mtp_drafter``); each MTP layer's attention keeps a KV cache of its own, a full-attention
  layer in the KV groups (``get_kv_cache_spec`` walks the drafter's attention layers too: Qwen3.6-35B-A3B's
  10 attention layers and its MTP layer make groups of 11, "Add 3 padding layers" for its 30 DeltaNet
  layers);
- any method: a Mamba / linear-attention layer keeps ``num_speculative_tokens`` state blocks more a request
  (MambaSpec.num_speculative_blocks), and from 0.13 the default CUDA graph capture bound is
  max_num_seqs × (1 + num_speculative_tokens) × 2 (config/vllm.py decode_query_len);
- "ngram", "ngram_gpu" and "suffix" draft from the prompt: no weights;
- a drafter that is another checkpoint (eagle, eagle3, draft_model, medusa …) is refused: paramscope
  sizes one model at a time.
"""

from __future__ import annotations

from paramscope.analyses.sizing.runtimes.common import option_json
from paramscope.errors import UsageError
from paramscope.records import record

MTP_METHODS = frozenset({"mtp", "deepseek_mtp", "qwen3_next_mtp", "qwen3_5_mtp", "glm4_moe_mtp",
                         "glm_moe_dsa_mtp"})
PROMPT_METHODS = frozenset({"ngram", "ngram_gpu", "suffix"})
OTHER_CHECKPOINT_METHODS = frozenset({"eagle", "eagle3", "draft_model", "medusa", "mlp_speculator",
                                      "dflash", "extract_hidden_states"})
# From this release the default capture bound counts the speculative tokens (config/vllm.py
# decode_query_len, read in 0.13.0; 0.11.0 has min(2 × max_num_seqs, 512))
CAPTURE_BOUND_RELEASE = (0, 13, 0)
# From this release a Mamba / linear-attention layer's state blocks count the speculative tokens in the
# KV sizing (kv_cache_interface.py MambaSpec.max_memory_usage_bytes, 0.16 and on; 0.11-0.14 do not), and
# before 0.17 vLLM refuses speculative decoding on a Mamba model other than Qwen3-Next (model_executor/
# layers/mamba/abstract.py: "Mamba with speculative decoding is not supported yet")
MAMBA_SPECULATIVE_RELEASE = (0, 16, 0)
MAMBA_SPECULATIVE_ANY_RELEASE = (0, 17, 0)
# The first release with each family's MTP drafter (config/speculative.py hf_config_override,
# models/*_mtp.py); the families not named here had theirs by 0.11, the oldest V1 tree read
# (GLM-4.7-Flash's glm4_moe_lite: not in 0.14, in 0.16; the 0.15 tree read holds no model files)
MTP_DRAFTER_RELEASE = {"qwen3_next": (0, 10, 2), "glm_moe_dsa": (0, 16, 0), "qwen3_5_text": (0, 17, 0),
                       "qwen3_5_moe_text": (0, 17, 0), "glm4_moe_lite": (0, 15, 0)}
# num_speculative_tokens where --speculative-config leaves it out: suffix decoding takes its
# suffix_decoding_max_tree_depth (config/speculative.py, 24 by default); every other method is refused
# without it ("num_speculative_tokens must be provided", an MTP drafter included: its draft model is
# set only when the count is given)
SUFFIX_DEFAULT_DEPTH = 24


@record
class Speculation:
    """What --speculative-config asks for, as it bears on memory."""

    method: str  # "mtp", or one of PROMPT_METHODS
    tokens: int  # num_speculative_tokens

    @property
    def mtp(self) -> bool:
        return self.method == "mtp"


def parse_speculative_config(text: str | None) -> Speculation | None:
    """--speculative-config as vLLM takes it (a JSON object with ``method`` and
    ``num_speculative_tokens``), or the short form METHOD:TOKENS (mtp:2); None when not given."""
    if text is None or not str(text).strip():
        return None
    raw = str(text).strip()
    if raw.startswith("{"):
        given = option_json(raw, "--speculative-config", "a JSON object or METHOD:TOKENS")
        if not isinstance(given, dict):
            raise UsageError("--speculative-config takes a JSON object")
        method, tokens = given.get("method"), given.get("num_speculative_tokens")
        if method is None and given.get("model"):
            method = "draft_model"
        depth = given.get("suffix_decoding_max_tree_depth", SUFFIX_DEFAULT_DEPTH)
    else:
        method, _, count = raw.partition(":")
        tokens, depth = count or None, SUFFIX_DEFAULT_DEPTH
    method = str(method or "").strip().lower()
    known = MTP_METHODS | PROMPT_METHODS | OTHER_CHECKPOINT_METHODS
    if method not in known:
        raise UsageError(f"--speculative-config: unknown method {method!r} (modelled: mtp, ngram, "
                         f"ngram_gpu, suffix)")
    if method in OTHER_CHECKPOINT_METHODS:
        raise UsageError(f"--speculative-config method {method}: the drafter is another checkpoint, which "
                         f"paramscope does not size beside this one (mtp, ngram and suffix are modelled)")
    given_tokens = tokens is not None
    if tokens is None and method == "suffix":
        tokens = depth
    elif tokens is None:
        raise UsageError(f"--speculative-config method {method} needs num_speculative_tokens (as "
                         f"{method}:2), which vLLM requires")
    elif isinstance(tokens, str) and tokens.strip().isdigit():
        tokens = int(tokens)
    if isinstance(tokens, bool) or not isinstance(tokens, int):
        raise UsageError(f"--speculative-config: num_speculative_tokens must be a whole number "
                         f"(found {tokens!r})")
    if given_tokens and (tokens < 1 or tokens > 64):
        raise UsageError(f"--speculative-config: num_speculative_tokens must be between 1 and 64 "
                         f"(found {tokens})")
    return Speculation("mtp" if method in MTP_METHODS else method, tokens)
