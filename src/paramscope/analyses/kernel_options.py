"""The keyword options the numba kernels pass to ``numba.njit`` (typing only; imports no numba).

numba's stubs type ``njit``'s keywords one by one (``parallel: bool``, ``inline: Literal[...]``, ...).
A plain dict literal infers ``dict[str, bool]``, and ``njit(**options)`` then matches no overload, since
any key could be ``inline``. Annotating the options with this TypedDict says which keys they hold.
"""

from __future__ import annotations

from typing import TypedDict


class JitOptions(TypedDict, total=False):
    parallel: bool
    cache: bool
    nogil: bool
    fastmath: bool
