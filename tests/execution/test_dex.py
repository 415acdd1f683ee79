"""The DEX executor against real Uniswap V2 on a local chain (anvil, and the eth-tester
fallback): a swap pays the quote and stays within its gas estimate, is journaled before it is
broadcast, waits for its confirmations; a revert names the router's reason; the allowlists and
the chain id are enforced; the key never shows; after a crash (in-process, and a real kill -9)
`resume` finds the swap by its hash and nothing is traded twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from livegate.adapters.chain.artifacts import load
from livegate.adapters.chain.rpc import rpc_call
from livegate.adapters.chain.swap import approve, quote, swap_exact_tokens
from livegate.adapters.execution.dex import MAX_ALLOWANCE, Allowlists, DexExecutor, open_swaps
from livegate.config.environment import load_env
from livegate.core.errors import OrderNotFound, OrderRejected, UsageError, VenueTimeout
from livegate.core.orders import Order
from livegate.core.redact import redact_text

E18 = 10**18
REPO = Path(__file__).resolve().parents[2]


class Crash(Exception):
    """The process dies here (the journal entry is already written)."""


class RecordingJournal:
    """Keeps every event as JSON would store it; `hooks[kind](payload)` runs right after one is kept."""

    def __init__(self, hooks: dict | None = None):
        self.events: list[tuple[str, dict]] = []
        self.hooks = hooks or {}

    def emit(self, kind: str, payload: dict) -> None:
        self.events.append((kind, json.loads(json.dumps(payload))))
        if kind in self.hooks:
            self.hooks[kind](payload)

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]

    def payloads(self, kind: str) -> list[dict]:
        return [payload for k, payload in self.events if k == kind]


def crash(_payload) -> None:
    raise Crash


def allowlists(running) -> Allowlists:
    deployment = running.deployment
    return Allowlists(("anvil",), (*deployment.tokens.values(), deployment.weth), (deployment.router,))


def executor_options(running, journal=None, **overrides) -> dict:
    deployment = running.deployment
    options = dict(router=deployment.router, tokens={**deployment.tokens, "WETH": deployment.weth},
                   chain_name="anvil", chain_id=running.chain_id, allow=allowlists(running), slippage=0.005,
                   journal=journal if journal is not None else RecordingJournal(), poll_s=0.02, wait_timeout_s=10,
                   halt_check=lambda: None)
    return {**options, **overrides}


def make_executor(running, journal=None, **overrides) -> DexExecutor:
    return DexExecutor(running.web3(), running.trader.test_private_key, **executor_options(running, journal, **overrides))


def balance(running, symbol: str) -> int:
    w3 = running.web3()
    token = w3.eth.contract(address=running.deployment.address(symbol), abi=load("ERC20").abi)
    return token.functions.balanceOf(running.trader.address).call()


def sent_count(running) -> int:
    return running.web3().eth.get_transaction_count(running.trader.address)


class Miner:
    """Mines a block every `interval` seconds in the background while inside `with`."""

    def __init__(self, running, interval: float = 0.05):
        self.url, self.interval, self.stop = running.rpc_url, interval, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            rpc_call(self.url, "evm_mine")

    def __enter__(self) -> Miner:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(5)


def _amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountOut: a 0.3 % fee on the input, then x*y=k."""
    with_fee = amount_in * 997
    return with_fee * reserve_out // (reserve_in * 1000 + with_fee)


