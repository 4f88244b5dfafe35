"""Which multimodal towers vLLM builds, by architecture, release and per-prompt limits.

From 0.15 every model builds each tower inside ``with self._mark_tower_model(vllm_config, modalities):``
(model_executor/models/interfaces.py), which makes it a StageMissingLayer, built and loaded without weights,
when ``--limit-mm-per-prompt`` gives 0 for every one of those modalities (a modality not given is 999, even
one the model takes none of); ``--language-model-only`` (0.17 on) gives 0 for all of them. Which modalities
a tower names differs by model (Gemma 3's and LLaVA's vision tower: image; Qwen2.5-VL's and Gemma 4's:
image and video; Kimi-K2.5's: vision_chunk), so they are read per architecture (``MARKED``). Before 0.15 a
few models tested the limits themselves (``HAND_GATED``); every other tower is built whatever the limits.
A tower whose architecture is in neither table is kept unless every modality is 0: the larger figure.

The tables are transcribed by tools/vllm_towers_table.py from vLLM's model code.
"""

from __future__ import annotations

from collections.abc import Mapping

from paramscope.analyses.sizing.runtimes.vllm.engine import Release

Modalities = tuple[str, ...]

TOWER_SKIP_RELEASE: Release = (0, 15, 0)  # _mark_tower_model (PRs #32605 and #32757, January 2026)
LANGUAGE_MODEL_ONLY_RELEASE: Release = (0, 17, 0)  # --language-model-only (engine/arg_utils.py)

