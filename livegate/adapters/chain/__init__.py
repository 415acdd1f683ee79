"""The local EVM chain: anvil (or, without node, an in-process eth-tester chain) on 127.0.0.1
with the real Uniswap V2 contracts deployed, for `livegate sandbox`, the demo and the tests.

`LocalChain` runs one; `quote` and `swap_exact_tokens` trade on it. web3 and eth-tester are
imported only inside the functions that use them, so importing this package stays light."""

from __future__ import annotations

from livegate.adapters.chain.accounts import DEV_ACCOUNTS, DevAccount
from livegate.adapters.chain.local import LocalChain, resolve_backend
from livegate.adapters.chain.swap import SwapResult, quote, swap_exact_tokens
from livegate.adapters.chain.uniswap import Deployment

__all__ = ["DEV_ACCOUNTS", "Deployment", "DevAccount", "LocalChain", "SwapResult", "quote", "resolve_backend",
           "swap_exact_tokens"]
