"""Emergency controls (seed 000 §4.5), effective at once in every running process because
every order path reads `modes.halted_reason` from the ledger before it sends:

- `halt`: the kill switch — no new order on any path; cancels still go through.
- `resume`: lifts it (and leaves EMERGENCY_STOP for PAPER); never straight back to live.
- `cancel_all`: every open order of the configured symbols cancelled on the venue, checked
  gone, and every order awaiting approval rejected.
- `rollback`: halt, cancel all, PAPER — each step recorded, then a `rollback` summary.
- `live_lock`: one live process per workspace.

Events: `trading_halted` {reason} · `trading_resumed` {reason} · `orders_cancelled`
{exchange, symbols, cancelled: [order…], rejected_approvals: [id…], remaining: [order…], error?} ·
`rollback` {reason, from_mode, halt_event, cancel_event, cancelled, mode_event, error?}."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from livegate.adapters.exchange.retry import Retry
from livegate.config.workspace import Workspace
from livegate.core.errors import LivegateError, OrderNotFound, UsageError, VenueRefused, VenueUnreachable
from livegate.services import approvals, mode_switch, modes
from livegate.services.alerts import Alerter

ORDERS_CANCELLED, ROLLBACK = "orders_cancelled", "rollback"
LOCK_FILE = "live.lock"
CANCEL_ROUNDS = 3  # fetch, cancel, look again: an order placed meanwhile is caught next round


def halt(ws: Workspace, reason: str, by: str, key=None) -> int | None:
    """Turn the kill switch on: no new order may be placed on any path from the next check on.
    Returns the event id, or None when trading was already halted."""
    reason = (reason or "").strip() or "manual halt"
    if modes.halt_state(ws)["halted"]:
        return None
    event = mode_switch.append(ws, [(modes.HALTED, {"reason": reason})], by, key)[0]

    Alerter(ws, key=key).emit("kill_switch", "critical", f"trading halted by {by}: {reason}", wait=False)
    return event


def resume(ws: Workspace, by: str, key=None, reason: str = "") -> list[int]:
    """Lift the kill switch; a workspace in EMERGENCY_STOP goes to PAPER (a live mode needs the
    guarded switch). Refused when trading is not halted. Returns the event ids."""
    reason = (reason or "").strip() or "resumed by the operator"
    events: list[tuple[str, dict]] = []
    if modes.halt_state(ws)["halted"]:
        events.append((modes.RESUMED, {"reason": reason}))
    if modes.current_mode(ws) == "EMERGENCY_STOP":
        limits = modes.LIMITS[("PAPER", None)]
        events.append((modes.MODE_CHANGED, {"from": "EMERGENCY_STOP", "to": "PAPER", "reason": reason,
                                            "risk_per_trade": limits.risk_per_trade, "max_exposure": limits.max_exposure}))
    if not events:
        raise UsageError("trading is not halted; nothing to resume")
    return mode_switch.append(ws, events, by, key)


def _order_summary(order: dict, status: str) -> dict[str, Any]:
    return {"id": order.get("id"), "client_id": order.get("clientOrderId"), "symbol": order.get("symbol"),
            "side": order.get("side"), "type": order.get("type"), "amount": order.get("amount"),
            "price": order.get("price"), "filled": order.get("filled"), "status": status}


def cancel_all(ws: Workspace, client: Any = None, *, by: str | None = None, key=None) -> list[dict]:
    """Cancel every open order of the configured symbols on the venue, then look again until
    none remain; reject every order awaiting approval. Works while halted and with a broken
    risk file (only livegate.yaml is read). Returns what was cancelled (`status` canceled, or
    gone when it filled or was cancelled meanwhile) and rejected; recorded as one event.
    Raises VenueRefused when orders remain open, VenueUnreachable when the venue is down."""

    config = mode_switch.exchange_config(ws)
    symbols = list(config.exchange.symbols)
    by = approvals.operator_name(ws, by)
    record: dict[str, Any] = {"exchange": config.exchange.id, "symbols": symbols, "cancelled": [],
                              "rejected_approvals": [], "remaining": []}
    try:
        record["rejected_approvals"] = _reject_waiting(ws, by, key)
        client = client or mode_switch.venue_client(ws, config)
        retry = Retry(attempts=3, base_delay=0.5, venue=config.exchange.id, client=client,
                      then="orders may still be open — run `livegate cancel-all` again")
        for _ in range(CANCEL_ROUNDS):
            open_orders = [o for s in symbols for o in retry(lambda s=s: client.fetch_open_orders(s))]
            if not open_orders:
                break
            record["cancelled"] += [_cancel(retry, client, o) for o in open_orders]
        else:
            record["remaining"] = [_order_summary(o, "open") for s in symbols for o in retry(lambda s=s: client.fetch_open_orders(s))]
        if record["remaining"]:
            raise VenueRefused(f"{len(record['remaining'])} order(s) still open on {config.exchange.id} after "
                               f"{CANCEL_ROUNDS} rounds of cancels: " + ", ".join(str(o["id"]) for o in record["remaining"]))
    except LivegateError as exc:
        record["error"] = str(exc)
        mode_switch.append(ws, [(ORDERS_CANCELLED, record)], by, key)
        raise
    mode_switch.append(ws, [(ORDERS_CANCELLED, record)], by, key)
    return record["cancelled"] + [{"approval": a, "status": "rejected"} for a in record["rejected_approvals"]]


def _cancel(retry, client: Any, order: dict) -> dict[str, Any]:
    try:
        retry(lambda: client.cancel_order(order["id"], order["symbol"]))
    except OrderNotFound:
        return _order_summary(order, "gone")
    return _order_summary(order, "canceled")


def _reject_waiting(ws: Workspace, by: str, key) -> list[str]:
    rejected = []
    for a in approvals.pending(ws):
        try:
            approvals.decide(ws, a.id, approvals.REJECTED, by, "cancel-all", key=key)
        except UsageError:
            continue  # decided or expired meanwhile: it will not execute either way
        rejected.append(a.id)
    return rejected


def rollback(ws: Workspace, by: str, reason: str, client: Any = None, key=None) -> dict[str, Any]:
    """Seed 000 §4.5: halt, cancel every open order, return to PAPER — each step recorded even
    when a later one fails, then a `rollback` event. The halt stays on afterwards (`livegate
    resume` lifts it). A failed cancel is raised after the mode is PAPER."""
    reason = (reason or "").strip() or "rollback"
    from_mode = modes.current_mode(ws)
    summary: dict[str, Any] = {"reason": reason, "from_mode": from_mode, "halt_event": halt(ws, reason, by, key)}
    error: LivegateError | None = None
    try:
        summary["cancelled"] = cancel_all(ws, client, by=by, key=key)
    except LivegateError as exc:
        error, summary["cancelled"] = exc, []
        summary["error"] = str(exc)
    summary["mode_event"] = None
    if from_mode != "PAPER":
        summary["mode_event"] = mode_switch.set_mode(ws, "PAPER", f"rollback: {reason}", by=by, key=key)
    record = {k: (len(v) if k == "cancelled" else v) for k, v in summary.items()}
    summary["rollback_event"] = mode_switch.append(ws, [(ROLLBACK, record)], by, key)[0]
    if error is not None:
        kind = VenueUnreachable if isinstance(error, VenueUnreachable) else UsageError
        raise kind(f"rollback: trading is halted and the mode is PAPER, but open orders could not all be cancelled: {error}")
    return summary


@contextmanager
def live_lock(ws: Workspace) -> Iterator[None]:
    """Hold `.livegate/live.lock` (an exclusive, non-blocking flock) for the block: a second
    live process on the same workspace gets a UsageError naming the pid that holds it."""
    import fcntl

    path = ws.state_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise UsageError(f"another live process (pid {holder}) is running on this workspace ({path} is locked); "
                         "stop it first") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
