"""Trading modes (seed 004) and the kill switch, persisted in the ledger with their history
(seed 003 Phase 1), and the guarded switch to a live mode (seed 003 Phase 3).

Both are read from the ledger every time they are needed: `halted_reason` runs before every
order, so it keeps one read-only connection per ledger and thread and re-reads the events only
when the ledger's head moved — a halt written by another process is seen on the next call.

Events: `mode_changed` {from, to, reason, level?, risk_per_trade, max_exposure, checks?} ·
`trading_halted` {reason} · `trading_resumed` {reason}."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from livegate.core.errors import ConfigError, GateClosed, LedgerError, LivegateError, UsageError
from livegate.ledger.reader import connect_readonly, iter_events
from livegate.config.workspace import Workspace

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


# -- reading: one cached read-only connection per ledger and thread ---------------------------

class _LedgerView:
    """The latest halt/resume and mode events of one ledger, re-read only when its head moved."""

    def __init__(self, path: Path):
        self.path = str(path)
        self.conn = connect_readonly(path)
        self.ident = _identity(self.path)
        self.last_id = -1
        self.mode_event: dict | None = None
        self.halt_event: dict | None = None
        self.reason: str | None = None

    def refresh(self) -> "_LedgerView":
        # fetchall, never a half-read cursor: an unfinished statement would pin an old snapshot.
        (last_id,), = self.conn.execute("SELECT last_id FROM ledger_head WHERE id = 1").fetchall()
        if last_id != self.last_id:
            self.mode_event = _latest(self.conn, (MODE_CHANGED,))
            self.halt_event = _latest(self.conn, (HALTED, RESUMED))
            self.reason = _halt_sentence(self.halt_event, self.mode_event)
            self.last_id = last_id
        return self


def _identity(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        raise LedgerError(f"no ledger at {path}; run `livegate init`") from None
    return st.st_dev, st.st_ino


def _latest(conn, kinds: tuple[str, ...]) -> dict | None:
    found = list(iter_events(conn, kinds=kinds, limit=1, descending=True))
    return found[0] if found else None


def _halt_sentence(halt_event: dict | None, mode_event: dict | None) -> str | None:
    parts = []
    if halt_event is not None and halt_event["kind"] == HALTED:
        parts.append(f"trading is halted (since {halt_event['ts'][:19]}Z by {halt_event['actor']}: "
                     f"{halt_event['payload'].get('reason', '')}); `livegate resume` lifts the halt")
    if mode_event is not None and mode_event["payload"].get("to") == "EMERGENCY_STOP":
        parts.append(f"trading is stopped (EMERGENCY_STOP since {mode_event['ts']}: {mode_event['payload'].get('reason', '')})")
    return "; ".join(parts) or None


_MAX_VIEWS = 8
_local = threading.local()


def _forget_views_after_fork() -> None:
    global _local
    _local = threading.local()  # a forked child opens its own connections


os.register_at_fork(after_in_child=_forget_views_after_fork)


def _view(ws: Workspace) -> _LedgerView:
    views: OrderedDict | None = getattr(_local, "views", None)
    if views is None:
        views = _local.views = OrderedDict()
    view = views.get(ws.root)
    if view is not None and view.ident != _identity(view.path):
        view.conn.close()  # the file was replaced (or a relative path now means another one)
        view = None
    if view is None:
        view = views[ws.root] = _LedgerView(ws.ledger_path)
        while len(views) > _MAX_VIEWS:
            views.popitem(last=False)[1].conn.close()
    return view.refresh()


def halted_reason(ws: Workspace) -> str | None:
    """Why no new order may be placed — the kill switch is on, or the mode is EMERGENCY_STOP —
    or None. Read from the ledger on every call; a few microseconds when nothing changed."""
    return _view(ws).reason


def halt_state(ws: Workspace) -> dict[str, Any]:
    """The kill switch: {halted, reason, by, at} of its latest halt or resume (halted False, the
    rest None, when it was never used)."""
    event = _view(ws).halt_event
    if event is None:
        return {"halted": False, "reason": None, "by": None, "at": None}
    return {"halted": event["kind"] == HALTED, "reason": event["payload"].get("reason"), "by": event["actor"], "at": event["ts"]}


def _history_entry(e: dict) -> dict:
    p = e["payload"]
    return {"id": e["id"], "at": e["ts"], "by": e["actor"], "from": p.get("from"), "to": p.get("to"),
            "level": p.get("level"), "reason": p.get("reason", "")}


def mode_history(ws: Workspace, limit: int | None = None) -> list[dict]:
    """Mode changes, newest first: id, at, by, from, to, level (LIVE_SCALED), reason."""
    conn = connect_readonly(ws.ledger_path)
    try:
        events = list(iter_events(conn, kinds=(MODE_CHANGED,), limit=limit, descending=True))
    finally:
        conn.close()
    return [_history_entry(e) for e in events]


def mode_state(ws: Workspace) -> tuple[str, int | None]:
    """(mode, level): the level is 1–3 in LIVE_SCALED, None otherwise."""
    event = _view(ws).mode_event
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


# -- the guarded switch ------------------------------------------------------------------------

class SwitchRefused(UsageError):
    """A switch to a live mode was refused; `reasons` says each reason."""

    def __init__(self, target: str, reasons: list[str]):
        self.target, self.reasons = target, list(reasons)
        super().__init__(f"refused to switch to {target}:\n" + "\n".join(f"  - {r}" for r in self.reasons))


@dataclass(frozen=True)
class Check:
    """One pre-switch check: what (`gate`, `risk_config`, `credentials`, `positions`,
    `pending_orders`), whether it passed, and what was found."""

    name: str
    ok: bool
    detail: str
    step: str | None = None  # the gate's: the first micro-live stage

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


def switch_checks(ws: Workspace, mode: str, client: Any = None, *, entering_live: bool = True) -> list[Check]:
    """Everything that must hold before trading `mode` with real money, each check run even when
    another failed: the micro-live gate open, the workspace config (risk limits) loading, the
    exchange accepting the credentials (a signed balance request) and — when `entering_live`
    from a non-live mode — no open position and no pending order (on the venue or awaiting
    approval). `client` is a ccxt client to use instead of the workspace's own."""
    from livegate.services import approvals

    checks: list[Check] = []
    try:
        effective = ws.effective
    except ConfigError as exc:
        effective = None
        checks.append(Check("risk_config", False, "the risk configuration is incomplete or invalid (the workspace config "
                                                  "does not load): " + "; ".join(exc.problems)))
    else:
        checks.append(Check("risk_config", True, "livegate.yaml and risk_limits.yaml load and validate"))
        checks += _gate_checks(ws, effective)
    checks += _venue_checks(ws, effective, client, entering_live)
    if entering_live:
        waiting = approvals.pending(ws)
        checks += [Check("pending_orders", False, f"pending order awaiting approval: {a.id} {a.summary} (approve, reject or "
                                                  "let it expire first)") for a in waiting]
    return checks


