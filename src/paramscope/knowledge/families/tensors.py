"""The few tensor shapes every family is made of, written once: linear, norm, embedding.

Shapes are PyTorch's: ``nn.Linear(in, out).weight`` is (out, in). Tensors built from a config have no
file and no offset; bytes are exact for the config's dtype.
"""

from __future__ import annotations

import math

from paramscope.model import Tensor
from paramscope.model.dtypes import DType


class TensorList:
    """Collects tensors of one dtype; names are given without the trailing ``.weight``/``.bias``."""

    def __init__(self, dtype: DType):
        self.dtype = dtype
        self.items: list[Tensor] = []
        # bytes of a shape in the list's dtype: a model repeats a few shapes (DeepSeek-V3: 45k tensors)
        self._nbytes: dict[tuple[int, ...], int] = {}

    def add(self, name: str, *shape: int, dtype: DType | None = None, parameter: bool = True) -> None:
        if dtype is None or dtype is self.dtype:
            nbytes = self._nbytes.get(shape)
            if nbytes is None:
                nbytes = self._nbytes[shape] = self.dtype.nbytes(math.prod(shape))
            self.items.append(Tensor(name, shape, self.dtype, nbytes, None, None, 0, parameter))
            return
        nbytes = dtype.nbytes(math.prod(shape))
        self.items.append(Tensor(name, shape, dtype, nbytes, None, None, 0, parameter))

    def linear(self, name: str, out_features: int, in_features: int, bias: bool = False) -> None:
        self.add(f"{name}.weight", out_features, in_features)
        if bias:
            self.add(f"{name}.bias", out_features)

    def norm(self, name: str, dim: int, bias: bool = False) -> None:
        """RMSNorm (scale only) or LayerNorm (``bias=True``)."""
        self.add(f"{name}.weight", dim)
        if bias:
            self.add(f"{name}.bias", dim)

    def embedding(self, name: str, rows: int, dim: int) -> None:
        self.add(f"{name}.weight", rows, dim)
