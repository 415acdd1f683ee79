"""Statistical validation of a paper run (seed 001 §1.2, SPEC §10): bootstrap intervals,
Monte Carlo ruin, probabilistic and deflated Sharpe, out-of-sample split, regime breakdown
and the backtest-vs-forward overfitting check.

Every random procedure takes an explicit `seed` and uses `numpy.random.default_rng(seed)`;
the same inputs and seed give the same numbers. Resampling is vectorized with index
matrices, in chunks of a fixed size that depends only on the data length (so chunking never
changes a result). numpy is imported inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from livegate.core.metrics import ANNUALIZATION_DAYS, NO_TRADES, compute_metrics, sharpe_ratio
from livegate.core.metrics import daily_returns as daily_series
from livegate.core.trades import DAY_MS, TradeLog

if TYPE_CHECKING:  # numpy is imported inside the functions
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

DEFAULT_SEED = 7
EULER_GAMMA = 0.5772156649
RUIN_FRACTIONS = (0.2, 0.3, 0.5, 1.0)
# Elements per resampling chunk: about 16 MB of float64 at a time.
_CHUNK_ELEMENTS = 2_000_000


def _rows_per_chunk(width: int) -> int:
    return max(1, _CHUNK_ELEMENTS // max(1, width))


def _norm_cdf(x: float) -> float:
    """Φ(x) = (1 + erf(x/√2)) / 2."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


# --------------------------------------------------------------------------- bootstrap