def _gate_checks(ws: Workspace, effective) -> list[Check]:
    from livegate.services import gate
    from livegate.core import gate as rules

    snap = gate.snapshot(ws, effective=effective)
    first_live = next(s.id for s in snap.state.steps if s.phase == "micro-live")
    reasons = rules.gate_reasons(snap.state, first_live)
    return [Check("gate", False, r, first_live) for r in reasons] or [Check("gate", True, f"the gate to {first_live} is open", first_live)]


def _venue_checks(ws: Workspace, effective, client: Any, entering_live: bool) -> list[Check]:
    """Credentials, and when `entering_live` the account's positions and open orders."""
    from livegate.adapters.exchange.client import with_exchange_errors

    try:
        config = effective.config if effective is not None else exchange_config(ws)
    except ConfigError:
        return [Check("credentials", False, "credentials, positions and open orders not checked: livegate.yaml does not load")]
    try:
        client = client or venue_client(ws, config)
    except UsageError as exc:
        return [Check("credentials", False, str(exc))]
    venue = config.exchange.id
    try:
        with with_exchange_errors(exchange=client):
            balance = client.fetch_balance()
    except LivegateError as exc:
        return [Check("credentials", False, f"invalid exchange credentials: {exc}"),
                Check("positions", False, f"open positions and orders on {venue} not checked without working credentials")]
    checks = [Check("credentials", True, f"{venue} accepted the credentials (signed balance request)")]
    if not entering_live:
        return checks
    try:
        with with_exchange_errors(exchange=client):
            checks += _position_checks(client, config.exchange.symbols, balance["total"])
            checks += _open_order_checks(client, config.exchange.symbols)
    except LivegateError as exc:
        checks.append(Check("positions", False, f"open positions and orders on {venue} could not be checked: {exc}"))
    return checks


def _position_checks(client: Any, symbols: list[str], totals: dict) -> list[Check]:
    """A base asset of a configured symbol worth more than that market's minimum order value."""
    from livegate.adapters.exchange.markets import rules_from_market

    markets = client.load_markets()
    checks = []
    for symbol in symbols:
        if symbol not in markets:
            checks.append(Check("positions", False, f"{client.id} has no market {symbol} (exchange.symbols)"))
            continue
        base = markets[symbol]["base"]
        held = float(totals.get(base) or 0.0)
        if held <= 0:
            continue
        rules = rules_from_market(symbol, markets[symbol])
        price = float(client.fetch_ticker(symbol)["last"])
        if held >= rules.min_amount and held * price > rules.min_notional:
            checks.append(Check("positions", False, f"open position: {held:g} {base} (≈ {held * price:,.2f} "
                                                    f"{markets[symbol]['quote']} on {symbol}); close it first"))
    return checks or [Check("positions", True, "no open position in " + ", ".join(symbols))]


