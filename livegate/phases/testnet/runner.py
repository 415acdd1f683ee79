"""`livegate testnet`: the gate, then the CEX script, the test swap and the approval drill on
the configured sandbox venues, every event written through to the ledger, then the phase
result. Each side's failure is its own error result; the other side still runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from livegate.adapters.exchange.client import workspace_exchange
from livegate.adapters.execution.cex import balance_changes, split_symbol
from livegate.config.environment import load_env
from livegate.core.errors import LivegateError, TradingHalted
from livegate.ledger import queries
from livegate.ledger.journal import WriteThroughJournal
from livegate.ledger.store import Ledger
from livegate.phases import run_phase
from livegate.phases.paper.run import run_events
from livegate.phases.testnet.approval_drill import run_drill
from livegate.phases.testnet.cex_script import CexScript, reconcile, summarize
from livegate.phases.testnet.dex_script import build_dex, run_swap
from livegate.phases.testnet.plugin import PHASE
from livegate.services import approvals, gate, mode_switch, modes
from livegate.services.alerts import Alerter
from livegate.services.alerts.journal import AlertingJournal
from livegate.services.trading import SCRIPT_THROTTLES, TESTNET, venue_gateway


@dataclass
class TestnetOptions:
    ask: Callable[[Any], bool | None] | None = None  # the interactive approval prompt (None: wait for another terminal)
    by: str | None = None
    sleep: Callable[[float], None] = time.sleep
    progress: Callable[[str], None] = lambda text: None
    client: Any = None  # a ccxt client to use instead of building one (tests)
    extras: dict = field(default_factory=dict)


def _sides(effective: Any) -> tuple[bool, bool]:
    section = effective.config.testnet
    dex = section.dex if section.dex is not None else effective.config.chain.enabled
    return section.cex, dex


def run_testnet(ws: Any, key: Any, options: TestnetOptions) -> tuple[Any, dict]:
    """Run phase 3 and record its result; returns (PhaseResult, extras with every measurement)."""

    snap = gate.snapshot(ws)
    gate.require_open(snap, "testnet")
    effective = snap.effective
    halted = modes.halted_reason(ws)
    if halted:
        raise TradingHalted(halted)
    cex_on, dex_on = _sides(effective)
    env = load_env(ws.root)
    env.max_trade_amount()  # a cap that cannot be read stops the phase before any order (exit 2)
    by = approvals.operator_name(ws, options.by)
    approve = approvals.approval_gate(ws, mode=approvals.approval_mode(env), expiry_s=effective.config.approvals.expiry_seconds,
                                      ask=options.ask, context="livegate testnet", sleep=options.sleep)
    extras = options.extras
    extras.update(cex_enabled=cex_on, dex_enabled=dex_on)
    with Ledger.open(ws.ledger_path, key=key) as ledger:
        run = f"lgt{_next_run(ws)}"
        journal = AlertingJournal(WriteThroughJournal(ledger, run), Alerter(ws, key=key))
        journal.emit("testnet_started", {"cex": cex_on, "dex": dex_on, "approval_mode": approvals.approval_mode(env)})
        if cex_on:
            extras["cex"] = _guarded(lambda: _cex(ws, effective, env, journal, run, approve, options))
        if dex_on:
            extras["dex"] = _guarded(lambda: _dex(ws, effective, env, journal, run, approve))
        options.progress("approval drill")
        extras["approvals"] = _guarded(lambda: _drill(ws, effective, extras, by, options))
        journal.emit("testnet_finished", {"sides": {k: "error" if "error" in (extras.get(k) or {}) else "done"
                                                    for k in ("cex", "dex", "approvals") if k in extras}})
    result = run_phase(PHASE, ws, extras=extras, key=key)
    return result, extras


def _guarded(fn: Callable[[], dict]) -> dict:
    """A side's measurements, or its error (a refusal, an unreachable venue): never a pass."""
    try:
        return fn()
    except LivegateError as exc:
        return {"error": str(exc), "kind": type(exc).__name__}


def _next_run(ws: Any) -> int:
    return queries.count_events(ws.ledger_path, "testnet_started") + 1


def _cex(ws, effective, env, journal, run, approve, options: TestnetOptions) -> dict:
    cfg = effective.config
    symbol = cfg.testnet.symbol or cfg.exchange.symbols[0]

    # Always the exchange's sandbox (ccxt's sandbox mode; `exchange.base_url` when a local one):
    # the live venue of `exchange:` is the one go-live trades on, not this one.
    client = options.client or workspace_exchange(cfg.exchange, env, sandbox=True)
    venue = venue_gateway(TESTNET, ws, effective, env, journal, run, symbol, approve, client=client, sleep=options.sleep)
    guardian = venue.gateway.guardian
    value = min(cfg.testnet.order_value, guardian.max_trade_amount or cfg.testnet.order_value)  # a larger order is refused
    steps = CexScript(venue.gateway, venue.executor, symbol, value, sleep=options.sleep, progress=options.progress).run()
    after = venue.executor.call(venue.client.fetch_balance)["total"]
    check = reconcile(venue.balances, {k: float(v or 0) for k, v in after.items()},
                      balance_changes(run_events(ws, run, ("venue_fill",))))
    if not check["ok"]:
        reason = "balances do not match the ledger after testnet orders: " + ", ".join(
            f"{asset} venue {m['venue']:g} vs ledger {m['expected']:g}" for asset, m in check["mismatches"].items())
        check["halted"] = mode_switch.halt(ws, reason) is not None
        journal.emit("reconciliation_failed", {"reason": reason, **check})
    else:
        journal.emit("reconciliation_ok", {"assets": sorted(check["changes"])})
    base, quote = split_symbol(symbol)
    return {"symbol": symbol, "exchange": venue.client.id, **summarize(steps), "reconciliation": check,
            "exempt_throttles": sorted(SCRIPT_THROTTLES), "lookups": venue.executor.lookups,
            "resends": venue.executor.resends, "base": base, "quote": quote}


def _dex(ws, effective, env, journal, run, approve) -> dict:
    executor = build_dex(ws, effective, env, journal)
    return run_swap(executor, ws, effective, env, journal, run, approve, int(time.time() * 1000))


def _drill(ws, effective, extras, by, options: TestnetOptions) -> dict:
    symbol = (extras.get("cex") or {}).get("symbol") or effective.config.testnet.symbol or effective.config.exchange.symbols[0]
    return run_drill(ws, symbol, 1.0, by, sleep=options.sleep)
