"""Durations on the ledger's clock (SPEC §4: time requirements use the ledger's clock records,
not the wall clock alone): a micro-live stage's hours, the days at a capital level.

A duration runs from its start event to the ledger's highest timestamp since — never to the
wall clock, which anyone can move (`faketime`). The wall clock only has to agree: when it reads
earlier than that highest timestamp, time went backwards (the clock was set back, or events
were written under a clock set forward) and nothing is counted (`ClockWentBackwards`).

The ledger's own timestamps must go forward too. Time counts only while the ledger's clock is
past its previous highest reading (its high-water mark): where a timestamp goes back, the
time up to that step does not count — counting starts again once the clock has passed the
highest time before the step. A start event earlier than the event before it counts from that
event's time. So a stretch written under a clock set forward and then set right again does not
count, nor does a backdated start. Steps back within `CLOCK_SLACK_MS` are the clock's own
adjustments (NTP) and ignored.

Pure: the caller reads the (event id, timestamp) pairs and the wall clock."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from livegate.core.errors import GateClosed
from livegate.core.timeparse import iso_to_ms, ms_to_iso

CLOCK_SLACK_MS = 60_000  # a step back this small is the clock being adjusted, not time travel
HOUR_MS, DAY_MS = 3_600_000, 86_400_000


class ClockWentBackwards(GateClosed):
    """The wall clock reads earlier than the ledger's latest time: no duration is counted."""


@dataclass(frozen=True)
class LedgerSpan:
    """How long the ledger's clock says passed since `start_event`: `elapsed_ms`, counted from
    `counted_from_ms` (the start, or the high-water mark at the latest step back) to
    `highest_ms` (event `highest_event`). `backwards` describes the latest step back."""

    start_event: int
    counted_from_ms: int
    highest_ms: int
    highest_event: int
    backwards: str | None = None

    @property
    def elapsed_ms(self) -> int:
        return max(0, self.highest_ms - self.counted_from_ms)

    @property
    def hours(self) -> float:
        return self.elapsed_ms / HOUR_MS

    @property
    def days(self) -> float:
        return self.elapsed_ms / DAY_MS

    def describe(self) -> str:
        """One clause: from when to when the ledger counts, and why it restarted, if it did."""
        text = f"ledger time from {ms_to_iso(self.counted_from_ms)} to event #{self.highest_event} at {ms_to_iso(self.highest_ms)}"
        if self.backwards:
            text += f"; the ledger's clock went backwards ({self.backwards}), so only the time after that counts"
        return text


@dataclass
class LedgerClock:
    """Follows the ledger's timestamps from `start_event` on (`feed`, in ledger order, the event
    before the start first when there is one — it may be fed in pieces), and says how much time
    they show (`span`). `what` names the decision in refusals ("capital scaling")."""

    what: str
    start_event: int
    slack_ms: int = CLOCK_SLACK_MS
    highest_ms: int | None = None
    highest_event: int = 0
    counted_from_ms: int | None = None
    backwards: str | None = None
    last_event: int = 0

    def feed(self, stamps: Iterable[tuple[int, str]]) -> None:
        for event_id, ts in stamps:
            ms = self._ms(event_id, ts)
            self.last_event = event_id
            high = self.highest_ms
            if high is not None and ms < high - self.slack_ms:
                self.backwards = (f"event #{event_id} at {ts} is earlier than event #{self.highest_event} "
                                  f"at {ms_to_iso(high)}")
                if event_id >= self.start_event:
                    self.counted_from_ms = high  # counting starts again once the clock passes the high-water mark
            elif high is None or ms > high:
                self.highest_ms, self.highest_event = ms, event_id
            if event_id == self.start_event and self.counted_from_ms is None:
                self.counted_from_ms = max(ms, high) if high is not None else ms
            if event_id < self.start_event:
                self.backwards = None  # a step back before the start is not this duration's

    def span(self, now_ms: int) -> LedgerSpan:
        """The time the ledger shows since the start. ClockWentBackwards when the wall clock
        `now_ms` reads earlier than the ledger's highest time; GateClosed when the start event
        was never fed."""
        if self.counted_from_ms is None or self.highest_ms is None:
            raise GateClosed(self.what, [f"the ledger holds no event #{self.start_event} to measure the time from"])
        if now_ms < self.highest_ms - self.slack_ms:
            raise ClockWentBackwards(self.what, [
                f"the clock went backwards: this machine's clock reads {ms_to_iso(now_ms)}, earlier than the ledger's "
                f"event #{self.highest_event} at {ms_to_iso(self.highest_ms)}; no time is counted on a clock that went "
                "backwards — set the system clock right (or wait until it passes the ledger's time) and try again"])
        return LedgerSpan(self.start_event, self.counted_from_ms, self.highest_ms, self.highest_event, self.backwards)

    def _ms(self, event_id: int, ts: str) -> int:
        try:
            return iso_to_ms(ts)
        except (TypeError, ValueError, OverflowError):
            raise GateClosed(self.what, [f"event #{event_id} has no readable time ({ts!r}): the ledger's clock cannot be "
                                         "read; run `livegate ledger verify`"]) from None


def ledger_span(stamps: Iterable[tuple[int, str]], start_event: int, now_ms: int, what: str,
                slack_ms: int = CLOCK_SLACK_MS) -> LedgerSpan:
    """`LedgerClock` in one call: the time `stamps` (the event before `start_event` and every
    event from it on) show, checked against the wall clock `now_ms`."""
    clock = LedgerClock(what, start_event, slack_ms)
    clock.feed(stamps)
    return clock.span(now_ms)
