"""The ledger's clock of a workspace: `livegate.core.ledger_clock` over its event timestamps, for
the durations that open a gate — a micro-live stage's hours, the days at a capital level — and
the check that the wall clock did not go back behind the ledger."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from livegate.core.ledger_clock import LedgerClock, LedgerSpan
from livegate.ledger import queries


class LedgerClockReader:
    """The time the ledger at `path` shows since event `start_event`, read incrementally: each
    `span` reads only the events written since the last one (the go-live loop asks every turn)."""

    def __init__(self, path: Path, start_event: int, what: str):
        self.path = path
        self.clock = LedgerClock(what, start_event)
        self.next_id = max(1, start_event - 1)  # the event before the start: a backdated start counts from it

    def span(self, now: Callable[[], float] = time.time) -> LedgerSpan:
        """Read what is new, then the wall clock (after: an event written meanwhile is not ahead
        of it). ClockWentBackwards when the wall clock reads earlier than the ledger's time."""
        with queries.reading(self.path) as conn:
            stamps = queries.timestamps(conn, self.next_id)
        self.clock.feed(stamps)
        if stamps:
            self.next_id = stamps[-1][0] + 1
        return self.clock.span(int(now() * 1000))


def span_since(ledger_path: Path, start_event: int, what: str, now: Callable[[], float] = time.time) -> LedgerSpan:
    """The time the ledger shows from event `start_event` to its highest timestamp since, checked
    against the wall clock `now` (ClockWentBackwards when that reads earlier)."""
    return LedgerClockReader(ledger_path, start_event, what).span(now)


def check_now(ledger_path: Path, what: str, now: Callable[[], float] = time.time) -> None:
    """ClockWentBackwards when the wall clock reads earlier than the ledger's latest event:
    before a duration starts or resumes, so nothing is written on a clock that went back."""
    with queries.reading(ledger_path) as conn:
        last = queries.head(conn)["last_event_id"]
    if last is not None:
        span_since(ledger_path, last, what, now)
