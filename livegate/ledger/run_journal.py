"""The run's journal: engine events buffered and written to the ledger together with a
checkpoint of the engine's state, in one transaction. A crash loses only what was not yet
committed, and a resume restarts from the last checkpoint: nothing is lost or doubled."""

from __future__ import annotations

from typing import Any


class LedgerJournal:
    def __init__(self, ledger, run_id: str):
        self.ledger = ledger
        self.run_id = run_id
        self.buffer: list[tuple[str, dict[str, Any]]] = []
        self.seconds = 0.0  # time spent writing (benchmarks report the ledger's share)

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        self.buffer.append((kind, {"run": self.run_id, **payload}))

    def commit(self, checkpoint: dict[str, Any] | None = None, extra: list[tuple[str, dict[str, Any]]] = ()) -> None:
        import time

        items = list(self.buffer)
        if checkpoint is not None:
            items.append(("paper_checkpoint", {"run": self.run_id, **checkpoint}))
        items += [(k, {"run": self.run_id, **p}) for k, p in extra]
        if not items:
            return
        t0 = time.perf_counter()
        self.ledger.append_many(items)
        self.seconds += time.perf_counter() - t0
        self.buffer.clear()

    def discard(self) -> None:
        """Drop what was not committed (the run stops at its last checkpoint)."""
        self.buffer.clear()
