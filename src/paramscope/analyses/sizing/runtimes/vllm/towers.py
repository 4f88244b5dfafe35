"""Which multimodal towers vLLM builds, by architecture, release and per-prompt limits.

From 0.15 a model builds each tower inside ``with self._mark_tower_model(vllm_config, modalities):`` or names
it in ``_mark_composite_model(..., tower_targets=...)`` (model_executor/models/interfaces.py), which makes it
a StageMissingLayer, built and loaded without weights, when ``--limit-mm-per-prompt`` gives 0 for every one
of those modalities (a modality not given is 999, even one the model takes none of);
``--language-model-only`` (0.17 on) gives 0 for all of them. Which modalities a tower is built for differs
by model (Gemma 3's and LLaVA's vision tower: image; Qwen2.5-VL's and Gemma 4's: image and video;
Kimi-K2.5's: vision_chunk), and models came to it in different releases (LightOnOCR built its tower
whatever the limits until 0.19), so both are read per architecture (``MARKED``). From 0.10.1 to 0.14 a
few models tested the limits themselves (``HAND_GATED``); every other tower is built whatever the limits.
An architecture in neither table keeps its towers (the larger figure), and the output says so.

The tables are transcribed by tools/vllm_towers_table.py from vLLM's model code and registry (keys: the
architectures config.json names), the first release being the first of the trees read that has the rule:
MARKED from 0.15.0, 0.16.0, 0.17.0, 0.19.0, 0.21.0 and 0.25.0 to 0.34.0; HAND_GATED from 0.10.0 (none),
0.10.1, 0.10.2, 0.11.0, 0.13.0 and 0.14.0. Not read: the Transformers backend's marks (models/transformers/,
from 0.28), whose modalities come from the model at run time.
"""

from __future__ import annotations

from collections.abc import Mapping

from paramscope.analyses.sizing.runtimes.vllm.engine import Release

Modalities = tuple[str, ...]
Towers = dict[str, Modalities]

TOWER_SKIP_RELEASE: Release = (0, 15, 0)  # _mark_tower_model (PRs #32605 and #32757, January 2026)
LANGUAGE_MODEL_ONLY_RELEASE: Release = (0, 17, 0)  # --language-model-only (engine/arg_utils.py)