# 0.15 on: each architecture's towers and the modalities its _mark_tower_model call names, read in 0.15.0,
# 0.31.0 and 0.34.0 (``tools/vllm_towers_table.py``); where they differ, the larger set (Nemotron Nano VL's
# vision tower names audio too from the releases that gave it a sound encoder). "audio" is the tower a call
# naming audio alone builds; "vision" any other.
MARKED: dict[str, dict[str, Modalities]] = {
    "AriaForConditionalGeneration": {"vision": ("image",)},
    "AudioFlamingo3ForConditionalGeneration": {"audio": ("audio",)},
    "AyaVisionForConditionalGeneration": {"vision": ("image",)},
    "BagelForConditionalGeneration": {"vision": ("image",)},
    "BailingMoeV3VLForConditionalGeneration": {"vision": ("image",)},
    "BaseKeyeModule": {"vision": ("image", "video")},
    "Blip2ForConditionalGeneration": {"vision": ("image",)},
    "CLIPEmbeddingModel": {"vision": ("image",)},
    "Cohere2VisionForConditionalGeneration": {"vision": ("image",)},
    "CohereCompassForConditionalGeneration": {"vision": ("image",)},
    "ColUltraVBertForRetrieval": {"vision": ("image",)},
    "Cosmos3EdgeForConditionalGeneration": {"vision": ("image", "video")},
    "DeepseekOCR2ForCausalLM": {"vision": ("image",)},
    "DeepseekOCRForCausalLM": {"vision": ("image",)},
    "DeepseekVLV2ForCausalLM": {"vision": ("image",)},
    "DiffusionGemmaForConditionalGeneration": {"vision": ("image", "video")},
    "DotsOCRForCausalLM": {"vision": ("image",)},
    "Eagle2_5_VLForConditionalGeneration": {"vision": ("image",)},
    "EmbeddingGemma2Model": {"vision": ("image", "video"), "audio": ("audio",)},
    "Ernie4_5_VLMoeForConditionalGeneration": {"vision": ("image", "video")},
    "Exaone4_5_ForConditionalGeneration": {"vision": ("image", "video")},
    "FunAudioChatForConditionalGeneration": {"audio": ("audio",)},
    "FuyuForCausalLM": {"vision": ("image",)},
    "Gemma3ForConditionalGeneration": {"vision": ("image",)},
    "Gemma3nForConditionalGeneration": {"vision": ("image",), "audio": ("audio",)},
    "Gemma4ForConditionalGeneration": {"vision": ("image", "video"), "audio": ("audio",)},
    "Glm4vForConditionalGeneration": {"vision": ("image", "video")},
    "GlmAsrForConditionalGeneration": {"audio": ("audio",)},
    "GlmOcrForConditionalGeneration": {"vision": ("image", "video")},
    "Granite4VisionForConditionalGeneration": {"vision": ("image",)},
    "GraniteSpeechForConditionalGeneration": {"audio": ("audio",)},
    "HCXVisionForCausalLM": {"vision": ("image", "video")},
    "HCXVisionV2ForCausalLM": {"vision": ("image", "video")},
    "HunYuanVLForConditionalGeneration": {"vision": ("image",)},
    "InternS1ForConditionalGeneration": {"vision": ("image", "video")},
    "InternS1ProForConditionalGeneration": {"vision": ("image", "video")},
    "InternS2MobiusForConditionalGeneration": {"vision": ("image", "video")},
    "InternVLChatModel": {"vision": ("image", "video")},
    "IsaacForConditionalGeneration": {"vision": ("image",)},
    "KananaVForConditionalGeneration": {"vision": ("image",)},
    "KimiAudioForConditionalGeneration": {"audio": ("audio",)},
    "KimiK25ForConditionalGeneration": {"vision": ("vision_chunk",)},
    "KimiVLForConditionalGeneration": {"vision": ("image",)},
    "Lfm2VLForConditionalGeneration": {"vision": ("image",)},
    "Lfm3AudioForConditionalGeneration": {"audio": ("audio",)},
    "Lfm3VlForConditionalGeneration": {"vision": ("image", "video")},
    "LightOnOCRForConditionalGeneration": {"vision": ("image",)},
    "Llama4ForConditionalGeneration": {"vision": ("image",)},
    "LlamaNemotronVLChatModel": {"vision": ("image",)},
    "LlavaForConditionalGeneration": {"vision": ("image",)},
    "LlavaNextForConditionalGeneration": {"vision": ("image",)},
    "LlavaNextVideoForConditionalGeneration": {"vision": ("video",)},
    "LlavaOnevision2ForConditionalGeneration": {"vision": ("image", "video")},
    "LlavaOnevisionForConditionalGeneration": {"vision": ("image", "video")},
    "MiDashengLMModel": {"audio": ("audio",)},
    "MiMoV2OmniForCausalLM": {"vision": ("image", "video"), "audio": ("audio",)},
    "MingV3ASRForConditionalGeneration": {"audio": ("audio",)},
    "MiniCPMO": {"audio": ("audio",)},
    "MiniCPMO2_6": {"audio": ("audio",)},
    "MiniCPMO4_5": {"audio": ("audio",)},
    "MiniCPMOBaseModel": {"audio": ("audio",)},
    "MiniCPMV4_6ForConditionalGeneration": {"vision": ("image",)},
    "MiniCPMVBaseModel": {"vision": ("image", "video")},
    "MiniMaxVL01ForConditionalGeneration": {"vision": ("image",)},
    "Mistral3ForConditionalGeneration": {"vision": ("image",)},
    "Molmo2ForConditionalGeneration": {"vision": ("image", "video")},
    "MolmoForCausalLM": {"vision": ("image",)},
    "Moondream3ForCausalLM": {"vision": ("image",)},
    "MossAudioModel": {"audio": ("audio",)},
    "MossTranscribeDiarizeForConditionalGeneration": {"audio": ("audio",)},
    "MuseGlimmerForCausalLM": {"vision": ("image", "video")},
    "Nemotron3_5TranscribeForConditionalGeneration": {"audio": ("audio",)},
    "NemotronH_Nano_VL_V2": {"vision": ("audio", "image", "video"), "audio": ("audio", "image", "video")},
    "NemotronParseForConditionalGeneration": {"vision": ("image",)},
    "OpenCUAForConditionalGeneration": {"vision": ("image",)},
    "OpenPanguVLForConditionalGeneration": {"vision": ("image", "video")},
    "OpenVLAForActionPrediction": {"vision": ("image",)},
    "Ovis": {"vision": ("image",)},
    "Ovis2_5": {"vision": ("image", "video")},
    "PaddleOCRVLForConditionalGeneration": {"vision": ("image",)},
    "PaliGemmaForConditionalGeneration": {"vision": ("image",)},
    "Phi3VForCausalLM": {"vision": ("image",)},
    "Phi4ForCausalLMV": {"vision": ("image",)},
    "Phi4MMForCausalLM": {"vision": ("image", "video"), "audio": ("audio",)},
    "PixtralForConditionalGeneration": {"vision": ("image",)},
    "Qwen2AudioForConditionalGeneration": {"audio": ("audio",)},
    "Qwen2VLForConditionalGeneration": {"vision": ("image", "video")},
    "Qwen2_5OmniThinkerForConditionalGeneration": {"vision": ("image", "video"), "audio": ("audio",)},
    "Qwen2_5_VLForConditionalGeneration": {"vision": ("image", "video")},
    "Qwen3ASRForConditionalGeneration": {"audio": ("audio",)},
    "Qwen3OmniMoeThinkerForConditionalGeneration": {"vision": ("image", "video"), "audio": ("audio",)},
    "Qwen3VLForConditionalGeneration": {"vision": ("image", "video")},
    "Qwen3VLMoeForConditionalGeneration": {"vision": ("image", "video")},
    "Qwen3_5ForConditionalGeneration": {"vision": ("image", "video")},
    "Qwen3_5MoeForConditionalGeneration": {"vision": ("image", "video")},
    "RadioMBartPrefixForCausalLM": {"vision": ("image",)},
    "SiglipEmbeddingModel": {"vision": ("image",)},
    "SkyworkR1VChatModel": {"vision": ("image",)},
    "Step3VLForConditionalGeneration": {"vision": ("image",)},
    "Step3p7ForConditionalGeneration": {"vision": ("image",)},
    "StepVLForConditionalGeneration": {"vision": ("image",)},
    "TarsierForConditionalGeneration": {"vision": ("image",)},
    "UltravoxModel": {"audio": ("audio",)},
    "VoxtralForConditionalGeneration": {"audio": ("audio",)},
}

