"""`livegate demo`: the whole protocol rehearsed offline, on the local sandbox, with market time
in steps — every phase runs the real code: the same checks, engine, executors, gate, ledger.

What is staged, and said so on screen: the market is livegate's synthetic one; the exchange and
the chain are the local sandbox; its market clock is a step clock that the paper run and the
micro-live stages move one bar at a time, as soon as they are done with the last one — the
public `--sandbox-clock` rehearsal (a micro-live day lasts seconds, and a busy machine makes the
demo slower, never different);
a few paper and micro-live thresholds are loosened, never past their floors, so a simple EMA
strategy can pass on a trending random market — `livegate status` flags each looser threshold;
validate fails once on purpose (an empty ALLOW_EXCHANGES) to show the gate refusing, then the
demo fixes it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livegate.adapters.marketdata.candles import TIMEFRAME_MS, Candles
from livegate.adapters.sandbox.configure import set_env_values, write_workspace
from livegate.adapters.sandbox.defaults import random_walk
from livegate.adapters.sandbox.local import LocalSandbox
from livegate.adapters.sandbox.market import STEP, MarketSpec
from livegate.adapters.sandbox.rehearsal import SandboxClock, sandbox_clock_of
from livegate.config.workspace import Workspace, scaffold
from livegate.core.errors import CriteriaNotMet, GateClosed, LivegateError
from livegate.core.protocol import PHASE_ORDER
from livegate.core.results import CheckResult, PhaseResult
from livegate.ledger import queries
from livegate.ledger.keys import init_key, key_dir, load_public, try_load_private
from livegate.ledger.verify import verify_at
from livegate.phases import registry, run_phase
from livegate.phases.microlive.runner import LiveOptions, LiveRunner
from livegate.phases.paper.report import run_report
from livegate.phases.paper.run import FORWARD, PaperRunner, RunPlan
from livegate.phases.production.run import run_production
from livegate.phases.testnet.runner import TestnetOptions, run_testnet
from livegate.services import gate, mode_switch
from livegate.services.alerts.receiver import LocalReceiver
from livegate.services.monitoring.html import render_html
from livegate.services.monitoring.report import report_data

PAPER_DAYS = 8.0
DRIFT_PER_DAY = 0.05  # the demo market trends up 5 % a day under its noise
DEMO_BARS = 30_000
DEMO_BALANCE = {"USDT": 10_000.0}
STAGES = ("4.1a", "4.1b", "4.1c", "4.1d")
STAGE_MAX_DAYS = 6  # market days a stage may take before the demo gives up on it

DEMO_STRATEGY = '''"""The demo's strategy: long when the close is above its EMA, out after `hold` bars."""

from livegate.core.orders import OrderIntent


class DemoTrend:
    def __init__(self, period: int = 20, hold: int = 8, order_value: float = 8.0):
        self.period, self.hold, self.order_value = period, hold, order_value
        self.a = 2.0 / (period + 1)
        self.ema: dict[str, float] = {}
        self.held_for: dict[str, int] = {}
        self.warmup_bars = period * 3

    def on_bar(self, bar, ctx):
        ema = self.ema[bar.symbol] = self.ema.get(bar.symbol, bar.close) * (1 - self.a) + bar.close * self.a
        if ctx.position(bar.symbol) > 0:
            self.held_for[bar.symbol] = self.held_for.get(bar.symbol, 0) + 1
            if self.held_for[bar.symbol] >= self.hold:
                self.held_for[bar.symbol] = 0
                return [OrderIntent(bar.symbol, "sell", amount=ctx.position(bar.symbol), reason="held long enough")]
            return []
        if bar.close > ema:
            return [OrderIntent(bar.symbol, "buy", quote_amount=self.order_value, reason="close above its EMA")]
        return []
'''

# Loosened for the rehearsal, never past a floor (phases/*.yaml): shown as looser in `livegate status`.
# $8 orders on $10,000 return a hundredth of a percent, of which fees take a third; a trending
# market wins two trades in three; a stage of a few trades is noisy against paper's figures.
DEMO_THRESHOLDS = {
    "paper": {"total_return_pct": 0, "fee_drag_pct": 50, "win_rate_pct": [30, 80]},
    "micro-live": {"live_vs_paper_worse_pct": 100, "win_rate_gap_points": 30},  # the seeds' hours and trades stay
}


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
    """BTC/USDT one-minute candles: a seeded random walk (0.08 % a minute) trending up
    DRIFT_PER_DAY — synthetic, and said so everywhere it shows."""
    import numpy as np

    base = random_walk("BTC/USDT", DEMO_BARS, 60_000, seed=7, start_price=42_000.0, vol=0.0008)
    trend = np.exp(np.arange(len(base)) * (np.log1p(DRIFT_PER_DAY) / 1440))
    candles = Candles("BTC/USDT", base.timeframe_ms, base.ts, base.open * trend, base.high * trend, base.low * trend,
                      base.close * trend, base.volume, source="livegate demo (synthetic random walk, trending)", synthetic=True)
    return MarketSpec.for_candles("BTC/USDT", candles)


def configure(ws: Any, info: dict, alert_url: str) -> None:
    """Point the workspace at the sandbox (what `sandbox serve --write-config` does), then the
    demo's settings: small orders, the loosened thresholds, alerts to the local receiver."""
    import yaml

    write_workspace(ws, info)
    data = yaml.safe_load(ws.config_path.read_text())
    data["workspace"]["name"] = "livegate-demo"
    data["workspace"]["operator"] = "demo operator"
    data["exchange"]["timeframe"] = "1h"
    (ws.strategies_dir / "demo_trend.py").write_text(DEMO_STRATEGY)
    data["strategy"] = {"ref": "strategies/demo_trend.py:DemoTrend", "params": {"period": 20, "hold": 4, "order_value": 8.0}}
    data["testnet"]["order_value"] = 8.0
    data["thresholds"] = {"paper": DEMO_THRESHOLDS["paper"], "micro-live": DEMO_THRESHOLDS["micro-live"]}
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


def _testnet(ws: Any, key: Any):
    result, _extras = run_testnet(ws, key, TestnetOptions(ask=lambda a: True))
    return result


def _stage(ws: Any, key: Any, stage: str, market: SandboxClock):
    """`go-live --stage STAGE --sandbox-clock --yes`: market time moves one bar per wait of the
    loop; a stage that has not completed after STAGE_MAX_DAYS of market time stops (and fails)."""
    bar_ms = TIMEFRAME_MS[ws.effective.config.exchange.timeframe]
    market.start_on_bar(bar_ms)
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
