"""`livegate testnet`: the gate, then the CEX script, the test swap and the approval drill on
the configured sandbox venues, every event written through to the ledger, then the phase
result. Each side's failure is its own error result; the other side still runs.

A run that stopped before it finished (a crash, a kill) is resumed, never abandoned: the next
`livegate testnet` continues the same run, looks every order of it up at the venue by its
client order id, records and applies the fills the ledger lacks, cancels the run's resting
orders and settles its open swap, then runs the script again. The reconciliation compares the
venue's trades of every order of the run with the ledger, fill by fill, and the venue's
balances with the balances at the start of the run plus every recorded fill."""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livegate.adapters.exchange.client import workspace_exchange
from livegate.adapters.execution.cex import balance_changes, split_symbol
from livegate.config.environment import load_env
from livegate.config.workspace import Workspace
from livegate.core.errors import GateClosed, LivegateError, TradingHalted
from livegate.core.fills import slippage_bps
from livegate.core.orders import Fill
from livegate.core.portfolio import Portfolio
from livegate.ledger import queries
from livegate.ledger.journal import WriteThroughJournal
from livegate.ledger.store import Ledger
from livegate.phases import run_phase
from livegate.phases.testnet.approval_drill import run_drill
from livegate.phases.testnet.cex_script import CexScript, reconcile, reconcile_fills, summarize
from livegate.phases.testnet.dex_script import build_dex, run_swap
from livegate.phases.testnet.plugin import PHASE
from livegate.services import approvals, exchange_key, gate, mode_switch, modes
from livegate.services.alerts import Alerter
from livegate.services.alerts.journal import AlertingJournal
from livegate.services.bot_gateway import BOT_WEIGHT_SHARE, serve_bot
from livegate.services.trading import SCRIPT_THROTTLES, TESTNET, venue_gateway


@dataclass
class TestnetOptions:
    ask: Callable[[Any], bool | None] | None = None  # the interactive approval prompt (None: wait for another terminal)
    by: str | None = None
    sleep: Callable[[float], None] = time.sleep
    progress: Callable[[str], None] = lambda text: None
    client: Any = None  # a ccxt client to use instead of building one (tests)
    extras: dict = field(default_factory=dict)
    bot_hours: float = 0.0  # bot: external — how long the trader's bot trades through the gateway after the script
    clock: Callable[[], float] = field(default=lambda: time.time())
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 0
    on_gateway: Callable[[dict], None] = lambda info: None  # told how the bot reaches the gateway, once it listens
    stop_requested: Callable[[], bool] = lambda: False  # end the bot's session early (SIGTERM)
    check: bool = False  # --check: the same run against a throw-away ledger; nothing is recorded in the workspace's


def _sides(effective: Any) -> tuple[bool, bool]:
    section = effective.config.testnet
    dex = section.dex if section.dex is not None else effective.config.chain.enabled
    return section.cex, dex


