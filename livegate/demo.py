"""`livegate demo`: the whole protocol rehearsed offline, on the local sandbox, with market time
in steps — every phase runs the real code: the same checks, engine, executors, gate, ledger.

What is staged, and said so on screen: the market is livegate's synthetic one; the exchange and
the chain are the local sandbox; its market clock is a step clock that the paper run and the
micro-live stages move one bar at a time, as soon as they are done with the last one — the
public `--sandbox-clock` rehearsal (a micro-live day lasts seconds, and a busy machine makes the
demo slower, never different);
the market carries a learnable edge (every four hours a dip, which rebounds further than it
extends, in turn) that the demo's dip-buying strategy trades with $8 orders on $500, so every
phase passes its default thresholds with the sandbox's fees and fills — none is loosened; the
paper run and the stages take real market days and hours, only in seconds of wall time.
Refusals are shown too: validate fails once on purpose (an empty ALLOW_EXCHANGES) and the gate
refuses the paper phase until it is fixed; before stage 4.1a the gateway refuses a buy above
the stage's cap and MAX_TRADE_AMOUNT, and a buy while trading is halted (both recorded in the
ledger as `order_blocked`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livegate.adapters.marketdata.candles import TIMEFRAME_MS, Candles
from livegate.adapters.sandbox.configure import set_env_values, write_workspace
from livegate.adapters.sandbox.defaults import dip_cycles
from livegate.adapters.sandbox.local import LocalSandbox
from livegate.adapters.sandbox.market import STEP, MarketSpec
from livegate.adapters.sandbox.rehearsal import SandboxClock, sandbox_clock_of
from livegate.config.environment import load_env
from livegate.config.workspace import Workspace, scaffold
from livegate.core.errors import CriteriaNotMet, GateClosed, LivegateError
from livegate.core.orders import BUY, OrderIntent
from livegate.core.protocol import PHASE_ORDER
from livegate.core.results import CheckResult, PhaseResult
from livegate.ledger import queries
from livegate.ledger.journal import WriteThroughJournal
from livegate.ledger.keys import init_key, key_dir, load_public, try_load_private
from livegate.ledger.store import Ledger
from livegate.ledger.verify import verify_at
from livegate.phases import registry, run_phase
from livegate.phases.microlive.runner import LiveOptions, LiveRunner
from livegate.phases.microlive.stage import stage_spec
from livegate.phases.paper.report import run_report
from livegate.phases.paper.run import FORWARD, PaperRunner, RunPlan
from livegate.phases.production.run import run_production
from livegate.phases.testnet.runner import TestnetOptions, run_testnet
from livegate.services import controls, gate, mode_switch
from livegate.services.alerts.receiver import LocalReceiver
from livegate.services.monitoring.html import render_html
from livegate.services.monitoring.report import report_data
from livegate.services.trading import LIVE_STAGE, venue_gateway

PAPER_DAYS = 8.0
DEMO_BARS = 30_000
DEMO_BALANCE = {"USDT": 500.0}  # the demo trader's capital: $8 orders are 1.6 % of it
STAGES = ("4.1a", "4.1b", "4.1c", "4.1d")
CYCLE_MS = 4 * 3_600_000  # the demo market's cycle: four one-hour bars, on UTC four-hour boundaries
STAGE_MAX_DAYS = 6  # market days a stage may take before the demo gives up on it

DEMO_STRATEGY = '''"""The demo's strategy: buy after an hour that fell more than `dip_pct` percent, sell `hold`
bars later. On the demo's market a dip rebounds as often as it extends, and further."""

from livegate.core.orders import OrderIntent


class DemoDipBuyer:
    def __init__(self, dip_pct: float = 1.5, hold: int = 1, order_value: float = 8.0):
        self.dip, self.hold, self.order_value = dip_pct / 100, hold, order_value
        self.last: dict[str, float] = {}
        self.held_for: dict[str, int] = {}
        self.warmup_bars = 2

    def on_bar(self, bar, ctx):
        last = self.last.get(bar.symbol)
        self.last[bar.symbol] = bar.close
        if ctx.position(bar.symbol) > 0:
            self.held_for[bar.symbol] = self.held_for.get(bar.symbol, 0) + 1
            if self.held_for[bar.symbol] >= self.hold:
                self.held_for[bar.symbol] = 0
                return [OrderIntent(bar.symbol, "sell", amount=ctx.position(bar.symbol), reason="held long enough")]
            return []
        if last is not None and bar.close < last * (1 - self.dip):
            return [OrderIntent(bar.symbol, "buy", quote_amount=self.order_value, reason="the hour fell past the dip line")]
        return []