def _open_order_checks(client: Any, symbols: list[str]) -> list[Check]:
    checks = [Check("pending_orders", False, f"pending order on {client.id}: {describe_order(o)}; cancel it first "
                                             "(`livegate cancel-all`)")
              for symbol in symbols for o in client.fetch_open_orders(symbol)]
    return checks or [Check("pending_orders", True, "no open order on " + client.id)]


def describe_order(order: dict) -> str:
    price = f" @ {order['price']:g}" if order.get("price") else ""
    return f"{order.get('symbol')} {order.get('side')} {order.get('type')} {order.get('amount'):g}{price} (id {order.get('id')})"


def exchange_config(ws: Workspace):
    """livegate.yaml alone (not the risk limits): emergency controls work with a broken risk file."""
    from livegate.config.loader import load_phase_specs, load_workspace_config
    from livegate.config.workspace import CONFIG_FILE

    return load_workspace_config(ws.config_path, CONFIG_FILE, load_phase_specs())


def venue_client(ws: Workspace, config) -> Any:
    """The ccxt client of the workspace's exchange, signed with its credentials."""
    from livegate.config.environment import EXCHANGE_KEYS, load_env
    from livegate.adapters.exchange.client import workspace_exchange

    env = load_env(ws.root)
    missing = [name for name in EXCHANGE_KEYS if not env.get(name)]
    if missing:
        raise UsageError(f"no exchange credentials: {' and '.join(missing)} not set (in {ws.env_path} or the environment)")
    return workspace_exchange(config.exchange, env)


def _refuse(target: str, checks: list[Check]) -> None:
    failed = [c.detail for c in checks if not c.ok]
    if not failed:
        return
    closed = [c.step for c in checks if c.name == "gate" and not c.ok]
    if closed:
        raise GateClosed(f"a switch to {target} (stage {closed[0]})", failed)
    raise SwitchRefused(target, failed)


# -- writing -----------------------------------------------------------------------------------

def _level_for(mode: str, level: int | None) -> int | None:
    if mode != "LIVE_SCALED":
        if level is not None:
            raise UsageError(f"--level applies to LIVE_SCALED only (not {mode})")
        return None
    level = 1 if level is None else level
    if level not in SCALED_LEVELS:
        raise UsageError(f"LIVE_SCALED has levels {', '.join(map(str, SCALED_LEVELS))} (got {level})")
    return level


def set_mode(ws: Workspace, mode: str, reason: str, by: str | None = None, key=None, *, level: int | None = None,
             client: Any = None, confirm: Callable[[str], bool] | None = None) -> int | None:
    """Record a mode change; returns its event id. A live mode is guarded: every reason of
    `switch_checks` is collected and the switch refused (GateClosed when the gate is closed,
    SwitchRefused otherwise) naming each — unless it lowers the risk of a live mode (scaling
    down is never held up). `confirm(label)` is asked once every check passed; declining
    records nothing (None). PAPER and EMERGENCY_STOP are reachable from any mode."""
    mode = mode.upper()
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}; one of: {', '.join(MODES)}")
    if not reason.strip():
        raise UsageError("--reason is required: the history records why the mode changed")
    level = _level_for(mode, level)
    before, before_level = mode_state(ws)
    label = mode_label(mode, level)
    if (mode, level) == (before, before_level):
        raise UsageError(f"the mode is already {label}")
    payload: dict[str, Any] = {"from": before, "to": mode, "reason": reason.strip()}
    if before_level is not None:
        payload["from_level"] = before_level
    limits = LIMITS[(mode, level)]
    scaling_down = before in LIVE_MODES and limits.risk_per_trade < LIMITS[(before, before_level)].risk_per_trade
    if mode in LIVE_MODES and not scaling_down:
        checks = switch_checks(ws, mode, client, entering_live=before not in LIVE_MODES)
        _refuse(label, checks)
        payload["checks"] = [c.to_dict() for c in checks]
    if confirm is not None and not confirm(label):
        return None
    if level is not None:
        payload["level"] = level
    payload.update(risk_per_trade=limits.risk_per_trade, max_exposure=limits.max_exposure)
    return append(ws, [(MODE_CHANGED, payload)], by, key)[0]


def append(ws: Workspace, items: list[tuple[str, dict]], by: str | None, key=None) -> list[int]:
    """Append events in one transaction; their ids."""
    from livegate.ledger.store import Ledger

    with Ledger.open(ws.ledger_path, key=key) as ledger:
        return [e.id for e in ledger.append_many(items, actor=by)]


def halt(ws: Workspace, reason: str, by: str = "livegate", key=None) -> int | None:
    """Stop all trading at once by switching to EMERGENCY_STOP with `reason` (automatic stops:
    a reconciliation mismatch). Returns the event id, or None when the mode already was."""
    before = current_mode(ws)
    if before == "EMERGENCY_STOP":
        return None
    limits = LIMITS[("EMERGENCY_STOP", None)]
    payload = {"from": before, "to": "EMERGENCY_STOP", "reason": reason,
               "risk_per_trade": limits.risk_per_trade, "max_exposure": limits.max_exposure}
    return append(ws, [(MODE_CHANGED, payload)], by, key)[0]