def run_testnet(ws: Any, key: Any, options: TestnetOptions) -> tuple[Any, dict]:
    """Run phase 3 and record its result; returns (PhaseResult, extras with every measurement).
    With `options.check` the run is the same — real orders on the sandbox, the swap, the drill —
    but journaled in a throw-away ledger and judged without recording: the workspace's ledger is
    only read (the gate, the halt), a reconciliation mismatch does not halt, and an approval is
    asked here (or given by --yes), never from another terminal."""

    env = load_env(ws.root)
    env.require_valid()  # a cap or a flag that cannot be read stops the phase before any order (exit 2)
    snap = gate.snapshot(ws)
    gate.require_open(snap, "testnet")
    if not options.check:
        gate.require_recordable(ws, "testnet")
    exchange_key.require_bound_key(ws, env, snap, "testnet")
    effective = snap.effective
    halted = modes.halted_reason(ws)
    if halted:
        raise TradingHalted(halted)
    gate_ws, gate_key, scratch = ws, key, None
    if options.check:  # from here on the run reads and writes its own throw-away ledger
        scratch = tempfile.TemporaryDirectory(prefix="livegate-check-")
        ws, key = check_workspace(ws, Path(scratch.name)), None
    cex_on, dex_on = _sides(effective)
    by = approvals.operator_name(ws, options.by)
    approve = approvals.approval_gate(ws, mode=approvals.approval_mode(env), expiry_s=effective.config.approvals.expiry_seconds,
                                      ask=options.ask, context="livegate testnet", sleep=options.sleep)
    extras = options.extras
    extras.update(cex_enabled=cex_on, dex_enabled=dex_on, bot_external=effective.config.bot == "external")
    with Ledger.open(ws.ledger_path, key=key) as ledger:
        unfinished = _unfinished_run(ws)
        run = unfinished or (f"lgc{secrets.token_hex(4)}" if options.check else f"lgt{_next_run(ws)}")
        events = _events(ws, run) if unfinished else []
        journal = AlertingJournal(WriteThroughJournal(ledger, run), Alerter(ws, key=key))
        if unfinished:
            journal.emit("testnet_resumed", {"cex": cex_on, "dex": dex_on, "events_before": len(events),
                                             "environment": env.in_force()})
        else:
            journal.emit("testnet_started", {"cex": cex_on, "dex": dex_on, "approval_mode": approvals.approval_mode(env),
                                             "environment": env.in_force()})
        extras["run"], extras["resumed"] = run, bool(unfinished)
        if cex_on:
            extras["cex"] = _guarded(lambda: _cex(ws, effective, env, journal, run, approve, options, events))
        if dex_on:
            extras["dex"] = _guarded(lambda: _dex(ws, effective, env, journal, run, approve, events))
        options.progress("approval drill")
        extras["approvals"] = _guarded(lambda: _drill(ws, effective, extras, by, options))
        journal.emit("testnet_finished", {"sides": {k: "error" if "error" in (extras.get(k) or {}) else "done"
                                                    for k in ("cex", "dex", "approvals") if k in extras}})
    result = run_phase(PHASE, gate_ws, extras=extras, key=gate_key, record=not options.check)
    if scratch is not None:
        scratch.cleanup()
    return result, extras


@dataclass(frozen=True)
class CheckWorkspace(Workspace):
    """The workspace with a throw-away ledger in place of its own (`testnet --check`)."""

    scratch_ledger: Path = Path()

    @property
    def ledger_path(self) -> Path:
        return self.scratch_ledger


def check_workspace(ws: Any, scratch_dir: Path) -> CheckWorkspace:
    """`ws` journaling into a new, empty ledger in `scratch_dir`. Refused (GateClosed) while a
    recorded testnet run is unfinished: only `livegate testnet` resumes it, and its orders would
    mix with the check's."""
    unfinished = _unfinished_run(ws)
    if unfinished:
        raise GateClosed("testnet --check", [f"testnet run {unfinished} did not finish; `livegate testnet` resumes and records it first"])
    checked = CheckWorkspace(ws.root, scratch_dir / "ledger.db")
    Ledger.create(checked.ledger_path)
    return checked


def _guarded(fn: Callable[[], dict]) -> dict:
    """A side's measurements, or its error (a refusal, an unreachable venue): never a pass."""
    try:
        return fn()
    except LivegateError as exc:
        return {"error": str(exc), "kind": type(exc).__name__}


def _next_run(ws: Any) -> int:
    return queries.count_events(ws.ledger_path, "testnet_started") + 1


def _unfinished_run(ws: Any) -> str | None:
    """The run of the latest `testnet_started` when it never reached `testnet_finished`."""
    with queries.reading(ws.ledger_path) as conn:
        started = queries.latest_of_kind(conn, "testnet_started")
        if started is None:
            return None
        run = started["payload"].get("run")
        return run if run and queries.latest_in_run(conn, run, "testnet_finished") is None else None


def _events(ws: Any, run: str) -> list[tuple[str, dict]]:
    with queries.reading(ws.ledger_path) as conn:
        return [(e["kind"], e["payload"]) for e in queries.events_of_run(conn, run)]


