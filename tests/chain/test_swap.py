"""Quotes and swaps through the deployed Router02: the quote is what the swap pays out, to the
wei, and matches Uniswap's constant-product formula; the gas estimate covers the gas used
without overshooting; failures are livegate errors that name the node."""

from __future__ import annotations

import pytest

from livegate.adapters.chain.artifacts import load
from livegate.adapters.chain.swap import quote, swap_exact_tokens
from livegate.adapters.chain.uniswap import POOLS
from livegate.core.errors import VenueRefused, VenueUnreachable

E18 = 10**18


def _amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountOut: a 0.3% fee on the input, then x*y=k."""
    with_fee = amount_in * 997
    return with_fee * reserve_out // (reserve_in * 1000 + with_fee)


def _balance(w3, address: str, owner: str) -> int:
    return w3.eth.contract(address=address, abi=load("ERC20").abi).functions.balanceOf(owner).call()


def test_quote_follows_the_constant_product_formula(any_chain, w3):
    (_, _, tka, tkb), (_, _, tka_weth, weth) = POOLS
    assert quote(w3, any_chain.deployment, 1000 * E18, ["TKA", "TKB"]) == _amount_out(1000 * E18, tka, tkb)
    via_weth = _amount_out(_amount_out(500 * E18, tkb, tka), tka_weth, weth)
    assert quote(w3, any_chain.deployment, 500 * E18, ["TKB", "TKA", "WETH"]) == via_weth


@pytest.mark.parametrize("path", [["TKB", "TKA"], ["TKB", "TKA", "WETH"]])
def test_swap_pays_exactly_the_quote_and_gas_estimate_covers_gas_used(any_chain, w3, path):
    deployment, trader = any_chain.deployment, any_chain.trader
    amount_in = 1234 * E18
    quoted = quote(w3, deployment, amount_in, path)
    before_in = _balance(w3, deployment.address(path[0]), trader.address)
    before_out = _balance(w3, deployment.address(path[-1]), trader.address)
    result = swap_exact_tokens(w3, deployment, trader, amount_in, path)
    assert result.amount_out == quoted > 0
    assert _balance(w3, deployment.address(path[0]), trader.address) == before_in - amount_in
    assert _balance(w3, deployment.address(path[-1]), trader.address) == before_out + quoted
    assert result.gas_used <= result.gas_estimate <= 1.5 * result.gas_used
    receipt = w3.eth.get_transaction_receipt(result.tx_hash)
    assert receipt["status"] == 1 and receipt["gasUsed"] == result.gas_used
    assert receipt["to"] == deployment.router


def test_second_swap_moves_the_price(default_chain):
    w3, deployment, trader = default_chain.web3(), default_chain.deployment, default_chain.trader
    first = swap_exact_tokens(w3, deployment, trader, 5000 * E18, ["TKA", "TKB"])
    second = swap_exact_tokens(w3, deployment, trader, 5000 * E18, ["TKA", "TKB"])
    assert second.amount_out < first.amount_out
    assert second.tx_hash != first.tx_hash


def test_swap_below_the_minimum_reverts_with_the_routers_reason(any_chain, w3):
    deployment = any_chain.deployment
    quoted = quote(w3, deployment, E18, ["TKA", "TKB"])
    with pytest.raises(VenueRefused, match="INSUFFICIENT_OUTPUT_AMOUNT") as caught:
        swap_exact_tokens(w3, deployment, any_chain.trader, E18, ["TKA", "TKB"], min_out=quoted + 1)
    assert any_chain.rpc_url in str(caught.value)


def test_swap_beyond_the_balance_is_refused(default_chain):
    with pytest.raises(VenueRefused, match="TRANSFER_FROM_FAILED"):
        swap_exact_tokens(default_chain.web3(), default_chain.deployment, default_chain.trader, 10**9 * E18,
                          ["TKA", "TKB"])


def test_quote_from_an_unreachable_node_names_it(chain):
    from livegate.adapters.chain.rpc import free_port
    from livegate.adapters.chain.transact import connect

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(VenueUnreachable, match=url):
        quote(connect(url, timeout=2), chain.deployment, E18, ["TKA", "TKB"])
