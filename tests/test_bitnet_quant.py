"""BitNet b1.58 checkpoints (quant_method "bitnet"), priced as stored from config.json alone: transformers'
BitLinear (integrations/bitnet.py) stores four ternary weights a byte along the output rows and one scale
in the model dtype; AutoBitLinear's offline checkpoints are packed alike (BitNetDeserialize unpacks them),
its online mode keeps plain weights."""

from __future__ import annotations

import json

import numpy as np
from safetensors.numpy import save_file

import paramscope
from paramscope.model.dtypes import DType

# a small BitNetForCausalLM (transformers models/bitnet: relu2 MLP, sub-norms)
CONFIG = {"architectures": ["BitNetForCausalLM"], "model_type": "bitnet", "hidden_size": 256,
          "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 4,
          "num_key_value_heads": 2,
          "vocab_size": 1024, "max_position_embeddings": 512, "hidden_act": "relu2", "rms_norm_eps": 1e-5,
          "rope_theta": 500000.0, "tie_word_embeddings": True, "torch_dtype": "bfloat16"}
OFFLINE = {"linear_class": "autobitlinear", "quant_method": "bitnet", "quantization_mode": "offline"}


def _open(tmp_path, qc):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**CONFIG, "quantization_config": qc}))
    return paramscope.open_model(str(path))


def test_packed_four_to_a_byte(tmp_path):
    m = _open(tmp_path, OFFLINE)
    ts = {t.name: (t.dtype, t.shape) for t in m.tensors}
    down = "model.layers.0.mlp.down_proj"
    assert ts[down + ".weight"] == (DType.U8, (256 // 4, 512))
    assert ts[down + ".weight_scale"] == (DType.BF16, (1,))
    assert ts["model.embed_tokens.weight"] == (DType.BF16, (1024, 256))
    plain = paramscope.open_model(str(_plain(tmp_path)))
    assert m.params == plain.params  # the packed rows count their ternary weights
    # each layer's seven Linears (q 256², k and v 128 × 256, o 256², gate and up 512 × 256, down 256 × 512):
    # two bytes a weight become a quarter byte, plus a 2-byte scale each
    linear = 2 * (256 * 256 * 2 + 128 * 256 * 2 + 512 * 256 * 3)
    assert m.tensor_bytes == plain.tensor_bytes - 2 * linear + linear // 4 + 2 * 7 * 2


def test_online_mode_and_exclusions(tmp_path):
    (tmp_path / "online").mkdir()
    online = _open(tmp_path / "online", {**OFFLINE, "quantization_mode": "online"})
    assert {t.dtype for t in online.tensors} == {DType.BF16}
    (tmp_path / "skip").mkdir()
    skip = _open(tmp_path / "skip", {**OFFLINE, "modules_to_not_convert": ["model.layers.1.mlp"]})
    ts = {t.name: t.dtype for t in skip.tensors}
    assert ts["model.layers.1.mlp.down_proj.weight"] == DType.BF16
    assert ts["model.layers.0.mlp.down_proj.weight"] == DType.U8


def test_a_written_checkpoint_reads_back(tmp_path):
    listed = _open(tmp_path, OFFLINE)
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**CONFIG, "quantization_config": OFFLINE}))
    types = {DType.U8: np.uint8, DType.BF16: np.uint16}
    save_file({t.name: np.zeros(t.shape, types[t.dtype]) for t in listed.tensors},
              str(folder / "model.safetensors"))
    read = paramscope.inspect(str(folder))
    assert read.inventory.total_params == paramscope.inspect(str(_plain(tmp_path))).inventory.total_params


def _plain(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps(CONFIG))
    return folder / "config.json"
