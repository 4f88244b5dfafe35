"""Write docs/families.md: every model type transformers defines, and how paramscope counts it.

For each model_type of transformers' CONFIG_MAPPING, on its default config:

- "table row": our family table (no torch) lists the tensors; compared tensor for tensor with what
  transformers' save_pretrained would write (paramscope.knowledge.families.oracle, meta device);
- "fallback": no row; with the ``oracle`` extra paramscope counts it through transformers itself;
- "not supported": transformers itself cannot build the default config (reason given).

Then every real config.json we ship (catalogue, shared/configs, tests/fixtures/configs) is compared
the same way. Needs the ``oracle`` extra (torch + transformers). Exits 1 if a table row differs.

    .venv/bin/python tools/families_report.py [--out docs/families.md] [--only TYPE ...]
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from paramscope.errors import ParamscopeError
from paramscope.knowledge.families import NoFamilyRow, expected_tensors, oracle, supported_model_types
from paramscope.knowledge.families.compare import compare_config

ROOT = Path(__file__).resolve().parent.parent
REAL_CONFIG_DIRS = (ROOT / "src/paramscope/knowledge/catalogue", ROOT / "tests/fixtures/configs",
                    ROOT.parent.parent / "shared/configs")
TIMEOUT_S = 120  # one model type; meta-device builds take well under a second


class _Timeout(Exception):
    pass


def _alarm(*_: object) -> None:
    raise _Timeout


def status(cfg: dict, source: str) -> tuple[str, str, str]:
    """(status, class, detail) for one config."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT_S)
    try:
        if oracle.not_native(cfg) is not None and cfg.get("model_type") in supported_model_types():
            try:
                ts = expected_tensors(cfg, source, fallback=False)
            except ParamscopeError as e:  # a head of repository code the row does not list
                return "table row, refused", "", str(e).removeprefix(source + ": ")
            return ("table row, repository code", "", f"{len(ts)} tensors, {sum(t.params for t in ts):,} "
                    "parameters; not in transformers: checked against its published checkpoint")
        try:
            c = compare_config(cfg, source)
            return ("table row" if c.equal else "table row, DIFFERS"), c.class_name, c.summary()
        except NoFamilyRow:
            pass
        try:
            ref = oracle.reference(cfg, source)
        except ParamscopeError as e:
            return "not supported", "", str(e).removeprefix(source + ": ")
        params = sum(t.params for t in ref.tensors)
        return "fallback", ref.class_name, f"{len(ref.tensors)} tensors, {params:,} parameters"
    except _Timeout:
        return "not supported", "", f"transformers took over {TIMEOUT_S} s to build it"
    except oracle.ConfigRefused as e:  # nothing to compare with: the tests compare it with the value fixed
        return "table row, refused by transformers", "", str(e).removeprefix(source + ": ")
    except oracle.BuildFailed as e:  # transformers builds no reference here (timm missing): not a difference
        return "table row, not checked", "", str(e).removeprefix(source + ": ")
    except ParamscopeError as e:
        return "table row, DIFFERS", "", str(e).removeprefix(source + ": ")
    except Exception as e:  # a bug of ours or of transformers: reported in its row, the sweep goes on
        return "not supported", "", f"{type(e).__name__}: {str(e)[:160]}"
    finally:
        signal.alarm(0)


