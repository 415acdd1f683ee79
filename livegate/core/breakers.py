"""Circuit breakers (seed 001 §3.2, seed 004): conditions that halt every order.

A breaker trips when its condition holds; while tripped, the gateway refuses every order
(strategy, guardian and operator alike) and open orders are cancelled. It re-arms only
when its cooldown has passed *and* its condition has cleared: loss and drawdown breakers
measure from the day's/week's opening equity and from peak equity — never P&L since the
start — so a drawdown trip holds until equity recovers. Trade-count breakers (consecutive
losses, win-rate floor) and API breakers start a fresh count when they re-arm."""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from livegate.core.guardian import RiskState
from livegate.core.limits import BreakerSettings, LiveLimits


@dataclass
class Trip:
    breaker: str
    at_ms: int
    until_ms: int
    value: float
    threshold: float
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


EQUITY_BREAKERS = ("daily_loss_usd", "daily_loss_pct", "weekly_loss_usd", "weekly_loss_pct", "total_drawdown")
TRADE_BREAKERS = ("consecutive_losses", "win_rate_floor")
API_BREAKERS = ("api_error_rate", "api_latency")
BREAKERS = EQUITY_BREAKERS + TRADE_BREAKERS + API_BREAKERS
_NONE: list[Trip] = []  # shared empty result of the fast path (never mutated)


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

    def _trip(self, name: str, now_ms: int, value: float, threshold: float, message: str) -> Trip:
        trip = Trip(name, now_ms, now_ms + self.cooldown_ms, value, threshold, message)
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

    def active(self) -> list[Trip]:
        return list(self.tripped.values())

    # -- persistence --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"tripped": {k: v.to_dict() for k, v in self.tripped.items()}, "streak": self.streak,
                "results": list(self.results), "api": [list(x) for x in self.api]}

    def restore(self, data: dict[str, Any]) -> None:
        self.tripped = {k: Trip(**v) for k, v in data.get("tripped", {}).items()}
        self.streak = data.get("streak", 0)
        self.results.clear()
        self.results.extend(data.get("results", []))
        self.api.clear()
        self.api.extend(tuple(x) for x in data.get("api", []))
