"""`livegate flatten`: close every open position the workspace holds, at market, in sizes the
exchange accepts, and record the dust it leaves.

A position is what the account holds of a configured symbol's base asset above the holdings
recorded at the env sign-off (`exchange_key.signed_baseline`: the operator's own savings on the
same account, never touched). Each sell goes through the one order gateway (`trading.FLATTEN`:
a purpose that only reduces, so a halt or EMERGENCY_STOP lets its sells through as REDUCING
does; the ccxt executor journals each order before it leaves and never sends a client id twice)
and is never larger than the position above the baseline. What is left that no order may sell
(below the lot step, the minimum amount or the minimum order value) is dust, recorded per asset
with why. The sells need no approval: the operator confirmed the flatten itself.

Events (run `flatten-…`): `flatten_started` {exchange, symbols, baseline, positions} · the
gateway's own (`order_placed`, `order_sending`, `fill`, …) · `flatten_order` {symbol, client_id,
amount, filled, status, blocks} · `flatten_dust` {asset, symbol, amount, value, reason} ·
`flatten_finished` {sold, dust, errors, left}. Each is alerted."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from livegate.adapters.execution.cex import split_symbol
from livegate.config.environment import load_env
from livegate.config.workspace import Workspace
from livegate.core.errors import LivegateError
from livegate.core.fills import MarketRules
from livegate.core.formats import number
from livegate.core.orders import MARKET, SELL, OrderIntent
from livegate.core.portfolio import Position
from livegate.ledger.journal import WriteThroughJournal
from livegate.ledger.keys import try_load_private
from livegate.ledger.store import Ledger
from livegate.services import approvals, exchange_key, gate, mode_switch
from livegate.services.alerts import Alerter
from livegate.services.trading import FLATTEN, VenueGateway, venue_gateway

STARTED, ORDER, DUST, FINISHED = "flatten_started", "flatten_order", "flatten_dust", "flatten_finished"
MAX_ORDERS_PER_SYMBOL = 20  # a position above the market's maximum order is sold in several orders
FILTER_RULES = ("LOT_SIZE", "NOTIONAL", "dust")  # a sell refused by these leaves dust, not an error
ALERT_WAIT_S = 30.0  # alerts go out in the background while selling; the command waits this long for them at the end


def dust_reason(rules: MarketRules, amount: float, price: float) -> str:
    """Why `amount` cannot be sold at `price` on this market, in a trader's words."""
    sellable = rules.floor_amount(amount)
    if sellable <= 0:
        return f"less than the market's lot step ({rules.step:g})"
    if sellable < rules.min_amount - 1e-12:
        return f"below the market's minimum order amount ({rules.min_amount:g})"
    return f"worth {sellable * price:,.4f}, below the market's minimum order value ({rules.min_notional:g})"


def positions(balances: dict[str, float], baseline: dict[str, float], bases: list[str]) -> dict[str, float]:
    """What is held of each base asset above the baseline (assets with nothing above it left out)."""
    out = {}
    for base in dict.fromkeys(bases):
        excess = float(balances.get(base) or 0.0) - baseline.get(base, 0.0)
        if excess > 0:
            out[base] = excess
    return out