def real_configs() -> list[tuple[str, dict]]:
    out = []
    for folder in REAL_CONFIG_DIRS:
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
            cfg = json.loads(path.read_text())
            if isinstance(cfg, dict) and (cfg.get("model_type") or cfg.get("architectures")):
                out.append((str(path.relative_to(ROOT.parent.parent) if "shared" in path.parts
                                else path.relative_to(ROOT)), cfg))
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# The out-of-sample measurement of batch G (tests/fixtures/configs/README.md), kept with the report
OUT_OF_SAMPLE = (
    '## Batch G: out of sample\n\n'
    '26 real configs of checkpoints the table had not seen (`tests/fixtures/configs/`, "Batch G '
    'sources"), counted and compared with transformers 5.24.0 on the meta device BEFORE any change. 18 '
    'had a table row: 14 were equal tensor for tensor (Qwen3.5-27B and Qwen3.5-35B-A3B, Llama 4 Maverick '
    'FP8, MiniCPM3-4B, e5-mistral-7b-instruct as the bare `MistralModel`, gte-Qwen2-7B-instruct, '
    'Qwen3-8B-FP8, Qwen2.5-14B, AFM-4.5B, Bamba-9B-v2, OLMo-2-0325-32B-Instruct, a ModernBERT '
    'multiple-choice head, SmolLM3-3B, whisper-small) and THUDM/glm-4-9b (repository code) gave its '
    'published 9,399,951,360; 3 were wrong. The two reward models, `LlamaForSequenceClassification` '
    '(Skywork-Reward-Llama-3.1-8B-v0.2) and `Olmo2ForSequenceClassification` (OLMo-2-1124-7B-RM), were '
    'listed with `lm_head.weight` instead of a one-output `score.weight` (525,332,480 and 410,742,784 '
    'parameters too many), and `InternLM2ForRewardModel` (repository code) was counted silently as the '
    'InternLM2 language model (its 92,544-row output layer instead of a one-output `v_head`: 379 M too '
    'many). 7 had no row and transformers counted them (`gemma4` three times, `afmoe` Trinity-Mini, '
    '`dots1` dots.llm1.inst, `nemotron_h` Nemotron-H-47B, `granite_speech`); Janus-1.3B '
    '(`multi_modality`, repository code without `auto_map`) was refused in one line. Fixes, each against '
    "transformers' code: a decoder's `…ForSequenceClassification` / `…ForTokenClassification` checkpoint "
    "is the body and a `score` Linear (`modeling_layers.py`'s Generic classes; `classifier` with bias for"
    ' the token heads of the older `transformer.`-prefixed classes), and all 87 such classes of the '
    "table's decoder rows now equal transformers (`tests/test_real_configs_batch_g.py`); a decoder named "
    'as `…ForQuestionAnswering`, `…ForRewardModel` or `…ForMultipleChoice` is refused in one line instead'
    " of being counted as the language model; three new rows, `dots1` (GLM-4.5's MoE under Qwen3's "
    'attention), `afmoe` (gated attention, four norms per layer, experts after the dense layers with a '
    'float32 `expert_bias`) and `nemotron_h` (one mixer per layer from `layers_block_type` or '
    '`hybrid_override_pattern`: Mamba-2, attention, relu² MLP or MoE; its MLP-only layers hold no '
    'KV-cache state), equal on dots.llm1.inst, Trinity-Mini and Nemotron-H-47B and on small configs of '
    'other options. After: 20 of the 26 counted by the table and equal to transformers (or, for glm-4-9b,'
    ' to the published count), 2 refused in one line, 4 counted by transformers without a row (`gemma4` '
    'three times, `granite_speech`).'
)