def bootstrap_ci(
    log: TradeLog, stat: str = "sharpe", n: int = 10_000, level: float = 0.95, seed: int = DEFAULT_SEED,
    max_cells: int = 50_000_000,
) -> dict[str, Any]:
    """Percentile bootstrap interval of `stat` ("sharpe" or "expectancy").

    - sharpe: resample the daily returns r_t (SPEC §10 daily series) with replacement, m days
      per resample (m = number of days); each resample's statistic is the annualized Sharpe
      mean/std(ddof=1)·√365. A resample whose returns are all equal has no Sharpe and is
      left out (`n` counts the resamples used).
    - expectancy: resample the trade nets with replacement, N per resample; statistic mean(net).
      When n·N would exceed `max_cells` draws (hundreds of thousands of trades), whole UTC days
      are resampled instead (a block bootstrap: the statistic is the drawn days' net P&L over
      their number of trades) and `unit` says "day".

    The interval is [q((1−level)/2), q((1+level)/2)] of the resampled statistics (numpy's
    default linear quantile). `point` is the statistic of the log itself. Returns
    {stat, low, high, point, n, n_requested, level, seed, reason}; low/high/point are None with
    a reason when the statistic is undefined (too few days or trades, ruin, zero variance).
    """
    import numpy as np

    if stat not in ("sharpe", "expectancy"):
        raise ValueError(f"stat must be 'sharpe' or 'expectancy' (got {stat!r})")
    if int(n) < 1:
        raise ValueError(f"n must be >= 1 (got {n!r})")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1 (got {level!r})")
    out: dict[str, Any] = {
        "stat": stat, "low": None, "high": None, "point": None, "n": 0,
        "n_requested": int(n), "level": level, "seed": seed, "reason": None, "unit": "day" if stat == "sharpe" else "trade",
    }
    if len(log) == 0:
        out["reason"] = NO_TRADES
        return out
    rng = np.random.default_rng(seed)
    if stat == "sharpe":
        r = daily_series(log)[3]
        point, why = sharpe_ratio(r)
        if point is None:
            out["reason"] = why
            return out
        values = _resample_sharpes(r, int(n), rng)
    else:
        net = log.net
        if len(net) < 2:
            out["reason"] = f"fewer than 2 trades ({len(net)})"
            return out
        point = float(net.mean())
        if int(n) * len(net) > max_cells:
            out["unit"] = "day"
            values = _resample_day_means(log, int(n), rng)
        else:
            values = _resample_means(net, int(n), rng)

    values = values[np.isfinite(values)]
    out["point"] = point
    out["n"] = int(values.size)
    if values.size == 0:
        out["reason"] = "no resample had a defined statistic"
        return out
    low, high = np.quantile(values, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    out["low"], out["high"] = float(low), float(high)
    return out


def _resample_sharpes(r: NDArray[np.float64], n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    import numpy as np

    m = len(r)
    step = _rows_per_chunk(m)
    parts = []
    for start in range(0, n, step):
        k = min(step, n - start)
        sample = r[rng.integers(0, m, size=(k, m))]
        mean = sample.mean(axis=1)
        std = sample.std(axis=1, ddof=1)
        flat = sample.max(axis=1) == sample.min(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            parts.append(np.where(flat, np.nan, mean / np.where(flat, 1.0, std) * ANNUALIZATION_DAYS**0.5))
    return np.concatenate(parts)


def _resample_means(x: NDArray[np.float64], n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    import numpy as np

    m = len(x)
    step = _rows_per_chunk(m)
    parts = [x[rng.integers(0, m, size=(min(step, n - s), m))].mean(axis=1) for s in range(0, n, step)]
    return np.concatenate(parts)


def _resample_day_means(log: TradeLog, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """Block bootstrap of the mean trade: resample days, mean = Σ their net / Σ their trades."""
    import numpy as np

    day = log.closed_at_ms // DAY_MS
    days, idx, counts = np.unique(day, return_inverse=True, return_counts=True)
    sums = np.bincount(idx, weights=log.net)
    m = len(days)
    step = _rows_per_chunk(m)
    parts = []
    for start in range(0, n, step):
        pick = rng.integers(0, m, size=(min(step, n - start), m))
        parts.append(sums[pick].sum(axis=1) / counts[pick].sum(axis=1))
    return np.concatenate(parts)


# --------------------------------------------------------------------------- Monte Carlo ruin


def _pct_key(fraction: float) -> str:
    return f"{round(fraction * 100, 6):g}"


MAX_RUIN_CELLS = 50_000_000


def ruin_probabilities(
    log: TradeLog, fractions: Sequence[float] = RUIN_FRACTIONS, n: int = 10_000, seed: int = DEFAULT_SEED,
    max_cells: int = MAX_RUIN_CELLS,
) -> dict[str, Any]:
    """Monte Carlo probability of ruin, by simulation.

    Each of `n` paths draws N trade nets with replacement from the log (N = the log's number
    of trades) and follows the equity E_0 = C, E_k = C + Σ_{i≤k} net_i. For each fraction f
    (0 < f ≤ 1) the probability is the share of paths whose equity falls to C·(1−f) or below
    at any step (f = 1: the account reaches zero). All fractions use the same paths, so the
    probabilities never increase with f.

    When n·N would exceed `max_cells` draws (a log of hundreds of thousands of trades), the
    paths resample whole UTC days of the daily P&L series instead (d_t of SPEC §10, one path
    step per day, as many days as the log spans): the trades of a day stay together and
    equity is checked at each day's end. `unit` says which ("trade" or "day").

    Returns {"20": p, "30": p, "50": p, "100": p (fractions, keys in percent), "n",
    "trades_per_path", "unit", "steps_per_path", "seed", "reason", "ruin_prob_50_pct" (100·p
    for f = 0.5, when 0.5 is among the fractions)}. With no trades the probabilities are None
    with a reason.
    """
    import numpy as np

    if int(n) < 1:
        raise ValueError(f"n must be >= 1 (got {n!r})")
    pcts: list[tuple[str, float]] = []
    for f in fractions:
        if not (isinstance(f, (int, float)) and 0 < f <= 1):
            raise ValueError(f"ruin fractions must be in (0, 1] (got {f!r})")
        key = _pct_key(f)
        pcts.append((key, float(key)))
    out: dict[str, Any] = {key: None for key, _ in pcts}
    out.update(n=int(n), trades_per_path=len(log), unit="trade", steps_per_path=len(log), seed=seed, reason=None)
    if any(key == "50" for key, _ in pcts):
        out["ruin_prob_50_pct"] = None
    net = log.net
    m = len(net)
    if m == 0:
        out["reason"] = NO_TRADES
        return out
    if int(n) * m > max_cells:
        net = np.asarray(daily_series(log)[1], dtype=float)
        m = len(net)
        out.update(unit="day", steps_per_path=m)

    C = float(log.capital)
    floors = np.array([C * (100.0 - pct) / 100.0 for _, pct in pcts])
    hits = np.zeros(len(pcts), dtype=np.int64)
    rng = np.random.default_rng(seed)
    step = _rows_per_chunk(m)
    for start in range(0, int(n), step):
        k = min(step, int(n) - start)
        paths = net[rng.integers(0, m, size=(k, m))]
        np.cumsum(paths, axis=1, out=paths)
        lowest = C + paths.min(axis=1)
        hits += (lowest[:, None] <= floors[None, :]).sum(axis=0)
    for (key, _), h in zip(pcts, hits):
        out[key] = float(h) / int(n)
    if "ruin_prob_50_pct" in out:
        out["ruin_prob_50_pct"] = 100.0 * out["50"]
    return out


# --------------------------------------------------------------------------- PSR / DSR


def sharpe_moments(returns: ArrayLike) -> dict[str, Any]:
    """The sample moments the PSR needs, of daily returns r_1..r_n:

    - SR = mean(r) / std(r, ddof=1), the daily, non-annualized Sharpe;
    - with m_k = (1/n)·Σ(r − mean)^k, g1 = m3 / m2^(3/2) and g2 = m4 / m2² − 3:
    - γ3 = G1 = √(n(n−1)) / (n−2) · g1 (bias-corrected, adjusted Fisher–Pearson skewness);
    - γ4 = G2 + 3 with G2 = ((n+1)·g2 + 6)·(n−1) / ((n−2)(n−3)) (bias-corrected excess
      kurtosis), so γ4 is the raw kurtosis, 3 for a normal.

    Returns {n, sr, skewness, kurtosis, reason}; the moments are None with a reason when
    n < 4, a return is NaN (after ruin), or all returns are equal.
    """
    import numpy as np

    r = np.asarray(returns, dtype=np.float64).reshape(-1)
    n = int(r.size)
    out: dict[str, Any] = {"n": n, "sr": None, "skewness": None, "kurtosis": None, "reason": None}
    if np.isnan(r).any():
        out["reason"] = "equity reached <= 0: daily returns after ruin are undefined"
        return out
    if n < 4:
        out["reason"] = f"fewer than 4 daily returns ({n})"
        return out
    if r.max() == r.min():
        out["reason"] = "daily returns have zero standard deviation"
        return out
    # Products, not float powers (`**` on an array is a general `pow` per element): one pass
    # each, and the sum of squares shared by m2 and the sample standard deviation.
    mean = float(r.mean())
    dev = r - mean
    sq = dev * dev
    ss = float(np.sum(sq))
    m2 = ss / n
    m3 = float(np.mean(sq * dev))
    m4 = float(np.mean(sq * sq))
    g1 = m3 / (m2 * math.sqrt(m2))
    g2 = m4 / (m2 * m2) - 3.0
    out["sr"] = mean / math.sqrt(ss / (n - 1))
    out["skewness"] = math.sqrt(n * (n - 1)) / (n - 2) * g1
    out["kurtosis"] = ((n + 1) * g2 + 6.0) * (n - 1) / ((n - 2) * (n - 3)) + 3.0
    return out


def probabilistic_sharpe(
    sr: float, n: int, skewness: float, kurtosis: float, sr_star: float = 0.0
) -> tuple[float | None, str | None]:
    """PSR(SR*) = Φ((SR − SR*)·√(n−1) / √(1 − γ3·SR + (γ4−1)/4·SR²)), SR and SR* daily and
    non-annualized, γ3 skewness, γ4 raw kurtosis. (None, reason) if the radicand is ≤ 0."""
    radicand = 1.0 - skewness * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if not radicand > 0:
        return None, f"1 - skew*SR + (kurt-1)/4*SR^2 = {radicand:.6g} <= 0: PSR undefined"
    return _norm_cdf((sr - sr_star) * math.sqrt(n - 1) / math.sqrt(radicand)), None


def _returns_of(data: TradeLog | ArrayLike) -> ArrayLike:
    if isinstance(data, TradeLog):
        return daily_series(data)[3]
    return data


def psr(data: TradeLog | ArrayLike, sr_star: float = 0.0) -> dict[str, Any]:
    """Probabilistic Sharpe ratio of a trade log's daily returns (or of given daily
    returns) against the benchmark `sr_star` (daily, non-annualized; default 0):

        PSR(SR*) = Φ((SR − SR*)·√(n−1) / √(1 − γ3·SR + (γ4−1)/4·SR²))

    with SR, n, γ3, γ4 as in `sharpe_moments`. Returns {psr, sr, sr_star, n, skewness,
    kurtosis, reason}; psr is None with a reason when n < 4, after ruin, with zero variance, or
    when the radicand is ≤ 0.
    """
    moments = sharpe_moments(_returns_of(data))
    out = {"psr": None, "sr_star": float(sr_star), **moments}
    if moments["sr"] is None:
        return out
    out["psr"], out["reason"] = probabilistic_sharpe(
        moments["sr"], moments["n"], moments["skewness"], moments["kurtosis"], sr_star
    )
    return out


def deflated_sharpe(
    daily_returns: TradeLog | ArrayLike, n_trials: int, sharpe_variance: float
) -> dict[str, Any]:
    """Deflated Sharpe ratio: DSR = PSR(SR0) with

        SR0 = √V·((1−γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e))),  γ = 0.5772156649,

    N = `n_trials` (strategy variants tried), V = `sharpe_variance`, the variance of their
    daily non-annualized Sharpes. Φ⁻¹(1 − 1/N) is Φ⁻¹(0) = −∞ for N = 1, so with N = 1 (one
    variant, nothing to deflate) SR0 = 0 and DSR = PSR(0), said in `reason`.
    Returns {dsr, sr0, n_trials, sharpe_variance, sr, n, skewness, kurtosis, reason}.
    """
    if isinstance(n_trials, bool) or int(n_trials) != n_trials or n_trials < 1:
        raise ValueError(f"n_trials must be an integer >= 1 (got {n_trials!r})")
    if not (math.isfinite(sharpe_variance) and sharpe_variance >= 0):
        raise ValueError(f"sharpe_variance must be a finite number >= 0 (got {sharpe_variance!r})")
    N = int(n_trials)
    note = None
    if N == 1:
        sr0 = 0.0
        note = "N = 1 variant tried: SR0 = 0, so DSR = PSR(0)"
    else:
        inv = NormalDist().inv_cdf
        sr0 = math.sqrt(sharpe_variance) * (
            (1.0 - EULER_GAMMA) * inv(1.0 - 1.0 / N) + EULER_GAMMA * inv(1.0 - 1.0 / (N * math.e))
        )
    p = psr(daily_returns, sr_star=sr0)
    return {
        "dsr": p["psr"],
        "sr0": sr0,
        "n_trials": N,
        "sharpe_variance": float(sharpe_variance),
        "sr": p["sr"],
        "n": p["n"],
        "skewness": p["skewness"],
        "kurtosis": p["kurtosis"],
        "reason": p["reason"] or note,
    }


# --------------------------------------------------------------------------- out of sample


def out_of_sample(log: TradeLog, split: float = 0.7) -> dict[str, Any]:
    """Split the trades by close order: the first k = ⌊split·N⌋ are in sample, the rest out of
    sample; each part is evaluated by `compute_metrics` with the same capital C (the out-of-
    sample equity starts again at C, its daily series at its own first trade day).

    Returns {split, in_sample_trades, out_of_sample_trades, in_sample, out_of_sample (metric
    dicts), oos_sharpe, oos_expectancy, reasons}."""
    if not 0 < split < 1:
        raise ValueError(f"split must be between 0 and 1 (got {split!r})")
    n = len(log)
    k = int(math.floor(split * n + 1e-9))
    ins = compute_metrics(log.slice(0, k))
    oos = compute_metrics(log.slice(k, n))
    reasons = {f"oos_{key}": oos["reasons"][key] for key in ("sharpe", "expectancy") if key in oos["reasons"]}
    return {
        "split": split,
        "in_sample_trades": k,
        "out_of_sample_trades": n - k,
        "in_sample": ins,
        "out_of_sample": oos,
        "oos_sharpe": oos["sharpe"],
        "oos_expectancy": oos["expectancy"],
        "reasons": reasons,
    }


# --------------------------------------------------------------------------- regimes

VOL_TERCILES = ("low", "mid", "high")


def _bucket(net: NDArray[np.float64]) -> dict[str, Any]:
    n = int(len(net))
    wins = int((net > 0).sum()) if n else 0
    return {
        "trades": n,
        "wins": wins,
        "win_rate": wins / n if n else None,
        "expectancy": float(net.mean()) if n else None,
        "net": float(net.sum()) if n else 0.0,
    }


def regime_breakdown(
    log: TradeLog,
    bars_close: NDArray[np.float64] | Sequence[float] | None = None,
    bars_ts_ms: NDArray[np.int64] | Sequence[int] | None = None,
    window: int = 20,
    trend_window: int | None = None,
) -> dict[str, Any]:
    """Performance per market regime: trades, wins, win rate, expectancy and net per bucket.

    With bars (closes and their timestamps, ascending):
    - volatility at bar i = std(ddof=1) of the `window` log returns ln(c_j / c_{j−1}) ending at
      bar i (defined from bar `window` on); the tercile cut points q1, q2 are the 1/3 and 2/3
      quantiles of all defined values; low: v ≤ q1, mid: q1 < v ≤ q2, high: v > q2;
    - trend at bar i = up if c_i / c_{i−w} − 1 > 0, else down (w = `trend_window`, default
      `window`);
    - a trade belongs to the last bar whose timestamp is ≤ its close time. Trades before the
      first bar with a value, or more than one bar spacing (the median) after the last bar,
      are counted under `unclassified[dimension]`, so in each dimension every trade is
      counted exactly once.

    Without bars the volatility terciles are derived from the strategy's own daily P&L: each
    day with trades has the proxy |d_t| (absolute net P&L of the UTC day), terciles over those
    days, each trade assigned by its close day; `trend` is None (it needs prices) and `note`
    says so.

    Returns {source: "bars"|"daily_pnl", note, window, trend_window, thresholds [q1, q2],
    volatility {low, mid, high}, trend {up, down} | None, unclassified {volatility, trend},
    positive_regimes}; each bucket is {trades, wins, win_rate, expectancy, net}.
    `positive_regimes` = number of volatility terciles whose expectancy is > 0.
    """
    import numpy as np

    net = log.net
    closed = log.closed_at_ms
    out: dict[str, Any] = {"source": None, "note": None, "window": None, "trend_window": None, "thresholds": None}

    if bars_close is None or bars_ts_ms is None or len(bars_close) == 0:
        out["source"] = "daily_pnl"
        out["note"] = (
            "no market bars given: volatility terciles derived from the strategy's daily P&L "
            "(|net P&L| of each day with trades); no trend breakdown without prices"
        )
        vol_label = np.full(len(net), -1, dtype=np.int64)
        if len(net):
            day = np.floor_divide(closed, DAY_MS)
            uniq, inverse = np.unique(day, return_inverse=True)
            proxy = np.abs(np.bincount(inverse, weights=net, minlength=len(uniq)))
            cuts = np.quantile(proxy, [1 / 3, 2 / 3])
            out["thresholds"] = [float(cuts[0]), float(cuts[1])]
            vol_label = np.searchsorted(cuts, proxy, side="left")[inverse]
        trend_label = None
    else:
        close = np.asarray(bars_close, dtype=np.float64).reshape(-1)
        ts = np.asarray(bars_ts_ms, dtype=np.int64).reshape(-1)
        if close.size != ts.size:
            raise ValueError(f"bars_close has {close.size} values, bars_ts_ms has {ts.size}")
        if not (np.isfinite(close).all() and (close > 0).all()):
            raise ValueError("bar closes must be finite and > 0")
        if ts.size > 1 and not (np.diff(ts) > 0).all():
            raise ValueError("bar timestamps must be strictly increasing")
        if int(window) < 2:
            raise ValueError(f"window must be >= 2 (got {window!r})")
        tw = int(trend_window or window)
        if tw < 1:
            raise ValueError(f"trend_window must be >= 1 (got {trend_window!r})")
        out.update(source="bars", window=int(window), trend_window=tw)

        B = close.size
        vol = np.full(B, np.nan)
        if B > window:
            from numpy.lib.stride_tricks import sliding_window_view

            lr = np.diff(np.log(close))
            vol[window:] = sliding_window_view(lr, window).std(axis=1, ddof=1)
        trend = np.full(B, -1, dtype=np.int64)
        if B > tw:
            trend[tw:] = np.where(close[tw:] / close[:-tw] - 1.0 > 0, 0, 1)

        bar = np.searchsorted(ts, closed, side="right") - 1
        spacing = int(np.median(np.diff(ts))) if B > 1 else 0
        inside = (bar >= 0) & (closed <= ts[-1] + spacing)
        bar_safe = np.where(inside, bar, 0)

        vol_label = np.full(len(net), -1, dtype=np.int64)
        defined = ~np.isnan(vol)
        if defined.any():
            cuts = np.quantile(vol[defined], [1 / 3, 2 / 3])
            out["thresholds"] = [float(cuts[0]), float(cuts[1])]
            trade_vol = vol[bar_safe]
            ok = inside & ~np.isnan(trade_vol)
            vol_label[ok] = np.searchsorted(cuts, trade_vol[ok], side="left")
        trend_label = np.where(inside, trend[bar_safe], -1)

    out["volatility"] = {name: _bucket(net[vol_label == i]) for i, name in enumerate(VOL_TERCILES)}
    out["trend"] = (
        None if trend_label is None else {name: _bucket(net[trend_label == i]) for i, name in enumerate(("up", "down"))}
    )
    out["unclassified"] = {
        "volatility": _bucket(net[vol_label < 0]),
        "trend": None if trend_label is None else _bucket(net[trend_label < 0]),
    }
    out["positive_regimes"] = sum(
        1 for b in out["volatility"].values() if b["expectancy"] is not None and b["expectancy"] > 0
    )
    return out


# --------------------------------------------------------------------------- overfitting

COMPARED = ("sharpe", "win_rate", "expectancy", "profit_factor")


def compare_with_baseline(forward_metrics: Mapping[str, Any], baseline_metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Backtest-vs-forward comparison (seed 001 §1.2), on `compute_metrics` dicts.

    For Sharpe, win rate, expectancy and profit factor: both values, the change
    (forward − baseline) and the relative degradation (baseline − forward) / |baseline|
    (positive = forward is worse; None when either is missing or the baseline is 0).

    `overfit_suspected` is True when the baseline Sharpe is > 0 and the forward Sharpe is
    below half of it (a missing forward Sharpe counts as below), or when the baseline
    expectancy is > 0 and the forward expectancy is ≤ 0 (the edge's sign flipped or vanished).
    `why` lists the triggered rules; `reasons` says which comparisons could not be made.
    """
    rows: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    for key in COMPARED:
        fwd, base = _num(forward_metrics.get(key)), _num(baseline_metrics.get(key))
        degradation = None
        change = None
        if fwd is not None and base is not None:
            change = fwd - base
            if base != 0:
                degradation = (base - fwd) / abs(base)
            else:
                reasons[key] = "baseline is 0: no relative degradation"
        else:
            missing = [name for name, v in (("forward", fwd), ("baseline", base)) if v is None]
            reasons[key] = f"{' and '.join(missing)} {key} not available"
        rows[key] = {"forward": fwd, "baseline": base, "change": change, "degradation": degradation}

    why: list[str] = []
    fs, bs = rows["sharpe"]["forward"], rows["sharpe"]["baseline"]
    if bs is not None and bs > 0 and (fs is None or fs < bs / 2):
        shown = "undefined" if fs is None else f"{fs:.4g}"
        why.append(f"forward Sharpe {shown} is less than half the baseline's {bs:.4g}")
    fe, be = rows["expectancy"]["forward"], rows["expectancy"]["baseline"]
    if be is not None and be > 0 and fe is not None and fe <= 0:
        why.append(f"expectancy sign flipped: baseline {be:.4g}, forward {fe:.4g}")
    return {"metrics": rows, "overfit_suspected": bool(why), "why": why, "reasons": reasons}


def _num(value: Any) -> float | None:  # anything: what float() cannot read is None
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None