# 0.15 on: architecture → (first release read that marks its towers, the modalities of each: across the
# trees read, the larger set, as Nemotron Nano VL's vision tower names audio too from the releases that gave
# it a sound encoder). "audio" is the tower a mark naming audio alone builds; "vision" any other.
MARKED: dict[str, tuple[Release, Towers]] = {
    "Alpamayo2Super": ((0, 33, 0), {"vision": ("image", "video")}),
    "AriaForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "AudioFlamingo3ForConditionalGeneration": ((0, 15, 0), {"audio": ("audio",)}),
    "AyaVisionForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "BagelForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "BailingMoeV3VLForConditionalGeneration": ((0, 30, 0), {"vision": ("image",)}),
    "BeeForConditionalGeneration": ((0, 15, 0), {"vision": ("image", "video")}),
    "Blip2ForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "CLIPModel": ((0, 15, 0), {"vision": ("image",)}),
    "CanaryForConditionalGeneration": ((0, 34, 0), {"audio": ("audio",)}),
    "ChameleonForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "Cheers": ((0, 21, 0), {"vision": ("image",)}),
    "CheersForConditionalGeneration": ((0, 21, 0), {"vision": ("image",)}),
    "ClefFlashForJointSchema": ((0, 33, 0), {"vision": ("image", "video")}),
    "ClefOmniForJointSchema": ((0, 32, 0), {"vision": ("image", "video"), "audio": ("audio",)}),
    "Cohere2VisionForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "CohereAsrForConditionalGeneration": ((0, 19, 0), {"audio": ("audio",)}),
    "CohereCompassForConditionalGeneration": ((0, 30, 0), {"vision": ("image",)}),
    "ColPaliForRetrieval": ((0, 19, 0), {"vision": ("image",)}),
    "ColQwen3": ((0, 17, 0), {"vision": ("image", "video")}),
    "ColQwen3_5": ((0, 19, 0), {"vision": ("image", "video")}),
    "ColUltraVBertForRetrieval": ((0, 33, 0), {"vision": ("image",)}),
    "Cosmos3EdgeForConditionalGeneration": ((0, 26, 0), {"vision": ("image", "video")}),
    "Cosmos3ForConditionalGeneration": ((0, 25, 0), {"vision": ("image", "video")}),
    "DeepseekOCR2ForCausalLM": ((0, 16, 0), {"vision": ("image",)}),
    "DeepseekOCRForCausalLM": ((0, 15, 0), {"vision": ("image",)}),
    "DeepseekVLV2ForCausalLM": ((0, 15, 0), {"vision": ("image",)}),
    "DiffusionGemmaForBlockDiffusion": ((0, 25, 0), {"vision": ("image", "video")}),
    "DotsOCRForCausalLM": ((0, 15, 0), {"vision": ("image",)}),
    "Eagle2_5_VLForConditionalGeneration": ((0, 16, 0), {"vision": ("image",)}),
    "EmbeddingGemma2Model": ((0, 32, 0), {"vision": ("image", "video"), "audio": ("audio",)}),
    "Ernie4_5_VLMoeForConditionalGeneration": ((0, 15, 0), {"vision": ("image", "video")}),
    "Exaone4_5_ForConditionalGeneration": ((0, 21, 0), {"vision": ("image", "video")}),
    "FireRedASR2ForConditionalGeneration": ((0, 19, 0), {"audio": ("audio",)}),
    "FireRedLIDForConditionalGeneration": ((0, 21, 0), {"audio": ("audio",)}),
    "FunAudioChatForConditionalGeneration": ((0, 16, 0), {"audio": ("audio",)}),
    "FuyuForCausalLM": ((0, 15, 0), {"vision": ("image",)}),
    "GLM4VForCausalLM": ((0, 15, 0), {"vision": ("image",)}),
    "Gemma3ForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "Gemma3nForConditionalGeneration": ((0, 15, 0), {"vision": ("image",), "audio": ("audio",)}),
    "Gemma4ForConditionalGeneration": ((0, 19, 0), {"vision": ("image", "video"), "audio": ("audio",)}),
    "Glm4vForConditionalGeneration": ((0, 15, 0), {"vision": ("image", "video")}),
    "Glm4vMoeForConditionalGeneration": ((0, 15, 0), {"vision": ("image", "video")}),
    "GlmAsrForConditionalGeneration": ((0, 15, 0), {"audio": ("audio",)}),
    "GlmOcrForConditionalGeneration": ((0, 16, 0), {"vision": ("image", "video")}),
    "Granite4VisionForConditionalGeneration": ((0, 21, 0), {"vision": ("image",)}),
    "GraniteSpeechForConditionalGeneration": ((0, 15, 0), {"audio": ("audio",)}),
    "GraniteSpeechPlusForConditionalGeneration": ((0, 25, 0), {"audio": ("audio",)}),
    "H2OVLChatModel": ((0, 15, 0), {"vision": ("image", "video")}),
    "HCXVisionForCausalLM": ((0, 15, 0), {"vision": ("image", "video")}),
    "HCXVisionV2ForCausalLM": ((0, 19, 0), {"vision": ("image", "video")}),
    "HfMoondream": ((0, 21, 0), {"vision": ("image",)}),
    "HunYuanVLForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "Idefics3ForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "InternS1ForConditionalGeneration": ((0, 15, 0), {"vision": ("image", "video")}),
    "InternS1ProForConditionalGeneration": ((0, 16, 0), {"vision": ("image", "video")}),
    "InternS2MobiusForConditionalGeneration": ((0, 28, 0), {"vision": ("image", "video")}),
    "InternS2PreviewForConditionalGeneration": ((0, 25, 0), {"vision": ("image", "video")}),
    "InternVLChatModel": ((0, 15, 0), {"vision": ("image", "video")}),
    "InternVLForConditionalGeneration": ((0, 15, 0), {"vision": ("image", "video")}),
    "IsaacForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "JinaVLForRanking": ((0, 15, 0), {"vision": ("image", "video")}),
    "KananaVForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "KeyeForConditionalGeneration": ((0, 15, 0), {"vision": ("image", "video")}),
    "KeyeVL1_5ForConditionalGeneration": ((0, 15, 0), {"vision": ("image", "video")}),
    "KimiK25ForConditionalGeneration": ((0, 16, 0), {"vision": ("vision_chunk",)}),
    "KimiVLForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "Lfm2VlForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "Lfm3AudioForConditionalGeneration": ((0, 34, 0), {"audio": ("audio",)}),
    "Lfm3VlForConditionalGeneration": ((0, 34, 0), {"vision": ("image", "video")}),
    "LightOnOCRForConditionalGeneration": ((0, 19, 0), {"vision": ("image",)}),
    "Llama4ForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "LlamaNemotronVLForSequenceClassification": ((0, 17, 0), {"vision": ("image",)}),
    "LlamaNemotronVLModel": ((0, 17, 0), {"vision": ("image",)}),
    "Llama_Nemotron_Nano_VL": ((0, 15, 0), {"vision": ("image",)}),
    "LlavaForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "LlavaNextForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "LlavaNextVideoForConditionalGeneration": ((0, 15, 0), {"vision": ("video",)}),
    "LlavaOnevision2ForConditionalGeneration": ((0, 25, 0), {"vision": ("image", "video")}),
    "LlavaOnevisionForConditionalGeneration": ((0, 15, 0), {"vision": ("image", "video")}),
    "MantisForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "MiDashengLMModel": ((0, 15, 0), {"audio": ("audio",)}),
    "MiMoV2OmniForCausalLM": ((0, 21, 0), {"vision": ("image", "video"), "audio": ("audio",)}),
    "MingV3ASRForConditionalGeneration": ((0, 34, 0), {"audio": ("audio",)}),
    "MiniCPMO": ((0, 15, 0), {"vision": ("image", "video"), "audio": ("audio",)}),
    "MiniCPMOcrForConditionalGeneration": ((0, 33, 0), {"vision": ("image",)}),
    "MiniCPMV": ((0, 15, 0), {"vision": ("image", "video")}),
    "MiniCPMV4_6ForConditionalGeneration": ((0, 25, 0), {"vision": ("image",)}),
    "MiniCPMV4_7ForConditionalGeneration": ((0, 32, 0), {"vision": ("image",)}),
    "MiniMaxVL01ForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "Mistral3ForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "Molmo2ForConditionalGeneration": ((0, 15, 0), {"vision": ("image", "video")}),
    "MolmoForCausalLM": ((0, 15, 0), {"vision": ("image",)}),
    "Moondream3ForCausalLM": ((0, 21, 0), {"vision": ("image",)}),
    "MoonshotKimiaForCausalLM": ((0, 19, 0), {"audio": ("audio",)}),
    "MossAudioModel": ((0, 25, 0), {"audio": ("audio",)}),
    "MossTranscribeDiarizeForConditionalGeneration": ((0, 25, 0), {"audio": ("audio",)}),
    "MuseGlimmerForCausalLM": ((0, 28, 0), {"vision": ("image", "video")}),
    "MuseGlimmerForConditionalGeneration": ((0, 28, 0), {"vision": ("image", "video")}),
    "MusicFlamingoForConditionalGeneration": ((0, 16, 0), {"audio": ("audio",)}),
    "NVLM_D": ((0, 15, 0), {"vision": ("image", "video")}),
    "Nemotron3_5TranscribeForConditionalGeneration": ((0, 34, 0), {"audio": ("audio",)}),
    "NemotronH_Nano_Omni_Reasoning_V3": ((0, 21, 0),
        {"vision": ("audio", "image", "video"), "audio": ("audio", "image", "video")}),
    "NemotronH_Nano_VL_V2": ((0, 15, 0),
        {"vision": ("audio", "image", "video"), "audio": ("audio", "image", "video")}),
    "NemotronH_Omni_Reasoning_V3": ((0, 29, 0),
        {"vision": ("audio", "image", "video"), "audio": ("audio", "image", "video")}),
    "NemotronH_Super_Omni_Reasoning_V3": ((0, 21, 0),
        {"vision": ("audio", "image", "video"), "audio": ("audio", "image", "video")}),
    "NemotronParseForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "OpenCUAForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "OpenPanguVLForConditionalGeneration": ((0, 16, 0), {"vision": ("image", "video")}),
    "OpenVLAForActionPrediction": ((0, 25, 0), {"vision": ("image",)}),
    "OpsColQwen3Model": ((0, 17, 0), {"vision": ("image", "video")}),
    "Ovis": ((0, 15, 0), {"vision": ("image",)}),
    "Ovis2_5": ((0, 15, 0), {"vision": ("image", "video")}),
    "Ovis2_6ForCausalLM": ((0, 17, 0), {"vision": ("image", "video")}),
    "Ovis2_6_MoeForCausalLM": ((0, 17, 0), {"vision": ("image", "video")}),
    "PaddleOCRVLForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "PaliGemmaForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "Phi3VForCausalLM": ((0, 15, 0), {"vision": ("image",)}),
    "Phi4ForCausalLMV": ((0, 21, 0), {"vision": ("image",)}),
    "Phi4MMForCausalLM": ((0, 15, 0), {"vision": ("image", "video"), "audio": ("audio",)}),
    "PixtralForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "QianfanOCRForConditionalGeneration": ((0, 21, 0), {"vision": ("image", "video")}),
    "Qwen2AudioForConditionalGeneration": ((0, 15, 0), {"audio": ("audio",)}),
    "Qwen2VLForConditionalGeneration": ((0, 15, 0), {"vision": ("image", "video")}),
    "Qwen2_5OmniForConditionalGeneration": ((0, 15, 0), {"vision": ("image", "video"), "audio": ("audio",)}),
    "Qwen2_5OmniModel": ((0, 15, 0), {"vision": ("image", "video"), "audio": ("audio",)}),
    "Qwen2_5_VLForConditionalGeneration": ((0, 15, 0), {"vision": ("image", "video")}),
    "Qwen3ASRForConditionalGeneration": ((0, 16, 0), {"audio": ("audio",)}),
    "Qwen3ASRForcedAlignerForTokenClassification": ((0, 19, 0), {"audio": ("audio",)}),
    "Qwen3ASRRealtimeGeneration": ((0, 17, 0), {"audio": ("audio",)}),
    "Qwen3OmniMoeForConditionalGeneration": ((0, 15, 0), {"vision": ("image", "video"), "audio": ("audio",)}),
    "Qwen3VLForConditionalGeneration": ((0, 15, 0), {"vision": ("image", "video")}),
    "Qwen3VLMoeForConditionalGeneration": ((0, 15, 0), {"vision": ("image", "video")}),
    "Qwen3VLNemotronEmbedModel": ((0, 17, 0), {"vision": ("image", "video")}),
    "Qwen3_5ForConditionalGeneration": ((0, 17, 0), {"vision": ("image", "video")}),
    "Qwen3_5MoeForConditionalGeneration": ((0, 17, 0), {"vision": ("image", "video")}),
    "QwenVLForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "RForConditionalGeneration": ((0, 15, 0), {"vision": ("image", "video")}),
    "RadioMBartPrefixForCausalLM": ((0, 33, 0), {"vision": ("image",)}),
    "SiglipModel": ((0, 15, 0), {"vision": ("image",)}),
    "SkyworkR1VChatModel": ((0, 15, 0), {"vision": ("image",)}),
    "SmolVLMForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "Step3VLForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "Step3p7ForConditionalGeneration": ((0, 25, 0), {"vision": ("image",)}),
    "StepVLForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "Tarsier2ForConditionalGeneration": ((0, 15, 0), {"vision": ("image", "video")}),
    "TarsierForConditionalGeneration": ((0, 15, 0), {"vision": ("image",)}),
    "UltraVBertModel": ((0, 34, 0), {"vision": ("image",)}),
    "UltravoxModel": ((0, 15, 0), {"audio": ("audio",)}),
    "UnlimitedOCRForCausalLM": ((0, 25, 0), {"vision": ("image",)}),
    "VoxtralForConditionalGeneration": ((0, 15, 0), {"audio": ("audio",)}),
    "VoxtralRealtimeGeneration": ((0, 16, 0), {"audio": ("audio",)}),
    "VoxtralStreamingGeneration": ((0, 15, 0), {"audio": ("audio",)}),
    "WhisperForConditionalGeneration": ((0, 15, 0), {"audio": ("audio",)}),
}

