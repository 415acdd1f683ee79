"""Trading against the Uniswap V2 router of a `Deployment`: a quote from `getAmountsOut`, and
an exact-input swap that approves, estimates gas, sends and reports what it got."""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

from livegate.chain.artifacts import load
from livegate.chain.transact import chain_errors, send, signer
from livegate.chain.uniswap import DEADLINE_S, Deployment


class SwapResult(NamedTuple):
    """One executed swap: output received, the node's gas estimate, gas the transaction used, its hash."""

    amount_out: int
    gas_estimate: int
    gas_used: int
    tx_hash: str


def _router(w3, deployment: Deployment):
    return w3.eth.contract(address=deployment.router, abi=load("UniswapV2Router02").abi)


def _token(w3, address: str):
    return w3.eth.contract(address=address, abi=load("ERC20").abi)


def quote(w3, deployment: Deployment, amount_in: int, path: Sequence[str]) -> int:
    """What `amount_in` of `path[0]` buys of `path[-1]` along `path` (symbols or addresses)
    right now, fees included: the router's `getAmountsOut`."""
    addresses = [deployment.address(step) for step in path]
    with chain_errors(w3, f"quote {amount_in} {' -> '.join(path)}"):
        return _router(w3, deployment).functions.getAmountsOut(amount_in, addresses).call()[-1]


def swap_exact_tokens(w3, deployment: Deployment, account: Any, amount_in: int, path: Sequence[str], *,
                      min_out: int | None = None, recipient: str | None = None) -> SwapResult:
    """Sell exactly `amount_in` of `path[0]` for `path[-1]` with `swapExactTokensForTokens`,
    signed by `account` (a `DevAccount` or an eth-account signer). `min_out` defaults to the
    current quote, so the swap fills at that price or reverts. Approves the router first when
    its allowance is short; the swap is sent with the node's gas estimate as its gas limit."""
    from eth_utils import to_checksum_address
    from web3.logs import DISCARD

    local = signer(account)
    recipient = to_checksum_address(recipient or local.address)
    addresses = [deployment.address(step) for step in path]
    action = f"swap {amount_in} {' -> '.join(path)}"
    token_in, token_out = _token(w3, addresses[0]), _token(w3, addresses[-1])
    with chain_errors(w3, action):
        allowance = token_in.functions.allowance(local.address, deployment.router).call()
    if allowance < amount_in:
        send(w3, local, token_in.functions.approve(deployment.router, amount_in), action=f"{action}: approve")
    if min_out is None:
        min_out = quote(w3, deployment, amount_in, path)
    with chain_errors(w3, action):
        deadline = w3.eth.get_block("latest")["timestamp"] + DEADLINE_S
        call = _router(w3, deployment).functions.swapExactTokensForTokens(amount_in, min_out, addresses, recipient,
                                                                          deadline)
        gas_estimate = call.estimate_gas({"from": local.address})
    receipt = send(w3, local, call, gas=gas_estimate, action=action)
    transfers = token_out.events.Transfer().process_receipt(receipt, errors=DISCARD)
    amount_out = sum(event["args"]["value"] for event in transfers if event["args"]["to"] == recipient)
    return SwapResult(amount_out, gas_estimate, receipt["gasUsed"], "0x" + bytes(receipt["transactionHash"]).hex())
