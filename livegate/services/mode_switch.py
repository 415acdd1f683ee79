"""Switching the trading mode (seed 004): the guarded switch to a live mode (seed 003 Phase 3),
the automatic stop to EMERGENCY_STOP, appending the mode and kill-switch events, and the halt
file (`.livegate/HALTED`: written before the ledger, so a halt holds when the ledger cannot be
written; a halt only it holds is recorded by `record_pending_halt`). The state they change is
read by `livegate.services.modes`.

A switch to a live mode runs every pre-switch check (`switch_checks`: the micro-live gate, the
risk configuration, the venue's credentials, open positions and orders, orders awaiting
approval) and is refused naming each failure, unless it lowers the risk of a live mode. What the
account held when the env step was signed off (the operator's own savings, recorded by
`validate`) is not an open position: only holdings above it count."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livegate.adapters.exchange.client import with_exchange_errors, workspace_exchange
from livegate.adapters.exchange.markets import rules_from_market
from livegate.config.environment import EXCHANGE_KEYS, load_env
from livegate.config.loader import load_phase_specs, load_workspace_config
from livegate.config.workspace import CONFIG_FILE, HALT_FILE, STATE_DIR, Workspace
from livegate.core import gate as rules
from livegate.core.errors import ConfigError, GateClosed, KeyMissing, LedgerError, LivegateError, UsageError
from livegate.core.redact import redact_text
from livegate.ledger.keys import try_load_private
from livegate.ledger.store import Ledger, default_actor, utc_now
from livegate.ledger.trust import would_open
from livegate.services import approvals, exchange_key, gate, mode_ladder
from livegate.services.modes import HALTED, LIMITS, LIVE_MODES, MODE_CHANGED, MODES, RESUMED, SCALED_LEVELS, current_mode, halt_file, halt_pending, latest_counting, mode_label, mode_state

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
    from a non-live mode — no open position above the holdings of the env sign-off and no
    pending order (on the venue or awaiting approval). `client` is a ccxt client to use instead
    of the workspace's own."""

    checks: list[Check] = []
    snap = None
    try:
        effective = ws.effective
    except ConfigError as exc:
        effective = None
        checks.append(Check("risk_config", False, "the risk configuration is incomplete or invalid (the workspace config "
                                                  "does not load): " + "; ".join(exc.problems)))
    else:
        checks.append(Check("risk_config", True, "livegate.yaml and risk_limits.yaml load and validate"))
        snap = gate.snapshot(ws, effective=effective)
        checks += _gate_checks(snap)
    checks += _venue_checks(ws, effective, client, entering_live, snap)
    if entering_live:
        waiting = approvals.pending(ws)
        checks += [Check("pending_orders", False, f"pending order awaiting approval: {a.id} {a.summary} (approve, reject or "
                                                  "let it expire first)") for a in waiting]
    return checks


def _gate_checks(snap: Any) -> list[Check]:
    first_live = next(s.id for s in snap.state.steps if s.phase == "micro-live")
    reasons = rules.gate_reasons(snap.state, first_live)
    return [Check("gate", False, r, first_live) for r in reasons] or [Check("gate", True, f"the gate to {first_live} is open", first_live)]


def _venue_checks(ws: Workspace, effective, client: Any, entering_live: bool, snap: Any = None) -> list[Check]:
    """Credentials, and when `entering_live` the account's positions (above the holdings of the
    env sign-off, read from `snap`) and open orders."""

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
            baseline = exchange_key.signed_baseline(ws, load_env(ws.root), snap) if snap is not None else {}
            checks += _position_checks(client, config.exchange.symbols, balance["total"], baseline)
            checks += _open_order_checks(client, config.exchange.symbols)
    except LivegateError as exc:
        checks.append(Check("positions", False, f"open positions and orders on {venue} could not be checked: {exc}"))
    return checks


