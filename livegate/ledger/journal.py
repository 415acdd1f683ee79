"""A journal that writes through: every event is in the ledger before `emit` returns — or, inside
`grouped()`, before the next `flush()`. Real orders need this: what is about to be sent must be on
disk before it leaves the machine."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class WriteThroughJournal:
    """Events of one run (`run` is added to every payload), each appended at once. `kept`, when
    given, also receives every (kind, payload) written (a live loop measures its stage on them
    without reading the ledger back).

    `grouped()`: the events this thread emits inside the block are appended together, in one
    transaction, when `flush()` is called and when the block ends (also on an exception). An
    executor calls `flush()` before every request that places an order, so what precedes the
    order is durable before it leaves; what follows its answer is written in one step after it —
    `grouped(wait_at_end=False)`: by whatever writes next — the next append, before what it
    appends, or `write_waiting()` once the answer is on its way (the caller answers without
    waiting for the disk). A crash
    between the answer and that step loses nothing a restart cannot find again at the venue (the
    order by its client id, its fills by the venue's trades)."""

    def __init__(self, ledger: Any, run: str, kept: list[tuple[str, dict[str, Any]]] | None = None):
        self.ledger, self.run, self.kept = ledger, run, kept
        self.count = 0
        self._local = threading.local()

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        held = getattr(self._local, "held", None)
        if held is not None:
            held.append((kind, {"run": self.run, **payload}))
            return
        self._write([(kind, {"run": self.run, **payload})])

    def flush(self) -> None:
        """Write what this thread's open group holds (nothing to do outside a group)."""
        held = getattr(self._local, "held", None)
        if held:
            items = list(held)
            held.clear()
            self._write(items)

    @contextmanager
    def grouped(self, wait_at_end: bool = True) -> Iterator[None]:
        if getattr(self._local, "held", None) is not None:  # already inside a group: one group
            yield
            return
        held: list[tuple[str, dict[str, Any]]] = []
        self._local.held = held
        try:
            yield
        finally:
            self._local.held = None
            if held and wait_at_end:
                self._write(held)
            elif held:
                self.ledger.append_later(held, on_written=self._written)

    def write_waiting(self) -> None:
        """Write what a group left waiting (`grouped(wait_at_end=False)`) now."""
        self.ledger.write_waiting()

    def _write(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        self._written(self.ledger.append_many(items))

    def _written(self, events: list[Any]) -> None:
        self.count += len(events)
        if self.kept is not None:
            self.kept.extend((e.kind, e.payload) for e in events)
