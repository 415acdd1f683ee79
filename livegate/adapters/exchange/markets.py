"""Market info from ccxt (`load_markets()`) turned into livegate's `MarketRules`."""

from __future__ import annotations

from typing import Any

from livegate.core.fills import MarketRules


def rules_from_market(symbol: str, market: dict[str, Any], decimal_places: bool = False) -> MarketRules:
    """ccxt's unified market: precision (the step itself in ccxt's TICK_SIZE mode, a number
    of decimals when `decimal_places`), limits and fees. A missing value falls back to the
    Binance-like default."""
    base = MarketRules(symbol)
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}

    def pick(value, default):
        return float(value) if value not in (None, 0) else default

    def to_step(value, default):
        value = pick(value, default)
        return 10.0 ** -value if decimal_places and value is not default else value

    step = to_step(precision.get("amount"), base.step)
    return MarketRules(
        symbol=symbol,
        step=step,
        min_amount=pick((limits.get("amount") or {}).get("min"), step),
        max_amount=pick((limits.get("amount") or {}).get("max"), base.max_amount),
        tick=to_step(precision.get("price"), base.tick),
        min_notional=pick((limits.get("cost") or {}).get("min"), base.min_notional),
        maker_fee=pick(market.get("maker"), base.maker_fee),
        taker_fee=pick(market.get("taker"), base.taker_fee),
        source="exchange market info",
    )
