"""EMA crossover: buy when the fast EMA crosses above the slow one, sell the
position when it crosses back below. One position per symbol, a fixed order value."""

from livegate.strategy import Bar, OrderIntent, StrategyContext


class EmaCross:
    def __init__(self, fast: int = 12, slow: int = 26, order_value: float = 50.0):
        if not (0 < fast < slow):
            raise ValueError(f"need 0 < fast < slow (got fast={fast}, slow={slow})")
        if order_value <= 0:
            raise ValueError(f"order_value must be positive (got {order_value})")
        self.fast, self.slow, self.order_value = fast, slow, float(order_value)
        self.a_fast, self.a_slow = 2.0 / (fast + 1), 2.0 / (slow + 1)
        self.warmup_bars = slow * 3
        self.ema: dict[str, list] = {}  # symbol -> [fast ema, slow ema, bars seen]

    def on_bar(self, bar: Bar, ctx: StrategyContext):
        e = self.ema.get(bar.symbol)
        close = bar.close
        if e is None:
            self.ema[bar.symbol] = [close, close, 1]
            return None
        was_above = e[0] > e[1]
        e[0] += self.a_fast * (close - e[0])
        e[1] += self.a_slow * (close - e[1])
        e[2] += 1
        above = e[0] > e[1]
        if above == was_above or e[2] < self.slow:
            return None
        held = ctx.position(bar.symbol)
        if above and held <= 0:
            return [OrderIntent(bar.symbol, "buy", quote_amount=self.order_value, reason="fast EMA crossed above slow")]
        if not above and held > 0:
            return [OrderIntent(bar.symbol, "sell", reason="fast EMA crossed below slow")]
        return None

    def state(self) -> dict:
        return {"ema": self.ema}

    def restore(self, state: dict) -> None:
        self.ema = {k: list(v) for k, v in state["ema"].items()}
