"""``paramscope zoo``: inventory, safety and shared tensors of many model files, on Dask distributed.

    walk.py     paths and fsspec URLs → one item per model file, shards grouped into models
    task.py     one file → one row: format, family, parameters, bytes by type, safety, tensor hashes
    run.py      the items as tasks on a Dask cluster; rows to Parquet as they arrive; resume
    store.py    the Parquet dataset: schema, parts written whole, what is already done
    summary.py  the table → totals, unsafe files, duplicate tensors, same-model and same-base groups

Dask, pyarrow and fsspec are the ``zoo`` extra; the application function is ``app/zoo.py``.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paramscope.app.zoo import ZooResult


class _CallableModule(types.ModuleType):
    """``paramscope.zoo`` is this package and the public function at once: importing the package sets
    the attribute ``zoo`` of ``paramscope`` to it (the import system does), which would otherwise hide
    the function ``paramscope.zoo(...)``; calling the package calls the function."""

    def __call__(self, *args: Any, **kwargs: Any) -> ZooResult:
        from paramscope.app.zoo import zoo

        return zoo(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
