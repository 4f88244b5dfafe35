"""PyTorch checkpoints read by the restricted pickle interpreter, never by torch or pickle.

Checkpoints are built here byte by byte in torch's own layout (torch/serialization.py ``_save``: a zip of
``ARCHIVE/data.pkl`` in pickle protocol 2 and one stored member per storage; ``_legacy_save``: five
pickles and raw storages), and four files written by torch 2.13 itself are embedded below (a few KB,
zlib + base64). Where torch is installed, every built file is also loaded with
``torch.load(weights_only=True)`` and must agree tensor for tensor; torch is never needed otherwise.
"""

from __future__ import annotations

import base64
import pickle
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from builders.pickle_files import (
    OD,
    REBUILD_V2,
    SPECS,
    G,
    Pid,
    Put,
    R,
    Raw,
    dumps,
    legacy_storage,
    state_dict_checkpoint,
    storage,
    tensor,
    write_legacy,
    write_zip,
)
from paramscope.analyses.contents.inventory import inventory
from paramscope.analyses.safety.pickle_safety import HARMLESS, SAFE, UNSAFE, assess, judge
from paramscope.errors import ParamscopeError
from paramscope.formats import pickle_vm, pytorch
from paramscope.formats import safetensors as st
from paramscope.model.dtypes import DType

MINILM_PARAMS = 22_713_216  # all-MiniLM-L6-v2, as its safetensors file counts


def _fixture(*chunks: str) -> bytes:
    return zlib.decompress(base64.b64decode("".join(chunks)))