# The families whose layers differ (knowledge/families/heterogeneous.py), kept with the report
HETEROGENEOUS = (
    '## Layers that differ from one another (`heterogeneous.py`)\n\nThree model types give each l'
    'ayer its own shape from per-layer lists, which a table row (one width, one head count for '
    'every layer) cannot describe; `src/paramscope/knowledge/families/heterogeneous.py` builds '
    'them layer by layer, from the repository modeling code read as a spec (never run). Before '
    'it, all three were refused (`nemotron-nas`: repository code behind `auto_map`; `openelm`: '
    "not defined by transformers).\n\n- `nemotron-nas` (NVIDIA's Puzzle/DeciLM: Llama-3.3-Nemotro"
    'n-Super-49B, Llama-3.1-Nemotron-Ultra-253B, Nemotron-51B): `block_configs[i]` has an atten'
    'tion block (`n_heads_in_group` → heads / n KV heads, `no_op`: nothing, not even `input_lay'
    'ernorm`; `replace_with_linear`: one `self_attn.linear_attn` hidden × hidden) and an FFN bl'
    'ock (`ffn_mult` → `int(2·ffn_mult·hidden/3)` rounded up to a multiple of 256; `no_op`; `re'
    'place_with_linear`: `mlp.linear_mlp`). Layers without attention (no-op or linear) hold no '
    "KV cache.\n- `deci` (DeciLM-7B): Llama's layers with `num_key_value_heads_per_layer[i]` KV "
    'heads.\n- `openelm` (apple/OpenELM): `num_query_heads`, `num_kv_heads`, `ffn_multipliers` p'
    'er layer, fused `qkv_proj`, per-head q/k norms, `ffn.proj_1` (gate and up) / `ffn.proj_2`.'
    '\n\nWhere KV head counts differ by layer the KV cache has one part per head count (`ArchConf'
    'ig.extra["n_kv_heads_per_layer"]`, the key the GGUF reader already fills). Checked against'
    ' public counts: Llama-3.3-Nemotron-Super-49B-v1 49,867,145,216 parameters (bf16: 99,734,29'
    '0,432 bytes), 49 attention layers, 200,704 KV bytes per token in f16; OpenELM-1_1B 1,079,8'
    '91,456 and OpenELM-450M 457,179,136 (`tests/test_heterogeneous_configs.py`, sources in `te'
    'sts/fixtures/heterogeneous/README.md`).\n\n    $ paramscope inspect tests/fixtures/heterogen'
    'eous/nvidia__Llama-3_3-Nemotron-Super-49B-v1.config.json\n    architecture     DeciLMForCau'
    'salLM (family nemotron-nas)\n    parameters       49,867,145,216 (49.9B)\n    tensors       '
    '   568\n    tensor bytes     99,734,290,432 (92.88 GiB)\n    layer types      49 full, 31 no'
    'ne'
)


# The out-of-sample measurement of batch H (tests/fixtures/configs/README.md), kept with the report
OUT_OF_SAMPLE_H = (
    '## Batch H: out of sample\n\n'
    '25 real configs of checkpoints the table had not seen (`tests/fixtures/configs/`, "Batch H '
    'sources"), counted and compared with transformers 5.24.0 on the meta device BEFORE any change. 13 '
    'had a table row and 11 were equal tensor for tensor (SmolLM-1.7B, Qwen2.5-3B, '
    'Qwen3-4B-Instruct-2507, gemma-3-1b-it, codegen-350M-nl, Hunyuan-0.5B-Pretrain, Hunyuan-7B-Instruct-'
    'GPTQ-Int4, Ministral-8B-Instruct-2410, Ministral-3-14B-Instruct-2512 with its FP8 '
    '`quantization_config`, Ministral-3-3B-Base-2512, cwm-mlx as `LlamaForCausalLM` with an interleaved '
    '`layer_types`); 2 were wrong. `CamembertForTokenClassification` (camembert-ner) was listed as the '
    'bare model, with a pooler and without its `classifier`: 586,747 parameters too many; every BERT-'
    'layout task head was counted so. QuantTrio/MiniMax-M2-AWQ says `"model_type": "mixtral"` beside '
    "`MiniMaxM2ForCausalLM`: counted as Mixtral, 186 tensors were missing (each layer's q/k norms and "
    'router score bias, 460,288 parameters). 12 had no row: 9 counted by transformers (`gemma4` E4B, '
    '`granite_speech` 3.3-2b, `granite_speech_plus` 4.1-2b-plus, `lfm2_moe` LFM2-8B-A1B, `internvl` '
    'InternVL3-1B, `glm4v` GLM-4.1V-9B-Thinking, `aya_vision` aya-vision-8b, `aria`, `blt`), granite-'
    "speech-3.2-8b refused by transformers itself (its projector's `granite_speech_qformer`), and 2 "
    'repository-code configs refused in one line (`phi3small`, `deepseek_vl_v2` without `auto_map`). '
    "Fixes, each against transformers' code: the BERT-layout task heads are a table per head style "
    '(BERT/ERNIE pool for sequence classification and multiple choice; RoBERTa, XLM-R, CamemBERT, '
    'Data2VecText use `classifier.dense` + `classifier.out_proj` and pool only for multiple choice; '
    'ELECTRA and YOSO their own), all 32 such classes of the eight rows equal transformers, and a head '
    "the table does not list (`…ForPreTraining`, `…ForCausalLM`, Splinter's QA head) is refused in one "
    "line instead of being counted as the bare model; a config whose `architectures[0]` is another row's "
    'class is counted by that row, as transformers builds it (`ArchConfig.extra["counted_as"]` says so; '
    "not for repository code); seven new rows, `lfm2_moe` (LFM2's conv / attention layers, dense then "
    'sparse feed-forwards with a float32 `expert_bias`), `granite_speech` and `granite_speech_plus` '
    '(Conformer CTC encoder, windowed Q-Former projector, Granite text; the first audio-only wrappers), '
    '`aya_vision` (SigLIP, a pixel-shuffle SwiGLU projector, Cohere2) and `internvl` (InternViT with '
    'layer scale, optional q/k norms and RMSNorm, a pixel-shuffle projector, Qwen2 text; equal on three '
    'variants of its vision options too) and `glm4v` (GLM-4.1V: its vision tower, whose block MLPs are '
    '`out_hidden_size` wide, a Conv2d downsample and a gated merger, over the existing `glm4v_text` row).'
    ' The oracle now keeps a saved buffer a buffer when the conversion mapping renamed it (Granite '
    "Speech's BatchNorm running statistics were counted as parameters, MiniMax-M2's score bias too). "
    'After: 20 of the 25 counted by the table and equal to transformers (granite-speech-3.2-8b with its '
    "projector's model type corrected, `tests/test_real_configs_batch_h.py`), 2 refused in one line, 3 "
    "counted by transformers without a row (`gemma4`, `aria`, `blt`); batch G's granite-speech-3.3-8b is "
    'now counted by the table too. Not done: a `gemma4` row (per-layer inputs, KV sharing, MoE beside a '
    "dense MLP, audio and vision towers: transformers counts it where installed). Granite Speech's counts"
    ' are whole, but `paramscope.knowledge.roles` places its top-level `encoder.…` (the Conformer) and '
    "`projector.…` by name among the text model's attention and FFN rows, not as audio and projector "
    '(`tests/test_roles.py` keeps that as a strict xfail).'
)


