"""Circuit breakers (seed 001 §3.2, seed 004): conditions that halt every order.

A breaker trips when its condition holds; while tripped, the gateway refuses every order
(strategy, guardian and operator alike) and open orders are cancelled. It re-arms only
when its cooldown has passed *and* its condition has cleared: loss and drawdown breakers
measure from the day's/week's opening equity and from peak equity — never P&L since the
start — so a drawdown trip holds until equity recovers. Trade-count breakers (consecutive
losses, win-rate floor) and API breakers start a fresh count when they re-arm.

The correlation breaker watches concentration: the Pearson correlation, over the last
`correlation_window` bars, of the close-to-close returns of every two symbols held at once
(`correlation_scope: positions`), and/or of the strategy's equity returns with each traded
symbol's (`strategy`). It compares the absolute value — two positions that move against each
other are one bet and its mirror, not two independent bets — and trips when it exceeds
`max_correlation`, only on a full window of bars the two series share. It holds for
`correlation_cooldown_minutes` and re-arms with a fresh window (while tripped, every order is
refused, so the positions that made it trip could not be closed: waiting for the correlation
itself to clear could hold forever)."""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from livegate.core.guardian import RiskState
from livegate.core.limits import BreakerSettings, LiveLimits
from livegate.core.orders import Bar


@dataclass
class Trip:
    breaker: str
    at_ms: int
    until_ms: int
    value: float
    threshold: float
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)  # what was measured, beyond value and threshold

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if not self.evidence:
            del out["evidence"]
        return out


EQUITY_BREAKERS = ("daily_loss_usd", "daily_loss_pct", "weekly_loss_usd", "weekly_loss_pct", "total_drawdown")
TRADE_BREAKERS = ("consecutive_losses", "win_rate_floor")
API_BREAKERS = ("api_error_rate", "api_latency")
CORRELATION = "correlation"
BREAKERS = EQUITY_BREAKERS + TRADE_BREAKERS + API_BREAKERS + (CORRELATION,)
STRATEGY = "strategy"  # the strategy's equity, as one side of a correlation pair
_NONE: list[Trip] = []  # shared empty result of the fast path (never mutated)


def correlation(xs: list[float], ys: list[float]) -> float | None:
    """Pearson's correlation of two equally long series, within [-1, 1]; None when either
    does not move (a flat series correlates with nothing)."""
    try:
        r = statistics.correlation(xs, ys)
    except statistics.StatisticsError:
        return None
    return max(-1.0, min(1.0, r))


class CorrelationWindow:
    """What the correlation breaker keeps between bars: the strategy's equity return over each
    bar time (keyed, like a bar, by its opening time), and since when returns count (a re-arm
    starts a fresh window). The symbols' returns come from the engine's recent bars."""

    def __init__(self, window: int):
        self.window = window
        self.strategy: deque[tuple[int, float]] = deque(maxlen=window)
        self.prev_equity: float | None = None  # the equity at the end of the bar time before
        self.since_ts = 0

    def add_equity(self, ts: int, equity: float) -> None:
        if self.prev_equity is not None and self.prev_equity > 0 and ts >= self.since_ts:
            self.strategy.append((ts, equity / self.prev_equity - 1.0))
        self.prev_equity = equity

    def returns(self, bars: Sequence[Bar], upto_ts: int) -> dict[int, float]:
        """The last `window` close-to-close returns of `bars` (oldest first), of bars opened by
        `upto_ts` and since `since_ts`, keyed by the later bar's opening time."""
        out: list[tuple[int, float]] = []
        later: Bar | None = None
        for bar in reversed(bars):
            if bar.ts > upto_ts:
                continue
            if later is not None:
                if later.ts < self.since_ts or len(out) == self.window:
                    break
                if bar.close > 0:
                    out.append((later.ts, later.close / bar.close - 1.0))
            later = bar
        return dict(reversed(out))

    def paired(self, a: dict[int, float], b: dict[int, float]) -> tuple[list[float], list[float]] | None:
        """The two series on the bar times they share, or None short of a full window."""
        shared = [t for t in a if t in b]
        if len(shared) < self.window:
            return None
        return [a[t] for t in shared], [b[t] for t in shared]

    def fresh(self, now_ms: int) -> None:
        """Forget every return so far: the next window starts with the bars opened from now."""
        self.strategy.clear()
        self.since_ts = now_ms

    def to_dict(self) -> dict[str, Any]:
        return {"strategy": [list(x) for x in self.strategy], "prev_equity": self.prev_equity, "since_ts": self.since_ts}

    def restore(self, data: dict[str, Any]) -> None:
        self.strategy = deque(((int(t), float(r)) for t, r in data.get("strategy", [])), maxlen=self.window)
        self.prev_equity, self.since_ts = data.get("prev_equity"), data.get("since_ts", 0)