def _position_checks(client: Any, symbols: list[str], totals: dict, baseline: dict[str, float] | None = None) -> list[Check]:
    """A base asset of a configured symbol held above `baseline` (what the account held at the
    env sign-off: the operator's own, left alone) by more than that market's minimum order."""

    baseline = baseline or {}
    markets = client.load_markets()
    checks, own = [], []
    for symbol in symbols:
        if symbol not in markets:
            checks.append(Check("positions", False, f"{client.id} has no market {symbol} (exchange.symbols)"))
            continue
        base = markets[symbol]["base"]
        held = float(totals.get(base) or 0.0)
        kept = min(held, baseline.get(base, 0.0))
        note = f"{kept:g} {base} held before the environment sign-off is your own and is left alone" if kept > 0 else ""
        if note and note not in own:
            own.append(note)
        excess = held - kept
        if excess <= 0:
            continue
        rules = rules_from_market(symbol, markets[symbol])
        price = float(client.fetch_ticker(symbol)["last"])
        if excess >= rules.min_amount and excess * price > rules.min_notional:
            above = f" above the {kept:g} {base} held before the environment sign-off" if kept > 0 else ""
            checks.append(Check("positions", False, f"open position: {excess:g} {base}{above} (≈ {excess * price:,.2f} "
                                                    f"{markets[symbol]['quote']} on {symbol}); close it first"
                                                    + (f" — the {kept:g} {base} is your own and is left alone" if kept > 0 else "")))
    return checks or [Check("positions", True, "; ".join(["no open position in " + ", ".join(symbols), *own]))]


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

    return load_workspace_config(ws.config_path, CONFIG_FILE, load_phase_specs())


def venue_client(ws: Workspace, config) -> Any:
    """The ccxt client of the workspace's exchange, signed with its credentials."""

    env = load_env(ws.root)
    missing = [name for name in EXCHANGE_KEYS if not env.get(name)]
    if missing:
        raise UsageError(f"no exchange credentials: {' and '.join(missing)} not set (in {ws.env_path} or the environment)")
    return workspace_exchange(config.exchange, env)


