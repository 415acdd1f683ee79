"""The local chains of the test session (imported by tests/conftest.py), one per backend, each on 127.0.0.1 with
Uniswap V2 deployed.

`chain` is the default backend (anvil when `npm install` has run, else eth-tester, or what
LIVEGATE_CHAIN_BACKEND says); `any_chain` runs a test on it and on the eth-tester fallback;
`default_chain` on the default alone. Those two run the test inside an EVM snapshot that is
reverted afterwards, so swaps and transfers never leak into the next test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from livegate.adapters.chain import LocalChain
from livegate.adapters.chain.rpc import rpc_call


@pytest.fixture(scope="session")
def chain():
    """The default local chain, started and stopped with the session."""
    with LocalChain() as running:
        yield running


@pytest.fixture(scope="session")
def tester_chain(chain):
    """The eth-tester fallback chain (the default chain itself when that is eth-tester)."""
    if chain.backend == "eth-tester":
        yield chain
        return
    with LocalChain("eth-tester") as running:
        yield running


@contextmanager
def reverted(running: LocalChain) -> Iterator[LocalChain]:
    """`running` inside an EVM snapshot that is reverted on exit."""
    snapshot = rpc_call(running.rpc_url, "evm_snapshot")
    try:
        yield running
    finally:
        rpc_call(running.rpc_url, "evm_revert", [snapshot])


@pytest.fixture(params=["default", "eth-tester"])
def any_chain(request, chain, tester_chain):
    """Each backend in turn, inside a snapshot reverted after the test. (Both session chains are
    named here so that they start before the per-test isolation clears LIVEGATE_* variables.)"""
    with reverted(chain if request.param == "default" else tester_chain) as running:
        yield running


@pytest.fixture
def default_chain(chain):
    """The default chain alone, for what does not depend on the backend; reverted after the test."""
    with reverted(chain) as running:
        yield running


@pytest.fixture
def w3(any_chain):
    """A web3 client for `any_chain`."""
    return any_chain.web3()
