"""Shared by the engine, gateway, guardian, breaker and simulator tests."""

from __future__ import annotations

from typing import Any

from livegate.config.models import CircuitBreakerRules, LiveTradingLimits


class Journal:
    """Collects what the gateway and engine report."""

    def __init__(self):
        self.events: list[tuple[str, dict]] = []

    def emit(self, kind, payload):
        self.events.append((kind, payload))

    def of(self, kind):
        return [p for k, p in self.events if k == kind]

    def kinds(self):
        return [k for k, _ in self.events]


def limits(**over: Any) -> LiveTradingLimits:
    """Limits where nothing binds unless a test says so (spot, 20 % / 3x caps of seed 003)."""
    base = dict(max_total_capital=1e6, max_position_size=1e6, max_open_positions=10, max_daily_loss=1e5,
                max_weekly_loss=1e5, max_single_trade_loss=1e4, max_trades_per_day=1000, max_trades_per_hour=1000,
                min_seconds_between_trades=0.0, min_edge_threshold=0.0, min_confidence=0.0, consecutive_losses_halt=100,
                drawdown_halt_pct=1.0, max_position_pct=0.2, max_leverage=3.0)
    return LiveTradingLimits(**{**base, **over})


def loose_rules(**over: Any) -> CircuitBreakerRules:
    """Breaker rules where only what a test sets binds."""
    base = dict(daily_loss_pct=1.0, weekly_loss_pct=1.0, min_win_rate=0.0, api_error_rate=1.0, api_latency_seconds=1e6)
    return CircuitBreakerRules(**{**base, **over})