def read_view(path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    return {t.name: (t.shape, t.dtype.value) for t in pytorch.read(path).tensors}


def torch_view(path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """torch.load(weights_only=True) of the same file, flattened like our reader (skipped without torch)."""
    torch = pytest.importorskip("torch")
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
             torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
             torch.uint8: "U8", torch.bool: "BOOL", torch.float8_e4m3fn: "F8_E4M3", torch.uint16: "U16"}
    obj = torch.load(path, weights_only=True, map_location="cpu")
    return {name: (tuple(t.shape), names[t.dtype]) for name, t in _flat(obj, torch)}


def _flat(obj: Any, torch: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _flat(v, torch, f"{prefix}.{k}" if prefix else str(k))


# ---------------------------------------------------------------------------------------------------
# files written by torch 2.13 (/tmp generator: torch.save of the objects named in each test)

ZIP_PT = _fixture(
    "eNqlVs9v21Qcf/nlpG6WtmNbtzLKBgxSWNPYTtJk/ZHWK2HgSXRBkyIukZc4sYWb5Ou8tCsSUiWUAkLigDhwQiD+Ak4cuEy7ctpp"
    "OyCBBBdO/AFceM9OXfuVNlpi58VK9D4/vu+970feVkJhhGIxdOKaRueRatV0Y1dbqqtYTXU+MktyAn3ouw6CtVrbNLUaNtqtLv++"
    "Vdcsrb5l1DAPaKEMgWQlTshMdV+zUnua0dQxBGu4TYhT1R42zC5ftbQHPcOsV7HW6rat6q7IQyiZrEQJrktmqk0Nwg6EL5ltFX/g"
    "/MlDpBIgc9LAVULkWev0IKrEMcTuKUgJKeFDmFDCSuAQ+C906mUSQ7wM5yoTriGrvQcJnYjpYT2ic7oNn7pHUOE+TCuBPsw40PMY"
    "XijDhUqCqaWK4SKLv0Tlw0roEGaVAHVx2eG4gmGuDC9WJglHq23tHC3HVYdgUKFslyjk3CJfsosUYJ6whzG8bLP34Rp1d91hfgXD"
    "q2V4zWbWNbV+xHzjlIXuqJa6o2HN4uF1n/gd1Wy4wm/YwiIkHeEFKhxUgofwJnmQVX3LEb+JYbEMqc/tH0ufQboMQiVi753W6YLo"
    "E7jbbjVdAckWkCBDBAIYskRgYcEhzWFYLkO+EiQTGnkoDDkxEg+3jlVSg1PD32/h/Y5WdwVXbMEMrDoVrQ2Wcp0uZdER3hgYbdBd"
    "yFe1zI7UaPGwiUEuw237nPWEHGzptp7uMGbhbcLIYSjZJ68P71DGOw7juwPGntEi28rDexiUMtztpbaVaOzXZ19FVwgpHduntuIs"
    "2nBbMdUgR0fF1V3N6pKWK8mrTEc+3yVQFz//89untA46Tncxh5aPXQyWuKqaRrO1o7VwSZZGMZLLUAPFPfibbnXwTAMzqOgaeLCP"
    "tTYNm5K8Ms4CmAbGpkY99Nf+vMIRFe5MDwm07kvFpXRJvjWGAYf1oEi+NsiHjAMyvifjERl/kIE2SRaTcY2M9CZ1+vCTxnqaBt8Q"
    "pxf8ToWSPH3C6UHRuSlv8+LDOUoUG8K76ucVS3J+5BUgZPZN9X+5kTJH0JfG0Y8MWKn+uSePF0fQz4xV/0D76u9b14kgCg/R3vBr"
    "Z8ft/+Pqf/zh8U/Dz/8UWnMduBFUGN2CxFPtJ9817w/v/3kkHgeQXX5XswySQB+r9O2jatRLcuo5rQhiLp/NLUuFXCGXIbeYE4R0"
    "VpRyBUHIFApSNp0Ws2IhS11OPvvraZL4SNouA9Ss69Mb5NMnnLPvUSzaG8CzPuSXIXRa9LMk3hCd8wdnGJ2R3CyPNwhnfDxfe3jc"
    "AGbh3nRK+OCXIojJThbrTSA/9hGLFVisNz382MscgxVZrLfz/dhvWazEYr2dy+hGGWyGxXp7zo/9hsVmWay3Z6b86xxDbI+yYO9R"
    "nvfvsQf8/022rXDczaOWDC26yDjz/DfoPPMTRyHD0Vd6JA0mOG8bEc7BxO35ztz/AKQ122o="
)
LEGACY_PT = _fixture(
    "eNp9k9lu00AUhr1MWuqmJeyUNewOS2icBQchQStUIZmt5sY3yDLOEBu5ds540qpIlXKTUHgGLrjkMXgUbnkEJC44ziSBVAHbx6MZ"
    "z/m/f86Me8onLfr1eeNn8d3XlyvlnvLsh4rvPZB0pyBJUoclPPGTyN2mLA2TGGSc4CzhlyjkPKIujVuhF4Oy72g4yHc71E3D9zQF"
    "dQ+I7uRwMA0SxiFnKY6KvTDmMGcRh2QaSdyGeYt0u8j0ERNRnyMl1V6wFmW09Tj0uQZSyQZZd/JZhrdLWXmHhu2Ag+LzhPlB2e3y"
    "MEo1l9E33TBquZzGacLcbUMDVded+cwDzvTaFIhI0TaixOOvxKAGOWcZ5zSrzbppGBXTrBo1E+aGdv1OFx3mn3M4tGlJlmqRASxY"
    "xJIHoH0MMmeLHPI2LDkLE3ss2YHlANEBCWZKHw6EZGETlUgfjlhyH44KuWMcjttwYpj292pdDif/p3lqpHk6s0ksdQArlpy5PSN0"
    "z3I4Z8N5ZxFT44RtjYt4QYiO6rI+LEylMSnNxWlWs9po1KCILIKsS0NWHy5n/q8IzlUO12y4PuQE1GuNOTf+sVkdj3lblFOmgT5l"
    "5YkXvZ3YKB2wUatUDLg5snErs6FYygBuY4M7c0dYKXO4a8Pq/rBT+QCGDVVxIjntpFCbwj3FszjB1Q/g6lXDhAbiZMTdQ1ypJBAm"
    "h6YN97Pz+zr7Z2ZsjDyrgsqs9aizqISWs4P/5+o9xNcjfDB6GF8wvmF8x5DWJKmAUcRYXSOTDHGP+9IDccujbm7U/gbscAir"
)
LIGHTNING_PT = _fixture(
    "eNq9lb9v00AUxy9x4gQX0rRAfwGlTARRUjtO0pZflUJlBg+EIqQIhCzXucYWTuyzL4FWioSEKGJlg4GFhf8AMSI2NnbEwsTEwMLA"
    "wJ1NXdslbQGJJ1kXO+/73uf83jvXZSYFQDYLdlgejALV0XSjB+eaKlaL9l1TquXArYg9SPYRKDTSRABtS9NRQmYaHLlzsYqh0jQ0"
    "jJKaZpkm1LBhdVzumtOEDmwuk384xJxZQalGkvivaSitYYskLCpdbJgupzhwtWuYTQXDjms5Sq/EIbZQaGS86JajtiDK+BJOMi0V"
    "3/AfcijbSBAfHh1oMGTV7C7iZBajoesykJMys4kOyoyc2ESHnugUIIfR8ArKu4088dbXbegotuqobYih46KRPhr1CE0HHb669OYZ"
    "tee+s2Vjo21sEIG3XRcduYOO9tGY9z68R2i8jyZk0EeTHje8bytqr4WmdLITPaP7pAI6pnuExwPCEz7htE94EqOZFXTKdV21W6zL"
    "mezFx8u3XSKlV31gCcdBNihhcc1y2ipWemRPpA5SLeVVUqDRXn/9+JBy0GtwtCkwvx3tVwEU1TRanTbsYKkmxlpjX1YtU4Cle+gL"
    "fcXJXQFGwFIAsLqOoUU7Sapd+Ju8W2YaGJuQMjy69HmSJVnYXRly4HJkKuZ4qXb+HwDAAKNEM+/fvpwgvyf2IJqNEglSrQD+X/5h"
    "cDbIHzTX6f0CiBzN9OFF6+be9Z8Gpe0G9LbqQscgHbih0qNFMZpSrfiHteArVUHgFyolsSosVuf5SmmxLFR5sVJeFPnSgiiWKzxf"
    "qfCU8tuP758KhKPgUSYobMAZHsj8DvL4ORpXhwdwPKJ8lwCDRjgeJDxEU9HBSYJdJjceJzwII5E4T0NxggGMy8Ndk4vIxxgQm539"
    "a1/FtUJcG+6h4Yi2kALxDo2Lw6Wdju45JP5909Vllp3dalHmXKDMxtahpL8upLdGjKWfBHAl49/7p2+a9TVZz9/3/QnJ8qXs"
)
MODULE_PT = _fixture(
    "eNqlVt9v21QUdn40Sd2S/hhrabeVMgaksKVx0iTNytIRIBLyxLpsgIXELMdxYquunWNfNwxUaWhqt/4TkxD8BzzwwOh45gGJviHx"
    "NJ4mIeCBJ56497pNbKdpxbhSdON7vu983733HCdrfCTKMIkE0zfGmUlGsmRV21QWGxKS0u11vVpJMh/7xt2wjEyMShtGesNsOLpi"
    "p3XNUCSLveZOwCx8AaEtCKcEooIsSTM0owWRB8IIfhbbkiVtKEixbIhuwVBKiOHVjqK1VASxg+SigzTdZkVLqTua3uhxWIgPgCDF"
    "sE1L3MyykEilhDhOamOk1FJg2KWwVd2U0E13kQVWCGFMBkaECJ7ltgOjfALBczd4hg/z0R1I8lE+tANju7Js6roiI800bPa61VAs"
    "pfGOJiMWxhdqMIFgsganHqjk4fn7cLoGUwI+Y6auSTZMq3EV+1GHVVePgxfUUT6MYIbqbMMsH9qGM7uUfRbBuRrMualevA/zNXjJ"
    "oaco1p1mkxzZ+S14WThDVgzTENt4SbPx1tEhQLQVBBdkUSSngjRDFFm8wsIrn8Cr2/BaDVLCKZpPktc7koWP1lJE1TTXbVigsq8L"
    "Y764G3uDxi4KUySm2WLT0XU/Bi69LyRJtGlaHmKaEheF2b6Q2NGQKpIELRsyFMYJZ/thkt6R7tiiLOE7aECWAnPCpBfY28MSDeeF"
    "uSPDPskChRaFCQK1kYQUsYEv9SDRMo2WhNOBaE/qMkWsuDvDldU4GvYmhV1x76wPZtqHgmWKW3Vv+6Cz4OoWvEW7Bl9kU5GQY+HF"
    "Ch8VRvGa6aDe4tt82Kmn1/h44pedj758iEuafNYGdvs0c67b7Wl8UBsSEjdJNZlGtTITaHrP4IjEt3/+eo8UM/kMlphlij2Jg17E"
    "t6m1jA1csNVKbrDK4FFYIgZWO/A0jCXCxxqYYFa7Bup3kGKS1q1WVp5F93DoGkK6QjxsX/lthry6Ysd6SDJl31t1MVOtXP4fBphb"
    "zne3b+2Wp77Z37vbfLT3d/bdvd/54fLV6+cf/fTPj2Xi7MnjJ7fnsfb8Cc4u+J1x1cr8ic7aj/PfX/s8TnVu/vD0a5I4cazOGLPS"
    "1elWWPFZjyDHEuWfH7Y+OPn+55hsrwDpFm3F0nAFfiaRd7moNaqV9H80kskXOC6znM/mClypUMzks6WlDLe0nFsulXJFLpfPcBxX"
    "4PLEZWn/va9S2EeKugwRs12f3i4d73Me/B0Osr0NOO1j/hFhBvV1MIm3iWZ9SW5EmWM6N5jH2wgTvjz7njzdBgzSvdWa9NE/HGIC"
    "vRPkeivQz/0ryOWCXG8Njfm45B9JoGKDZO/Vzvn37CEfXXRrfCx28bBEI5e6zERgHgm786dxd8Y8+u3esPvsvn2HYi4nQfEu9l/D"
    "q4Pc"
)


def embedded(tmp_path: Path, data: bytes, name: str = "model.pt") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ZIP_PT: OrderedDict(layer.weight = arange(12).reshape(3, 4) f32, layer.row = layer.weight[1],
# layer.weight_t = layer.weight.t(), norm.weight bf16 (4,), head.weight = Parameter f16 (2, 2),
# steps = tensor(5) i64, f8 = zeros(4) float8_e4m3fn, u16 = zeros(3) uint16)
ZIP_EXPECTED = {"layer.weight": ((3, 4), "F32"), "norm.weight": ((4,), "BF16"),
                "head.weight": ((2, 2), "F16"), "steps": ((), "I64"), "f8": ((4,), "F8_E4M3"),
                "u16": ((3,), "U16")}


def test_torch_zip_file(tmp_path: Path) -> None:
    path = embedded(tmp_path, ZIP_PT)
    model = pytorch.read(path)
    assert read_view(path) == ZIP_EXPECTED
    # the row and the transpose are views of layer.weight's bytes: counted once, and said so
    assert model.metadata["views"] == {"layer.row": "layer.weight", "layer.weight_t": "layer.weight"}
    assert model.params == 12 + 4 + 4 + 1 + 4 + 3
    weight = next(t for t in model.tensors if t.name == "layer.weight")
    raw = path.read_bytes()[weight.offset:weight.offset + weight.nbytes]
    assert struct.unpack("<12f", raw) == tuple(float(i) for i in range(12))
    assert model.metadata["byteorder"] == "little"
    verdict = assess(model)
    assert verdict is not None and verdict.status == SAFE and verdict.exit_code == 0
    names = {g.qualname for g in verdict.globals}
    assert {"torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
            "torch._utils._rebuild_parameter", "collections.OrderedDict", "torch.FloatStorage",
            "torch.storage.UntypedStorage", "torch.float8_e4m3fn"} <= names


def test_torch_zip_file_agrees_with_torch(tmp_path: Path) -> None:
    path = embedded(tmp_path, ZIP_PT)
    theirs = torch_view(path)
    ours = read_view(path)
    assert {k: v for k, v in theirs.items() if k in ours} == ours
    assert set(theirs) - set(ours) == {"layer.row", "layer.weight_t"}


def test_torch_legacy_file(tmp_path: Path) -> None:
    path = embedded(tmp_path, LEGACY_PT, "legacy.pth")
    model = pytorch.read(path)
    assert read_view(path) == {k: v for k, v in ZIP_EXPECTED.items() if k not in ("f8", "u16")}
    assert set(model.metadata["views"]) == {"layer.row", "layer.weight_t"}
    weight = next(t for t in model.tensors if t.name == "layer.weight")
    raw = path.read_bytes()[weight.offset:weight.offset + weight.nbytes]
    assert struct.unpack("<12f", raw) == tuple(float(i) for i in range(12))
    assert assess(model).status == SAFE


def test_torch_lightning_style_file(tmp_path: Path) -> None:
    """{"epoch", "state_dict", "hyper_parameters", "optimizer_states"}: the state dict is the model."""
    path = embedded(tmp_path, LIGHTNING_PT, "last.ckpt")
    model = pytorch.read(path)
    assert [(t.name, t.shape) for t in model.tensors] == [("fc", (2, 3))]
    assert model.metadata["state_dict_path"] == "state_dict"


def test_torch_whole_module_is_flagged(tmp_path: Path) -> None:
    """torch.save(nn.Linear(4, 2)) names the class: weights_only=True refuses it, and so do we."""
    path = embedded(tmp_path, MODULE_PT)
    model = pytorch.read(path)
    assert {t.name: t.shape for t in model.tensors} == {"weight": (2, 4), "bias": (2,)}
    verdict = assess(model)
    assert verdict.status == UNSAFE and verdict.exit_code == 2
    assert "torch.nn.modules.linear.Linear" in {g.qualname for g in verdict.flagged}


# ---------------------------------------------------------------------------------------------------

def test_built_checkpoint(tmp_path: Path) -> None:
    path = state_dict_checkpoint(tmp_path / "pytorch_model.bin", SPECS)
    model = pytorch.read(path)
    assert [(t.name, t.shape, t.dtype) for t in model.tensors] == [(s.name, s.shape, s.dtype) for s in SPECS]
    for t in model.tensors:
        n = t.n_elements * t.dtype.type_size
        assert t.nbytes == n
        assert path.read_bytes()[t.offset:t.offset + n] == bytes(x % 251 for x in range(n))
    by_name = {t.name: t for t in model.tensors}
    assert not by_name["position_ids"].is_parameter  # the packing table's buffers apply here too
    assert model.params == sum(t.n_elements for t in model.tensors) - 16
    assert model.format == "pytorch" and model.files == (str(path),)


def test_built_checkpoint_agrees_with_torch(tmp_path: Path) -> None:
    path = state_dict_checkpoint(tmp_path / "pytorch_model.bin", SPECS)
    assert torch_view(path) == read_view(path)


@pytest.mark.parametrize("wrap", ["state_dict", "model", "module", "model_state_dict"])
def test_nested_state_dict(tmp_path: Path, wrap: str) -> None:
    path = state_dict_checkpoint(tmp_path / "ckpt.pt", SPECS[:3], wrap=wrap)
    model = pytorch.read(path)
    assert [t.name for t in model.tensors] == [s.name for s in SPECS[:3]]
    assert model.metadata["state_dict_path"] == wrap


def test_unwrapped_nesting_names_by_path(tmp_path: Path) -> None:
    st_ = storage("0", DType.F32, 4)
    obj = {"encoder": OD((("w", tensor(st_, (2, 2))),)), "heads": [tensor(storage("1", DType.F32, 2), (2,))]}
    path = write_zip(tmp_path / "m.pt", dumps(obj), {"0": bytes(16), "1": bytes(8)})
    assert read_view(path) == {"encoder.w": ((2, 2), "F32"), "heads.0": ((2,), "F32")}


def test_same_tensor_twice_and_views_counted_once(tmp_path: Path) -> None:
    """A tied weight pickled twice (the same memoized object) and a slice of one storage: each byte
    counted once."""
    st_ = storage("0", DType.F32, 12)
    items = (("embed.weight", Put(tensor(st_, (3, 4)), 7)), ("lm_head.weight", Raw(b"h\x07")),
             ("row", tensor(st_, (4,), (1,), 4)), ("other", tensor(storage("1", DType.F32, 3), (3,))))
    path = write_zip(tmp_path / "tied.bin", dumps(OD(items)), {"0": bytes(48), "1": bytes(12)})
    model = pytorch.read(path)
    assert [t.name for t in model.tensors] == ["embed.weight", "other"]
    assert model.params == 15
    assert model.metadata["aliases"] == {"lm_head.weight": "embed.weight"}
    assert model.metadata["views"] == {"row": "embed.weight"}


def test_disjoint_slices_of_one_storage_both_count(tmp_path: Path) -> None:
    st_ = storage("0", DType.F32, 8)
    items = (("a", tensor(st_, (4,), offset=0)), ("b", tensor(st_, (4,), offset=4)))
    path = write_zip(tmp_path / "split.bin", dumps(OD(items)), {"0": bytes(32)})
    model = pytorch.read(path)
    assert [(t.name, t.offset - model.tensors[0].offset) for t in model.tensors] == [("a", 0), ("b", 16)]


def test_parameter_and_subclass_rebuilds(tmp_path: Path) -> None:
    st0, st1, st2 = storage("0", DType.F32, 4), storage("1", DType.F16, 2), storage("2", DType.F32, 1)
    items = (
        ("param", R(G("torch._utils", "_rebuild_parameter"), (tensor(st0, (2, 2)), True, OD()))),
        ("subclass", R(G("torch._tensor", "_rebuild_from_type_v2"),
                       (REBUILD_V2, G("torch.nn.parameter", "Parameter"),
                        (st1, 0, (2,), (1,), False, OD()), {}))),
        ("v1", R(G("torch._utils", "_rebuild_tensor"), (st2, 0, (1,), (1,)))),
        ("size", R(G("torch", "Size"), ((2, 3),))),
        ("device", R(G("torch", "device"), ("cpu",))),
    )
    path = write_zip(tmp_path / "p.pt", dumps(OD(items)), {"0": bytes(16), "1": bytes(4), "2": bytes(4)})
    assert read_view(path) == {"param": ((2, 2), "F32"), "subclass": ((2,), "F16"), "v1": ((1,), "F32")}
    assert assess(pytorch.read(path)).status == SAFE


def test_untyped_storage_v3(tmp_path: Path) -> None:
    st_ = Pid(("storage", G("torch.storage", "UntypedStorage"), "0", "cpu", 8))
    t = R(G("torch._utils", "_rebuild_tensor_v3"),
          (st_, 0, (4,), (1,), False, OD(), G("torch", "bfloat16")))
    path = write_zip(tmp_path / "v3.pt", dumps(OD((("w", t),))), {"0": bytes(8)})
    assert read_view(path) == {"w": ((4,), "BF16")}


def test_deflated_data_pkl(tmp_path: Path) -> None:
    path = state_dict_checkpoint(tmp_path / "a.pt", SPECS[:2])
    pkl = dumps(OD((("w", tensor(storage("0", DType.F32, 240), (30, 8))),)))
    path = write_zip(tmp_path / "deflated.pt", pkl, {"0": bytes(960)}, pkl_method=zipfile.ZIP_DEFLATED)
    assert read_view(path) == {"w": ((30, 8), "F32")}


def test_legacy_built_file(tmp_path: Path) -> None:
    st0, st1 = legacy_storage("0", DType.F32, 6), legacy_storage("1", DType.F16, 2)
    obj = OD((("w", tensor(st0, (2, 3))), ("b", tensor(st1, (2,)))))
    path = write_legacy(tmp_path / "old.pt", obj, {"0": (6, bytes(24)), "1": (2, b"\x00<" * 2)})
    model = pytorch.read(path)
    assert [(t.name, t.shape, t.dtype) for t in model.tensors] == [("w", (2, 3), DType.F32),
                                                                    ("b", (2,), DType.F16)]
    b = model.tensors[1]
    assert path.read_bytes()[b.offset:b.offset + 4] == b"\x00<\x00<"


def test_legacy_built_file_agrees_with_torch(tmp_path: Path) -> None:
    st0 = legacy_storage("0", DType.F32, 6)
    path = write_legacy(tmp_path / "old.pt", OD((("w", tensor(st0, (2, 3))),)), {"0": (6, bytes(24))})
    assert torch_view(path) == read_view(path)


def test_plain_pickle_has_no_tensors_but_a_verdict(tmp_path: Path) -> None:
    path = tmp_path / "numbers.pkl"
    path.write_bytes(pickle.dumps({"a": [1, 2, 3]}, protocol=4))
    model = pytorch.read(path)
    assert model.tensors == () and assess(model).status == SAFE


def test_numpy_pickle_is_harmless_not_safe(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    path = tmp_path / "array.pkl"
    path.write_bytes(pickle.dumps({"a": np.zeros(3)}, protocol=2))
    verdict = assess(pytorch.read(path))
    assert verdict.status == HARMLESS and verdict.exit_code == 0
    assert "numpy" in verdict.summary


def test_sniff() -> None:
    assert pytorch.sniff(b"PK\x03\x04" + bytes(22) + b"\x10\x00\x00\x00archive/data.pkl", Path("x"))
    assert pytorch.sniff(b"\x80\x02\x8a\x0al", Path("model.weights"))
    assert pytorch.sniff(b"junk", Path("model.pth"))
    assert not pytorch.sniff(b"GGUF\x03\x00", Path("model.gguf"))


# ---------------------------------------------------------------------------------------------------
# the interpreter against CPython's own unpickler, on plain data (where running it is harmless)

def plain(value: Any) -> Any:
    """Our records as Python values, to compare with pickle.loads."""
    if isinstance(value, pickle_vm.PDict):
        return {k: plain(v) for k, v in value.entries.items()}
    if isinstance(value, pickle_vm.PSet):
        items = {plain(v) for v in value.items}
        return frozenset(items) if value.frozen else items
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    return value


scalars = hs.none() | hs.booleans() | hs.integers(-(2**70), 2**70) | hs.floats(allow_nan=False) \
    | hs.text(max_size=20) | hs.binary(max_size=300)
values = hs.recursive(scalars, lambda inner: hs.lists(inner, max_size=4)
                      | hs.tuples(inner, inner) | hs.dictionaries(hs.text(max_size=5), inner, max_size=4)
                      | hs.frozensets(hs.integers(), max_size=3), max_leaves=20)


@pytest.mark.slow  # runs long: hypothesis against CPython's unpickler
@settings(max_examples=300, deadline=None)
@given(value=values, protocol=hs.integers(0, 5))
def test_interpreter_agrees_with_pickle(value: Any, protocol: int) -> None:
    data = pickle.dumps(value, protocol=protocol)
    ours = pickle_vm.run(data, "x")
    assert plain(ours.value) == pickle.loads(data)
    assert ours.end == len(data)


def test_memo_and_shared_references() -> None:
    shared = [1, 2]
    data = pickle.dumps({"a": shared, "b": shared}, protocol=2)
    value = pickle_vm.run(data, "x").value
    assert value.entries["a"] is value.entries["b"]


def test_unhashable_keys_are_kept_apart() -> None:
    data = dumps(Raw(b"}(" + b"](e" + b"K\x01" + b"u"))
    value = pickle_vm.run(data, "x").value
    assert value.entries == {} and len(value.other) == 1


def test_verdict_lists_every_global() -> None:
    v = judge("f", [("os", "system", 1, 1), ("collections", "OrderedDict", 2, 2), ("numpy", "dtype", 1, 1),
                    ("mylib", "Model", 1, 0)])
    assert v.status == UNSAFE and [g.qualname for g in v.flagged] == ["os.system", "mylib.Model"]
    assert v.summary.startswith("loading it with torch.load(weights_only=False) could run code: os.system")


# ---------------------------------------------------------------------------------------------------
# a real model: all-MiniLM-L6-v2's weights, as a pytorch_model.bin

def minilm_checkpoint(minilm_dir: Path, path: Path) -> Path:
    """The safetensors weights re-saved in torch's zip layout, storage bytes copied as they are."""
    header = st.read_header(minilm_dir / "model.safetensors")
    raw = (minilm_dir / "model.safetensors").read_bytes()
    items, storages = [], {}
    for i, t in enumerate(header.tensors):
        storages[str(i)] = raw[t.offset:t.offset + t.nbytes]
        items.append((t.name, tensor(storage(str(i), t.dtype, t.n_elements), t.shape)))
    return write_zip(path, dumps(OD(tuple(items))), storages, archive="pytorch_model")


@pytest.fixture(scope="module")
def minilm_bin(minilm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return minilm_checkpoint(minilm_dir, tmp_path_factory.mktemp("minilm") / "pytorch_model.bin")


def test_minilm_pytorch_counts(minilm_bin: Path, minilm_dir: Path) -> None:
    ours = pytorch.read(minilm_bin)
    reference = st.read(minilm_dir / "model.safetensors")
    assert inventory(ours).total_params == inventory(reference).total_params == MINILM_PARAMS
    assert [(t.name, t.shape, t.dtype, t.nbytes) for t in ours.tensors] == \
        [(t.name, t.shape, t.dtype, t.nbytes) for t in reference.tensors]
    assert assess(ours).status == SAFE


def test_minilm_agrees_with_torch_load(minilm_bin: Path) -> None:
    assert torch_view(minilm_bin) == read_view(minilm_bin)


def test_minilm_saved_by_torch(minilm_dir: Path, tmp_path: Path) -> None:
    """torch 2.13 itself writes the checkpoint (both formats); counts equal the safetensors file's."""
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    state = load_file(minilm_dir / "model.safetensors")
    for legacy in (False, True):
        path = tmp_path / f"pytorch_model_{legacy}.bin"
        torch.save(state, path, _use_new_zipfile_serialization=not legacy)
        model = pytorch.read(path)
        assert inventory(model).total_params == MINILM_PARAMS
        assert torch_view(path) == read_view(path)


def test_reading_never_imports_torch(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = embedded(tmp_path, ZIP_PT)
    code = ("import sys; from paramscope.formats import pytorch; pytorch.read(sys.argv[1]); "
            "assert 'torch' not in sys.modules and 'pickle' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=60)


def test_errors_are_paramscope_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ParamscopeError):
        pytorch.read(path)
