"""Phase 4 — micro-live stages (`phases/micro-live.yaml`): each stage's cap, duration and
successful trades, and the kill criteria against the signed-off paper result. The checks read
the stage's measurements (`livegate.phases.microlive.stage.measure`) from the context's extras."""

from __future__ import annotations

from livegate.core.results import Verdict
from livegate.phases import Measurement, PhaseContext

NO_TRADES = "no closed live trades at this stage to compare with paper"


def _measure(key: str, none_message: str = "", skip_when_no_baseline: bool = False):
    def check(ctx: PhaseContext) -> Measurement:
        m = ctx.extras["measures"]
        value = m.get(key)
        if value is None:
            if skip_when_no_baseline and m["baseline"]["mean_trade_return"] is None:
                return Measurement(None, evidence=m["baseline"], verdict=Verdict.SKIP,
                                   message=f"the paper baseline ({m['baseline']['source']}) has no per-trade values; compared by win rate only")
            return Measurement(None, message=none_message or "not measured", verdict=Verdict.FAIL)
        evidence = {k: m[k] for k in ("orders", "closed_trades", "net_pnl")}
        if key in ("live_vs_paper_worse_pct", "win_rate_gap_points"):
            evidence.update(baseline=m["baseline"], live_win_rate_pct=m["win_rate_pct"], live_mean_trade_return=m["live_mean_trade_return"])
        if key == "limits_enforced":
            evidence.update(orders_over_cap=m["orders_over_cap"])
        return Measurement(value, evidence=evidence)

    check.__name__ = f"check_{key}"
    return check


class MicroLivePhase:
    id = "micro-live"
    checks = {
        "max_trade_value": _measure("max_trade_value"),
        "min_duration_hours": _measure("min_duration_hours"),
        "min_successful_trades": _measure("min_successful_trades"),
        "live_vs_paper_worse_pct": _measure("live_vs_paper_worse_pct", NO_TRADES, skip_when_no_baseline=True),
        "unexpected_loss_usd": _measure("unexpected_loss_usd"),
        "limits_enforced": _measure("limits_enforced"),
        "win_rate_gap_points": _measure("win_rate_gap_points", NO_TRADES),
    }


PHASE = MicroLivePhase()
