"""numba's parallel kernels, made safe to call in a process forked from one that already ran them.

numba runs ``prange`` loops on a threading layer it picks at the first parallel call: TBB, OpenMP or
its own workqueue. GNU OpenMP (libgomp: numba's pick on Linux when TBB is absent) does not survive a
fork: a child of a process that ran a parallel region is killed by SIGTERM at its own first parallel
region ("Terminating: fork() called from a process already using GNU OpenMP, this is unsafe"). A
program that calls paramscope, forks (multiprocessing's default on Linux before Python 3.14) and calls
it again in the child would lose the child without a word.

``parallel_kernel`` compiles a kernel as ``numba.njit`` would and, in such a child only, calls a serial
twin instead: the same Python function compiled without ``parallel``, where ``prange`` is ``range``.
The answers are the same to the bit: the kernels split their work into a fixed number of parts (not
one per thread) and merge them in order. The twin is compiled on first use in a child and cached on
disk under its own name (``<kernel>_serial``): numba's cache files are named by a function's qualified
name and keyed by its signature, not by its options, so under the kernel's own name the twin would
replace the parallel build, and uncached every child would compile it again (seconds each).
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Callable
from typing import Any

from paramscope.analyses.kernel_options import JitOptions

_FORKED_AFTER_GNU_OPENMP = False


def _note_fork() -> None:
    """In a fork's child: did the parent run a parallel region on GNU OpenMP? (Then none may run here.)"""
    global _FORKED_AFTER_GNU_OPENMP
    layer = sys.modules.get("numba.np.ufunc.parallel")
    if _FORKED_AFTER_GNU_OPENMP or layer is None or not getattr(layer, "_is_initialized", False):
        return
    omp = sys.modules.get("numba.np.ufunc.omppool")
    if omp is not None and getattr(omp, "openmp_vendor", "GNU") == "GNU" and _layer_is_omp():
        _FORKED_AFTER_GNU_OPENMP = True


def _layer_is_omp() -> bool:
    import numba

    try:
        return bool(numba.threading_layer() == "omp")
    except ValueError:  # no layer launched
        return False


os.register_at_fork(after_in_child=_note_fork)


class ParallelKernel:
    """A ``numba.njit(parallel=True)`` kernel that runs its serial twin in a child forked after GNU
    OpenMP ran (see the module's docstring). Called from Python only, like every kernel here."""

    def __init__(self, fn: Callable[..., Any], options: JitOptions) -> None:
        from numba import njit

        parallel: JitOptions = {**options, "parallel": True}
        self.parallel = njit(**parallel)(fn)
        self._options = options
        self._serial: Any = None
        self.__name__ = getattr(fn, "__name__", "kernel")
        self.__doc__ = fn.__doc__

    def __call__(self, *args: Any) -> Any:
        if not _FORKED_AFTER_GNU_OPENMP:
            return self.parallel(*args)
        if self._serial is None:
            self._serial = self._serial_twin()
        return self._serial(*args)

    def _serial_twin(self) -> Any:
        from numba import njit

        fn = self.parallel.py_func
        twin = types.FunctionType(fn.__code__, fn.__globals__, f"{fn.__name__}_serial", fn.__defaults__,
                                  fn.__closure__)
        twin.__qualname__ = f"{fn.__qualname__}_serial"
        serial: JitOptions = {**self._options, "parallel": False}
        return njit(**serial)(twin)


def parallel_kernel(options: JitOptions) -> Callable[[Callable[..., Any]], ParallelKernel]:
    """Decorator: ``@parallel_kernel(OPTIONS)`` in place of ``@njit(**OPTIONS)`` for a ``prange`` kernel."""
    return lambda fn: ParallelKernel(fn, options)
