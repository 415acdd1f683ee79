"""A journal that writes through: every event is in the ledger before `emit` returns. Real
orders need this — what is about to be sent must be on disk before it leaves the machine."""

from __future__ import annotations

from typing import Any


class WriteThroughJournal:
    """Events of one run (`run` is added to every payload), each appended at once."""

    def __init__(self, ledger: Any, run: str):
        self.ledger, self.run = ledger, run
        self.count = 0

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        self.ledger.append(kind, {"run": self.run, **payload})
        self.count += 1