def flatten(ws: Workspace, by: str, key: Any = None, client: Any = None, *,
            clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """Sell every open position of the configured symbols at market (see the module). Returns
    {run, exchange, baseline, positions, sold: [order…], dust: [asset…], errors: [str…], left:
    {asset: amount}}; `left` holds what remains above the baseline that is not recorded dust (an
    error when not empty). A venue that fails midway is an error in `errors`, recorded. Raises,
    with nothing recorded, when it cannot start: the config does not load, no credentials, the
    ledger cannot be read."""
    key = key or try_load_private()
    effective = ws.effective
    env = load_env(ws.root)
    config = effective.config
    symbols = list(config.exchange.symbols)
    client = client or mode_switch.venue_client(ws, config)
    baseline = exchange_key.signed_baseline(ws, env, gate.snapshot(ws, effective=effective))
    run = f"flatten-{int(clock() * 1000)}"
    alerter = Alerter(ws, key=key)
    summary: dict[str, Any] = {"run": run, "exchange": config.exchange.id, "baseline": baseline, "positions": {},
                               "sold": [], "dust": [], "errors": [], "left": {}}
    left: dict[str, float] = {}  # per base asset: what the venue still holds above the baseline
    with Ledger.open(ws.ledger_path, key=key) as ledger:
        journal = WriteThroughJournal(ledger, run)
        try:
            venues = [_venue(ws, effective, env, journal, run, s, client) for s in symbols]
        except LivegateError as exc:
            journal.emit(STARTED, {"exchange": config.exchange.id, "symbols": symbols, "baseline": baseline,
                                   "positions": {}, "by": by, "error": str(exc)})
            summary["errors"].append(str(exc))
            venues = []
        else:
            held = positions(venues[0].balances if venues else {}, baseline, [split_symbol(s)[0] for s in symbols])
            summary["positions"] = held
            journal.emit(STARTED, {"exchange": config.exchange.id, "symbols": symbols, "baseline": baseline,
                                   "positions": held, "by": by})
            alerter.emit("flatten", "critical", f"flatten started by {by}: closing " + (
                ", ".join(f"{number(v, 8)} {a}" for a, v in held.items()) or "nothing (no open position)"), wait=False)
        for venue in venues:
            try:
                _flatten_symbol(venue, baseline, journal, alerter, summary, left, clock)
            except LivegateError as exc:
                summary["errors"].append(f"{venue.symbol}: {exc}")
        dust_assets = {d["asset"] for d in summary["dust"]}
        summary["left"] = {a: v for a, v in left.items() if a not in dust_assets and v > 0}
        journal.emit(FINISHED, {k: summary[k] for k in ("sold", "dust", "errors", "left")})
    problems = summary["errors"] + [f"{number(v, 8)} {a} still held above the baseline" for a, v in summary["left"].items()]
    sold = ", ".join(f"{number(o['filled'], 8)} {o['symbol']}" for o in summary["sold"] if o["filled"]) or "nothing"
    dust = ", ".join(f"{number(d['amount'], 8)} {d['asset']} ({d['reason']})" for d in summary["dust"])
    alerter.emit("flatten", "critical" if problems else "warning",
                 f"flatten finished: sold {sold}" + (f"; dust kept: {dust}" if dust else "")
                 + (f"; NOT flat: {'; '.join(problems)}" if problems else ""), wait=False)
    alerter.drain(ALERT_WAIT_S)
    return summary


def _venue(ws: Workspace, effective: Any, env: Any, journal: Any, run: str, symbol: str, client: Any) -> VenueGateway:
    return venue_gateway(FLATTEN, ws, effective, env, journal, run, symbol, approvals.let_through, client=client)


def _flatten_symbol(venue: VenueGateway, baseline: dict[str, float], journal: Any, alerter: Any, summary: dict[str, Any],
                    left: dict[str, float], clock: Callable[[], float]) -> None:
    """Sell what is held of `venue.symbol`'s base above the baseline, one legal order at a time,
    reading the venue's balance again after each; what cannot be sold is recorded as dust."""
    symbol, gateway, executor, client = venue.symbol, venue.gateway, venue.executor, venue.client
    base = split_symbol(symbol)[0]
    rules = gateway.rules[symbol]
    for _ in range(MAX_ORDERS_PER_SYMBOL):
        total = float(executor.call(client.fetch_balance)["total"].get(base) or 0.0)
        excess = total - baseline.get(base, 0.0)
        left[base] = max(excess, 0.0)
        if excess <= rules.step * 1e-6:  # float noise between the balance and the recorded baseline
            left[base] = 0.0
            return
        price = executor.quote(symbol, SELL)
        account = gateway.account
        # the entry is marked at the price now: a flatten trade's P&L is what the sell got against that mark
        account.positions[symbol] = Position(amount=excess, cost=excess * price)
        account.dust.pop(symbol, None)
        account.last_price[symbol] = price
        if rules.is_dust(excess, price):
            _dust(journal, alerter, summary, base, symbol, excess, price, dust_reason(rules, excess, price))
            return
        amount = min(excess, rules.max_amount) if rules.max_amount else excess
        decision = gateway.submit(OrderIntent(symbol, SELL, amount=amount, type=MARKET, reason="flatten"),
                                  int(clock() * 1000), origin="flatten")
        order = decision.order
        filled = sum(f.amount for f in decision.fills)
        record = {"symbol": symbol, "client_id": order.client_id if order is not None else None,
                  "amount": order.amount if order is not None else amount, "filled": filled,
                  "status": "filled" if decision.accepted else "refused",
                  "blocks": [[b.rule, b.message] for b in decision.blocks]}
        journal.emit(ORDER, record)
        summary["sold"].append(record)
        refusal = "; ".join(f"{b.rule}: {b.message}" for b in decision.blocks)
        alerter.emit("flatten", "warning" if decision.accepted else "error",
                     f"flatten: sell {number(record['amount'], 8)} {symbol} " + (f"filled {number(filled, 8)}" if decision.accepted else f"refused: {refusal}"),
                     wait=False)
        if not decision.accepted:
            if all(b.rule in FILTER_RULES for b in decision.blocks):
                _dust(journal, alerter, summary, base, symbol, excess, price, dust_reason(rules, excess, price))
            else:
                summary["errors"].append(f"{symbol}: the sell was refused ({refusal})")
            return
    total = float(executor.call(client.fetch_balance)["total"].get(base) or 0.0)
    left[base] = max(total - baseline.get(base, 0.0), 0.0)
    summary["errors"].append(f"{symbol}: still {number(left[base], 8)} {base} above the baseline after {MAX_ORDERS_PER_SYMBOL} orders")


def _dust(journal: Any, alerter: Any, summary: dict[str, Any], asset: str, symbol: str, amount: float, price: float,
          reason: str) -> None:
    record = {"asset": asset, "symbol": symbol, "amount": amount, "value": amount * price, "reason": reason}
    journal.emit(DUST, record)
    summary["dust"].append(record)
    alerter.emit("flatten", "warning", f"flatten: {number(amount, 8)} {asset} kept as dust ({reason})", wait=False)
