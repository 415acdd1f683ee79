"""`livegate production` (phase 5): the gate, a test alert to every destination, the runbooks,
the kill-switch drill on the venue, then the phase result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from livegate.config.environment import load_env
from livegate.core.errors import LivegateError
from livegate.ledger import queries
from livegate.ledger.journal import WriteThroughJournal
from livegate.ledger.store import Ledger
from livegate.phases import run_phase
from livegate.phases.production.drill import kill_switch_drill
from livegate.phases.production.plugin import PHASE
from livegate.phases.production.runbooks import runbook_status
from livegate.services import approvals, exchange_key, gate
from livegate.services.alerts import Alerter
from livegate.services.alerts.config import load_alerts


def run_production(ws: Any, key: Any, *, by: str | None, place_order: bool, ask: Callable | None, client: Any = None):
    env = load_env(ws.root)
    env.require_valid()  # a cap or a flag that cannot be read stops the phase before any order (exit 2)
    snap = gate.snapshot(ws)
    gate.require_open(snap, "production")
    gate.require_recordable(ws, "production")  # a running go-live stage: its drill would halt that stage's trading
    exchange_key.require_bound_key(ws, env, snap, "production")  # the drill trades with it
    effective = snap.effective
    name = approvals.operator_name(ws, by)
    extras: dict[str, Any] = {"runbooks": runbook_status(ws.root)}
    extras["alerts"] = _guarded(lambda: _test_alert(ws, key))
    approve = approvals.approval_gate(ws, mode=approvals.approval_mode(env), expiry_s=effective.config.approvals.expiry_seconds,
                                      ask=ask, context="production kill-switch drill")
    with Ledger.open(ws.ledger_path, key=key) as ledger:
        run = f"lgp{queries.count_events(ws.ledger_path, 'drill_started') + 1}"
        journal = WriteThroughJournal(ledger, run)
        extras["drill"] = _guarded(lambda: kill_switch_drill(ws, effective, env, journal, run, approve, name, key=key,
                                                               client=client, place_order=place_order))
    return run_phase(PHASE, ws, extras=extras, key=key), extras


def _test_alert(ws: Any, key: Any) -> dict:
    """A test alert to every configured destination (whatever its minimum severity)."""

    names = [label for label, _ in load_alerts(ws).destinations]
    results = Alerter(ws, key=key).test() if names else []
    return {"destinations": len(names), "names": names, "results": results}


def _guarded(fn: Callable[[], dict]) -> dict:
    try:
        return fn()
    except LivegateError as exc:
        return {"error": str(exc)}
