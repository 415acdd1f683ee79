"""The account's own trade history at the venue (ccxt `fetch_my_trades`), for reconciling it
against the ledger: every trade of the given symbols in a time window, fetched a day at a time
(Binance answers at most 24 hours per request) and page by page, each request retried on
network trouble and rate limits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from livegate.adapters.exchange.retry import Retry
from livegate.core.errors import VenueUnreachable

DAY_MS = 86_400_000
PAGE = 1000


def account_trades(client: Any, symbols: list[str], since_ms: int, until_ms: int, *,
                   sleep: Callable[[float], None] = time.sleep) -> list[dict[str, Any]]:
    """Every trade of the account in `symbols` with since_ms <= time < until_ms, oldest first:
    {symbol, id, order, side, amount, price, fee_cost, fee_currency, timestamp}. Raises
    VenueUnreachable (or VenueRefused) when the venue cannot give the whole history."""
    call = Retry(sleep=sleep, venue=getattr(client, "id", "exchange"), client=client,
                 then="the venue's trade history could not be read; nothing was reconciled")
    out: list[dict[str, Any]] = []
    for symbol in symbols:
        seen: set[str] = set()
        for start in range(since_ms, until_ms, DAY_MS):
            end = min(start + DAY_MS, until_ms) - 1  # the venue's endTime is inclusive
            cursor = start
            while True:
                page = call(lambda s=symbol, c=cursor, e=end: client.fetch_my_trades(s, c, PAGE, {"until": e}))
                fresh = [t for t in page if str(t["id"]) not in seen and start <= int(t["timestamp"]) <= end]
                for t in fresh:
                    seen.add(str(t["id"]))
                    out.append(_row(symbol, t))
                if len(page) < PAGE:
                    break
                last = max(int(t["timestamp"]) for t in page)
                if not fresh or last <= cursor:
                    raise VenueUnreachable(f"{symbol}: more than {PAGE} trades at one millisecond ({cursor}); "
                                           "the exchange's history cannot be paged through")
                cursor = last  # the trades at `last` come again and are skipped by id
    return sorted(out, key=lambda t: t["timestamp"])  # stable: the exchange's own order within a millisecond


def _row(symbol: str, trade: dict[str, Any]) -> dict[str, Any]:
    fee = trade.get("fee") or {}
    return {"symbol": symbol, "id": str(trade["id"]), "order": str(trade.get("order")), "side": trade.get("side"),
            "amount": float(trade["amount"]), "price": float(trade["price"]), "fee_cost": float(fee.get("cost") or 0.0),
            "fee_currency": fee.get("currency"), "timestamp": int(trade["timestamp"])}
