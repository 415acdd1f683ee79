"""Trading against a Uniswap V2 router: a quote from `getAmountsOut`, and an exact-input swap
that approves, estimates gas, sends and reports what it got.

`swap_exact_tokens` is the whole swap in one call; the pieces it is made of (`token_allowance`,
`approve`, `swap_call`, `received`) serve callers that sign, record and send in steps of their own
(the DEX executor journals a transaction before it broadcasts it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from livegate.adapters.chain.artifacts import load
from livegate.adapters.chain.transact import chain_errors, send, signer
from livegate.adapters.chain.uniswap import DEADLINE_S, Deployment


class SwapResult(NamedTuple):
    """One executed swap: output received, the node's gas estimate, gas the transaction used, its hash."""

    amount_out: int
    gas_estimate: int
    gas_used: int
    tx_hash: str


def router_contract(w3, router: str):
    """The Router02 at `router`."""
    return w3.eth.contract(address=router, abi=load("UniswapV2Router02").abi)


def token_contract(w3, token: str):
    """The ERC-20 token at `token`."""
    return w3.eth.contract(address=token, abi=load("ERC20").abi)


def amounts_out(w3, router: str, amount_in: int, addresses: Sequence[str]) -> int:
    """The router's `getAmountsOut`: what `amount_in` of `addresses[0]` buys of `addresses[-1]`.
    Call inside `chain_errors`."""
    return router_contract(w3, router).functions.getAmountsOut(amount_in, list(addresses)).call()[-1]


def quote(w3, deployment: Deployment, amount_in: int, path: Sequence[str]) -> int:
    """What `amount_in` of `path[0]` buys of `path[-1]` along `path` (symbols or addresses)
    right now, fees included: the router's `getAmountsOut`."""
    addresses = [deployment.address(step) for step in path]
    with chain_errors(w3, f"quote {amount_in} {' -> '.join(path)}"):
        return amounts_out(w3, deployment.router, amount_in, addresses)


def token_allowance(w3, token: str, owner: str, spender: str, *, action: str) -> int:
    """How much of `token` `spender` may take from `owner`."""
    with chain_errors(w3, action):
        return token_contract(w3, token).functions.allowance(owner, spender).call()


def approve(w3, account: Any, token: str, spender: str, amount: int, *, action: str) -> dict:
    """Let `spender` take `amount` of `token` from `account`; returns the approval's receipt."""
    return send(w3, account, token_contract(w3, token).functions.approve(spender, amount), action=f"{action}: approve")


def swap_call(w3, router: str, amount_in: int, min_out: int, addresses: Sequence[str], recipient: str):
    """The bound `swapExactTokensForTokens` call (not sent), with a deadline `DEADLINE_S` after
    the latest block. Call inside `chain_errors`."""
    deadline = w3.eth.get_block("latest")["timestamp"] + DEADLINE_S
    return router_contract(w3, router).functions.swapExactTokensForTokens(amount_in, min_out, list(addresses),
                                                                          recipient, deadline)


def received(w3, token: str, receipt: dict, recipient: str) -> int:
    """How much of `token` the transaction behind `receipt` paid `recipient`: its Transfer logs."""
    from web3.logs import DISCARD

    transfers = token_contract(w3, token).events.Transfer().process_receipt(receipt, errors=DISCARD)
    return sum(event["args"]["value"] for event in transfers if event["args"]["to"] == recipient)


def swap_exact_tokens(w3, deployment: Deployment, account: Any, amount_in: int, path: Sequence[str], *,
                      min_out: int | None = None, recipient: str | None = None) -> SwapResult:
    """Sell exactly `amount_in` of `path[0]` for `path[-1]` with `swapExactTokensForTokens`,
    signed by `account` (a `DevAccount` or an eth-account signer). `min_out` defaults to the
    current quote, so the swap fills at that price or reverts. Approves the router first when
    its allowance is short; the swap is sent with the node's gas estimate as its gas limit."""
    from eth_utils import to_checksum_address

    local = signer(account)
    recipient = to_checksum_address(recipient or local.address)
    addresses = [deployment.address(step) for step in path]
    action = f"swap {amount_in} {' -> '.join(path)}"
    if token_allowance(w3, addresses[0], local.address, deployment.router, action=action) < amount_in:
        approve(w3, local, addresses[0], deployment.router, amount_in, action=action)
    if min_out is None:
        min_out = quote(w3, deployment, amount_in, path)
    with chain_errors(w3, action):
        call = swap_call(w3, deployment.router, amount_in, min_out, addresses, recipient)
        gas_estimate = call.estimate_gas({"from": local.address})
    receipt = send(w3, local, call, gas=gas_estimate, action=action)
    amount_out = received(w3, addresses[-1], receipt, recipient)
    return SwapResult(amount_out, gas_estimate, receipt["gasUsed"], "0x" + bytes(receipt["transactionHash"]).hex())
