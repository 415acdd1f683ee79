"""After a paper run or an import: evaluate the trades against the paper criteria (metrics,
statistics, the guardian's drills, the stress test), record the result, and build the report
that the command line prints and `--json` emits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from livegate.config.strategy import load_strategy
from livegate.phases.paper.evaluate import evaluate_and_record, trade_log_of_run
from livegate.phases.paper.run import BACKTEST, RunOutcome, run_counts

StressProgress = Callable[[int, int], None]


def evaluate_with_stress(ws: Any, effective: Any, log: Any, *, kind: str, summary: dict[str, Any], key: Any, trials: int,
                         stress_progress: StressProgress | None = None, pending: Any = None) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """`evaluate_and_record` with the workspace's configured strategy in the stress test, or
    `pending`, a `PendingStress` begun earlier. Returns (result, evaluation, extras)."""
    cfg = effective.config
    return evaluate_and_record(
        ws, effective, log, kind=kind, summary=summary, key=key, trials=trials,
        strategy_factory=lambda: load_strategy(cfg.strategy.ref, dict(cfg.strategy.params), ws.root),
        stress_progress=stress_progress or (lambda done, total: None), stress=pending,
    )


def evaluation_report(result: Any, evaluation: dict[str, Any], extras: dict[str, Any]) -> dict[str, Any]:
    """The evaluation part of a report (and of the --json object): metrics to verdict."""
    return {
        "metrics": {**evaluation["metrics"]},
        "statistics": evaluation["statistics"],
        "drills": extras["drills"],
        "stress": {k: v for k, v in extras.get("stress", {}).items() if k != "results"},
        "criteria": [c.to_dict() for c in result.checks],
        "verdict": result.verdict.value,
    }


def run_report(ws: Any, outcome: RunOutcome, key: Any, trials: int, stress_progress: StressProgress | None = None) -> dict[str, Any]:
    """Evaluate a finished paper run and record its result; returns the report (also the
    --json object)."""
    effective = ws.effective
    log = trade_log_of_run(ws, outcome.run_id, effective.config.capital.starting)
    engine = outcome.engine
    counts = run_counts(ws, outcome.run_id)
    summary = {
        "run": outcome.run_id,
        "data": outcome.data,
        "bars": outcome.bars,
        "final_equity": engine.account.equity(),
        "open_positions": {s: p.amount for s, p in engine.account.positions.items()},
        "dust": {s: p.amount for s, p in engine.account.dust.items()},  # too small to sell: kept, not an open position
        "fees_paid": engine.account.fees_paid,
        "orders": counts["events"].get("order_placed", 0),
        "fills": counts["events"].get("fill", 0),
        "blocked": counts["events"].get("order_blocked", 0),
        "blocked_by_rule": counts["blocked_by_rule"],
        "rejected": counts["events"].get("order_rejected", 0),
        "breaker_trips": counts["breaker_trips"],
        "resumed_from_bar": outcome.resumed_from,
    }
    kind = "backtest" if outcome.plan.kind == BACKTEST else "phase"
    result, evaluation, extras = evaluate_with_stress(ws, effective, log, kind=kind, summary=summary, key=key, trials=trials,
                                                      stress_progress=stress_progress)
    return {
        "run": outcome.run_id,
        "kind": kind if kind == "backtest" else "forward",
        "counts_as_phase_result": kind == "phase",
        "synthetic_data": bool(outcome.data.get("synthetic")),
        "data": outcome.data,
        "summary": summary,
        **evaluation_report(result, evaluation, extras),
        "timing": {"wall_seconds": outcome.wall_seconds, "ledger_seconds": outcome.journal_seconds},
    }