def _amount_in(amount_out: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountIn."""
    return reserve_in * amount_out * 1000 // ((reserve_out - amount_out) * 997) + 1


# -- swaps -----------------------------------------------------------------------------------


def test_swap_pays_the_quote_within_its_gas_estimate_journaled_before_broadcast(any_chain):
    w3 = any_chain.web3()

    def not_yet_on_the_node(payload):
        from web3.exceptions import TransactionNotFound

        with pytest.raises(TransactionNotFound):
            w3.eth.get_transaction(payload["tx_hash"])

    journal = RecordingJournal({"dex_swap_sending": not_yet_on_the_node})
    executor = make_executor(any_chain, journal)
    amount_in = 1000 * E18
    quoted = quote(w3, any_chain.deployment, amount_in, ["TKA", "TKB"])
    tka, tkb = balance(any_chain, "TKA"), balance(any_chain, "TKB")

    outcome = executor.swap("TKA", "TKB", amount_in, client_id="s-1")

    assert outcome.amount_out == outcome.quoted_out == quoted > 0
    assert outcome.min_out == quoted * 199 // 200 <= outcome.amount_out  # floor(quote x (1 - 0.005))
    assert 0.5 * outcome.gas_estimate <= outcome.gas_used <= outcome.gas_estimate
    assert outcome.confirmations >= 1 and outcome.slippage_bps == 0
    assert (balance(any_chain, "TKA"), balance(any_chain, "TKB")) == (tka - amount_in, tkb + quoted)
    receipt = w3.eth.get_transaction_receipt(outcome.tx_hash)
    assert receipt["status"] == 1 and receipt["blockNumber"] == outcome.block and receipt["gasUsed"] == outcome.gas_used
    assert journal.kinds() == ["dex_approval", "dex_swap_sending", "dex_swap_confirmed"]
    [sending], [confirmed] = journal.payloads("dex_swap_sending"), journal.payloads("dex_swap_confirmed")
    deployment = any_chain.deployment
    assert sending["tx_hash"] == outcome.tx_hash and sending["from"] == any_chain.trader.address
    assert sending["nonce"] == w3.eth.get_transaction(outcome.tx_hash)["nonce"]
    assert sending["path"] == [deployment.tokens["TKA"], deployment.tokens["TKB"]]
    assert (sending["amount_in"], sending["quoted_out"], sending["min_out"], sending["gas_estimate"]) == (
        amount_in, quoted, outcome.min_out, outcome.gas_estimate)
    assert confirmed["status"] == 1 and confirmed["resumed"] is False
    assert (confirmed["block"], confirmed["amount_out"], confirmed["gas_used"]) == (outcome.block, quoted,
                                                                                   outcome.gas_used)
    assert open_swaps(journal.events) == []


def test_a_swap_through_an_intermediate_token_pays_the_routes_quote(default_chain):
    quoted = quote(default_chain.web3(), default_chain.deployment, 500 * E18, ["TKB", "TKA", "WETH"])
    outcome = make_executor(default_chain).swap("TKB", "WETH", 500 * E18, client_id="v-1", via=("TKA",))
    assert outcome.amount_out == quoted == balance(default_chain, "WETH") > 0


def test_a_swap_waits_for_its_confirmations(default_chain):
    executor = make_executor(default_chain, confirmations=3)
    with Miner(default_chain):
        outcome = executor.swap("TKA", "TKB", 10 * E18, client_id="c-3")
    assert outcome.confirmations >= 3
    assert default_chain.web3().eth.block_number >= outcome.block + 2


def test_no_confirmation_in_time_leaves_the_swap_open_for_resume(default_chain):
    journal = RecordingJournal()
    executor = make_executor(default_chain, journal, confirmations=2, wait_timeout_s=0.3)
    with pytest.raises(VenueTimeout, match=r"1 of 2 confirmations.*resume\(\)"):
        executor.swap("TKA", "TKB", 10 * E18, client_id="t-1")
    [pending] = open_swaps(journal.events)
    rpc_call(default_chain.rpc_url, "evm_mine")
    outcome = executor.resume(pending)
    assert outcome.tx_hash == pending["tx_hash"] and outcome.confirmations == 2
    assert open_swaps(journal.events) == []


def test_the_router_is_approved_only_when_its_allowance_is_short(default_chain):
    router, trader = default_chain.deployment.router, default_chain.trader.address
    tka = default_chain.web3().eth.contract(address=default_chain.deployment.tokens["TKA"], abi=load("ERC20").abi)
    exact = RecordingJournal()
    executor = make_executor(default_chain, exact)
    for n in range(2):
        executor.swap("TKA", "TKB", 10 * E18, client_id=f"e-{n}")
    assert [p["amount"] for p in exact.payloads("dex_approval")] == [10 * E18, 10 * E18]
    assert tka.functions.allowance(trader, router).call() == 0  # each swap used exactly what it was allowed

    unlimited = RecordingJournal()
    executor = make_executor(default_chain, unlimited, unlimited_approval=True)
    for n in range(2):
        executor.swap("TKA", "TKB", 10 * E18, client_id=f"u-{n}")
    assert unlimited.kinds().count("dex_approval") == 1
    assert unlimited.payloads("dex_approval")[0]["amount"] == MAX_ALLOWANCE


def test_a_minimum_above_the_quote_is_rejected_naming_the_routers_reason(any_chain):
    journal = RecordingJournal()
    executor = make_executor(any_chain, journal)
    quoted = quote(any_chain.web3(), any_chain.deployment, E18, ["TKA", "TKB"])
    tka = balance(any_chain, "TKA")
    with pytest.raises(OrderRejected, match=r"less than the minimum output .*INSUFFICIENT_OUTPUT_AMOUNT") as caught:
        executor.swap("TKA", "TKB", E18, client_id="r-1", min_out=quoted + 1)
    assert f"minimum output {quoted + 1} (quoted {quoted})" in str(caught.value)
    assert journal.kinds() == ["dex_approval", "dex_swap_failed"]  # refused at the estimate: nothing signed or sent
    assert journal.payloads("dex_swap_failed")[0]["stage"] == "estimate"
    assert balance(any_chain, "TKA") == tka


# -- the order gateway's side ------------------------------------------------------------------

POOL_TKA, POOL_TKB = 100_000 * E18, 200_000 * E18  # the TKA/TKB pool as deployed


@pytest.mark.parametrize("side", ["sell", "buy"])
def test_place_fills_a_market_order_at_the_pools_price(default_chain, side):
    executor = make_executor(default_chain)
    order = Order(f"g-{side}", "TKA/TKB", side, "market", 5.0, None, 1_000)
    tka = balance(default_chain, "TKA")
    [fill] = executor.place(order, 2_000, None)
    if side == "sell":
        received = _amount_out(5 * E18, POOL_TKA, POOL_TKB)
        assert fill.amount == 5.0 and fill.price == pytest.approx(received / 5 / E18, rel=1e-12)
        assert balance(default_chain, "TKA") == tka - 5 * E18
    else:
        spent = _amount_in(5 * E18, POOL_TKB, POOL_TKA)
        got = _amount_out(spent, POOL_TKB, POOL_TKA)
        assert got >= 5 * E18 and fill.amount == pytest.approx(got / E18, rel=1e-15)
        assert fill.price == pytest.approx(spent / got, rel=1e-12)
        assert balance(default_chain, "TKA") == tka + got
    assert fill.reference == pytest.approx(fill.price, rel=1e-12) and fill.slippage_bps == pytest.approx(0, abs=1e-6)
    assert (fill.order_id, fill.side, fill.fee, fill.liquidity, fill.model, fill.ts) == (
        f"g-{side}", side, 0.0, "taker", "dex", 2_000)
    assert order.status == "filled" and executor.open_orders() == [] and executor.cancel_all() == []


def test_a_front_run_between_signing_and_mining_reverts_on_chain_as_a_block(default_chain):
    w3, deployment = default_chain.web3(), default_chain.deployment

    def front_run(_payload):  # another trader moves the pool after the quote, before ours is mined
        swap_exact_tokens(w3, deployment, default_chain.deployer, 20_000 * E18, ["TKA", "TKB"])

    journal = RecordingJournal({"dex_swap_sending": front_run})
    executor = make_executor(default_chain, journal)
    tka = balance(default_chain, "TKA")
    block = executor.place(Order("f-1", "TKA/TKB", "sell", "market", 100.0, None, 0), 0, None)
    [sending], [failed] = journal.payloads("dex_swap_sending"), journal.payloads("dex_swap_failed")
    assert block.rule == "dex_revert"
    assert "less than the minimum output" in block.message and "INSUFFICIENT_OUTPUT_AMOUNT" in block.message
    assert sending["tx_hash"] in block.message
    assert failed["stage"] == "chain" and failed["tx_hash"] == sending["tx_hash"]
    assert w3.eth.get_transaction_receipt(sending["tx_hash"])["status"] == 0
    assert balance(default_chain, "TKA") == tka


def test_place_refuses_what_a_swap_cannot_be(default_chain):
    executor = make_executor(default_chain)
    limit = executor.place(Order("l-1", "TKA/TKB", "buy", "limit", 1.0, 2.0, 0), 0, None)
    unknown = executor.place(Order("l-2", "TKA/USDC", "buy", "market", 1.0, None, 0), 0, None)
    dust = executor.place(Order("l-3", "TKA/TKB", "sell", "market", 1e-19, None, 0), 0, None)
    assert (limit.rule, unknown.rule, dust.rule) == ("dex_order_type", "unknown_symbol", "invalid")
    assert "TKA, TKB, WETH" in unknown.message


# -- what the executor refuses to trade on -----------------------------------------------------

OTHER = "0x000000000000000000000000000000000000dEaD"


@pytest.mark.parametrize("lists, message", [
    (dict(chains=("mainnet", "1")), r"chain anvil \(id 31337\) is not on ALLOW_CHAINS \(mainnet, 1\)"),
    (dict(chains=()), r"ALLOW_CHAINS \(empty\)"),
    (dict(routers=(OTHER,)), rf"router 0x\w{{40}} is not on ALLOW_ROUTERS \({OTHER}\)"),
    (dict(tokens=("TKA", "WETH")), r"token TKB \(0x\w{40}\) is not on ALLOW_TOKENS \(TKA, WETH\)"),
])
def test_what_is_not_on_the_allowlists_is_refused(default_chain, lists, message):
    allow = allowlists(default_chain)
    allow = Allowlists(**{"chains": allow.chains, "tokens": allow.tokens, "routers": allow.routers, **lists})
    with pytest.raises(UsageError, match=message):
        make_executor(default_chain, allow=allow)


def test_allowlists_match_by_id_symbol_and_address_in_any_case(default_chain, tmp_path):
    deployment = default_chain.deployment
    env = load_env(tmp_path, {"ALLOW_CHAINS": " 31337 ", "ALLOW_TOKENS": "tka,TKB, weth",
                              "ALLOW_ROUTERS": deployment.router.lower()})
    allow = Allowlists.from_env(env)
    assert allow == Allowlists(("31337",), ("tka", "TKB", "weth"), (deployment.router.lower(),))
    executor = make_executor(default_chain, allow=allow, chain_name="local")
    assert executor.router == deployment.router


def test_a_node_on_another_chain_is_refused(default_chain):
    allow = Allowlists(("anvil", "sepolia"), allowlists(default_chain).tokens, allowlists(default_chain).routers)
    with pytest.raises(UsageError, match=r"node at http://127\.0\.0\.1:\d+ is on chain id 31337, not sepolia's "
                                         r"configured chain id 11155111"):
        make_executor(default_chain, allow=allow, chain_name="sepolia", chain_id=11155111)


@pytest.mark.parametrize("overrides, message", [
    (dict(slippage=-0.01), "slippage must be a fraction"),
    (dict(confirmations=0), "confirmations must be at least 1"),
    (dict(router="0x1234"), "router: '0x1234' is not a 0x address"),
])
def test_bad_settings_are_refused(default_chain, overrides, message):
    with pytest.raises(UsageError, match=message):
        make_executor(default_chain, **overrides)


def test_the_key_never_shows(default_chain):
    key = default_chain.trader.test_private_key
    forms = (key.lower(), key.lower().removeprefix("0x"))
    journal = RecordingJournal()
    executor = make_executor(default_chain, journal)
    executor.swap("TKA", "TKB", E18, client_id="k-1")
    messages = [repr(executor), str(executor)]
    with pytest.raises(OrderRejected) as rejected:
        executor.swap("TKA", "TKB", E18, client_id="k-2", min_out=10**30)
    with pytest.raises(UsageError) as refused:
        make_executor(default_chain, chain_name="sepolia")
    secret_looking = "0x" + "ab" * 31 + "zz"
    with pytest.raises(UsageError) as bad_key:
        DexExecutor(default_chain.web3(), secret_looking, **executor_options(default_chain))
    assert "not a valid private key" in str(bad_key.value)
    assert bad_key.value.__cause__ is None and bad_key.value.__context__ is None
    assert redact_text(f"key {key}") == "key ***"  # and masked wherever livegate prints or records text
    for exc in (rejected.value, refused.value, bad_key.value):
        messages += [str(exc), repr(exc), repr(exc.__cause__)]
    messages += [json.dumps(journal.events)]
    for text in messages:
        assert not any(form in text.lower() for form in forms)
        assert secret_looking[2:] not in text


# -- crashes and reconciliation ----------------------------------------------------------------


def test_a_crash_before_broadcasting_sends_the_same_signed_transaction_on_resume(any_chain):
    """Exactly once on a chain: after a crash between the journal entry and the broadcast, the
    resume broadcasts the journaled signed bytes — the same hash, the same nonce — never a new
    transaction for the same swap; a second resume finds it mined and swaps nothing more."""
    journal = RecordingJournal({"dex_swap_sending": crash})
    with pytest.raises(Crash):
        make_executor(any_chain, journal).swap("TKA", "TKB", 100 * E18, client_id="s-1")
    tka = balance(any_chain, "TKA")
    [pending] = open_swaps(journal.events)
    after_restart = RecordingJournal()
    restarted = make_executor(any_chain, after_restart)
    outcome = restarted.resume(pending)
    assert outcome is not None and outcome.tx_hash == pending["tx_hash"]
    assert any_chain.web3().eth.get_transaction(outcome.tx_hash)["nonce"] == pending["nonce"]
    assert balance(any_chain, "TKA") == tka - 100 * E18
    assert [p["tx_hash"] for p in after_restart.payloads("dex_swap_rebroadcast")] == [pending["tx_hash"]]
    assert restarted.resume(pending).tx_hash == outcome.tx_hash and balance(any_chain, "TKA") == tka - 100 * E18
    assert open_swaps(journal.events + after_restart.events) == []


def test_a_crash_before_broadcasting_is_never_sent_and_a_new_swap_takes_its_nonce(any_chain):
    journal = RecordingJournal({"dex_swap_sending": crash})
    with pytest.raises(Crash):
        make_executor(any_chain, journal).swap("TKA", "TKB", 100 * E18, client_id="b-1")
    tka = balance(any_chain, "TKA")
    [pending] = open_swaps(journal.events)
    pending = {k: v for k, v in pending.items() if k != "raw_tx"}  # a journal entry from before the signed bytes were kept

    after_restart = RecordingJournal()
    restarted = make_executor(any_chain, after_restart)
    assert restarted.resume(pending) is None
    [abandoned] = after_restart.payloads("dex_swap_abandoned")
    assert abandoned["reason"] == "never_broadcast" and abandoned["tx_hash"] == pending["tx_hash"]
    assert open_swaps(journal.events + after_restart.events) == []

    outcome = restarted.swap("TKA", "TKB", 100 * E18, client_id="b-2")
    assert any_chain.web3().eth.get_transaction(outcome.tx_hash)["nonce"] == pending["nonce"]
    assert balance(any_chain, "TKA") == tka - 100 * E18  # traded once


def test_a_crash_after_broadcasting_is_found_by_its_hash_and_not_sent_again(any_chain):
    journal = RecordingJournal()
    executor = make_executor(any_chain, journal)
    tka = balance(any_chain, "TKA")
    prepared = executor.prepare("TKA", "TKB", 100 * E18, client_id="a-1")
    executor.broadcast(prepared)
    assert executor.broadcast(prepared) == prepared.payload["tx_hash"]  # the node has it: not a failure
    del executor  # the process dies before it reads the receipt
    sent = sent_count(any_chain)
    [pending] = open_swaps(journal.events)

    after_restart = RecordingJournal()
    restarted = make_executor(any_chain, after_restart)
    outcome = restarted.resume(pending)
    assert restarted.resume(pending) == outcome  # idempotent
    assert (outcome.client_id, outcome.tx_hash, outcome.amount_out) == ("a-1", pending["tx_hash"], pending["quoted_out"])
    assert balance(any_chain, "TKA") == tka - 100 * E18 and sent_count(any_chain) == sent
    assert [p["resumed"] for p in after_restart.payloads("dex_swap_confirmed")] == [True, True]
    assert "dex_swap_failed" not in journal.kinds() and open_swaps(journal.events + after_restart.events) == []


def test_a_swap_still_in_the_mempool_is_waited_for(default_chain):
    if default_chain.backend != "anvil":
        pytest.skip("eth-tester mines every transaction at once: nothing waits in a mempool")
    journal = RecordingJournal()
    executor = make_executor(default_chain, journal)
    prepared = executor.prepare("TKA", "TKB", 100 * E18, client_id="m-1")
    rpc_call(default_chain.rpc_url, "evm_setAutomine", [False])
    try:
        executor.broadcast(prepared)
        assert default_chain.web3().eth.get_transaction(prepared.payload["tx_hash"])["blockNumber"] is None
        with Miner(default_chain, interval=0.2):
            outcome = make_executor(default_chain).resume(prepared.payload)
    finally:
        rpc_call(default_chain.rpc_url, "evm_setAutomine", [True])
    assert outcome.tx_hash == prepared.payload["tx_hash"] and outcome.amount_out == prepared.payload["quoted_out"]


def test_a_nonce_taken_by_another_transaction_is_reported(default_chain):
    journal = RecordingJournal({"dex_swap_sending": crash})
    with pytest.raises(Crash):
        make_executor(default_chain, journal).swap("TKA", "TKB", 100 * E18, client_id="n-1")
    [pending] = open_swaps(journal.events)
    deployment = default_chain.deployment
    approve(default_chain.web3(), default_chain.trader, deployment.tokens["TKB"], deployment.router, 1, action="other")
    after_restart = RecordingJournal()
    with pytest.raises(OrderNotFound, match=rf"knows no transaction {pending['tx_hash']}.*nonce {pending['nonce']} "
                                            r"of 0x\w+ was taken by another transaction"):
        make_executor(default_chain, after_restart).resume(pending)
    assert after_restart.payloads("dex_swap_abandoned")[0]["reason"] == "nonce_taken"
    with pytest.raises(UsageError, match="was signed by 0x"):
        make_executor(default_chain).resume({**pending, "from": OTHER})


CHILD = """
import json, os, sys
from livegate.adapters.chain.transact import connect
from livegate.core.redact import redact_text
from livegate.adapters.execution.dex import Allowlists, DexExecutor

class FileJournal:
    def __init__(self, path):
        self.path = path
    def emit(self, kind, payload):
        with open(self.path, "a") as file:
            file.write(json.dumps([kind, payload]) + "\\n")
            file.flush()
            os.fsync(file.fileno())

config = json.loads(os.environ["DEX_CHILD_CONFIG"])
allow = Allowlists(*(tuple(config["allow"][name]) for name in ("chains", "tokens", "routers")))
executor = DexExecutor(connect(config["rpc_url"]), os.environ["DEX_CHILD_KEY"], router=config["router"],
                       tokens=config["tokens"], chain_name="anvil", chain_id=config["chain_id"], allow=allow,
                       slippage=0.005, confirmations=3, wait_timeout_s=60, poll_s=0.05,
                       journal=FileJournal(config["journal"]), halt_check=lambda: None)
executor.swap("TKA", "TKB", config["amount_in"], client_id="k9-1")
"""


def test_kill_9_while_waiting_for_confirmations_then_a_restart_reconciles_once(default_chain, tmp_path):
    options = executor_options(default_chain)
    journal_file = tmp_path / "journal.jsonl"
    config = {"rpc_url": default_chain.rpc_url, "router": options["router"], "tokens": options["tokens"],
              "chain_id": default_chain.chain_id, "journal": str(journal_file), "amount_in": 100 * E18,
              "allow": {name: list(getattr(options["allow"], name)) for name in ("chains", "tokens", "routers")}}
    env = {**os.environ, "DEX_CHILD_CONFIG": json.dumps(config), "DEX_CHILD_KEY": default_chain.trader.test_private_key,
           "PYTHONPATH": str(REPO)}
    tka, sent = balance(default_chain, "TKA"), sent_count(default_chain)
    w3 = default_chain.web3()

    def journaled() -> list:
        return [json.loads(line) for line in journal_file.read_text().splitlines()] if journal_file.exists() else []

    child = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not any(kind == "dex_swap_sending" and w3.eth.get_transaction_count(default_chain.trader.address)
                      > payload["nonce"] for kind, payload in journaled()):
            assert child.poll() is None, child.stdout.read().decode()
            assert time.monotonic() < deadline, "the child never sent its swap"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)  # mined, one confirmation of three: the child is waiting
    finally:
        child.kill()
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    [pending] = open_swaps(journaled())

    for _ in range(2):
        rpc_call(default_chain.rpc_url, "evm_mine")
    outcome = make_executor(default_chain, confirmations=3).resume(pending)
    assert outcome.client_id == "k9-1" and outcome.confirmations == 3
    assert outcome.amount_out == pending["quoted_out"]
    assert balance(default_chain, "TKA") == tka - 100 * E18
    assert sent_count(default_chain) == sent + 2  # its approval and its swap; nothing sent again


def test_importing_the_executor_leaves_web3_out():
    code = ("import sys, livegate.adapters.execution.dex; "
            "print(sorted(m for m in ('web3', 'eth_account', 'eth_utils') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == "[]"


# -- the halt rule and the approved value ------------------------------------------------------


def test_a_halt_before_the_swap_sends_nothing(default_chain):
    journal = RecordingJournal()
    executor = make_executor(default_chain, journal, halt_check=lambda: "kill switch: desk closed")
    nonce, tka = sent_count(default_chain), balance(default_chain, "TKA")
    block = executor.place(Order("h-1", "TKA/TKB", "sell", "market", 5.0, None, 0), 0, None)
    assert block.rule == "halted" and "desk closed" in block.message
    assert sent_count(default_chain) == nonce and balance(default_chain, "TKA") == tka  # not even an approval
    assert "dex_swap_sending" not in journal.kinds()


def test_a_halt_pulled_after_journaling_stops_the_broadcast(default_chain):
    halted: list[str] = []
    journal = RecordingJournal({"dex_swap_sending": lambda payload: halted.append("pulled while signing")})
    executor = make_executor(default_chain, journal, halt_check=lambda: halted[0] if halted else None)
    tka = balance(default_chain, "TKA")
    block = executor.place(Order("h-2", "TKA/TKB", "sell", "market", 5.0, None, 0), 0, None)
    assert block.rule == "halted" and block.message == "pulled while signing"
    [sending], [not_sent] = journal.payloads("dex_swap_sending"), journal.payloads("dex_swap_not_sent")
    assert not_sent["tx_hash"] == sending["tx_hash"] and not_sent["reason"] == "pulled while signing"
    assert open_swaps(journal.events) == []  # closed: nothing to reconcile after a restart
    assert balance(default_chain, "TKA") == tka
    from web3.exceptions import TransactionNotFound

    with pytest.raises(TransactionNotFound):  # the signed transaction never reached the node
        default_chain.web3().eth.get_transaction(sending["tx_hash"])


def test_a_buy_never_spends_more_than_the_value_the_guardian_approved(default_chain):
    """5 TKA cost about 10.0 TKB at the pool (fee and price impact included); approved were 9."""
    executor = make_executor(default_chain)
    tkb = balance(default_chain, "TKB")
    order = Order("v-1", "TKA/TKB", "buy", "market", 5.0, None, 0, quote_value=9.0)
    [fill] = executor.place(order, 0, None)
    spent = tkb - balance(default_chain, "TKB")
    assert spent == 9 * E18  # exactly the approved value, not getAmountsIn(5 TKA)
    assert fill.amount < 5.0 and fill.amount * fill.price == pytest.approx(9.0, rel=1e-9)