# The tenth session's architecture reach, measured blind first (tests/fixtures/configs/README.md, "Batch I")
REACH_I = (
    '## Tenth session: Gemma 4, Aria, BLT and the Granite Speech roles\n\n'
    'Measured BLIND first, with main at bd5cc3c and transformers 5.24.0 on the meta device (on a machine '
    'without timm: Gemma 3n, whose vision tower is timm\'s, could not be built there, and thirteen types '
    'that need timm or torchvision were not buildable, where the previous report counted them by the '
    'fallback). '
    'On every default config: 146 rows equal to transformers, none different, 446 types counted only by '
    'the fallback, 229 not buildable. `gemma4`, `gemma4_text`, `aria`, `aria_text` and `blt` had no row: '
    'refused without the `oracle` extra, counted by transformers with it, and even then `paramscope '
    'inspect` and `size` failed in one line on google/gemma-4-E2B, -E4B, -26B-A4B, -31B and '
    'tiny-random/gemma-4-moe ("transformers gives head_dim layer by layer"); rhymes-ai/Aria\'s '
    '22,900,899,840 routed-expert parameters were placed as a dense FFN (no active count); Granite '
    "Speech's Conformer `encoder.…` and Q-Former `projector.…` (274,808,106 and 108,289,792 parameters in "
    "the default config) were placed among the text model's attention and FFN rows.\n\n"
    'After: five rows, each a table entry checked tensor for tensor: `gemma4_text` and the `gemma4` '
    'composite (`gemma4.py`: full layers of `global_head_dim` with `attention_k_eq_v`\'s global KV heads '
    'and no `v_proj`, KV-sharing layers without k/v, double-wide MLPs, per-layer inputs, the routed block '
    'beside the dense MLP; Gemma 4\'s vision tower and USM audio tower, each with its embedder and only '
    'where its config section is given), `aria_text` and `aria` (input-major fused experts `fc1`/`fc2`, '
    'shared experts; Idefics3\'s SigLIP and a cross-attention projector), and `blt` (`blt.py`: local '
    'encoder, global transformer, local decoder, hash byte embeddings, entropy patcher, each from its own '
    'section). All equal on their default configs, on the seven real configs (gemma-4 E2B 4,530,988,064, '
    'E4B 7,941,100,832, 26B-A4B 25,875,008,384, 31B 32,011,938,944, tiny-random/gemma-4-moe 2,713,992, '
    'Aria 25,307,311,216, blt-1b-hf 4,633,391,872 parameters) and on random small configs '
    '(`tests/test_families_oracle.py`): 151 rows equal, 441 fallback, 229 not buildable. Gemma 4\'s KV '
    'cache prices each full layer at its own width (`ArchConfig.extra["head_dim_per_layer"]`; E4B at '
    '32,768 tokens: 557,842,432 B in f16, equal to the k_proj/v_proj widths transformers builds). '
    "Roles, by names gguf-py's tensor_mapping also lists: Granite Speech's `encoder.…` is audio and "
    '`projector.…` the projector (the strict xfail in `tests/test_roles.py` is gone); Aria\'s '
    "`experts.fc1`/`fc2` are routed experts (4,553,370,736 active) and Gemma 4's `router.proj` / "
    '`per_expert_scale` its router. BLT: the global transformer, whose numbers the ArchConfig gives, '
    'keeps no KV cache in transformers; `size` says the local encoder/decoder caches are not priced. Not '
    'done: BLT\'s checkpoint dtype (its config names none: listed in bf16, 9,266,783,744 bytes; the file '
    'holds float32 hash embeddings beside bf16 layers, 15.4 GB), rows for `gemma4_unified*`, '
    '`gemma4_audio` / `gemma4_vision` alone.'
)


