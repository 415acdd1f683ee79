"""The kill-switch drill of `livegate production` (seed 000 §4.5, §5.4): with a resting order on
the venue (a limit far below the market, placed through the gateway), halt, cancel every open
order and confirm the venue has none left — timed. Trading resumes afterwards unless it was
halted before the drill."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from livegate.core.orders import BUY, LIMIT, SELL, OrderIntent
from livegate.services import controls, modes
from livegate.services.trading import DRILL, venue_gateway

DRILL_REASON = "kill-switch drill"


def kill_switch_drill(ws: Any, effective: Any, env: Any, journal: Any, run: str, approve: Callable | None, by: str, *,
                      key: Any = None, client: Any = None, place_order: bool = True,
                      clock: Callable[[], float] = time.perf_counter) -> dict:

    symbol = effective.config.exchange.symbols[0]
    venue = venue_gateway(DRILL, ws, effective, env, journal, run, symbol, approve, client=client)
    was_halted = modes.halted_reason(ws) is not None
    placed = None
    if place_order and not was_halted:
        rules = venue.gateway.rules[symbol]
        price = rules.round_price(venue.executor.quote(symbol, SELL) * 0.9)
        venue.gateway.account.last_price[symbol] = price / 0.9
        decision = venue.gateway.submit(OrderIntent(symbol, BUY, quote_amount=rules.min_notional * 1.2, type=LIMIT, price=price,
                                                    reason=DRILL_REASON), int(time.time() * 1000), origin="drill")
        placed = decision.order.client_id if decision.order is not None else "; ".join(f"{b.rule}: {b.message}" for b in decision.blocks)
    journal.emit("drill_started", {"placed": placed, "was_halted": was_halted, "environment": env.in_force()})
    t0 = clock()
    controls.halt(ws, DRILL_REASON, by, key)
    cancelled = controls.cancel_all(ws, client=venue.client, by=by, key=key)
    remaining = [o for s in effective.config.exchange.symbols for o in venue.executor.call(lambda s=s: venue.client.fetch_open_orders(s))]
    seconds = clock() - t0
    if not was_halted:
        controls.resume(ws, by, key, reason=f"{DRILL_REASON} finished")
    outcome = {"seconds": round(seconds, 3), "placed": placed, "cancelled": len([c for c in cancelled if "approval" not in c]),
               "remaining": len(remaining), "resumed": not was_halted, "exchange": venue.client.id}
    journal.emit("drill_finished", outcome)
    return outcome
