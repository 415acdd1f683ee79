"""Without the optional eth-tester extra (`livegate[chain-fallback]`) and without anvil, starting
the local chain fails cleanly: a VenueUnreachable naming both ways to get one, no traceback."""

from __future__ import annotations

import sys

import pytest

from livegate.adapters.chain import LocalChain
from livegate.adapters.chain.tester import EthTesterNode, missing_fallback
from livegate.adapters.sandbox.local import LocalSandbox
from livegate.core.errors import VenueUnreachable


@pytest.fixture
def no_eth_tester(monkeypatch):
    """eth-tester and py-evm as if not installed (a None in sys.modules fails their import)."""
    for name in ("eth_tester", "eth"):
        monkeypatch.setitem(sys.modules, name, None)


def test_missing_fallback_names_the_distributions(no_eth_tester):
    assert missing_fallback() == ["eth-tester", "py-evm"]


def test_fallback_is_installed_for_the_tests():
    assert missing_fallback() == []


def test_no_anvil_and_no_eth_tester_says_how_to_get_either(no_anvil, no_eth_tester):
    with pytest.raises(VenueUnreachable) as caught:
        LocalChain().start()
    message = str(caught.value)
    assert "eth-tester and py-evm not installed" in message
    assert "node/anvil is missing" in message and str(no_anvil) in message
    assert "npm install" in message and "pip install 'livegate[chain-fallback]'" in message


def test_forced_eth_tester_when_anvil_is_there_points_at_anvil(no_eth_tester, monkeypatch):
    monkeypatch.setattr("livegate.adapters.chain.node_modules.find_anvil", lambda: "/usr/bin/anvil")
    with pytest.raises(VenueUnreachable, match=r"anvil is installed: use it") as caught:
        EthTesterNode().start()
    assert "livegate[chain-fallback]" in str(caught.value)


def test_the_sandbox_leaves_nothing_running_when_no_chain_can_start(no_anvil, no_eth_tester):
    sandbox = LocalSandbox(speed=1.0)
    with pytest.raises(VenueUnreachable, match="chain-fallback"):
        sandbox.start()
    assert sandbox.chain.node is None and sandbox.exchange.server.url is None