# 0.11 to 0.14: the models whose __init__ built a tower only ``if multimodal_config.get_limit_per_prompt(m)
# or ...`` (``tools/vllm_towers_table.py --gated`` on 0.11.0, 0.13.0 and 0.14.0), with the first release of
# those read that has it (0.12 was not read: its newcomers are taken from 0.13)
HAND_GATED: dict[str, tuple[Release, dict[str, Modalities]]] = {
    "LlavaForConditionalGeneration": ((0, 11, 0), {"vision": ("image",)}),
    "Mistral3ForConditionalGeneration": ((0, 11, 0), {"vision": ("image",)}),
    "Llama4ForConditionalGeneration": ((0, 11, 0), {"vision": ("image",)}),
    "Qwen2_5OmniThinkerForConditionalGeneration": ((0, 11, 0), {"vision": ("image", "video"),
                                                                "audio": ("audio",)}),
    "Qwen2_5_VLForConditionalGeneration": ((0, 11, 0), {"vision": ("image", "video")}),
    "Qwen2VLForConditionalGeneration": ((0, 11, 0), {"vision": ("image", "video")}),
    "Qwen3VLForConditionalGeneration": ((0, 11, 0), {"vision": ("image", "video")}),
    "Qwen3VLMoeForConditionalGeneration": ((0, 11, 0), {"vision": ("image", "video")}),
    "Step3VLForConditionalGeneration": ((0, 11, 0), {"vision": ("image",)}),
    "HunYuanVLForConditionalGeneration": ((0, 13, 0), {"vision": ("image",)}),
    "OpenCUAForConditionalGeneration": ((0, 13, 0), {"vision": ("image",)}),
    "PixtralForConditionalGeneration": ((0, 13, 0), {"vision": ("image",)}),
}


def tower_modalities(architecture: str | None, release: Release) -> Mapping[str, Modalities] | None:
    """The modalities each tower of ``architecture`` is built for in ``release`` (a tower all of whose
    modalities are limited to 0 is not built); {} where the release builds every tower whatever the limits;
    None where the architecture is not in the tables (its towers are kept unless every modality is 0)."""
    if architecture is None:
        return None
    if release >= TOWER_SKIP_RELEASE:
        return MARKED.get(architecture)
    first, towers = HAND_GATED.get(architecture, (None, {}))
    return towers if first is not None and release >= first else {}
