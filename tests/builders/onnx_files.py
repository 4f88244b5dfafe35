"""ONNX models built with onnx's own helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def linear_model(initializers: list[TensorProto], nodes: list | None = None) -> onnx.ModelProto:
    """x (1, 4) → MatMul W (4, 3) → Add B (3,) → Reshape by an int64 shape constant."""
    nodes = nodes if nodes is not None else [
        helper.make_node("MatMul", ["x", "W"], ["y"]), helper.make_node("Add", ["y", "B"], ["z"]),
        helper.make_node("Reshape", ["z", "shape"], ["out"])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, [3])
    graph = helper.make_graph(nodes, "linear", [x], [out], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="tests")


def weights() -> list[TensorProto]:
    return [numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "W"),
            numpy_helper.from_array(np.ones(3, dtype=np.float16), "B"),
            numpy_helper.from_array(np.array([3], dtype=np.int64), "shape")]


def save(model: onnx.ModelProto, path: Path, **external: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path, **external)
    return path

