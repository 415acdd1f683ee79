"""Trading modes (seed 004) persisted in the ledger with their history (seed 003 Phase 1).

The mode is read from the ledger every time it is needed; nothing caches it."""

from __future__ import annotations

from livegate.errors import UsageError
from livegate.ledger.reader import connect_readonly, iter_events
from livegate.workspace import Workspace

MODES = ("PAPER", "LIVE_MINIMAL", "LIVE_SCALED", "EMERGENCY_STOP")
LIVE_MODES = ("LIVE_MINIMAL", "LIVE_SCALED")
DEFAULT_MODE = "PAPER"


def mode_history(ws: Workspace, limit: int | None = None) -> list[dict]:
    conn = connect_readonly(ws.ledger_path)
    try:
        events = list(iter_events(conn, kinds=("mode_changed",), limit=limit, descending=True))
    finally:
        conn.close()
    return [
        {"id": e["id"], "at": e["ts"], "by": e["actor"], "from": e["payload"].get("from"), "to": e["payload"].get("to"), "reason": e["payload"].get("reason", "")}
        for e in events
    ]


def current_mode(ws: Workspace) -> str:
    last = mode_history(ws, limit=1)
    return last[0]["to"] if last else DEFAULT_MODE


def set_mode(ws: Workspace, mode: str, reason: str, by: str | None = None, key=None) -> int:
    """Record a mode change. Live modes need the micro-live gate open (testnet signed off)."""
    from livegate import gate
    from livegate.ledger.store import Ledger

    mode = mode.upper()
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}; one of: {', '.join(MODES)}")
    if not reason.strip():
        raise UsageError("--reason is required: the history records why the mode changed")
    before = current_mode(ws)
    if mode == before:
        raise UsageError(f"the mode is already {mode}")
    if mode in LIVE_MODES:
        snap = gate.snapshot(ws)
        first_live = next(s.id for s in snap.state.steps if s.phase == "micro-live")
        gate.require_open(snap, first_live)
    with Ledger.open(ws.ledger_path, key=key) as ledger:
        return ledger.append("mode_changed", {"from": before, "to": mode, "reason": reason.strip()}, actor=by).id


def halt(ws: Workspace, reason: str, by: str = "livegate", key=None) -> int | None:
    """Stop all trading at once: switch to EMERGENCY_STOP with `reason` (recorded with who and
    when). Returns the event id, or None when trading was already stopped."""
    from livegate.ledger.store import Ledger

    before = current_mode(ws)
    if before == "EMERGENCY_STOP":
        return None
    with Ledger.open(ws.ledger_path, key=key) as ledger:
        return ledger.append("mode_changed", {"from": before, "to": "EMERGENCY_STOP", "reason": reason}, actor=by).id


def halted_reason(ws: Workspace) -> str | None:
    """Why trading is stopped, or None: the mode is read from the ledger every time."""
    last = mode_history(ws, limit=1)
    if last and last[0]["to"] == "EMERGENCY_STOP":
        return f"trading is stopped (EMERGENCY_STOP since {last[0]['at']}: {last[0]['reason']})"
    return None
