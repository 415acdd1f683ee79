"""Emergency controls (seed 000 §4.5), effective at once in every running process because
every order path reads `modes.halted_reason` (the halt file and the ledger) before it sends:

- `halt`: the kill switch — no new order on any path; cancels still go through. It creates the
  halt file `.livegate/HALTED` first (no data blocks needed: it holds on a full disk), then
  records the halt in the ledger; when the ledger cannot be written the halt holds on the file
  alone, *pending*, and is recorded by the first livegate process that can write the ledger
  (a running trading loop's halt check, `livegate halt` again, at the latest `resume`).
  Neither possible: `HaltNotEngaged` — trading is not halted.
- `resume`: lifts it (and leaves EMERGENCY_STOP for PAPER); never straight back to live. It
  records a pending halt first, then the resume, and removes the halt file; refused
  (`ResumeRefused`, trading stays halted) while the ledger cannot record it.
- `cancel_all`: every open order of the configured symbols cancelled on the venue, checked
  gone, and every order awaiting approval rejected.
- `rollback`: halt, cancel all, PAPER — each step recorded, then a `rollback` summary.
- `reduce_only`: REDUCING — only orders that reduce an open position pass; counts unsigned (it
  closes), lifted by `resume`. The production loop calls it when a red flag fires.
- `emergency_stop`: EMERGENCY_STOP, then cancel all, then flatten (`livegate.services.flatten`)
  — each step recorded and alerted; a step that fails is recorded and alerted and the next runs.
- `live_lock` (from `livegate.services.livelock`): one live process per workspace.

Events: `trading_halted` {reason} · `trading_resumed` {reason} · `orders_cancelled`
{exchange, symbols, cancelled: [order…], rejected_approvals: [id…], remaining: [order…], error?} ·
`rollback` {reason, from_mode, halt_event, cancel_event, cancelled, mode_event, error?} · `reduce_only`
{reason, by, source} · `emergency_stop` {reason, step, ok, error?, event?} per step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from livegate.adapters.exchange.retry import Retry
from livegate.config.environment import EXCHANGE_KEYS, load_env
from livegate.config.workspace import Workspace
from livegate.core.errors import KeyMissing, LedgerError, LivegateError, OrderNotFound, TradingHalted, UsageError, VenueRefused, VenueUnreachable
from livegate.core.formats import number
from livegate.core.redact import redact_text
from livegate.ledger.keys import try_load_private
from livegate.ledger.store import Ledger
from livegate.services import approvals, flatten, mode_switch, modes
from livegate.services.alerts import Alerter
from livegate.services.livelock import LOCK_FILE, live_lock  # noqa: F401 - the live lock lives in its own light module

ORDERS_CANCELLED, ROLLBACK, EMERGENCY_STEP = "orders_cancelled", "rollback", "emergency_stop"
CANCEL_ROUNDS = 3  # fetch, cancel, look again: an order placed meanwhile is caught next round
HALT_LOCK_WAIT_S = 5.0  # `halt` waits at most this long for the ledger's write lock (the halt file already holds)


class HaltNotEngaged(LivegateError):
    """Neither the halt file nor the ledger took the halt: trading is NOT halted."""


class ResumeRefused(TradingHalted):
    """`resume` could not record the resume or remove the halt file: trading stays halted."""


@dataclass(frozen=True)
class HaltOutcome:
    """What `halt` did. `event`: the ledger event of the halt in force (None while the ledger
    cannot be written: the halt file holds it, pending). `already`: trading was halted before.
    `appended`: `event` was written now. `halt_file`: the halt file is in place. The errors say
    why the halt file or the ledger could not take it."""

    event: int | None
    already: bool
    appended: bool
    halt_file: bool
    halt_file_error: str | None = None
    ledger_error: str | None = None

    @property
    def pending(self) -> bool:
        return self.event is None


def halt(ws: Workspace, reason: str, by: str, key=None) -> HaltOutcome:
    """Turn the kill switch on: no new order may be placed on any path from the next check on.
    The halt file first (it holds when the ledger cannot be written), then the ledger. Raises
    HaltNotEngaged when neither could take it."""
    reason = (reason or "").strip() or "manual halt"
    created, file_error = False, None
    try:
        created = mode_switch.engage_halt_file(ws, reason, by)
    except OSError as exc:
        file_error = f"the halt file {ws.halt_file_path} could not be created ({mode_switch.describe_os_error(exc)})"
    event, appended, ledger_error = None, False, None
    try:
        event, appended = mode_switch.record_halt(ws, reason, by, key, file_is_ours=created or file_error is not None,
                                                  lock_wait_s=HALT_LOCK_WAIT_S)
    except (LivegateError, OSError) as exc:
        ledger_error = f"the ledger could not record the halt ({exc})"
    if file_error and ledger_error:
        raise HaltNotEngaged(f"the kill switch could NOT be engaged — trading is NOT halted: {file_error}, and {ledger_error}. "
                             "Stop the bot another way now: stop its process, or remove the API key's trading permission "
                             "at the exchange")
    already = (file_error is None and not created) or (event is not None and not appended)
    if not already:
        note = "" if event is not None else " (held by the halt file; not yet in the ledger)"
        Alerter(ws, key=key).emit("kill_switch", "critical", f"trading halted by {by}: {reason}{note}", wait=False)
    return HaltOutcome(event, already, appended, file_error is None, file_error, ledger_error)


def resume(ws: Workspace, by: str, key=None, reason: str = "") -> list[int]:
    """Lift the kill switch; a workspace in EMERGENCY_STOP goes to PAPER (a live mode needs the
    guarded switch). A halt only the halt file holds is recorded first; then the resume, with
    the halt file removed in the same step. Refused when trading is not halted (UsageError), and
    while the ledger cannot record the resume or the halt file cannot be removed (ResumeRefused:
    trading stays halted). Returns the event ids."""
    reason = (reason or "").strip() or "resumed by the operator"
    key = key or try_load_private()
    if key is None:  # a resume written without the key would not lift the halt: refuse before touching anything
        raise KeyMissing("resuming needs the operator key: a resume written without it does not lift the halt "
                         "(`livegate keys init`, or LIVEGATE_KEY_DIR); trading stays halted")
    try:
        with Ledger.open(ws.ledger_path, key=key) as ledger:
            late = mode_switch.record_pending(ledger, ws, recorded_by=f"livegate resume ({by})")
            return ([late] if late is not None else []) + _resume_recorded(ledger, ws, by, reason)
    except modes.HaltStateUnreadable as exc:
        raise ResumeRefused(f"cannot resume: {exc}; trading stays halted") from None
    except LedgerError as exc:
        raise ResumeRefused(f"cannot resume: the ledger cannot record it ({exc}); trading stays halted. Free disk space or "
                            "make the ledger writable, then run `livegate resume` again") from None
    except OSError as exc:
        raise ResumeRefused(f"cannot resume: the halt file {ws.halt_file_path} cannot be removed "
                            f"({mode_switch.describe_os_error(exc)}); trading stays halted") from None


def _resume_recorded(ledger: Ledger, ws: Workspace, by: str, reason: str) -> list[int]:
    """The resume events appended and the halt file removed in one transaction; the halt file
    is put back when the transaction fails (the ledger still says halted either way)."""
    removed = None
    try:
        with ledger.locked():
            events: list[tuple[str, dict]] = []
            latest = modes.latest_counting(ledger.conn, ws.root, (modes.HALTED, modes.RESUMED))
            if latest is not None and latest["kind"] == modes.HALTED:
                events.append((modes.RESUMED, {"reason": reason}))
            mode_event = modes.latest_counting(ledger.conn, ws.root, (modes.MODE_CHANGED,))
            if mode_event is not None and mode_event["payload"].get("to") == "EMERGENCY_STOP":
                limits = modes.LIMITS[("PAPER", None)]
                events.append((modes.MODE_CHANGED, {"from": "EMERGENCY_STOP", "to": "PAPER", "reason": reason,
                                                    "risk_per_trade": limits.risk_per_trade, "max_exposure": limits.max_exposure}))
            reducing = modes.latest_counting(ledger.conn, ws.root, (modes.REDUCE_ONLY, modes.RESUMED))
            if not any(kind == modes.RESUMED for kind, _ in events) and reducing is not None and reducing["kind"] == modes.REDUCE_ONLY:
                events.insert(0, (modes.RESUMED, {"reason": reason}))
            if not events:
                raise UsageError("trading is not halted, nor reducing only; nothing to resume")
            removed = modes.halt_file(ws)
            mode_switch.clear_halt_file(ws)
            ids = [e.id for e in ledger.append_many(events, actor=by, sign=bool(events))]  # unsigned, a resume lifts nothing
    except BaseException:
        if removed is not None:
            try:
                mode_switch.engage_halt_file(ws, removed.reason or "restored: the resume was not recorded", removed.by, removed.at)
            except OSError:
                pass  # the ledger still says halted
        raise
    return ids


def reduce_only(ws: Workspace, reason: str, by: str, key=None, source: str = "operator") -> int:
    """REDUCING from the next order on, in every running process: only orders that reduce an
    open position pass the order gateway (a sell no larger than the position held); `livegate
    resume` lifts it. Counts without the operator's signature (it closes, like a halt). Already
    in force: the event that holds it, nothing written. `source`: who asked — `operator` (by
    hand), or the rule that fired (a red flag). Returns the event id."""
    reason = (reason or "").strip()
    if not reason:
        raise UsageError("--reason is required: every refused order shows why trading is reducing only")
    current = modes.reduce_state(ws)
    if current is not None:
        return current["event"]
    event = mode_switch.append(ws, [(modes.REDUCE_ONLY, {"reason": reason, "by": by, "source": source})], by, key)[0]
    Alerter(ws, key=key).emit("reduce_only", "critical", f"trading is reducing only ({source}, by {by}): {reason}; "
                              f"{modes.REDUCING_RULE}", wait=False)
    return event


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
    halted = halt(ws, reason, by, key)
    summary: dict[str, Any] = {"reason": reason, "from_mode": from_mode, "halt_event": None if halted.already else halted.event}
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


def emergency_stop(ws: Workspace, by: str, reason: str, client: Any = None, key=None, *, mode_event: int | None = None) -> dict[str, Any]:
    """EMERGENCY_STOP: the mode switched (unless `mode_event` says it already was), every open
    order cancelled, every open position closed at market (`flatten`) — each step recorded as an
    `emergency_stop` event and alerted; a step that fails is recorded and alerted, and the next
    runs all the same. Without exchange credentials there is nothing on a venue to cancel or
    close: those steps are recorded as skipped. The stop holds afterwards (`livegate resume`
    leads to PAPER). Returns {reason, steps: [{step, ok, error?, skipped?, event?}], cancelled,
    flatten, ok}."""
    reason = (reason or "").strip() or "emergency stop"
    alerter = Alerter(ws, key=key)
    out: dict[str, Any] = {"reason": reason, "steps": [], "cancelled": [], "flatten": None}
    steps = (("halt", lambda: mode_event if mode_event is not None else mode_switch.halt(ws, reason, by, key)),
             ("cancel_all", lambda: cancel_all(ws, client, by=by, key=key)),
             ("flatten", lambda: flatten.flatten(ws, by, key, client)))
    for name, action in steps:
        record: dict[str, Any] = {"reason": reason, "step": name, "ok": True}
        try:
            missing = [] if name == "halt" or client is not None else [n for n in EXCHANGE_KEYS if not load_env(ws.root).get(n)]
            if missing:
                record["skipped"] = (f"no exchange credentials ({' and '.join(missing)} not set): there is no order or "
                                     "position on a venue to cancel or close")
            else:
                _emergency_result(name, action(), record, out)
        except Exception as exc:  # noqa: BLE001 - whatever fails is recorded and alerted, and the next step runs
            record.update(ok=False, error=redact_text(str(exc)) or type(exc).__name__)
        try:
            mode_switch.append(ws, [(EMERGENCY_STEP, record)], by, key)
        except LivegateError as exc:
            record.update(ok=False, recorded=False)
            record["error"] = "; ".join(filter(None, [record.get("error"), f"this step could not be recorded ({exc})"]))
        out["steps"].append(record)
        outcome = "FAILED: " + record["error"] if not record["ok"] else ("skipped: " + record["skipped"]) if "skipped" in record else "done"
        alerter.emit("emergency_stop", "critical", f"EMERGENCY_STOP {name.replace('_', '-')} {outcome} ({reason})", wait=False)
    out["ok"] = all(r["ok"] for r in out["steps"])
    alerter.drain(flatten.ALERT_WAIT_S)
    return out


def _emergency_result(name: str, result: Any, record: dict[str, Any], out: dict[str, Any]) -> None:
    """What one step of `emergency_stop` did, into its `record` (and `out`)."""
    if name == "halt":
        record["event"] = result
    elif name == "cancel_all":
        out["cancelled"], record["cancelled"] = result, len(result)
    else:
        out["flatten"] = result
        record.update(run=result["run"], sold=sum(1 for o in result["sold"] if o["filled"]),
                      dust={d["asset"]: d["amount"] for d in result["dust"]}, left=result["left"])
        problems = result["errors"] + [f"{number(v, 8)} {a} still held above the baseline" for a, v in result["left"].items()]
        if problems:
            record.update(ok=False, error="; ".join(problems))
