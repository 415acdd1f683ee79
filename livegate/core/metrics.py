"""Paper-phase metrics of a trade log, exactly as defined in SPEC §10.

Conventions (C = starting capital, trades sorted by close time, net_i = gross_i − fee_i):

- win rate = #(net > 0) / N (zero-PnL trades are not wins but count in N);
- profit factor = Σ positive net / |Σ negative net|;
- expectancy = mean(net); total return % = 100·Σnet / C; fee drag % = 100·Σfee / Σgross;
- worst trade % = 100·min(net) / C; max consecutive losses = longest run of net < 0;
- max drawdown (trade level) = −min_k (E_k / max_{j≤k} E_j − 1), E_0 = C, E_k = C + Σ_{i≤k} net_i;
- daily series: d_t = Σ net closed on UTC day t, every calendar day from the first to the
  last trade day (empty days are 0); Eod_t = C + cumsum(d)_t; r_t = d_t / Eod_{t−1}, Eod_0 = C;
- Sharpe = mean(r) / std(r, ddof=1) · √365; Sortino = mean(r) / √(mean(min(r, 0)²)) · √365;
  daily P&L variance = var(d, ddof=1).

A value that is not a finite number is returned as None, and `reasons[key]` says why. numpy
is imported inside the functions so that importing this module stays light.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from livegate.core.trades import DAY_MS, TradeLog

if TYPE_CHECKING:  # numpy is imported inside the functions
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

ANNUALIZATION_DAYS = 365

METRIC_KEYS = (
    "total_trades",
    "win_rate",
    "profit_factor",
    "expectancy",
    "total_return_pct",
    "fee_drag_pct",
    "worst_trade_pct",
    "max_consecutive_losses",
    "max_drawdown_pct",
    "sharpe",
    "sortino",
    "daily_pnl_variance",
    "gross_pnl",
    "net_pnl",
    "fees",
    "win_rate_pct",
    "trading_days",
    "final_equity",
    "ruined",
)

NO_TRADES = "no trades"


def daily_returns(log: TradeLog) -> tuple[NDArray[np.datetime64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The daily series of SPEC §10 as numpy arrays `(days, d, eod, r)`:

    - `days`: datetime64[D], every calendar UTC day from the first to the last trade day;
    - `d[t]` = Σ net of the trades closed on `days[t]` (0 on a day without trades);
    - `eod[t]` = C + Σ_{s≤t} d[s], the equity at the end of the day;
    - `r[t]` = d[t] / eod[t−1] with eod[−1] = C.

    When eod[t−1] ≤ 0 the account was ruined before day t and a return relative to a
    non-positive equity means nothing: r[t] is NaN there, and every metric that needs r is
    None with a reason. No trades gives four empty arrays.
    """
    import numpy as np

    net = log.net
    if len(net) == 0:
        return (np.array([], dtype="datetime64[D]"), np.zeros(0), np.zeros(0), np.zeros(0))
    day = np.floor_divide(log.closed_at_ms, DAY_MS)
    first = int(day[0])
    n_days = int(day[-1]) - first + 1
    d = np.asarray(np.bincount(day - first, weights=net, minlength=n_days), dtype=np.float64)  # weighted: float64
    eod = log.capital + np.cumsum(d)
    prev = np.empty(n_days)
    prev[0] = log.capital
    prev[1:] = eod[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(prev > 0, d / np.where(prev > 0, prev, 1.0), np.nan)
    days = (np.arange(n_days, dtype=np.int64) + first).astype("datetime64[D]")
    return days, d, eod, r


def sharpe_ratio(r: ArrayLike) -> tuple[float | None, str | None]:
    """Annualized Sharpe of daily returns: mean(r) / std(r, ddof=1) · √365 (rf = 0).

    Returns (value, None) or (None, reason): fewer than 2 returns, a return undefined after
    ruin (NaN), or a zero standard deviation (all returns equal)."""
    import numpy as np

    r = np.asarray(r, dtype=np.float64)
    reason = _returns_problem(r)
    if reason:
        return None, reason
    if r.max() == r.min():
        return None, "daily returns have zero standard deviation"
    return float(r.mean() / r.std(ddof=1) * ANNUALIZATION_DAYS**0.5), None


def sortino_ratio(r: ArrayLike) -> tuple[float | None, str | None]:
    """Annualized Sortino of daily returns: mean(r) / √(mean(min(r, 0)²)) · √365, the mean
    in the denominator taken over all days (not only the losing ones).

    Returns (None, reason) with fewer than 2 returns, after ruin, or without a negative day
    (the ratio would be +inf, or 0/0 when the mean is 0 too)."""
    import numpy as np

    r = np.asarray(r, dtype=np.float64)
    reason = _returns_problem(r)
    if reason:
        return None, reason
    downside = np.minimum(r, 0.0)
    dd = float(np.sqrt(np.mean(downside * downside)))
    if dd == 0.0:
        return None, "no negative daily returns (+inf)" if r.mean() > 0 else "no negative daily returns (0/0)"
    return float(r.mean() / dd * ANNUALIZATION_DAYS**0.5), None


def _returns_problem(r: NDArray[np.float64]) -> str | None:
    import numpy as np

    if r.size < 2:
        return f"fewer than 2 daily returns ({r.size})"
    if np.isnan(r).any():
        return "equity reached <= 0: daily returns after ruin are undefined"
    return None


def max_consecutive(mask: NDArray[np.bool_] | Sequence[bool]) -> int:
    """Length of the longest run of True in a boolean array (0 when empty)."""
    import numpy as np

    if len(mask) == 0:
        return 0
    edges = np.diff(np.concatenate(([0], np.asarray(mask, dtype=np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    if starts.size == 0:
        return 0
    ends = np.flatnonzero(edges == -1)
    return int((ends - starts).max())


def compute_metrics(log: TradeLog) -> dict[str, Any]:
    """All SPEC §10 metrics of `log`, keys as in `METRIC_KEYS` plus `reasons`.

    Values are plain Python numbers (JSON-able); a value that is not finite is None and
    `reasons[key]` explains it. `max_drawdown_pct` is positive and not capped: an equity
    below zero gives more than 100. `ruined` is True when the equity E_k reached ≤ 0 after
    some trade. `trading_days` counts the calendar days of the daily series (first to last
    trade day, empty days included); `win_rate_pct` = 100·win_rate.
    """
    import numpy as np

    C = float(log.capital)
    net, gross, fee = log.net, log.gross, log.fee
    n = len(net)
    reasons: dict[str, str] = {}
    out: dict[str, Any] = {key: None for key in METRIC_KEYS}

    sum_net = float(net.sum()) if n else 0.0
    sum_gross = float(gross.sum()) if n else 0.0
    sum_fee = float(fee.sum()) if n else 0.0
    out.update(
        total_trades=n,
        gross_pnl=sum_gross,
        net_pnl=sum_net,
        fees=sum_fee,
        total_return_pct=100.0 * sum_net / C,
        final_equity=C + sum_net,
        max_consecutive_losses=max_consecutive(net < 0),
    )

    if n == 0:
        for key in ("win_rate", "win_rate_pct", "profit_factor", "expectancy", "worst_trade_pct"):
            reasons[key] = NO_TRADES
        out.update(max_drawdown_pct=0.0, ruined=False, trading_days=0)
    else:
        wins = int(np.count_nonzero(net > 0))
        out["win_rate"] = wins / n
        out["win_rate_pct"] = 100.0 * wins / n
        pos = float(net[net > 0].sum())
        neg = float(-net[net < 0].sum())
        if neg > 0:
            out["profit_factor"] = pos / neg
        elif pos > 0:
            reasons["profit_factor"] = "no losing trades (+inf)"
        else:
            reasons["profit_factor"] = "no winning or losing trades (0/0)"
        out["expectancy"] = sum_net / n
        out["worst_trade_pct"] = 100.0 * float(net.min()) / C

        equity = np.empty(n + 1)
        equity[0] = C
        np.cumsum(net, out=equity[1:])
        equity[1:] += C
        peak = np.maximum.accumulate(equity)
        out["max_drawdown_pct"] = float(-100.0 * (equity / peak - 1.0).min()) + 0.0
        out["ruined"] = bool((equity[1:] <= 0).any())

    if sum_gross > 0:
        out["fee_drag_pct"] = 100.0 * sum_fee / sum_gross
    else:
        reasons["fee_drag_pct"] = NO_TRADES if n == 0 else f"gross PnL <= 0 ({sum_gross:g}): fee drag undefined"

    days, d, _eod, r = daily_returns(log)
    out["trading_days"] = int(len(days))
    if n == 0:
        for key in ("sharpe", "sortino", "daily_pnl_variance"):
            reasons[key] = NO_TRADES
    else:
        out["sharpe"], why = sharpe_ratio(r)
        if why:
            reasons["sharpe"] = why
        out["sortino"], why = sortino_ratio(r)
        if why:
            reasons["sortino"] = why
        if len(d) >= 2:
            out["daily_pnl_variance"] = float(np.var(d, ddof=1))
        else:
            reasons["daily_pnl_variance"] = f"fewer than 2 days ({len(d)})"

    for key, value in out.items():
        if isinstance(value, float) and not math.isfinite(value):
            out[key] = None
            reasons[key] = f"not a finite number ({value})"
    out["reasons"] = reasons
    return out
