"""Answers about one model kept by the model's identity.

Searches (devices needed, the longest context, the largest batch, the fit matrix) ask the same question
of one model dozens of times while only a context or a batch changes, and each answer walks every tensor:
DeepSeek-V3 has 90k. A ``Model`` is frozen, so an answer about it stays true while it lives. Entries are
keyed by ``id(model)`` with the model kept in the entry, so the id cannot be reused while the entry lives;
the oldest entry goes first.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ModelMemo(Generic[T]):
    """The last ``size`` answers, each for one model and one key (the question's other arguments)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: dict[tuple[Hashable, ...], tuple[Any, T]] = {}

    def get(self, model: Any, key: Hashable, compute: Callable[[], T]) -> T:
        full = (id(model), key)
        hit = self._entries.get(full)
        if hit is not None and hit[0] is model:
            return hit[1]
        answer = compute()
        if len(self._entries) >= self.size:
            self._entries.pop(next(iter(self._entries)))  # the oldest
        self._entries[full] = (model, answer)
        return answer
