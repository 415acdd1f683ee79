"""Talking to a chain node with web3: a client for an RPC URL, signing and sending a contract
call with a local key, and web3's failures translated into livegate's errors.

Transactions are signed here, never by the node, so the same code works against anvil, the
eth-tester fallback and a real network."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from livegate.adapters.chain.accounts import DevAccount
from livegate.core.errors import VenueRefused, VenueUnreachable

RECEIPT_TIMEOUT_S = 30.0


def connect(rpc_url: str, timeout: float = 30.0):
    """A `web3.Web3` client for the node at `rpc_url`."""
    from web3 import Web3

    return Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))


def signer(account: Any):
    """An eth-account `LocalAccount` for a `DevAccount` (its test key); any other signer as given."""
    if isinstance(account, DevAccount):
        from eth_account import Account

        return Account.from_key(account.test_private_key)
    return account


def node_url(w3) -> str:
    """The node's address, for messages."""
    return str(getattr(w3.provider, "endpoint_uri", None) or w3.provider)


@contextmanager
def chain_errors(w3, action: str) -> Iterator[None]:
    """Turn web3's failures inside the block into `VenueUnreachable` (no connection) or
    `VenueRefused` (the node or a contract refused), naming `action` and the node."""
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import Timeout
    from web3.exceptions import ContractLogicError, TimeExhausted, Web3Exception

    try:
        yield
    except (RequestsConnectionError, Timeout, TimeExhausted) as exc:
        raise VenueUnreachable(f"{action}: chain node at {node_url(w3)} did not answer: {exc}") from exc
    except ContractLogicError as exc:
        raise VenueRefused(f"{action}: reverted on {node_url(w3)}: {exc.message or exc}", venue="chain") from exc
    except (Web3Exception, ValueError) as exc:
        raise VenueRefused(f"{action}: refused by {node_url(w3)}: {exc}", venue="chain") from exc


def sign(w3, account: Any, call, *, value: int = 0, gas: int | None = None, nonce: int | None = None):
    """Build `call` (a bound contract function or constructor) into a transaction from
    `account` and sign it locally, sending nothing: eth-account's signed transaction, whose
    `hash` is known before the node sees it. `gas` defaults to the node's estimate, `nonce` to
    the account's next one counting its transactions still pending. Call inside `chain_errors`."""
    local = signer(account)
    if nonce is None:
        nonce = w3.eth.get_transaction_count(local.address, "pending")
    fields = {"from": local.address, "value": value, "nonce": nonce}
    if gas is not None:
        fields["gas"] = gas
    return local.sign_transaction(call.build_transaction(fields))


def send(w3, account: Any, call, *, value: int = 0, gas: int | None = None, action: str = "transaction") -> dict:
    """Sign `call` (a bound contract function or constructor) with `account`, send it and wait
    for its receipt; `gas` defaults to the node's estimate. A revert raises `VenueRefused`."""
    with chain_errors(w3, action):
        signed = sign(w3, account, call, value=value, gas=gas)
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S, poll_latency=0.05)
    if receipt["status"] != 1:
        raise VenueRefused(f"{action}: transaction 0x{bytes(tx_hash).hex()} reverted on {node_url(w3)}", venue="chain")
    return receipt


def deploy(w3, account: Any, artifact, *args, action: str | None = None) -> str:
    """Deploy `artifact` with constructor `args`; returns the new contract's address."""
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = send(w3, account, factory.constructor(*args), action=action or f"deploy {artifact.name}")
    return receipt["contractAddress"]