# Round 6 of config-only pricing against real checkpoint indexes (tests/test_index_totals_rounds.py)
ROUND_6 = (
    '## Round 6 (checkpoint totals)\n\n'
    'The sixth blind out-of-sample round of config-only pricing '
    '(`tests/fixtures/quantized_totals/out_of_sample_r6.json`, 30 public checkpoints, mostly '
    '`pytorch_model.bin.index.json` files; `tests/test_index_totals_rounds.py`) was 17 equal, 5 refused '
    'and 8 open before any change. Fixes, each a table entry checked against its source: T5EncoderModel, '
    'MT5EncoderModel and UMT5EncoderModel list `shared` and the encoder alone and keep no KV cache, and a '
    "float16 model keeps transformers' `_keep_in_fp32_modules` in float32 (`table.KEEP_IN_FP32`, one "
    "entry per row whose class sets it, held equal to transformers; T5's `wo`; a tiny T5 loaded in "
    "float16 and saved again by transformers 5.24 holds exactly the listed dtypes): BRIA-3.2's text "
    "encoder, 11,537,887,232 B, equal. An `internlm` row (InternLM 1, repository code: Llama's layout "
    'with q/k/v/o biases by `bias`; any other class, InternLMForSequenceClassification or an InternLM2 '
    'class, refused in one line): InternLM-20B and an InternLM-Chat-7B fine-tune equal. The per-layer '
    "buffers old writers saved are one table (`config_tensors.SAVED_BUFFERS`): Llama's `inv_freq` before "
    "transformers 4.32 as before; InternLM's first repository code's `inv_freq` (its config names none of "
    "`rotary`, `rope_theta`, `rope_scaling`); GPT-NeoX's `attention.bias` mask (uint8 to 4.26, bool "
    "4.27-4.30), `masked_bias` (to 4.30) and `inv_freq` (to 4.34), each bound read in that release's "
    "`modeling_gpt_neox.py`: OASST's Pythia-12B (4.26.1) equal; RedPajama-7B (4.28.1) and Merlyn's "
    'Pythia-12B (4.30) are now pinned at what their indexes miscount, a bool element at 1/8 byte '
    "(117,444,608 and 132,120,576 B, stated by the listing's note); `size` and `fit` leave these buffers "
    "out of the weights, since no engine loads them (llama.cpp's `convert_hf_to_gguf` and vLLM skip "
    '`.attention.bias`, `.attention.masked_bias`, `.rotary_emb.inv_freq`: '
    "`config_tensors.UNLOADED_BUFFERS`). A config without `torch_dtype` stays priced in its family's "
    "default (TeleChat's and MiniMax's 2-byte files have none either), but the note, which `size` and "
    '`fit` now repeat, gives the float32 total transformers would have written (the dtype-less Llama-3-8B '
    "file: 32,121,044,992 B plus its inv_freq). After: 21 equal, 3 refused (Flames' own classifier heads, "
    "TeleChat-52B, InternLM-XComposer2), 6 open and pinned (LayoutLM's float16 file under a float32 "
    "config, the two GPT-NeoX bool masks, Falcon's tied head counted twice by transformers 4.30, "
    "LISA-7B's SAM under a flat llava config, the dtype-less Llama-3 file); rounds 1-5 unchanged."
)


