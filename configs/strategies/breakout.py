"""Donchian breakout — a strategy that trades rarely: buy when the close breaks above the
highest high of the last `window` bars, sell when it falls below the lowest low of the last
`exit_window` bars. It keeps no resumable state: after a crash livegate warms it up on the
`warmup_bars` bars before the resume point."""

from collections import deque

from livegate.strategy import Bar, OrderIntent, StrategyContext


class Breakout:
    def __init__(self, window: int = 1440, exit_window: int = 720, order_value: float = 50.0):
        if window < 2 or exit_window < 2:
            raise ValueError("window and exit_window must be at least 2 bars")
        self.window, self.exit_window, self.order_value = window, exit_window, float(order_value)
        self.warmup_bars = max(window, exit_window)
        self.highs: dict[str, deque] = {}
        self.lows: dict[str, deque] = {}

    def on_bar(self, bar: Bar, ctx: StrategyContext):
        highs = self.highs.setdefault(bar.symbol, deque(maxlen=self.window))
        lows = self.lows.setdefault(bar.symbol, deque(maxlen=self.exit_window))
        out = None
        if len(highs) == self.window and len(lows) == self.exit_window:
            held = ctx.position(bar.symbol)
            if held <= 0 and bar.close > max(highs):
                out = [OrderIntent(bar.symbol, "buy", quote_amount=self.order_value, reason=f"close above the {self.window}-bar high")]
            elif held > 0 and bar.close < min(lows):
                out = [OrderIntent(bar.symbol, "sell", reason=f"close below the {self.exit_window}-bar low")]
        highs.append(bar.high)
        lows.append(bar.low)
        return out
