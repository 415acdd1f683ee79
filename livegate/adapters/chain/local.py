"""`LocalChain`: a local EVM chain with Uniswap V2 deployed, for `livegate sandbox`, the demo
and the tests. One call gives a running node on 127.0.0.1, its `rpc_url` and the deployment.

The node is anvil when it is installed (`npm install` in the repository root), otherwise the
in-process eth-tester chain (the optional `chain-fallback` extra; without it, starting fails with
VenueUnreachable saying how to get either); `backend=` or `LIVEGATE_CHAIN_BACKEND` forces one."""

from __future__ import annotations

import os

from livegate.adapters.chain import node_modules
from livegate.adapters.chain.accounts import DEPLOYER, DEV_ACCOUNTS, TRADER, DevAccount
from livegate.adapters.chain.anvil import AnvilNode
from livegate.adapters.chain.tester import EthTesterNode
from livegate.adapters.chain.transact import connect
from livegate.adapters.chain.uniswap import Deployment, deploy_uniswap
from livegate.core.errors import UsageError

BACKEND_ENV = "LIVEGATE_CHAIN_BACKEND"
BACKENDS = ("auto", "anvil", "eth-tester")
DEFAULT_CHAIN_ID = 31337


def resolve_backend(requested: str | None = None) -> str:
    """The backend to run, "anvil" or "eth-tester": `requested`, else LIVEGATE_CHAIN_BACKEND,
    else "auto" (anvil when its binary is found)."""
    choice = (requested or os.environ.get(BACKEND_ENV) or "auto").strip().lower()
    if choice not in BACKENDS:
        raise UsageError(f"unknown chain backend {choice!r}: use one of {', '.join(BACKENDS)}")
    if choice == "auto":
        return "anvil" if node_modules.find_anvil() is not None else "eth-tester"
    return choice


class LocalChain:
    """A running local chain and its Uniswap V2 deployment.

        with LocalChain() as chain:
            w3 = chain.web3()
            swap_exact_tokens(w3, chain.deployment, chain.trader, 10**18, ["TKA", "TKB"])

    `rpc_url`, `chain_id`, `backend` ("anvil" | "eth-tester") and `deployment` are set once
    started; `accounts` are the funded development accounts (public test keys), of which
    `deployer` deployed the contracts and `trader` holds tokens to trade."""

    accounts: tuple[DevAccount, ...] = DEV_ACCOUNTS
    deployer: DevAccount = DEPLOYER
    trader: DevAccount = TRADER

    def __init__(self, backend: str | None = None, *, chain_id: int = DEFAULT_CHAIN_ID, deploy: bool = True):
        self.requested_backend, self.chain_id, self.deploy = backend, chain_id, deploy
        self.node: AnvilNode | EthTesterNode | None = None
        self.deployment: Deployment | None = None

    @property
    def backend(self) -> str | None:
        return None if self.node is None else self.node.backend

    @property
    def rpc_url(self) -> str | None:
        return None if self.node is None else self.node.rpc_url

    def start(self) -> str:
        """Start the node and deploy Uniswap V2 (unless `deploy=False`); returns the RPC URL."""
        if self.node is not None:
            return self.node.rpc_url
        backend = resolve_backend(self.requested_backend)
        node = AnvilNode(self.chain_id) if backend == "anvil" else EthTesterNode(self.chain_id)
        node.start()
        self.node = node
        try:
            if self.deploy:
                self.deployment = deploy_uniswap(self.web3(), deployer=self.deployer, trader=self.trader)
        except BaseException:
            self.stop()
            raise
        return node.rpc_url

    def stop(self) -> None:
        """Stop the node; the deployment goes with it."""
        node, self.node, self.deployment = self.node, None, None
        if node is not None:
            node.stop()

    def web3(self):
        """A `web3.Web3` client for this chain."""
        if self.rpc_url is None:
            raise UsageError("the local chain is not running; call start() first")

        return connect(self.rpc_url)

    def describe(self) -> dict:
        """What a client needs to use the chain: RPC URL, chain id, backend and the deployment."""
        return {"rpc_url": self.rpc_url, "chain_id": self.chain_id, "backend": self.backend,
                **(self.deployment.to_dict() if self.deployment else {})}

    def __enter__(self) -> LocalChain:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
