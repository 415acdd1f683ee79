"""MAX_CEX_ORDER_AMOUNT: the risk guardian's cap on each order sent to a centralized exchange, in
quote value — through the one order gateway against the local exchange, the exchange's own
order record checked."""

from __future__ import annotations

from livegate.adapters.sandbox.configure import set_env_values, write_workspace
from livegate.adapters.sandbox.local import describe
from livegate.config.environment import load_env
from livegate.config.workspace import Workspace
from livegate.core.orders import BUY, OrderIntent
from livegate.ledger.journal import WriteThroughJournal
from livegate.ledger.store import Ledger
from livegate.services.trading import TESTNET, venue_gateway

SYMBOL = "BTC/USDT"
AMOUNT = 0.001  # BTC per order


def set_env(root, **values: str) -> None:
    path = root / ".env"
    path.write_text(set_env_values(path.read_text(), values))


def venue_orders(sandbox, pair) -> list:
    """Every order the exchange holds for the key's account (its own record, not livegate's)."""
    def read():
        return list(sandbox.venue.account_of(sandbox.venue.keys[pair.api_key]).orders.values())

    return sandbox._on_loop(read)


def submit(ws, sandbox, pair, operator_key, run: str, price: float):
    """One market buy of AMOUNT through a CEX gateway on the sandbox (as testnet builds it), the
    gateway's price set to `price`; the gateway's decision."""
    with Ledger.open(ws.ledger_path, key=operator_key) as ledger:
        venue = venue_gateway(TESTNET, ws, ws.effective, load_env(ws.root), WriteThroughJournal(ledger, run), run, SYMBOL, None,
                              client=sandbox.client(pair))
        venue.gateway.account.last_price[SYMBOL] = price
        return venue.gateway.submit(OrderIntent(SYMBOL, BUY, amount=AMOUNT), 0, origin="testnet")


def test_an_order_just_above_the_cap_is_refused_and_one_just_below_is_sent(sandbox, workspace, operator_key):
    pair = sandbox.add_key("cex-cap-key", "cex-cap-secret-Jq", balances={"USDT": 10_000})
    ws = Workspace(workspace)
    write_workspace(ws, {**describe(sandbox), "api_key": pair.api_key, "secret": pair.secret})
    set_env(workspace, EXECUTION_APPROVAL_MODE="auto", MAX_TRADE_AMOUNT="1000")
    price = sandbox.price(SYMBOL)
    value = AMOUNT * price  # the order's value in USDT, by hand: 0.001 BTC at the price the gateway is given
    below, above = f"{value - 0.01:.2f}", f"{value + 0.01:.2f}"
    assert float(below) < value < float(above)

    set_env(workspace, MAX_CEX_ORDER_AMOUNT=below)
    refused = submit(ws, sandbox, pair, operator_key, "cap-1", price)
    assert not refused.accepted and [b.rule for b in refused.blocks] == ["max_cex_order_amount"]
    assert refused.blocks[0].message == (f"MAX_CEX_ORDER_AMOUNT caps a CEX order at {float(below):,.2f} USDT; "
                                         f"this one is {value:,.2f}: refused, not resized")
    assert venue_orders(sandbox, pair) == []  # nothing reached the exchange

    set_env(workspace, MAX_CEX_ORDER_AMOUNT=above)
    sent = submit(ws, sandbox, pair, operator_key, "cap-2", price)
    assert sent.accepted, [(b.rule, b.message) for b in sent.blocks]
    [order] = venue_orders(sandbox, pair)
    assert order.client_id == sent.order.client_id and order.side == "BUY" and order.orig_qty == AMOUNT
