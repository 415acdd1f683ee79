"""Starting, reaching and stopping the chain nodes: anvil, the eth-tester fallback, and the
errors when a node cannot be found, started or reached."""

from __future__ import annotations

import subprocess
import sys
import time
from urllib.parse import urlparse

import pytest

from livegate.adapters.chain import node_modules
from livegate.adapters.chain.accounts import DEV_ACCOUNTS
from livegate.adapters.chain.anvil import AnvilNode
from livegate.adapters.chain.local import LocalChain, resolve_backend
from livegate.adapters.chain.rpc import free_port, rpc_call
from livegate.adapters.chain.tester import EthTesterNode
from livegate.core.errors import UsageError, VenueUnreachable

NODES = {"anvil": AnvilNode, "eth-tester": EthTesterNode}


def test_node_answers_on_loopback(any_chain):
    assert urlparse(any_chain.rpc_url).hostname == "127.0.0.1"
    assert int(rpc_call(any_chain.rpc_url, "eth_chainId"), 16) == 31337 == any_chain.chain_id
    assert any_chain.backend in ("anvil", "eth-tester")


def test_dev_accounts_are_the_nodes_and_match_their_test_keys(any_chain, w3):
    from eth_account import Account

    assert w3.eth.accounts == [account.address for account in DEV_ACCOUNTS]
    for account in DEV_ACCOUNTS:
        assert Account.from_key(account.test_private_key).address == account.address
        assert account.test_private_key not in repr(account)
    assert any_chain.deployer == DEV_ACCOUNTS[0] and any_chain.trader == DEV_ACCOUNTS[1]


def test_every_transaction_gets_its_own_later_block(any_chain, w3):
    from livegate.adapters.chain.artifacts import load
    from livegate.adapters.chain.transact import send

    token = w3.eth.contract(address=any_chain.deployment.tokens["TKA"], abi=load("ERC20").abi)
    start = w3.eth.block_number
    for _ in range(2):
        send(w3, any_chain.deployer, token.functions.transfer(any_chain.trader.address, 10**18))
    blocks = [w3.eth.get_block(number) for number in range(start, start + 3)]
    steps = [later["timestamp"] - earlier["timestamp"] for earlier, later in zip(blocks, blocks[1:])]
    assert w3.eth.block_number == start + 2
    # anvil_setBlockTimestampInterval 1: each block exactly one second after the last
    assert steps == [1, 1] if any_chain.backend == "anvil" else all(step >= 0 for step in steps)


@pytest.mark.parametrize("backend", sorted({resolve_backend(), "eth-tester"}))
def test_chain_id_is_configurable_and_signed_transactions_use_it(backend):
    from eth_account import Account

    sender, receiver = DEV_ACCOUNTS[2], DEV_ACCOUNTS[3]
    tx = {"type": 2, "chainId": 4242, "nonce": 0, "to": receiver.address, "value": 5, "gas": 21_000,
          "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}
    raw = "0x" + bytes(Account.sign_transaction(tx, sender.test_private_key).raw_transaction).hex()
    with NODES[backend](chain_id=4242) as node:
        assert node.backend == backend
        assert int(rpc_call(node.rpc_url, "eth_chainId"), 16) == 4242
        tx_hash = rpc_call(node.rpc_url, "eth_sendRawTransaction", [raw])
        receipt = None
        for _ in range(100):  # anvil mines a moment after it accepts the transaction
            receipt = rpc_call(node.rpc_url, "eth_getTransactionReceipt", [tx_hash])
            if receipt:
                break
            time.sleep(0.02)
        assert receipt["status"] == "0x1"


@pytest.mark.parametrize("backend", sorted({resolve_backend(), "eth-tester"}))
def test_stopped_node_no_longer_answers(backend):
    node = NODES[backend]()
    url = node.start()
    node.stop()
    node.stop()
    with pytest.raises(VenueUnreachable, match=url):
        rpc_call(url, "eth_chainId", timeout=1)


def test_forced_anvil_without_a_binary_says_how_to_install(no_anvil):
    with pytest.raises(VenueUnreachable) as caught:
        LocalChain("anvil").start()
    message = str(caught.value)
    assert "no anvil binary" in message and "npm install" in message and str(no_anvil) in message
    assert "LIVEGATE_CHAIN_BACKEND=eth-tester" in message


def test_auto_falls_back_to_eth_tester_without_anvil(no_anvil, monkeypatch):
    assert resolve_backend() == "eth-tester"
    monkeypatch.setenv("LIVEGATE_CHAIN_BACKEND", "anvil")
    assert resolve_backend() == "anvil"
    assert resolve_backend("eth-tester") == "eth-tester"


def test_web3_before_start_is_a_usage_error():
    chain = LocalChain()
    assert chain.rpc_url is None and chain.backend is None and chain.deployment is None
    with pytest.raises(UsageError, match="not running"):
        chain.web3()


def test_unknown_backend_is_a_usage_error():
    with pytest.raises(UsageError, match="ganache"):
        resolve_backend("ganache")


def test_anvil_that_exits_at_once_is_reported_with_its_output(tmp_path):
    fake = tmp_path / "anvil"
    fake.write_text("#!/bin/sh\necho 'error: this is not anvil' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(VenueUnreachable, match=r"http://127\.0\.0\.1:\d+ did not start: anvil exited with code 3: "
                                                r"error: this is not anvil"):
        AnvilNode(binary=fake).start()


def test_anvil_retries_on_another_port_when_its_port_was_taken(tmp_path):
    fake, attempts = tmp_path / "anvil", tmp_path / "attempts"
    fake.write_text(f"#!/bin/sh\necho \"$4\" >> {attempts}\n"
                    "echo 'Error: Address already in use (os error 98)' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(VenueUnreachable, match="Address already in use"):
        AnvilNode(binary=fake).start()
    assert len(attempts.read_text().split()) == 3


def test_node_that_never_answers_times_out_with_its_url(tmp_path):
    fake = tmp_path / "anvil"
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    node = AnvilNode(binary=fake, start_timeout=0.3)
    with pytest.raises(VenueUnreachable, match=r"http://127\.0\.0\.1:\d+ did not answer within 0\.3 s"):
        node.start()
    assert node.rpc_url is None


def test_unreachable_url_names_the_url():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(VenueUnreachable, match=url):
        rpc_call(url, "eth_chainId", timeout=1)


def test_anvil_binary_is_found_in_the_platform_package(tmp_path, monkeypatch):
    package = node_modules.platform_package()
    binary = tmp_path / "node_modules" / "@foundry-rs" / package / "bin" / "anvil"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.setenv("LIVEGATE_NODE_MODULES", str(tmp_path / "node_modules"))
    assert node_modules.find_anvil() == binary


def test_importing_the_package_loads_no_web3():
    code = ("import sys, livegate.adapters.chain, livegate.adapters.chain.local, livegate.adapters.chain.swap\n"
            "print(','.join(m for m in ('web3', 'eth_tester', 'eth', 'aiohttp') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
