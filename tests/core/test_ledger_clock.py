"""Durations on the ledger's clock (`livegate.core.ledger_clock`): counted between the ledger's
own timestamps, never on the wall clock alone; a wall clock behind the ledger counts nothing; a
stretch of the ledger whose clock went back does not count, nor does a backdated start."""

from __future__ import annotations

import pytest

from livegate.core.errors import GateClosed
from livegate.core.ledger_clock import CLOCK_SLACK_MS, ClockWentBackwards, LedgerClock, ledger_span

H = 3_600_000
DAY = 24 * H
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def iso(ms: int) -> str:
    """A ledger timestamp (27 characters, microseconds, Z) — what `store.utc_now` writes."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def stamps(*offsets_h: float, first_id: int = 10) -> list[tuple[int, str]]:
    return [(first_id + i, iso(T0 + int(h * H))) for i, h in enumerate(offsets_h)]


# events #10, #11, ... at these hours after T0; the start is event #11 (#10 is the event before it);
# `backwards` names the latest event below the high-water mark
@pytest.mark.parametrize("hours, expected_h, backwards", [
    pytest.param((0, 1, 5, 25), 24, None, id="forward-only: start to the latest time"),
    pytest.param((0, 1, 30 * 24, 2, 26), 0, "#14", id="forward 30 days then back: nothing counts until the clock passes it"),
    pytest.param((0, 1, 30 * 24, 2, 30 * 24 + 5), 5, "#13", id="counted again only past the high-water mark"),
    pytest.param((50, 1, 20, 75), 25, "#12", id="backdated start: counted from the event before it"),
    pytest.param((0, 1, 10, 10 - 0.5 / 60, 25), 24, None, id="a step back within the slack (NTP) is ignored"),
    pytest.param((0, 1), 0, None, id="the start alone: zero"),
])
def test_elapsed_time_on_the_ledgers_clock(hours, expected_h, backwards):
    span = ledger_span(stamps(*hours), 11, now_ms=T0 + 40 * DAY, what="capital scaling")
    assert span.hours == pytest.approx(expected_h)
    if backwards is None:
        assert span.backwards is None and "went backwards" not in span.describe()
    else:
        assert span.backwards.startswith(f"event {backwards} at ")
        assert "the ledger's clock went backwards" in span.describe()


def test_a_wall_clock_set_forward_adds_nothing_the_ledger_does_not_show():
    at_30_days = ledger_span(stamps(0, 1, 2), 11, now_ms=T0 + 30 * DAY, what="capital scaling")
    assert at_30_days.hours == pytest.approx(1)  # from the start event to the ledger's latest event


def test_a_wall_clock_behind_the_ledger_counts_nothing():
    with pytest.raises(ClockWentBackwards) as info:
        ledger_span(stamps(0, 1, 48), 11, now_ms=T0 + 24 * H, what="capital scaling")
    assert isinstance(info.value, GateClosed) and info.value.target == "capital scaling"
    [reason] = info.value.reasons
    assert reason.startswith("the clock went backwards: this machine's clock reads 2026-01-02T00:00:00Z, earlier than "
                             "the ledger's event #12 at 2026-01-03T00:00:00Z")
    # within the slack: the clock being adjusted, not time travel
    assert ledger_span(stamps(0, 1, 48), 11, now_ms=T0 + 48 * H - CLOCK_SLACK_MS + 1, what="x").hours == pytest.approx(47)


def test_fed_in_pieces_it_says_what_fed_at_once_says():
    all_stamps = stamps(0, 1, 3, 30 * 24, 4, 8, 30 * 24 + 9, 30 * 24 + 10)
    whole = ledger_span(all_stamps, 11, T0 + 60 * DAY, "stage 4.1a")
    clock = LedgerClock("stage 4.1a", 11)
    for i in range(0, len(all_stamps), 3):
        clock.feed(all_stamps[i:i + 3])
    assert clock.span(T0 + 60 * DAY) == whole and whole.hours == pytest.approx(10)


@pytest.mark.parametrize("bad", ["not a time", "2026-13-45T99:00:00.000000Z", ""])
def test_an_unreadable_timestamp_is_an_error_never_a_duration(bad):
    with pytest.raises(GateClosed, match=r"event #12 has no readable time"):
        ledger_span([(10, iso(T0)), (11, iso(T0 + H)), (12, bad)], 11, T0 + DAY, "stage 4.1a")


def test_a_start_event_never_seen_is_refused():
    with pytest.raises(GateClosed, match="the ledger holds no event #11"):
        LedgerClock("stage 4.1a", 11).span(T0)
