"""Phase 2 — paper trading verification (`phases/paper.yaml`).

The checks read the evaluation of a trade log (metrics and statistics, `core.evaluation`)
and the guardian drills and stress test (`paper.drills`) from the context's extras; a value
that is undefined (None) fails its criterion with the reason, never passes."""

from __future__ import annotations

import math
from typing import Any

from livegate.core.results import Verdict
from livegate.phases import Measurement, PhaseContext


def _metric(key: str, inf_reason: str | None = None):
    def check(ctx: PhaseContext) -> Measurement:
        metrics = ctx.extras["evaluation"]["metrics"]
        value = metrics.get(key)
        reason = metrics["reasons"].get(key, "")
        if value is None and inf_reason and reason.startswith(inf_reason):
            return Measurement(math.inf, message=reason)
        if value is None:
            return Measurement(None, message=reason or "undefined", verdict=Verdict.FAIL)
        return Measurement(value)

    check.__name__ = f"check_{key}"
    return check


def _stat(path: tuple[str, ...], reason_at: tuple[str, ...] = ()):
    def check(ctx: PhaseContext) -> Measurement:
        node: Any = ctx.extras["evaluation"]["statistics"]
        for part in path[:-1]:
            node = node[part]
        value = node.get(path[-1])
        if value is None:
            return Measurement(None, evidence=node, message=str(node.get("reason") or "undefined"), verdict=Verdict.FAIL)
        return Measurement(value, evidence={k: v for k, v in node.items() if not isinstance(v, (dict, list))})

    check.__name__ = "check_" + "_".join(path)
    return check


def check_regime_breakdown_positive(ctx: PhaseContext) -> Measurement:
    regimes = ctx.extras["evaluation"]["statistics"]["regimes"]
    return Measurement(regimes.get("positive_regimes"), evidence=regimes.get("source"))


def check_guardian_drills_blocked(ctx: PhaseContext) -> Measurement:
    drills = ctx.extras.get("drills")
    if drills is None:
        return Measurement(None, message="guardian drills were not run", verdict=Verdict.ERROR)
    failed = [d["name"] for d in drills if not d["blocked"]]
    return Measurement(not failed, evidence=drills, message=("not blocked: " + ", ".join(failed)) if failed else "")


def check_stress_scenarios(ctx: PhaseContext) -> Measurement:
    stress = ctx.extras.get("stress")
    if stress is None:
        return Measurement(None, message="the stress test was not run", verdict=Verdict.ERROR)
    return Measurement(stress["scenarios"], evidence={k: v for k, v in stress.items() if k != "results"})


def check_stress_max_drawdown_pct(ctx: PhaseContext) -> Measurement:
    stress = ctx.extras.get("stress")
    if stress is None:
        return Measurement(None, message="the stress test was not run", verdict=Verdict.ERROR)
    return Measurement(stress["max_drawdown_pct"], evidence={"worst": stress["worst"]})


class PaperPhase:
    id = "paper"
    checks = {
        "min_trades": _metric("total_trades"),
        "max_drawdown_pct": _metric("max_drawdown_pct"),
        "sharpe": _metric("sharpe"),
        "profit_factor": _metric("profit_factor", inf_reason="no losing trades"),
        "total_return_pct": _metric("total_return_pct"),
        "fee_drag_pct": _metric("fee_drag_pct"),
        "win_rate_pct": _metric("win_rate_pct"),
        "worst_trade_pct": _metric("worst_trade_pct"),
        "bootstrap_sharpe_low": _stat(("bootstrap_sharpe", "low")),
        "ruin_prob_50_pct": _stat(("ruin", "ruin_prob_50_pct")),
        "oos_sharpe": _stat(("out_of_sample", "oos_sharpe")),
        "regime_breakdown_positive": check_regime_breakdown_positive,
        "psr": _metric("psr"),
        "dsr": _metric("dsr"),
        "guardian_drills_blocked": check_guardian_drills_blocked,
        "stress_scenarios": check_stress_scenarios,
        "stress_max_drawdown_pct": check_stress_max_drawdown_pct,
    }


PHASE = PaperPhase()