# 0.10.1 to 0.14: the models whose __init__ built a tower only ``if multimodal_config.get_limit_per_prompt(m)
# or ...`` (PR #22299, August 2025: none in 0.10.0)
HAND_GATED: dict[str, tuple[Release, Towers]] = {
    "HunYuanVLForConditionalGeneration": ((0, 13, 0), {"vision": ("image",)}),
    "JinaVLForRanking": ((0, 10, 1), {"vision": ("image", "video")}),
    "Llama4ForConditionalGeneration": ((0, 10, 1), {"vision": ("image",)}),
    "LlavaForConditionalGeneration": ((0, 10, 1), {"vision": ("image",)}),
    "MantisForConditionalGeneration": ((0, 10, 1), {"vision": ("image",)}),
    "Mistral3ForConditionalGeneration": ((0, 10, 1), {"vision": ("image",)}),
    "OpenCUAForConditionalGeneration": ((0, 13, 0), {"vision": ("image",)}),
    "PixtralForConditionalGeneration": ((0, 13, 0), {"vision": ("image",)}),
    "Qwen2VLForConditionalGeneration": ((0, 10, 1), {"vision": ("image", "video")}),
    "Qwen2_5OmniForConditionalGeneration": ((0, 10, 1), {"vision": ("image", "video"), "audio": ("audio",)}),
    "Qwen2_5OmniModel": ((0, 10, 1), {"vision": ("image", "video"), "audio": ("audio",)}),
    "Qwen2_5_VLForConditionalGeneration": ((0, 10, 1), {"vision": ("image", "video")}),
    "Qwen3VLForConditionalGeneration": ((0, 11, 0), {"vision": ("image", "video")}),
    "Qwen3VLMoeForConditionalGeneration": ((0, 11, 0), {"vision": ("image", "video")}),
    "Step3VLForConditionalGeneration": ((0, 10, 1), {"vision": ("image",)}),
    "Tarsier2ForConditionalGeneration": ((0, 10, 1), {"vision": ("image", "video")}),
}


def tower_modalities(architecture: str | None, release: Release) -> Mapping[str, Modalities] | None:
    """The modalities each tower of ``architecture`` is built for in ``release`` (a tower all of whose
    modalities are limited to 0 is not built); {} where the release builds every tower whatever the limits
    (before 0.15, every model HAND_GATED does not name; from 0.15, a model before the release MARKED gives);
    None from 0.15 for an architecture MARKED does not hold (its towers are kept, and said to be)."""
    if release >= TOWER_SKIP_RELEASE:
        if architecture not in MARKED:
            return None
        first, towers = MARKED[architecture]
    else:
        first, towers = HAND_GATED.get(architecture or "", (release, {}))
    return towers if release >= first else {}