def _cex(ws, effective, env, journal, run, approve, options: TestnetOptions, events: list[tuple[str, dict]]) -> dict:
    cfg = effective.config
    symbol = cfg.testnet.symbol or cfg.exchange.symbols[0]

    # Always the exchange's sandbox (ccxt's sandbox mode; `exchange.base_url` when a local one):
    # the live venue of `exchange:` is the one go-live trades on, not this one.
    client = options.client or workspace_exchange(cfg.exchange, env, sandbox=True)
    venue = venue_gateway(TESTNET, ws, effective, env, journal, run, symbol, approve, client=client, sleep=options.sleep)
    base, quote = split_symbol(symbol)
    before = next((p["balances"] for k, p in events if k == "testnet_balances"), None)
    if before is None:  # the balances every fill of the run is reconciled from, on record before the first order
        before = venue.balances
        journal.emit("testnet_balances", {"balances": {a: v for a, v in before.items() if v}})
    recovered = _recover(venue, events, before.get(quote, 0.0), journal) if events else None
    guardian = venue.gateway.guardian
    caps = [cap for cap in (guardian.max_trade_amount, guardian.max_cex_order_amount) if cap is not None]
    value = min([cfg.testnet.order_value, *caps])  # a larger order is refused
    steps = CexScript(venue.gateway, venue.executor, symbol, value, sleep=options.sleep, progress=options.progress).run()
    bot = None
    if cfg.bot == "external":
        options.progress(f"your bot's session through the gateway ({options.bot_hours:g} h)")
        bot = bot_session(ws, effective, env, journal, run, approve, client, options)
    check = reconcile_run(ws, venue, run, before)
    if not check["ok"]:  # a check run halts nothing: it records nothing
        check["halted"] = not options.check and mode_switch.halt(ws, check["reason"]) is not None
        journal.emit("reconciliation_failed", check)
    else:
        journal.emit("reconciliation_ok", {"assets": sorted(check["changes"]), "orders": check["orders_checked"],
                                           "fills": check["fills_checked"]})
    return {"symbol": symbol, "exchange": venue.client.id, **summarize(steps), "reconciliation": check,
            "exempt_throttles": sorted(SCRIPT_THROTTLES), "lookups": venue.executor.lookups,
            "resends": venue.executor.resends, "base": base, "quote": quote, "recovered": recovered, "bot": bot}


def bot_session(ws, effective, env, journal, run, approve, client, options: TestnetOptions) -> dict:
    """`bot: external`: after the script, the trader's own bot trades on the exchange's sandbox
    through the gateway for `options.bot_hours` (throttles kept: the stage's rules, not the
    script's), its fills recorded as they come. Then its resting orders are cancelled and its
    orders measured: the fill rate of its MARKET orders, the worst slippage of its fills against
    the price quoted when each order was sent."""
    cfg = effective.config
    venue = venue_gateway(TESTNET, ws, effective, env, journal, run, cfg.testnet.symbol or cfg.exchange.symbols[0], approve,
                          client=client, sleep=options.sleep, scripted=False)
    lock = threading.RLock()
    open_ = [True]
    served = serve_bot(ws.state_dir, venue.gateway, client, list(cfg.exchange.symbols), step="testnet", clock=options.clock,
                       lock=lock, journal=journal, host=options.gateway_host, port=options.gateway_port,
                       is_open=lambda: open_[0], busy_for=lambda: venue.calls.busy_for(BOT_WEIGHT_SHARE))
    options.on_gateway(served.info)
    end = options.clock() + options.bot_hours * 3600
    try:
        while options.clock() < end and not options.stop_requested():
            with lock:
                if venue.executor.pending:
                    venue.gateway.settle(venue.executor.poll(), int(options.clock() * 1000))
                served.record_refusals(journal)
            options.sleep(1.0)
    finally:
        with lock:
            open_[0] = False
            canceled = [o.client_id for o in venue.executor.cancel_all()]
            venue.gateway.settle(venue.executor.poll(), int(options.clock() * 1000))
            venue.gateway.finish_trades(int(options.clock() * 1000))
        served.stop()
        served.record_refusals(journal)
    out = {**bot_measures(_events(ws, run)), "canceled": canceled, "refused_requests": served.desk.refusals}
    journal.emit("bot_session", out)
    return out


def bot_measures(events: list[tuple[str, dict]]) -> dict:
    """The bot's orders of a run (`origin: bot`): the share of its MARKET orders that filled,
    and the worst slippage of any of its fills against the order's quoted reference, percent."""
    sent = {p["client_id"]: p for k, p in events if k == "order_sending" and p.get("origin") == "bot"}
    fills = [p for k, p in events if k == "venue_fill" and p["order_id"] in sent]
    filled: dict[str, float] = {}
    for f in fills:
        filled[f["order_id"]] = filled.get(f["order_id"], 0.0) + float(f["amount"])
    market = [cid for cid, p in sent.items() if p["type"] == "market"]
    done = [cid for cid in market if filled.get(cid, 0.0) >= float(sent[cid]["amount"]) - 1e-12]
    slips = [slippage_bps(f["side"], float(f["price"]), float(sent[f["order_id"]]["reference"])) / 100 for f in fills]
    return {"orders": len(sent), "market_orders": len(market), "market_filled": len(done),
            "fill_rate_pct": 100.0 * len(done) / len(market) if market else None,
            "fills": len(fills), "worst_slippage_pct": max(slips) if slips else None}