class CircuitBreakers:
    """`limits` is risk_limits.yaml's `live_trading`, `rules` its `circuit_breakers`."""

    def __init__(self, limits: LiveLimits, rules: BreakerSettings):
        self.limits = limits
        self.rules = rules
        self.cooldown_ms = int(rules.cooldown_minutes * 60_000)
        self.tripped: dict[str, Trip] = {}
        self.streak = 0
        self.results: deque[bool] = deque(maxlen=rules.win_rate_window)
        self.api: deque[tuple[bool, float]] = deque(maxlen=rules.api_window)
        self.corr = CorrelationWindow(rules.correlation_window)
        self.correlation_cooldown_ms = int(rules.correlation_cooldown_minutes * 60_000)
        on = rules.max_correlation < 1.0  # |correlation| is never above 1: at 1 the breaker is off
        self.watches_positions = on and rules.correlation_scope != STRATEGY
        self.watches_strategy = on and rules.correlation_scope != "positions"

    # -- conditions -------------------------------------------------------------------
    def _equity_conditions(self, s: RiskState) -> dict[str, tuple[float, float]]:
        lim, r = self.limits, self.rules
        day_loss, week_loss = s.day_loss, s.week_loss
        return {
            "daily_loss_usd": (day_loss, lim.max_daily_loss),
            "daily_loss_pct": (day_loss / s.day_open_equity if s.day_open_equity > 0 else 0.0, r.daily_loss_pct),
            "weekly_loss_usd": (week_loss, lim.max_weekly_loss),
            "weekly_loss_pct": (week_loss / s.week_open_equity if s.week_open_equity > 0 else 0.0, r.weekly_loss_pct),
            "total_drawdown": (s.drawdown, lim.drawdown_halt_pct),
        }

    @staticmethod
    def _equity_message(name: str, value: float, threshold: float, s: RiskState) -> str:
        return {
            "daily_loss_usd": f"lost {value:.2f} today (UTC), limit {threshold:g}",
            "daily_loss_pct": f"lost {value:.2%} today (UTC), limit {threshold:.0%}",
            "weekly_loss_usd": f"lost {value:.2f} this week, limit {threshold:g}",
            "weekly_loss_pct": f"lost {value:.2%} this week, limit {threshold:.0%}",
            "total_drawdown": f"drawdown {value:.2%} from peak equity {s.peak_equity:.2f}, limit {threshold:.0%}",
        }[name]

    def safe_equity(self, s: RiskState) -> float:
        """The equity above which no equity breaker can trip until the day, the week or the
        peak changes (the engine skips the full check while equity stays above it)."""
        lim, r = self.limits, self.rules
        return max(s.day_open_equity - lim.max_daily_loss, s.day_open_equity * (1 - r.daily_loss_pct),
                   s.week_open_equity - lim.max_weekly_loss, s.week_open_equity * (1 - r.weekly_loss_pct),
                   s.peak_equity * (1 - lim.drawdown_halt_pct))

    def _trip(self, name: str, now_ms: int, value: float, threshold: float, message: str,
              cooldown_ms: int | None = None, evidence: dict[str, Any] | None = None) -> Trip:
        until = now_ms + (self.cooldown_ms if cooldown_ms is None else cooldown_ms)
        trip = Trip(name, now_ms, until, value, threshold, message, evidence or {})
        self.tripped[name] = trip
        return trip

    # -- inputs -------------------------------------------------------------------------
    def on_equity(self, state: RiskState, now_ms: int) -> tuple[list[Trip], list[Trip]]:
        """Check the equity breakers after a mark; re-arm any whose cooldown passed and whose
        condition cleared. Returns (new trips, re-armed trips)."""
        if not self.tripped:
            # The common case, kept cheap: every equity breaker far from its threshold.
            lim, r = self.limits, self.rules
            day_loss, week_loss = state.day_open_equity - state.equity, state.week_open_equity - state.equity
            if (day_loss < lim.max_daily_loss and day_loss < r.daily_loss_pct * state.day_open_equity
                    and week_loss < lim.max_weekly_loss and week_loss < r.weekly_loss_pct * state.week_open_equity
                    and state.equity > (1.0 - lim.drawdown_halt_pct) * state.peak_equity):
                return _NONE, _NONE
        new: list[Trip] = []
        rearmed: list[Trip] = []
        conditions = self._equity_conditions(state)
        for name, trip in list(self.tripped.items()):
            if now_ms < trip.until_ms:
                continue
            if name in conditions:
                value, threshold = conditions[name]
                if value >= threshold:
                    continue  # condition still holds: stays tripped
            elif name in TRADE_BREAKERS:
                self.streak = 0
                self.results.clear()
            elif name in API_BREAKERS:
                self.api.clear()
            elif name == CORRELATION:
                self.corr.fresh(now_ms)
            rearmed.append(self.tripped.pop(name))
        for name, (value, threshold) in conditions.items():
            if name not in self.tripped and value >= threshold:
                new.append(self._trip(name, now_ms, value, threshold, self._equity_message(name, value, threshold, state)))
        return new, rearmed

    def on_trade(self, net: float, now_ms: int) -> list[Trip]:
        """A closed trade: consecutive losses and the win-rate floor."""
        self.streak = self.streak + 1 if net < 0 else 0
        self.results.append(net > 0)
        new: list[Trip] = []
        if "consecutive_losses" not in self.tripped and self.streak >= self.limits.consecutive_losses_halt:
            new.append(self._trip("consecutive_losses", now_ms, self.streak, self.limits.consecutive_losses_halt,
                                  f"{self.streak} losing trades in a row, limit {self.limits.consecutive_losses_halt}"))
        if "win_rate_floor" not in self.tripped and len(self.results) == self.results.maxlen:
            rate = sum(self.results) / len(self.results)
            if rate < self.rules.min_win_rate:
                new.append(self._trip("win_rate_floor", now_ms, rate, self.rules.min_win_rate,
                                      f"win rate {rate:.0%} over the last {len(self.results)} trades, floor {self.rules.min_win_rate:.0%}"))
        return new

    def on_api_call(self, ok: bool, latency_s: float, now_ms: int) -> list[Trip]:
        """A venue call: its outcome and latency."""
        self.api.append((ok, latency_s))
        new: list[Trip] = []
        if len(self.api) < max(5, (self.api.maxlen or 0) // 5):
            return new
        errors = sum(1 for good, _ in self.api if not good) / len(self.api)
        if "api_error_rate" not in self.tripped and errors >= self.rules.api_error_rate:
            new.append(self._trip("api_error_rate", now_ms, errors, self.rules.api_error_rate,
                                  f"{errors:.0%} of the last {len(self.api)} venue calls failed, limit {self.rules.api_error_rate:.0%}"))
        median = statistics.median(lat for _, lat in self.api)
        if "api_latency" not in self.tripped and median > self.rules.api_latency_seconds:
            new.append(self._trip("api_latency", now_ms, median, self.rules.api_latency_seconds,
                                  f"median venue latency {median:.2f} s over the last {len(self.api)} calls, limit {self.rules.api_latency_seconds:g} s"))
        return new

    def on_bar_time(self, ts: int, bars: Mapping[str, Sequence[Bar]], held: Collection[str], equity: float,
                    now_ms: int) -> list[Trip]:
        """The bar time that opened at `ts` is complete (every symbol's bar of it is in `bars`, the
        recent bars per symbol); `equity` is the strategy's at its end and `held` the symbols
        open through it. The correlation breaker looks once per bar time."""
        w = self.corr
        if self.watches_strategy:
            w.add_equity(ts, equity)
        elif not self.watches_positions or len(held) < 2:
            return _NONE
        if CORRELATION in self.tripped:
            return _NONE
        returns = {s: w.returns(b, ts) for s, b in bars.items() if s in held or self.watches_strategy}
        pairs: list[tuple[str, str, dict[int, float], dict[int, float]]] = []
        if self.watches_positions:
            open_ = sorted(s for s in held if s in returns)
            pairs += [(a, b, returns[a], returns[b]) for i, a in enumerate(open_) for b in open_[i + 1:]]
        if self.watches_strategy and len(w.strategy) == w.window:
            strategy = dict(w.strategy)
            pairs += [(STRATEGY, s, strategy, r) for s, r in sorted(returns.items())]
        worst: tuple[float, str, str] | None = None
        for a, b, ra, rb in pairs:
            series = w.paired(ra, rb)
            r = correlation(*series) if series else None
            if r is not None and (worst is None or abs(r) > abs(worst[0])):
                worst = (r, a, b)
        limit = self.rules.max_correlation
        if worst is None or abs(worst[0]) <= limit:
            return _NONE
        r, a, b = worst
        what = f"the strategy's returns and {b}'s" if a == STRATEGY else f"{a} and {b}, both held,"
        how = "together" if r > 0 else "as mirror images"
        message = f"{what} moved {how}: correlation {r:+.2f} over the last {w.window} bars, limit ±{limit:.2f}"
        return [self._trip(CORRELATION, now_ms, abs(r), limit, message, self.correlation_cooldown_ms,
                           {"pair": [a, b], "correlation": r, "window": w.window})]

    def active(self) -> list[Trip]:
        return list(self.tripped.values())

    # -- persistence --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"tripped": {k: v.to_dict() for k, v in self.tripped.items()}, "streak": self.streak,
                "results": list(self.results), "api": [list(x) for x in self.api], "correlation": self.corr.to_dict()}

    def restore(self, data: dict[str, Any]) -> None:
        self.tripped = {k: Trip(**v) for k, v in data.get("tripped", {}).items()}
        self.streak = data.get("streak", 0)
        self.results.clear()
        self.results.extend(data.get("results", []))
        self.api.clear()
        self.api.extend(tuple(x) for x in data.get("api", []))
        self.corr.restore(data.get("correlation", {}))
