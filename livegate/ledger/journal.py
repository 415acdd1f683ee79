"""A journal that writes through: every event is in the ledger before `emit` returns. Real
orders need this — what is about to be sent must be on disk before it leaves the machine."""

from __future__ import annotations

from typing import Any


class WriteThroughJournal:
    """Events of one run (`run` is added to every payload), each appended at once. `kept`, when
    given, also receives every (kind, payload) written (a live loop measures its stage on them
    without reading the ledger back)."""

    def __init__(self, ledger: Any, run: str, kept: list[tuple[str, dict[str, Any]]] | None = None):
        self.ledger, self.run, self.kept = ledger, run, kept
        self.count = 0

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        event = self.ledger.append(kind, {"run": self.run, **payload})
        self.count += 1
        if self.kept is not None:
            self.kept.append((kind, event.payload))