def require_signed_off_key(ws: Workspace, label: str) -> None:
    """A live mode trades with the exchange key the env sign-off checked, never another one
    (SPEC §14): GateClosed (exit 3) before the venue is asked anything with it. No key set, a
    config that does not load, an env step not signed off: the checks of `switch_checks` name those."""
    env = load_env(ws.root)
    if env.get("EXCHANGE_API_KEY") is None:
        return
    try:
        snap = gate.snapshot(ws)
    except ConfigError:
        return
    exchange_key.require_bound_key(ws, env, snap, f"a switch to {label}")


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
    records nothing (None). PAPER and EMERGENCY_STOP are reachable from any mode; the rest
    follows the mode ladder (`mode_ladder`: EMERGENCY_STOP leads only to PAPER, LIVE_SCALED one
    level at a time after stage 4.1d and each level's scaling step)."""
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
    payload.update(mode_ladder.require(ws, before, before_level, mode, level))  # out of order: exit 3, nothing written
    if mode in LIVE_MODES and not scaling_down:
        load_env(ws.root).require_valid()  # a key with a pasted newline never reaches a venue (or its error text)
        require_signed_off_key(ws, label)
        checks = switch_checks(ws, mode, client, entering_live=before not in LIVE_MODES)
        _refuse(label, checks)
        payload["checks"] = [c.to_dict() for c in checks]
    key = key or try_load_private()
    if key is None and mode != "EMERGENCY_STOP":  # unsigned, it would not count: refuse before asking or writing
        raise KeyMissing(f"switching to {mode} needs the operator key: a mode change written without it does not count "
                         "(`livegate keys init`, or LIVEGATE_KEY_DIR); EMERGENCY_STOP needs none")
    if confirm is not None and not confirm(label):
        return None
    if level is not None:
        payload["level"] = level
    payload.update(risk_per_trade=limits.risk_per_trade, max_exposure=limits.max_exposure)
    return append(ws, [(MODE_CHANGED, payload)], by, key)[0]


def append(ws: Workspace, items: list[tuple[str, dict]], by: str | None, key=None) -> list[int]:
    """Append events in one transaction; their ids. Signed with the operator key when it is on
    this machine (what opens counts only signed)."""

    with Ledger.open(ws.ledger_path, key=key or try_load_private()) as ledger:
        opens = any(would_open(kind, payload) for kind, payload in items)  # unsigned, it would count for nothing
        return [e.id for e in ledger.append_many(items, actor=by, sign=opens)]


def halt(ws: Workspace, reason: str, by: str = "livegate", key=None) -> int | None:
    """Stop all trading at once by switching to EMERGENCY_STOP with `reason` (automatic stops:
    a reconciliation mismatch). Returns the event id, or None when the mode already was. When
    the ledger cannot record it, the halt file stops trading instead and a LedgerError says so."""
    before = current_mode(ws)
    if before == "EMERGENCY_STOP":
        return None
    limits = LIMITS[("EMERGENCY_STOP", None)]
    payload = {"from": before, "to": "EMERGENCY_STOP", "reason": reason,
               "risk_per_trade": limits.risk_per_trade, "max_exposure": limits.max_exposure}
    try:
        return append(ws, [(MODE_CHANGED, payload)], by, key)[0]
    except LedgerError as exc:
        try:
            engage_halt_file(ws, f"EMERGENCY_STOP could not be recorded: {reason}", by)
        except OSError as file_exc:
            raise LedgerError(f"{exc}; the halt file could not be created either ({describe_os_error(file_exc)}): "
                              "trading is NOT stopped — stop the bot by hand") from None
        raise LedgerError(f"{exc}; trading is halted by the halt file {ws.halt_file_path} instead "
                          "(`livegate resume` lifts it once the ledger can be written)") from None


# -- the halt file: `.livegate/HALTED` ---------------------------------------------------------------

HALT_LINK_CHARS = 200  # reason and name kept at most this long in a link's target (written on a full disk)


def describe_os_error(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc.strerror or exc}"


def engage_halt_file(ws: Workspace, reason: str, by: str | None, at: str | None = None) -> bool:
    """Create the halt file (True), or leave the one already there (False): from then on no new
    order on any path, whatever the ledger says. Made for a full disk, where a name still fits
    but data may not: the content — one JSON line, reason, by, at — is written to a temporary
    file and linked into place in one step; failing that (no space), the file is a symbolic
    link whose target holds who and why (a short target lives in the inode); failing that, an
    empty file (the reason is then in the command's output only). OSError when not even a name
    can be created (a read-only mount, a permission)."""
    final = ws.halt_file_path
    try:
        os.lstat(final)
        return False
    except FileNotFoundError:
        pass
    at, reason = at or utc_now(), redact_text(reason)  # as the ledger would keep it
    created = _link_with_content(final, (json.dumps({"reason": reason, "by": by, "at": at}) + "\n").encode())
    if created is None:
        try:
            os.symlink(json.dumps({"reason": reason[:HALT_LINK_CHARS], "by": (by or "")[:HALT_LINK_CHARS], "at": at}), final)
            created = True
        except FileExistsError:
            created = False
        except OSError:
            try:
                os.close(os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644))
                created = True
            except FileExistsError:
                created = False
    _sync_dir(final.parent)
    return created