# transformers 4.x and 5.x tie a wrapper's head differently (knowledge/families/hfconfig.py saved_by_v4)
WRAPPER_HEAD = (
    "## A wrapper's head: tied as the transformers that saved it tied it\n\n"
    'A vision-language wrapper (Mistral 3, InternVL, Aya Vision…) whose config.json names no '
    '`tie_word_embeddings`, neither at the top nor in `text_config`, is tied differently by the two '
    'major versions of transformers: 4.x by the text config (`PreTrainedModel.tie_weights`: '
    "`self.config.get_text_config(decoder=True).tie_word_embeddings`, the text class's default when "
    "absent), 5.x by the wrapper's own field, whose default can differ (`Mistral3Config`: true; its "
    '`MistralConfig`: false). The checkpoint beside a config is what the version in its '
    '`transformers_version` wrote, so paramscope counts the head as that version built it '
    '(`families/hfconfig.py` `saved_by_v4`), and the transformers oracle is given the same choice. '
    'Checked on Mistral-Small-3.1-24B (saved by 4.57.1): vLLM 0.19 loads a separate `lm_head.weight '
    '[131072, 5120]` and prints 24.07 GiB, which the untied count matches within 0.2 % '
    '(tests/fixtures/engine_logs/vllm/r13q-llmdplanner-mistral-small-31-*); tied, 5.2 % short. '
    'InternVL3-1B-hf (saved by 4.52) counts 938,193,024 parameters, the published "0.9B", not '
    '802,293,120.'
)


