"""The demo's market carries the edge the demo's strategy trades, hour by hour, on the UTC hours
of the sandbox's clock: every four hours a dip of about 2.5 %, then a rebound of about 6 % and,
the next time, a further fall of about 1 %, in turn (each give or take its noise); the other
hours stay well inside the strategy's 1.5 % dip line. Checked on the candles themselves (the full run is tests/demo/test_demo.py)."""

from __future__ import annotations

import math

from livegate.adapters.sandbox.market import HISTORY_BARS
from livegate.demo import DEMO_BARS, demo_market


def hourly_returns(close: list[float]) -> dict[int, float]:
    """Log return of each whole UTC hour (hour 0 starts at the clock's midnight, HISTORY_BARS
    one-minute bars into the candles), keyed by hour."""
    ends = {(i - HISTORY_BARS) // 60: c for i, c in enumerate(close) if (i - HISTORY_BARS) % 60 == 59}
    return {h: math.log(ends[h] / ends[h - 1]) for h in sorted(ends) if h - 1 in ends}


def test_every_four_hours_a_dip_that_rebounds_and_extends_in_turn():
    candles = demo_market().candles
    assert len(candles) == DEMO_BARS and candles.synthetic
    returns = hourly_returns([float(c) for c in candles.close])
    assert len(returns) > 400
    for hour, r in returns.items():
        if hour % 4 == 0:
            assert -0.031 <= r <= -0.019, (hour, r)  # the dip: past the strategy's 1.5 % line
        elif hour % 4 == 1 and hour // 4 % 2 == 0:
            assert 0.054 <= r <= 0.066, (hour, r)  # the rebound
        elif hour % 4 == 1:
            assert -0.016 <= r <= -0.004, (hour, r)  # the dip extends
        else:
            assert abs(r) <= 0.006, (hour, r)  # well inside the dip line
    # the rebounds pay for the dips and the extensions: the price stays level over two cycles
    assert abs(sum(returns.values())) < 0.003 * math.sqrt(len(returns)) * 3
