"""Name -> factory registries that fail loudly with close-name suggestions."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from .errors import BadInputError

T = TypeVar("T")


def unknown_name_message(kind: str, name: str, known: Iterable[str]) -> str:
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown {kind} {name!r}{hint} (known: {', '.join(known) or 'none'})"


class Registry(Generic[T]):
    """A registry of named factories; nothing is imported or built until `get`."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Callable[[], T]] = {}

    def register(self, name: str, loader: Callable[[], T]) -> None:
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self._items[name] = loader

    def names(self) -> list[str]:
        return sorted(self._items)

    def get(self, name: str) -> T:
        if name not in self._items:
            raise BadInputError(unknown_name_message(self.kind, name, self._items))
        return self._items[name]()