def render(defaults: list[tuple[str, str, str, str]], real: list[tuple[str, str, str, str, str]],
           seconds: float) -> str:
    counts = {k: sum(1 for r in defaults if r[1] == k) for k in
              ("table row", "table row, DIFFERS", "table row, not checked", "fallback", "not supported")}
    lines = [
        "# Model families: what paramscope counts, and how",
        "",
        "Generated by `tools/families_report.py` (do not edit by hand) with transformers "
        f"{oracle.version()} on the meta device; {seconds:.0f} s.",
        "",
        "paramscope lists the tensors of a Hugging Face `config.json` from its own family table, without "
        "torch (`src/paramscope/knowledge/families/`). Each row is checked tensor for tensor (names and "
        "shapes) against what transformers' `save_pretrained` would write for the same config, built on "
        "the `meta` device (`paramscope.knowledge.families.oracle`). A model type without a row is "
        "counted by transformers itself when the `oracle` extra is installed "
        "(`pip install 'paramscope[oracle]'`); repository code (`auto_map`, `trust_remote_code`) is "
        "never run. Its cache is read from transformers' config object: multi-head latent attention "
        "(`kv_lora_rank`: Mistral 4, LongCat-Flash) caches the latent and the RoPE key, and a layer kind "
        "paramscope cannot price (DeepSeek-V4's compressed attention) is named where sizing stops.",
        "",
        "## Examples (real output)",
        "",
        "A model type without a row, counted by transformers (RWKV-4 3B's shape, `oracle` extra installed):",
        "",
        "    $ paramscope inspect rwkv/config.json",
        "    architecture     RwkvForCausalLM (family rwkv)",
        "    parameters       2,984,627,200  2.98B",
        "    tensors          582",
        "",
        "A config whose code lives in its repository is refused in one line (exit 1):",
        "",
        "    $ paramscope inspect baichuan/config.json",
        "    Error: baichuan/config.json: model_type 'baichuan' has no row in paramscope's family table, "
        "and its modeling code lives in its repository (auto_map), which paramscope never runs "
        "(trust_remote_code)",
        "",
        "Without the extra the same message ends `transformers would count it: pip install "
        "'paramscope[oracle]'`.",
        "",
        "## Every model type transformers defines, on its default config",
        "",
        f"- **table row**, equal to transformers tensor for tensor: **{counts['table row']}**",
        f"- table row that differs: {counts['table row, DIFFERS']}",
        f"- table row not checked (transformers could not build the reference where this ran): "
        f"{counts['table row, not checked']}",
        f"- **fallback** (counted by transformers with the `oracle` extra): **{counts['fallback']}**",
        f"- **not supported** (transformers cannot build its own default config): "
        f"**{counts['not supported']}**",
        "",
        "Stored buffers that transformers does not count as parameters but llama.cpp and the published "
        "counts do (DeepSeek-V3's and GLM-4-MoE's router `e_score_correction_bias`) are noted, not "
        "counted as differences.",
        "",
        "| model_type | status | class | detail |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{t}` | {s} | {c} | {_cell(d)} |" for t, s, c, d in defaults]
    lines += ["", *OUT_OF_SAMPLE.splitlines(), "", *HETEROGENEOUS.splitlines(), "",
              *OUT_OF_SAMPLE_H.splitlines(), "", *REACH_I.splitlines(), "", *ROUND_6.splitlines(), "",
              *WRAPPER_HEAD.splitlines()]
    lines += [
        "",
        "## Real config.json files",
        "",
        "Configs of public checkpoints kept in the repository (the catalogue, `tests/fixtures/configs/` "
        "with their sources in its README, and the shared configs), compared the same way. A config "
        "transformers refuses (its own config class rejects a value the published file holds) is compared "
        "by `tests/test_real_configs_batch_*.py` with that value corrected; repository code without a row "
        "(`minimax_m1`, `hunyuan`) is compared there under the transformers model type it matches.",
        "",
        "| config | model_type | status | class | detail |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| `{p}` | `{t}` | {s} | {c} | {_cell(d)} |" for p, t, s, c, d in real]
    lines += ["", "Model types with a row in the table (no torch needed): "
              + ", ".join(f"`{t}`" for t in supported_model_types()) + ".", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs/families.md")
    ap.add_argument("--only", nargs="*", help="these model types only (prints, writes nothing)")
    args = ap.parse_args(argv)
    if not oracle.available():
        print("needs the oracle extra: pip install 'paramscope[oracle]'", file=sys.stderr)
        return 1
    start = time.monotonic()
    types = args.only or oracle.native_model_types()
    defaults = []
    for model_type in types:
        completion = oracle.DEFAULT_COMPLETIONS.get(model_type, {})
        s, cls, detail = status({"model_type": model_type, **completion}, f"default {model_type}")
        if completion:  # transformers cannot build the bare default; say what was added
            detail += f" (with {json.dumps(completion)}, which transformers' default lacks)"
        defaults.append((model_type, s, cls, detail))
        print(f"{model_type:32s} {s:20s} {cls:40s} {detail[:120]}", flush=True)
    if args.only:
        return 0
    real = []
    for path, cfg in real_configs():
        s, cls, detail = status(cfg, path)
        real.append((path, str(cfg.get("model_type", "")), s, cls, detail))
        print(f"{path:60s} {s:20s} {detail[:100]}", flush=True)
    args.out.write_text(render(defaults, real, time.monotonic() - start))
    differs = [r for r in defaults + [(p, s, c, d) for p, _, s, c, d in real] if "DIFFERS" in r[1]]
    print(f"wrote {args.out}; {len(differs)} table rows differ from transformers", file=sys.stderr)
    return 1 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
