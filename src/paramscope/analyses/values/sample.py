"""The first few values of a tensor, decoded: what a learned number actually looks like.

Only the blocks that hold them are read (one 34-byte Q8_0 block gives 32 values), so this costs
nothing even on a 100 GB file. The values are in storage order, which is the first row of the
PyTorch-order shape ``(out, in)``: GGUF lists ``ne0`` (the row length) first and stores rows one after
another, exactly as safetensors stores a row-major array.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from paramscope.analyses.values.decode import decodable, dequantize

if TYPE_CHECKING:
    from paramscope.analyses.values.stats_engine import ByteSource
    from paramscope.model import Tensor

FIRST_VALUES = 8


def first_values(tensor: Tensor, source: ByteSource, n: int = FIRST_VALUES) -> tuple[float, ...]:
    """The first ``n`` values of ``tensor`` as floats; () for a packed or undecodable type."""
    dtype = tensor.dtype
    if tensor.weight_bits or not decodable(dtype) or tensor.n_elements == 0:
        return ()
    info = dtype.info
    take = min(n, tensor.n_elements)
    blocks = math.ceil(take / info.block_size)
    raw = np.array(source.view(tensor, 0, blocks * info.type_size), dtype=np.uint8).reshape(-1)
    values = dequantize(raw, dtype, blocks * info.block_size)
    return tuple(float(v) for v in values[:take])
