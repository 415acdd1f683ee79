"""The paper phase's evaluation of a trade log: SPEC §10 metrics and the seed 001 §1.2
statistics in one JSON-able dict. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from livegate.core.metrics import compute_metrics
from livegate.core.statistics import (
    bootstrap_ci,
    compare_with_baseline,
    deflated_sharpe,
    out_of_sample,
    psr,
    regime_breakdown,
    ruin_probabilities,
)
from livegate.core.trades import TradeLog

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


def evaluate_trades(log: TradeLog, *, bars_close: NDArray[np.float64] | Sequence[float] | None = None,
                    bars_ts_ms: NDArray[np.int64] | Sequence[int] | None = None, trials: int = 1,
                    sharpe_variance: float = 0.0, baseline: dict[str, Any] | None = None) -> dict[str, Any]:
    """Metrics and statistics of `log`. `trials`/`sharpe_variance` feed the deflated Sharpe;
    `baseline` (a backtest's metrics) adds the overfitting comparison of seed 001 §1.2."""
    metrics = compute_metrics(log)
    stats: dict[str, Any] = {
        "bootstrap_sharpe": bootstrap_ci(log, "sharpe"),
        "bootstrap_expectancy": bootstrap_ci(log, "expectancy"),
        "ruin": ruin_probabilities(log),
        "psr": psr(log),
        "dsr": deflated_sharpe(log, trials, sharpe_variance),
        "out_of_sample": out_of_sample(log),
        "regimes": regime_breakdown(log, bars_close, bars_ts_ms),
        "baseline": compare_with_baseline(metrics, baseline) if baseline else None,
    }
    metrics["psr"] = stats["psr"]["psr"]
    metrics["dsr"] = stats["dsr"]["dsr"]
    for key in ("psr", "dsr"):
        if metrics[key] is None and stats[key].get("reason"):
            metrics["reasons"][key] = stats[key]["reason"]
    return {"metrics": metrics, "statistics": stats}
