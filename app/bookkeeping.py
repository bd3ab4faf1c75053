"""Per-page bookkeeping that lives in the session: messages for the next run, and a small memo of
computed results. Plain Python (no Streamlit), so the session's state stays inspectable in tests."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable


@dataclass
class Messages:
    """Errors and notes raised by callbacks or by a live tick, shown (once) by the next page run."""

    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def error(self, text: str) -> None:
        self.errors.append(text)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def take(self) -> tuple[list[str], list[str]]:
        out = (self.errors, self.notes)
        self.errors, self.notes = [], []
        return out


class Memo:
    """The last ``size`` results by key: reruns that change nothing do not recompute. A computation
    that raises is not remembered, so the next run tries again."""

    def __init__(self, size: int = 32):
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = compute()
        self._items[key] = value
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return value


class PerDrawing:
    """One value per name (a live page's figures), kept while the run's drawing (the object its worker
    last published) and the options stay the same. A live fragment reruns every tick, but the drawing
    changes only every ``draw_every_s``: the page builds its heavy figures once per drawing, and
    re-sends an unchanged figure, which the browser does not draw again. Without a drawing nothing is
    kept."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[Any, Hashable, Any]] = {}

    def get(self, name: str, drawing: Any, options: Hashable, build: Callable[[], Any]) -> Any:
        hit = self._items.get(name)
        if drawing is not None and hit is not None and hit[0] is drawing and hit[1] == options:
            return hit[2]
        value = build()
        self._items[name] = (drawing, options, value)
        return value

    def last(self, name: str) -> Any:
        """The value last built for ``name`` (None before the first): what the page showed."""
        hit = self._items.get(name)
        return hit[2] if hit is not None else None
