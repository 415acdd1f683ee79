"""Turn a run's trades into the paper phase's result and record it (kind `phase` for a
forward run while the paper gate is open, `backtest` or `import` for research)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from livegate import __version__
from livegate.core.canonical import sha256_hex
from livegate.core.evaluation import evaluate_trades
from livegate.core.results import PhaseResult
from livegate.core.trades import TradeLog
from livegate.ledger import queries
from livegate.ledger.store import Ledger
from livegate.phases import PhaseContext, criteria_for, run_checks
from livegate.phases.paper.drills import run_drills
from livegate.phases.paper.plugin import PHASE
from livegate.phases.paper.run import run_events
from livegate.phases.paper.stress import SCENARIO_BARS, SCENARIOS_PER_KIND, StressTest
from livegate.services import gate


def trade_log_of_run(ws, run_id: str, capital: float):
    """The run's closed trades as the ledger holds them (all of them, across resumes)."""

    trades = run_events(ws, run_id, ("trade",))
    return TradeLog.from_arrays([t["closed_ms"] for t in trades], [t["gross"] for t in trades], [t["fee"] for t in trades],
                                capital, symbol=[t["symbol"] for t in trades], side=[t["side"] for t in trades],
                                opened_at_ms=[t["opened_ms"] for t in trades])


def recorded_backtests(ws) -> list[dict[str, Any]]:
    """Summaries of the backtests recorded in this workspace (trials for the deflated Sharpe,
    and the latest one is the baseline of a forward run)."""
    with queries.reading(ws.ledger_path) as conn:
        payloads = queries.result_payloads(conn, "backtest")
    return [p["summary"] for p in payloads]


def trials_from_ledger(ws, operator_trials: int) -> tuple[int, float, str]:
    """N and V for the deflated Sharpe: the variants the operator says they tried, or the
    backtests recorded here if more; V is the variance of those backtests' daily Sharpes."""
    import statistics

    srs = [b["daily_sharpe"] for b in recorded_backtests(ws) if b.get("daily_sharpe") is not None]
    n = max(operator_trials, len(srs), 1)
    v = statistics.variance(srs) if len(srs) >= 2 else 0.0
    note = f"N = {n} variants (operator: {operator_trials}; backtests recorded in this ledger: {len(srs)}), V from {len(srs)} recorded backtests"
    return n, v, note


def evaluate_and_record(ws, effective, log, *, kind: str, summary: dict[str, Any], key=None, bars_close=None, bars_ts_ms=None,
                        trials: int = 1, strategy_factory: Callable[[], Any] | None = None, stress_progress=None,
                        stress: PendingStress | None = None) -> tuple[PhaseResult, dict, dict]:
    """Evaluate, run the drills (and the stress test when a strategy is given, or `stress`
    started earlier), compare with the latest backtest (forward runs), record. Returns
    (result, evaluation, extras)."""

    n, v, trials_note = trials_from_ledger(ws, trials)
    baseline = None
    if kind == "phase":
        backtests = recorded_backtests(ws)
        baseline = backtests[-1].get("metrics") if backtests else None
    evaluation = evaluate_trades(log, bars_close=bars_close, bars_ts_ms=bars_ts_ms, trials=n, sharpe_variance=v, baseline=baseline)
    evaluation["statistics"]["dsr"]["trials_note"] = trials_note
    extras: dict[str, Any] = {"evaluation": evaluation, "drills": run_drills(effective.risk)}
    if stress is not None or strategy_factory is not None:
        with stress or PendingStress(ws, effective, strategy_factory, reuse=kind != "phase") as pending:
            extras["stress"] = pending.result(key, stress_progress, reuse=kind != "phase")
    spec = next(s for s in effective.specs if s.id == "paper")
    checks = run_checks(criteria_for(spec, "paper"), PHASE.checks, PhaseContext(ws, effective, "paper", extras))
    metrics = evaluation["metrics"]
    summary = {**summary, "metrics": {k: v for k, v in metrics.items() if k != "reasons"}, "metric_reasons": metrics["reasons"],
               "daily_sharpe": evaluation["statistics"]["psr"].get("sr"), "counts_as_phase_result": kind == "phase"}
    if "stress" in extras:
        summary["stress"] = {k: v for k, v in extras["stress"].items() if k != "results"}
    result = PhaseResult(step="paper", checks=checks, kind=kind, summary=summary)
    gate.record_result(ws, result, key=key, ran_under=effective.fingerprint)
    return result, evaluation, extras


class PendingStress:
    """The stress test of the workspace's strategy, begun before its result is wanted: the
    result recorded in this ledger under the same configuration (when `reuse`), or else a
    `StressTest` running alongside (in a helper process where it can), recorded when `result()`
    is asked for. A context manager: leaving it stops a helper still running.

    Only research runs (backtests, imports) reuse a recorded result: a `stress_result` event
    carries no operator signature, so a result that can count for the paper gate runs the
    scenarios itself (a stress result written into the ledger by someone else never passes it)."""

    def __init__(self, ws, effective, strategy_factory: Callable[[], Any], reuse: bool = True):
        self.ws, self.effective, self.strategy_factory = ws, effective, strategy_factory
        self.cached = cached_stress(ws, effective) if reuse else None
        self.test = None if self.cached is not None else StressTest(effective, strategy_factory)

    def __enter__(self) -> PendingStress:
        return self

    def __exit__(self, *exc) -> None:
        if self.test is not None:
            self.test.close()

    def result(self, key=None, progress=None, reuse: bool = True) -> dict[str, Any]:
        if self.cached is not None and reuse:
            return self.cached
        if self.test is None:  # a recorded result was found but may not be used here: run them now
            self.test = StressTest(self.effective, self.strategy_factory)
        return record_stress(self.ws, self.effective, self.test.result(progress), key)


def _stress_key(effective) -> str:
    """The stress test depends only on the configuration (strategy file, params, risk limits,
    capital, fees — all in the fingerprint), the scenario set and livegate's version."""

    return sha256_hex(f"{effective.fingerprint}|{__version__}|{SCENARIOS_PER_KIND}|{SCENARIO_BARS}")


def cached_stress(ws, effective) -> dict[str, Any] | None:
    """A stress result recorded in this ledger under the same configuration, if any."""
    with queries.reading(ws.ledger_path) as conn:
        payload = queries.latest_stress_result(conn, _stress_key(effective))
    if payload is None:
        return None
    return {**payload["result"], "cached": True}


def record_stress(ws, effective, result: dict[str, Any], key=None) -> dict[str, Any]:
    with Ledger.open(ws.ledger_path, key=key) as ledger:
        ledger.append("stress_result", {"key": _stress_key(effective), "config_fingerprint": effective.fingerprint, "result": result})
    return {**result, "cached": False}
