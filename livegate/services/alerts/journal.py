"""Alerts raised by what a run journals: the journal stays the single place events go, and the
ones an operator must hear about also leave as alerts (in the background: trading never waits
on a receiver). Session start, circuit-breaker trips, order failures, a reconciliation mismatch,
a kill criterion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# kind → (severity, title from the payload)
ALERTS: dict[str, tuple[str, Callable[[dict], str]]] = {
    "live_started": ("info", lambda p: f"live session started (stage {p.get('stage')}, mode {p.get('mode')})"),
    "testnet_started": ("info", lambda p: "testnet session started"),
    "breaker_trip": ("critical", lambda p: f"circuit breaker {p.get('breaker')} tripped: {p.get('message', '')}"),
    "order_rejected": ("error", lambda p: f"order {p.get('client_id')} refused: {p.get('rule')}: {p.get('message', '')}"),
    "order_not_placed": ("error", lambda p: f"order {p.get('client_id')} was not placed: {p.get('reason', '')}"),
    "reconciliation_failed": ("critical", lambda p: p.get("reason", "venue balances do not match the ledger")),
    "alert": ("critical", lambda p: p.get("message", "")),
}


class AlertingJournal:
    """`inner` (any journal) plus an `Alerter` for the kinds in ALERTS."""

    def __init__(self, inner: Any, alerter: Any):
        self.inner, self.alerter = inner, alerter

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        self.inner.emit(kind, payload)
        rule = ALERTS.get(kind)
        if rule is not None:
            severity = payload.get("severity", rule[0]) if kind == "alert" else rule[0]
            self.alerter.emit(kind, severity, rule[1](payload)[:300], wait=False)

    def __getattr__(self, name: str) -> Any:  # kept, count, run, ... of the inner journal
        return getattr(self.inner, name)
