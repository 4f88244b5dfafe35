"""The type vLLM and SGLang serve an unquantized checkpoint in with --dtype auto (sizing/serving_dtype.py),
read from vLLM's config/model.py ``_resolve_auto_dtype`` (0.10 to 0.34) with platforms/cuda.py
``supported_dtypes``, and SGLang's configs/model_config.py ``_get_and_verify_dtype`` (0.5.23)."""

import pytest

import paramscope
from paramscope.analyses.sizing.serving_dtype import served_in, sglang_auto_dtype, vllm_auto_dtype
from paramscope.formats import open_model
from paramscope.knowledge.hardware import find_device
from paramscope.model.dtypes import DType

F32, BF16, F16 = DType.F32, DType.BF16, DType.F16
NEW, OLD = (0, 27, 0), (0, 9, 2)


@pytest.mark.parametrize(("stored", "model_type", "gpu", "release", "served"), [
    (F32, "llama", "h100-sxm", NEW, BF16),  # float32 downcast to the platform's first type
    (F32, "llama", "rtx-3090", NEW, BF16),
    (F32, "llama", "mi300x", NEW, BF16),  # ROCm: bfloat16, float16, float32
    (F32, "llama", None, NEW, BF16),  # the device unknown: one that runs bfloat16
    (F32, "llama", "t4", NEW, F16),  # Turing has no bfloat16
    (F32, "llama", "v100-32g", NEW, F16),
    (F32, "gemma2", "t4", NEW, F32),  # float16 refused for Gemma 2: nothing narrower is left
    (BF16, "gemma3", "t4", NEW, F32),  # "doesn't support torch.bfloat16. Falling back to torch.float32"
    (BF16, "gemma3_text", "t4", NEW, F32),
    (BF16, "llama", "t4", NEW, F16),  # the same size: a relabel
    (BF16, "gemma3", "a10g", NEW, BF16),
    (F16, "qwen2", "h100-sxm", NEW, F16),  # a float16 checkpoint stays float16
    (F32, "llama", "t4", OLD, F16),  # before 0.10: "we use float16 for float32 models"
    (F32, "gemma2", "h100-sxm", OLD, BF16),  # ... but bfloat16 for Gemma 2
    (BF16, "gemma3", "t4", OLD, BF16),  # before 0.10 vLLM refused bfloat16 there rather than upcast
])
def test_vllm_auto_dtype(stored, model_type, gpu, release, served):
    device = find_device(gpu) if gpu else None
    assert vllm_auto_dtype(stored, model_type, device, release) == served


@pytest.mark.parametrize(("stored", "model_type", "served"), [
    (F32, "gemma2", BF16), (F32, "gemma", BF16), (F32, "gemma3", BF16),  # Gemma: bfloat16
    (F32, "llama", F16), (F32, "bert", F16),  # "we use float16 for float32 models"
    (BF16, "llama", BF16), (F16, "gemma2", F16),  # 16-bit checkpoints keep their type
])
def test_sglang_auto_dtype(stored, model_type, served):
    assert sglang_auto_dtype(stored, model_type) == served


def test_a_float32_checkpoint_is_served_in_16_bits():
    """Gemma 2 9B stores float32 (config torch_dtype float32): vLLM and SGLang hold half of it, in
    bfloat16, and their auto KV cache follows; transformers and a GPU that cannot run 16 bits for it keep
    float32."""
    stored = paramscope.size("gemma-2-9b", context=1024, runtime="transformers").estimate
    for runtime in ("vllm", "sglang"):
        est = paramscope.size("gemma-2-9b", context=1024, runtime=runtime, gpu="h100-sxm").estimate
        assert 2 * est.weights_bytes == pytest.approx(stored.weights_bytes, rel=0.002)
        assert est.kv_type == "bf16"
        assert any("serves this float32 checkpoint in bfloat16" in line for line in est.explain)
    t4 = paramscope.size("gemma-2-9b", context=1024, runtime="vllm", gpu="t4").estimate
    assert t4.weights_bytes == stored.weights_bytes and t4.kv_type == "f32"


def test_what_is_not_cast():
    model = open_model("gemma-2-9b")
    assert served_in(model, "vLLM", F32, F32) == (model, ())  # already its type
    gguf_like = open_model("qwen3-8b")  # bfloat16: to float16 is the same size, nothing to do
    assert served_in(gguf_like, "vLLM", BF16, F16) == (gguf_like, ())
