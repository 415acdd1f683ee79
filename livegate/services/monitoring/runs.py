"""The run the monitor and the report look at, read from the ledger through `ledger.queries`.

A run is a micro-live stage (`stage_started` event N → run `lgl<N>`) or a paper run
(`paper_run_started` event N → run `r<N>`). Unless one is named, the latest live stage is
watched, else the latest paper run. Every event of a run carries its id in `payload.run`
and comes after its start event, so a run is read from its start onwards only."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from livegate.core.errors import UsageError
from livegate.ledger import queries

LIVE, PAPER = "live", "paper"
_RUN_ID = re.compile(r"^(lgl|r)(\d+)$")
START_KINDS = {LIVE: "stage_started", PAPER: "paper_run_started"}
CHECKPOINT_KINDS = {LIVE: "live_checkpoint", PAPER: "paper_checkpoint"}
# Events whose payloads the monitor reads in full; every other kind is only counted.
READ_KINDS = ("trade", "fill", "venue_fill", "breaker_trip", "breaker_rearmed", "alert", "order_sending",
              "order_acknowledged", "order_rejected", "order_not_sent", "order_not_placed",
              "paper_run_completed", "paper_run_stopped", "live_started", "live_stopped")


@dataclass
class RunData:
    """One run's events: `events[kind]` lists {id, ts, kind, payload} in ledger order for READ_KINDS,
    `counts` every kind of the run, `checkpoint` its latest engine state (or None)."""

    run: str
    source: str  # live | paper
    start: dict[str, Any]  # the start event: id, ts, payload
    why: str
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    checkpoint: dict[str, Any] | None = None
    checkpoint_ts: str | None = None

    def of(self, *kinds: str) -> list[dict[str, Any]]:
        """Events of these kinds, in ledger order."""
        if len(kinds) == 1:
            return self.events.get(kinds[0], [])
        return sorted((e for k in kinds for e in self.events.get(k, [])), key=lambda e: e["id"])

    @property
    def trades(self) -> list[dict[str, Any]]:
        return [e["payload"] for e in self.of("trade")]

    @property
    def capital(self) -> float:
        return float(self.start["payload"].get("capital") or 0.0)


def find_run(conn: Any, run: str | None = None) -> tuple[str, str, dict, str] | None:
    """(run id, source, start event, why this run) — the named run, else the latest live stage,
    else the latest paper run; None when the ledger has no run at all."""
    if run:
        match = _RUN_ID.match(run.strip())
        source = {"lgl": LIVE, "r": PAPER}.get(match.group(1)) if match else None
        event = queries.event_by_id(conn, int(match.group(2)), START_KINDS[source]) if source else None
        if event is None:
            known = ", ".join(r for r, _ in list_runs(conn)[-8:]) or "none yet"
            raise UsageError(f"no run {run!r} in this ledger (paper runs look like r12, live stages like lgl40; latest: {known})")
        return run.strip(), source, event, "chosen with --run"
    for source, why in ((LIVE, "the latest micro-live stage"), (PAPER, "the latest paper run (no live stage in the ledger)")):
        start = queries.latest_of_kind(conn, START_KINDS[source])
        if start:
            prefix = "lgl" if source == LIVE else "r"
            return f"{prefix}{start['id']}", source, start, why
    return None


def list_runs(conn: Any) -> list[tuple[str, str]]:
    """Every run in ledger order: (run id, source)."""
    rows = queries.event_ids(conn, (START_KINDS[LIVE], START_KINDS[PAPER]))
    return [(f"lgl{i}" if kind == START_KINDS[LIVE] else f"r{i}", LIVE if kind == START_KINDS[LIVE] else PAPER) for i, kind in rows]


def load_run(conn: Any, run: str, source: str, start: dict, why: str) -> RunData:
    data = RunData(run, source, start, why)
    data.counts = queries.run_kind_counts(conn, run, since_id=start["id"])
    for event in queries.events_of_run(conn, run, READ_KINDS, since_id=start["id"]):
        data.events.setdefault(event["kind"], []).append(event)
    checkpoint = queries.latest_in_run(conn, run, CHECKPOINT_KINDS[source], since_id=start["id"])
    if checkpoint:
        data.checkpoint_ts = checkpoint["ts"]
        data.checkpoint = checkpoint["payload"].get("state")
    return data


def latest_run(conn: Any, run: str | None = None) -> RunData | None:
    """The run `find_run` names, read; `conn` is a `ledger.queries.reading` connection."""
    found = find_run(conn, run)
    return load_run(conn, *found) if found else None


def ts_seconds(ts: str) -> float:
    """Epoch seconds of a ledger timestamp (`2026-01-02T03:04:05.123456Z`)."""
    return datetime.fromisoformat(ts).timestamp()
