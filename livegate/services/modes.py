"""Trading modes (seed 004) and the kill switch as the ledger records them, with their history
(seed 003 Phase 1): the read side. Switching — the guarded switch to a live mode (seed 003
Phase 3), the automatic stop, appending the events — is `livegate.services.mode_switch`.

Both are read from the ledger every time they are needed: `halted_reason` runs before every
order, so it reads through `queries.watched` (one read-only connection per ledger and thread)
and re-reads the events only when the ledger's head moved — a halt written by another process
is seen on the next call.

Events: `mode_changed` {from, to, reason, level?, risk_per_trade, max_exposure, checks?} ·
`trading_halted` {reason} · `trading_resumed` {reason}."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from livegate.config.workspace import Workspace
from livegate.ledger import queries

MODES = ("PAPER", "LIVE_MINIMAL", "LIVE_SCALED", "EMERGENCY_STOP")
LIVE_MODES = ("LIVE_MINIMAL", "LIVE_SCALED")
DEFAULT_MODE = "PAPER"
MODE_CHANGED, HALTED, RESUMED = "mode_changed", "trading_halted", "trading_resumed"
SCALED_LEVELS = (1, 2, 3)


@dataclass(frozen=True)
class Limits:
    """What a mode allows: capital at risk per trade and total exposure, fractions of capital."""

    risk_per_trade: float
    max_exposure: float


# Seed 004: paper 0.5 % / 20 %; live minimal 0.1 % / 2 %; live scaled 0.25 → 0.5 → 1 % risk
# with exposure 5 → 10 % (the middle level halfway); an emergency stop allows nothing.
LIMITS: dict[tuple[str, int | None], Limits] = {
    ("PAPER", None): Limits(0.005, 0.20),
    ("LIVE_MINIMAL", None): Limits(0.001, 0.02),
    ("LIVE_SCALED", 1): Limits(0.0025, 0.05),
    ("LIVE_SCALED", 2): Limits(0.005, 0.075),
    ("LIVE_SCALED", 3): Limits(0.01, 0.10),
    ("EMERGENCY_STOP", None): Limits(0.0, 0.0),
}


def mode_label(mode: str, level: int | None = None) -> str:
    return f"{mode} level {level}" if level is not None else mode


# -- reading: through the ledger's watched connection, re-read only when its head moved ---------

@dataclass(frozen=True)
class _State:
    """The latest mode and halt/resume events of one ledger, and the halt sentence of both."""

    mode_event: dict | None
    halt_event: dict | None
    reason: str | None


def _read_state(conn) -> _State:
    mode_event = queries.latest_event(conn, (MODE_CHANGED,))
    halt_event = queries.latest_event(conn, (HALTED, RESUMED))
    return _State(mode_event, halt_event, _halt_sentence(halt_event, mode_event))


def _halt_sentence(halt_event: dict | None, mode_event: dict | None) -> str | None:
    parts = []
    if halt_event is not None and halt_event["kind"] == HALTED:
        parts.append(f"trading is halted (since {halt_event['ts'][:19]}Z by {halt_event['actor']}: "
                     f"{halt_event['payload'].get('reason', '')}); `livegate resume` lifts the halt")
    if mode_event is not None and mode_event["payload"].get("to") == "EMERGENCY_STOP":
        parts.append(f"trading is stopped (EMERGENCY_STOP since {mode_event['ts']}: {mode_event['payload'].get('reason', '')})")
    return "; ".join(parts) or None


def _state(ws: Workspace) -> _State:
    return queries.watched(ws.root, lambda: ws.ledger_path).derived(_read_state)


def halted_reason(ws: Workspace) -> str | None:
    """Why no new order may be placed — the kill switch is on, or the mode is EMERGENCY_STOP —
    or None. Read from the ledger on every call; a few microseconds when nothing changed."""
    return _state(ws).reason


def halt_state(ws: Workspace) -> dict[str, Any]:
    """The kill switch: {halted, reason, by, at} of its latest halt or resume (halted False, the
    rest None, when it was never used)."""
    event = _state(ws).halt_event
    if event is None:
        return {"halted": False, "reason": None, "by": None, "at": None}
    return {"halted": event["kind"] == HALTED, "reason": event["payload"].get("reason"), "by": event["actor"], "at": event["ts"]}


def _history_entry(e: dict) -> dict:
    p = e["payload"]
    return {"id": e["id"], "at": e["ts"], "by": e["actor"], "from": p.get("from"), "to": p.get("to"),
            "level": p.get("level"), "reason": p.get("reason", "")}


def mode_history(ws: Workspace, limit: int | None = None) -> list[dict]:
    """Mode changes, newest first: id, at, by, from, to, level (LIVE_SCALED), reason."""
    with queries.reading(ws.ledger_path) as conn:
        events = list(queries.events(conn, kinds=(MODE_CHANGED,), limit=limit, descending=True))
    return [_history_entry(e) for e in events]


def mode_state(ws: Workspace) -> tuple[str, int | None]:
    """(mode, level): the level is 1–3 in LIVE_SCALED, None otherwise."""
    event = _state(ws).mode_event
    if event is None:
        return DEFAULT_MODE, None
    mode = event["payload"].get("to", DEFAULT_MODE)
    return mode, ((event["payload"].get("level") or 1) if mode == "LIVE_SCALED" else None)


def current_mode(ws: Workspace) -> str:
    return mode_state(ws)[0]


def mode_limits(ws: Workspace) -> dict[str, Any]:
    """The current mode's limits: {mode, level, risk_per_trade, max_exposure} (fractions)."""
    mode, level = mode_state(ws)
    limits = LIMITS[(mode, level)]
    return {"mode": mode, "level": level, "risk_per_trade": limits.risk_per_trade, "max_exposure": limits.max_exposure}
