"""The Uniswap V2 deployment: every contract has code, the pools hold exactly the liquidity
that was added, the trader is funded, and the router agrees with the factory on pair addresses."""

from __future__ import annotations

import json
import math

import pytest

from livegate.adapters.chain.artifacts import load
from livegate.adapters.chain.uniswap import POOLS, TOKEN_SUPPLY, TRADER_FUNDING, create2_pair_address, pair_init_code_hash

# keccak256 of UniswapV2Pair's creation code, as published in Uniswap's V2 docs and hard-coded
# in UniswapV2Library.pairFor
UNISWAP_V2_INIT_CODE_HASH = "0x96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f"


def _contract(w3, address: str, name: str):
    return w3.eth.contract(address=address, abi=load(name).abi)


def test_every_contract_has_code(any_chain, w3):
    deployment = any_chain.deployment
    addresses = [deployment.router, deployment.factory, deployment.weth, *deployment.tokens.values(),
                 *deployment.pairs.values()]
    assert len(set(addresses)) == 7
    for address in addresses:
        assert len(w3.eth.get_code(address)) > 0, address


def test_router_is_wired_to_factory_and_weth(any_chain, w3):
    deployment = any_chain.deployment
    router = _contract(w3, deployment.router, "UniswapV2Router02")
    assert router.functions.factory().call() == deployment.factory
    assert router.functions.WETH().call() == deployment.weth
    factory = _contract(w3, deployment.factory, "UniswapV2Factory")
    assert factory.functions.feeToSetter().call() == deployment.deployer
    assert factory.functions.allPairsLength().call() == len(POOLS)


@pytest.mark.parametrize("base, quote, base_amount, quote_amount", POOLS)
def test_pair_reserves_are_what_was_added(any_chain, w3, base, quote, base_amount, quote_amount):
    deployment = any_chain.deployment
    pair = _contract(w3, deployment.pairs[f"{base}/{quote}"], "UniswapV2Pair")
    reserve0, reserve1, _ = pair.functions.getReserves().call()
    added = {deployment.address(base): base_amount, deployment.address(quote): quote_amount}
    assert (reserve0, reserve1) == (added[pair.functions.token0().call()], added[pair.functions.token1().call()])
    # the first liquidity provider gets sqrt(x*y) LP tokens, less 1000 locked forever
    lp = pair.functions.balanceOf(deployment.deployer).call()
    assert lp == math.isqrt(base_amount * quote_amount) - 1000


def test_balances_after_seeding(any_chain, w3):
    deployment = any_chain.deployment
    tka, tkb = (_contract(w3, deployment.tokens[symbol], "ERC20") for symbol in ("TKA", "TKB"))
    assert tka.functions.balanceOf(deployment.trader).call() == TRADER_FUNDING["TKA"]
    assert tkb.functions.balanceOf(deployment.trader).call() == TRADER_FUNDING["TKB"]
    tka_in_pools = sum(amount for base, _, amount, _ in POOLS if base == "TKA")
    assert tka.functions.balanceOf(deployment.deployer).call() == TOKEN_SUPPLY - tka_in_pools - TRADER_FUNDING["TKA"]
    weth = _contract(w3, deployment.weth, "WETH9")
    assert weth.functions.balanceOf(deployment.pairs["TKA/WETH"]).call() == 100 * 10**18


def test_router_and_factory_agree_on_the_pair_init_code_hash(any_chain):
    deployment = any_chain.deployment
    assert deployment.init_code_hash == UNISWAP_V2_INIT_CODE_HASH
    assert "0x" + pair_init_code_hash(load("UniswapV2Pair")) == UNISWAP_V2_INIT_CODE_HASH
    assert UNISWAP_V2_INIT_CODE_HASH[2:] in load("UniswapV2Router02").bytecode
    for name, pair in deployment.pairs.items():
        base, quote = name.split("/")
        assert create2_pair_address(deployment.factory, deployment.address(base), deployment.address(quote),
                                    UNISWAP_V2_INIT_CODE_HASH[2:]) == pair


def test_both_backends_deploy_to_the_same_addresses(chain, tester_chain):
    assert chain.deployment == tester_chain.deployment


def test_describe_is_json_with_what_a_client_needs(any_chain):
    described = json.loads(json.dumps(any_chain.describe()))
    assert described["rpc_url"] == any_chain.rpc_url and described["chain_id"] == 31337
    assert described["backend"] == any_chain.backend
    assert set(described["tokens"]) == {"TKA", "TKB"}
    for key in ("router", "factory", "weth"):
        assert described[key] == getattr(any_chain.deployment, key)


def test_unknown_token_symbol_names_the_known_ones(any_chain):
    with pytest.raises(KeyError, match="have WETH, TKA, TKB"):
        any_chain.deployment.address("DOGE")