def _link_with_content(final: Path, body: bytes) -> bool | None:
    """Write `body` to a temporary file and hard-link it as `final`: True when linked, False
    when `final` appeared meanwhile, None when this could not be done (no space, no links)."""
    tmp = final.with_name(f".{HALT_FILE}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except OSError:
        return None
    try:
        try:
            _write_all(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(tmp, final)
        return True
    except FileExistsError:
        return False
    except OSError:
        return None
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _write_all(fd: int, body: bytes) -> None:
    view = memoryview(body)
    while view:
        view = view[os.write(fd, view):]


def _sync_dir(path: Path) -> None:
    """Best effort: the new entry survives a power cut."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def clear_halt_file(ws: Workspace) -> bool:
    """Remove the halt file: True when there was one. OSError when it cannot be removed."""
    path = ws.halt_file_path
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    except IsADirectoryError:
        os.rmdir(path)  # someone made a directory of that name: it halted trading just the same
    except PermissionError:
        if not path.is_dir() or path.is_symlink():
            raise
        os.rmdir(path)  # unlink(2) of a directory is EPERM on some systems
    _sync_dir(path.parent)
    return True


def _latest_halt(ledger: Ledger, ws: Workspace) -> dict | None:
    """The ledger's halt in force (its latest counting halt/resume event when that is a halt —
    a resume without the operator's signature lifts nothing), or None."""
    latest = latest_counting(ledger.conn, ws.root, (HALTED, RESUMED))
    return latest if latest is not None and latest["kind"] == HALTED else None


def _pending_payload(ws: Workspace, recorded_by: str | None) -> tuple[dict, str] | None:
    held = halt_file(ws)
    if held is None:
        return None
    payload = {"reason": held.reason or f"halted by the halt file {STATE_DIR}/{HALT_FILE}, which names no reason "
                                     "(made by hand, or written on a full disk)",
               "halted_at": held.at, "recorded_late": True,
               "recorded_by": recorded_by or f"{default_actor()} (process {os.getpid()})"}
    return payload, held.by or "unknown"


def record_halt(ws: Workspace, reason: str, by: str, key=None, *, file_is_ours: bool = True,
                lock_wait_s: float = 30.0) -> tuple[int, bool]:
    """Record the halt in force in the ledger, in one step under its write lock: (event id,
    appended now). Already recorded: that event. Else the halt file's halt when it holds an
    earlier one (`file_is_ours` False), else this one (`reason`, `by`). Raises LedgerError when
    the ledger cannot be written (or its lock is not free within `lock_wait_s`)."""
    with Ledger.open(ws.ledger_path, key=key, lock_wait_s=lock_wait_s) as ledger, ledger.locked():
        recorded = _latest_halt(ledger, ws)
        if recorded is not None:
            return recorded["id"], False
        pending = None if file_is_ours else _pending_payload(ws, None)
        payload, actor = pending or ({"reason": reason}, by)
        return ledger.append(HALTED, payload, actor=actor).id, True


def record_pending(ledger: Ledger, ws: Workspace, recorded_by: str | None = None) -> int | None:
    """On an open ledger, in one transaction: record the halt the halt file holds and the
    ledger does not (it could not be written when the halt was pulled). Its event id, or None
    when there is nothing to record."""
    with ledger.locked():
        if _latest_halt(ledger, ws) is not None:
            return None
        pending = _pending_payload(ws, recorded_by)
        if pending is None:
            return None
        return ledger.append(HALTED, pending[0], actor=pending[1]).id


def record_pending_halt(ws: Workspace, key: Any = None, *, recorded_by: str | None = None,
                        lock_wait_s: float = 30.0) -> int | None:
    """Record a pending halt (see `record_pending`); `lock_wait_s` bounds the wait for the
    ledger's write lock. Raises LedgerError when the ledger cannot be written."""
    with Ledger.open(ws.ledger_path, key=key, lock_wait_s=lock_wait_s) as ledger:
        return record_pending(ledger, ws, recorded_by)


PENDING_RETRY_S = 2.0  # a refusing halt rule tries to record a pending halt at most this often
PENDING_LOCK_WAIT_S = 0.2
_pending_tries: dict[Path, float] = {}


def record_pending_soon(ws: Workspace) -> None:
    """From the halt rule, when it refuses: record a pending halt if the ledger can take it now —
    at most every PENDING_RETRY_S per workspace and process, waiting at most PENDING_LOCK_WAIT_S
    for the ledger's lock. Never raises: the refusal stands either way."""
    try:
        if halt_pending(ws) is None:
            return
        now = time.monotonic()
        if now - _pending_tries.get(ws.root, float("-inf")) < PENDING_RETRY_S:
            return
        _pending_tries[ws.root] = now
        record_pending_halt(ws, lock_wait_s=PENDING_LOCK_WAIT_S)
    except Exception:  # noqa: BLE001 - never raises: the refusal stands whatever went wrong here
        pass  # still pending: the next try, another process or `livegate resume` records it