def _recover(venue: Any, events: list[tuple[str, dict]], cash: float, journal: Any) -> dict:
    """A resumed run picks up where it stopped: the account is the run's starting cash plus every
    fill the ledger recorded, then every order the ledger shows as sent is looked up at the
    venue (its new fills recorded and applied), and the run's resting orders are cancelled."""
    gateway = venue.gateway
    gateway.account = Portfolio(cash=cash)
    recorded = [Fill(**{n: p[n] for n in Fill.__slots__}) for kind, p in events if kind == "venue_fill"]
    now_ms = max((f.ts for f in recorded), default=0)
    # already in the ledger: the account catches up, nothing is recorded or judged again (the
    # script starts over: its earlier attempts' round trips are not losses in a row of this one)
    gateway.replay(recorded, now_ms, {p.get("order_id") for kind, p in events if kind == "trade"}, breakers=False)
    found = venue.executor.recover(events)
    if found.fills:
        gateway.settle(found.fills, max(f.ts for f in found.fills))
    canceled = [o.client_id for o in venue.executor.cancel_all()]
    late = venue.executor.poll()  # what filled before a cancel took
    if late:
        gateway.settle(late, max(f.ts for f in late))
    gateway.finish_trades(max([now_ms] + [f.ts for f in found.fills + late]))
    out = {"orders": found.outcome, "fills_recovered": len(found.fills), "canceled": canceled}
    journal.emit("testnet_recovered", out)
    return out


def reconcile_run(ws: Any, venue: Any, run: str, before: dict[str, float]) -> dict:
    """The run against the venue's own record: every acknowledged order's trades (from the
    venue) against the `venue_fill`s of the ledger, fill by fill; no order of the run left
    resting; the venue's balances against `before` plus every recorded fill. Any difference is
    a failure naming the orders or assets."""
    events = _events(ws, run)
    symbols = {p["client_id"]: p["symbol"] for k, p in events if k == "order_sending"}
    acked = {p["client_id"]: p["venue_id"] for k, p in events if k == "order_acknowledged"}
    ledger_fills = [p for k, p in events if k == "venue_fill"]
    executor, client = venue.executor, venue.client
    venue_trades = {cid: executor.call(lambda c=cid: client.fetch_my_trades(symbols[c], params={"orderId": acked[c]}))
                    for cid in acked}
    fills = reconcile_fills(venue_trades, acked, ledger_fills)
    resting = sorted({str(o.get("clientOrderId")) for s in set(symbols.values())
                      for o in executor.call(lambda s=s: client.fetch_open_orders(s))} & set(symbols))
    after = executor.call(client.fetch_balance)["total"]
    balances = reconcile(before, {k: float(v or 0) for k, v in after.items()}, balance_changes(ledger_fills))
    reasons = []
    if fills["differences"]:
        reasons.append("venue trades differ from the ledger for orders " + ", ".join(sorted(fills["differences"])))
    if resting:
        reasons.append("orders of this run still rest at the venue: " + ", ".join(resting))
    if balances["mismatches"]:
        reasons.append("balances do not match the ledger: " + ", ".join(
            f"{asset} venue {m['venue']:g} vs ledger {m['expected']:g}" for asset, m in balances["mismatches"].items()))
    return {**balances, "ok": not reasons, "reason": "; ".join(reasons), "fill_differences": fills["differences"],
            "orders_checked": len(acked), "fills_checked": fills["checked"], "resting": resting}


def _dex(ws, effective, env, journal, run, approve, events: list[tuple[str, dict]]) -> dict:
    executor = build_dex(ws, effective, env, journal)
    return run_swap(executor, ws, effective, env, journal, run, approve, int(time.time() * 1000), events=events)


def _drill(ws, effective, extras, by, options: TestnetOptions) -> dict:
    symbol = (extras.get("cex") or {}).get("symbol") or effective.config.testnet.symbol or effective.config.exchange.symbols[0]
    return run_drill(ws, symbol, 1.0, by, sleep=options.sleep)
