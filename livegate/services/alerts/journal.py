"""Alerts raised by what a run journals: the journal stays the single place events go, and the
ones an operator must hear about also leave as alerts (in the background: trading never waits
on a receiver). Session start, circuit-breaker trips, order failures, a reconciliation mismatch,
a kill criterion; in a live session, every fill at the venue (info)."""

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


def _plain(value: float, min_decimals: int = 0) -> str:
    """`value` with every decimal it has (to 10), at least `min_decimals`, thousands separated."""
    decimals = len(f"{value:.10f}".rstrip("0").partition(".")[2])
    return f"{value:,.{max(min_decimals, decimals)}f}"


def fill_title(fill: dict[str, Any], where: str) -> str:
    """What a venue fill's alert says: `filled: BUY 0.00028 BTC/USDT at 42,284.70, fee 0.0118
    USDT, stage 4.1a` — the fee as the venue charged it (its currency), else the quote fee."""
    fee, currency = fill.get("fee_cost"), fill.get("fee_currency")
    if fee is None or not currency:
        fee, currency = fill.get("fee", 0.0), str(fill["symbol"]).split("/")[1].split(":")[0]
    return (f"filled: {str(fill['side']).upper()} {_plain(float(fill['amount']))} {fill['symbol']} at {_plain(float(fill['price']), 2)}, "
            f"fee {_plain(float(fee))} {currency}, {where}")


class AlertingJournal:
    """`inner` (any journal) plus an `Alerter` for the kinds in ALERTS. With `fills_at` (a live
    session: "stage 4.1a"), each `venue_fill` is kept for an info alert that `send_fill_alerts`
    sends — called by the live loop after it settled fills, never on an order's way out."""

    def __init__(self, inner: Any, alerter: Any, *, fills_at: str | None = None):
        self.inner, self.alerter, self.fills_at = inner, alerter, fills_at
        self.fills: list[dict[str, Any]] = []  # venue fills not alerted yet

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        self.inner.emit(kind, payload)
        rule = ALERTS.get(kind)
        if rule is not None:
            severity = payload.get("severity", rule[0]) if kind == "alert" else rule[0]
            self.alerter.emit(kind, severity, rule[1](payload)[:300], wait=False)
        elif kind == "venue_fill" and self.fills_at is not None:
            self.fills.append(payload)

    def send_fill_alerts(self) -> int:
        """An info alert for each venue fill journaled since the last call, delivered in the
        background (to the destinations that take info). Returns how many. Call it where the
        engine's lock is held: the fills of another thread's orders are kept under it too."""
        waiting, self.fills = self.fills, []
        for fill in waiting:
            self.alerter.emit("fill", "info", fill_title(fill, self.fills_at or "live"), wait=False)
        return len(waiting)

    def __getattr__(self, name: str) -> Any:  # kept, count, run, ... of the inner journal
        return getattr(self.inner, name)