'''

@dataclass
class DemoReport:
    root: str
    steps: list[dict] = field(default_factory=list)
    report_html: str | None = None
    ledger_ok: bool = False
    alerts_received: int = 0
    seconds: float = 0.0

    def add(self, step: str, verdict: str, detail: str = "") -> dict:
        item = {"step": step, "verdict": verdict, "detail": detail}
        self.steps.append(item)
        return item


def demo_market():
    """BTC/USDT one-minute candles with a learnable edge (`dip_cycles`, seeded): every four
    hours a dip of 2.5 % that rebounds 6 % and, the next time, falls 1 % further, in turn —
    synthetic, and said so everywhere it shows."""
    base = dip_cycles("BTC/USDT", DEMO_BARS, seed=7, start_price=42_000.0)
    candles = Candles("BTC/USDT", base.timeframe_ms, base.ts, base.open, base.high, base.low, base.close, base.volume,
                      source="livegate demo (synthetic: dips that rebound)", synthetic=True)
    return MarketSpec.for_candles("BTC/USDT", candles)


def configure(ws: Any, info: dict, alert_url: str) -> None:
    """Point the workspace at the sandbox (what `sandbox serve --write-config` does), then the
    demo's settings: its strategy, $8 orders on $500 of capital, alerts to the local receiver —
    every threshold left at its default."""
    import yaml

    write_workspace(ws, info)
    data = yaml.safe_load(ws.config_path.read_text())
    data["workspace"]["name"] = "livegate-demo"
    data["workspace"]["operator"] = "demo operator"
    data["exchange"]["timeframe"] = "1h"
    (ws.strategies_dir / "demo_dip.py").write_text(DEMO_STRATEGY)
    data["strategy"] = {"ref": "strategies/demo_dip.py:DemoDipBuyer", "params": {"dip_pct": 1.5, "hold": 1, "order_value": 8.0}}
    data["testnet"]["order_value"] = 8.0
    data.setdefault("capital", {})["starting"] = DEMO_BALANCE["USDT"]
    data["alerts"] = {"destinations": [{"url": alert_url, "min_severity": "warning", "name": "demo receiver"}],
                      "retries": 1, "timeout_seconds": 2}
    ws.config_path.write_text("# livegate demo workspace (written by `livegate demo`)\n" + yaml.safe_dump(data, sort_keys=False))
    env = ws.env_path.read_text()
    ws.env_path.write_text(set_env_values(env, {"MAX_TRADE_AMOUNT": "10", "EXECUTION_APPROVAL_MODE": "approve_each",
                                                 "ALLOW_EXCHANGES": ""}))  # the deliberate failure of step 1


def set_env(ws: Any, **values: str) -> None:
    ws.env_path.write_text(set_env_values(ws.env_path.read_text(), values))


def run_demo(root: Path, *, say: Callable[[str], None] = lambda text: None) -> DemoReport:
    """Create the workspace at `root` and walk every phase; returns what happened."""

    t0 = time.perf_counter()
    report = DemoReport(str(root))
    scaffold(root)
    ws = Workspace(root)
    key = try_load_private()
    if key is None:
        key = init_key(key_dir())
        say(f"Created your operator signing key in {key_dir()} (the demo's sign-offs use it; so will yours).")

    receiver = LocalReceiver()
    alert_url = receiver.url("livegate-demo")
    sandbox = market = None
    try:
        say("Starting the local exchange and chain (anvil with Uniswap V2, or eth-tester)…")
        sandbox, info = start_sandbox(say)
        pair = sandbox.exchange.add_key("demo-key", "demo-secret-not-valid-anywhere", balances=dict(DEMO_BALANCE))
        info = {**info, "api_key": pair.api_key, "secret": pair.secret}
        configure(ws, info, alert_url)
        # The public rehearsal path: the workspace's exchange is a step-clock sandbox, followed as
        # `go-live --sandbox-clock` follows it (refused for any other venue).
        market = sandbox_clock_of(ws.effective.config.exchange, "demo")
        rehearsal = Rehearsal(ws, key, sandbox, report, say, market)
        for phase_id in PHASE_ORDER:  # the protocol's registry: every phase, in order
            STEPS[phase_id](rehearsal)
    finally:
        if market is not None:
            market.close()
        if sandbox is not None:
            sandbox.stop()
        receiver.close()
    report.alerts_received = len(receiver.requests)
    report.report_html = str(_write_report(ws))
    report.ledger_ok = _verify(ws)
    report.seconds = time.perf_counter() - t0
    return report


@dataclass
class Rehearsal:
    """What each phase's step of the demo works with."""

    ws: Any
    key: Any
    sandbox: Any
    report: DemoReport
    say: Callable[[str], None]
    market: SandboxClock


def _env_step(r: Rehearsal) -> None:
    """Environment: fails once on purpose, the gate refuses the paper phase, then fixed."""
    result = _validate(r.ws, r.key)
    r.report.add("validate (deliberate failure)", result.verdict.value,
                 "ALLOW_EXCHANGES empty: " + next(c.message for c in result.checks if c.criterion == "allowlists_set"))
    try:
        gate.require_open(gate.snapshot(r.ws), "paper")
        r.report.add("gate before paper", "open (unexpected)")
    except GateClosed as exc:
        r.report.add("gate before paper", "closed", exc.reasons[0])
    r.say("The gate refused the paper phase: " + r.report.steps[-1]["detail"])
    set_env(r.ws, ALLOW_EXCHANGES="binance")
    _signed(r.report, r.ws, r.key, "env", _validate(r.ws, r.key))


def _paper_step(r: Rehearsal) -> None:
    """Paper: a forward run on the sandbox's live (synthetic) data."""
    r.say(f"Paper phase: a {PAPER_DAYS:g}-day forward run on the sandbox, its market moving one bar at a time…")
    _signed(r.report, r.ws, r.key, "paper", _paper(r.ws, r.key, r.market))


def _testnet_step(r: Rehearsal) -> None:
    """Testnet: scripted orders, a Uniswap swap, the approval drill."""
    r.say("Testnet: orders on the local exchange, a swap on the local chain, the approval drill…")
    _signed(r.report, r.ws, r.key, "testnet", _testnet(r.ws, r.key))


def _micro_live_step(r: Rehearsal) -> None:
    """Micro-live: the guarded switch to LIVE_MINIMAL, then each stage with its cap."""
    set_env(r.ws, PAPER_MODE="false", LIVE_TRADING_ENABLED="true", TRADING_HALTED="false")
    mode_switch.set_mode(r.ws, "LIVE_MINIMAL", "livegate demo: micro-live stages", by="demo operator", key=r.key)
    for item in _refusals(r.ws, r.key, r.market):
        r.report.add(item["step"], "refused", item["detail"])
        r.say(f"{item['step']}: refused — {item['detail']}")
    for stage in STAGES:
        r.say(f"Micro-live stage {stage}…")
        _signed(r.report, r.ws, r.key, stage, _stage(r.ws, r.key, stage, r.market))


def _production_step(r: Rehearsal) -> None:
    """Production: test alert, runbooks, kill-switch drill."""
    r.say("Production: test alert, runbooks, kill-switch drill…")
    result, _extras = run_production(r.ws, r.key, by="demo operator", place_order=True, ask=lambda a: True)
    _signed(r.report, r.ws, r.key, "production", result)


# One step per phase of the protocol (a test checks that this covers PHASE_ORDER exactly).
STEPS: dict[str, Callable[[Rehearsal], None]] = {
    "env": _env_step,
    "paper": _paper_step,
    "testnet": _testnet_step,
    "micro-live": _micro_live_step,
    "production": _production_step,
}


def start_sandbox(say: Callable[[str], None] = lambda text: None) -> tuple[Any, dict]:
    """The demo's local exchange (on a step clock) and chain, started: (the LocalSandbox, its
    info). When no chain can start — no `npm install` (no Uniswap contracts, no anvil) and no
    eth-tester fallback installed — the exchange alone, and the demo goes on without the swap."""

    sandbox = LocalSandbox(seed=7, markets=[demo_market()], clock=STEP)
    try:
        return sandbox, sandbox.start()  # stops what it started when it fails
    except LivegateError as exc:
        say(f"No local chain ({exc}); the demo goes on without the swap — run `npm install` for it.")
    sandbox = LocalSandbox(seed=7, markets=[demo_market()], chain=False, clock=STEP)
    return sandbox, sandbox.start()


def _validate(ws: Any, key: Any):
    return run_phase(registry.plugin("env"), ws, key=key)


def _signed(report: DemoReport, ws: Any, key: Any, step: str, result: Any) -> None:
    """Record the step in the report and sign it off when it passed (stop the demo otherwise)."""

    failing = [f"{c.criterion}: {c.message or c.verdict.value}" for c in result.checks if c.verdict.value in ("fail", "error")]
    report.add(step, result.verdict.value, "; ".join(failing))
    if not result.passed:
        raise CriteriaNotMet(f"the demo's {step} step did not pass: {'; '.join(failing)}")
    gate.signoff(ws, step, "demo operator", key)


def _paper(ws: Any, key: Any, market: SandboxClock):
    """`paper-run --days PAPER_DAYS --sandbox-clock`."""
    runner = PaperRunner(ws, RunPlan(FORWARD, days=PAPER_DAYS), key=key, clock=market.now, sleep=market.sleep,
                         market_clock=market.market_ms)
    outcome = runner.run()
    report = run_report(ws, outcome, key, 1)
    return _result_of(ws, "paper", report["verdict"])


def _result_of(ws: Any, step: str, verdict: str):
    """The latest recorded result of `step`, as a PhaseResult."""

    with queries.reading(ws.ledger_path) as conn:
        event = queries.latest_result(conn, step)
    if event is None:
        raise RuntimeError(f"no {step} result recorded ({verdict})")
    return PhaseResult(step, [CheckResult.from_dict(c) for c in event["payload"]["checks"]])


def _refusals(ws: Any, key: Any, market: SandboxClock) -> list[dict]:
    """Two buys the gateway of stage 4.1a refuses, each recorded in the ledger (`order_blocked`):
    one worth more than MAX_TRADE_AMOUNT and the stage's cap, and one of the usual size while
    trading is halted (halted, then resumed, by the demo operator)."""

    effective = ws.effective
    symbol = effective.config.exchange.symbols[0]
    cap = stage_spec(effective, STAGES[0]).cap
    with Ledger.open(ws.ledger_path, key=key) as ledger:
        journal = WriteThroughJournal(ledger, "demo-refusals")
        venue = venue_gateway(LIVE_STAGE, ws, effective, load_env(ws.root), journal, "demo-refusals", symbol, None)
        venue.gateway.stage_cap = cap
        venue.gateway.account.last_price[symbol] = venue.executor.quote(symbol, BUY)
        value = effective.config.strategy.params["order_value"]
        items = []
        for step, intent, halt in (
            (f"a ${2 * cap:g} buy (over stage {STAGES[0]}'s ${cap:g} cap)", OrderIntent(symbol, BUY, quote_amount=2 * cap), False),
            (f"a ${value:g} buy while trading is halted", OrderIntent(symbol, BUY, quote_amount=value), True),
        ):
            if halt:
                controls.halt(ws, "livegate demo: a halt stops every new order", "demo operator", key)
            try:
                decision = venue.gateway.submit(intent, int(market.now() * 1000), origin="demo")
            finally:
                if halt:
                    controls.resume(ws, "demo operator", key, reason="livegate demo: the halt shown")
            if decision.order is not None or not decision.blocks:
                raise CriteriaNotMet(f"the demo's {step} was not refused")
            items.append({"step": step, "detail": "; ".join(b.message for b in decision.blocks)})
    return items


def _testnet(ws: Any, key: Any):
    result, _extras = run_testnet(ws, key, TestnetOptions(ask=lambda a: True))
    return result


def _stage(ws: Any, key: Any, stage: str, market: SandboxClock):
    """`go-live --stage STAGE --sandbox-clock --yes`: market time moves one bar per wait of the
    loop; a stage that has not completed after STAGE_MAX_DAYS of market time stops (and fails)."""
    bar_ms = TIMEFRAME_MS[ws.effective.config.exchange.timeframe]
    # Each stage starts with a cycle of the demo's market, so its day holds six whole cycles:
    # three rebounds and three extensions, the paper run's win rate of one half.
    market.start_on_bar(CYCLE_MS)
    options = LiveOptions(ask=lambda a: True, clock=market.now, market_clock=market.market_ms, sleep=market.sleep,
                          poll_s=bar_ms / 1000, max_seconds=STAGE_MAX_DAYS * 86400)
    outcome = LiveRunner(ws, stage, key, options).run()
    return run_phase(registry.plugin("micro-live"), ws, step=stage, extras={"measures": outcome.measures}, key=key)


def _write_report(ws: Any) -> Path:
    path = ws.root / "demo-report.html"
    path.write_text(render_html(report_data(ws, None)), encoding="utf-8")
    return path


def _verify(ws: Any) -> bool:
    return verify_at(ws.ledger_path, load_public()).ok
