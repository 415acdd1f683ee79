"""Savings on the same account never block going live: a real `validate` on the local exchange
records what the account holds, the env sign-off makes it the baseline, and the switch to a live
mode counts only what is held above it — BTC bought since still blocks it, naming the excess."""

from __future__ import annotations

import itertools

from livegate.adapters.sandbox.configure import set_env_values, write_workspace
from livegate.adapters.sandbox.local import describe
from livegate.config.workspace import Workspace
from livegate.services import modes
from tests.conftest import by_id
from tests.controls.conftest import events
from tests.protocol_helpers import sign_off

SAVINGS = 0.02405  # BTC the operator held long before livegate
LIVE_FLAGS = {"PAPER_MODE": "false", "LIVE_TRADING_ENABLED": "true", "TRADING_HALTED": "false"}
SAFE_FLAGS = {"PAPER_MODE": "true", "LIVE_TRADING_ENABLED": "false", "TRADING_HALTED": "true"}
LIVE = ("mode", "set", "LIVE_MINIMAL", "--reason", "first live stage", "--by", "Ann", "--yes", "--i-understand-real-money")
OWN = f"{SAVINGS:g} BTC held before the environment sign-off is your own and is left alone"
_ids = itertools.count(1)


def set_env(root, **values: str) -> None:
    path = root / ".env"
    path.write_text(set_env_values(path.read_text(), values))


def savings_key(sandbox, root):
    """A key of its own on the sandbox holding USDT and SAVINGS BTC, written into `root`'s .env."""
    n = next(_ids)
    pair = sandbox.add_key(f"savings-key-{n}", f"savings-secret-{n}-Wq", balances={"USDT": 5_000, "BTC": SAVINGS})
    write_workspace(Workspace(root), {**describe(sandbox), "api_key": pair.api_key, "secret": pair.secret})
    return pair


def validate(run_cli, root) -> dict:
    code, report, output = run_cli.json("-w", root, "validate", "--json")
    assert code == 0, output
    return report


def btc_held(sandbox, pair) -> float:
    """The account's BTC as the exchange itself reports it (free + locked)."""
    free, locked = sandbox.balances(pair.api_key).get("BTC", (0.0, 0.0))
    return free + locked


def signed_with_savings(sandbox, root, run_cli, operator_key):
    """A real validate on an account holding SAVINGS BTC, signed off on the command line; paper
    and testnet signed off; `.env` switched to the live flags."""
    pair = savings_key(sandbox, root)
    shown = run_cli("-w", root, "validate")
    assert shown.exit_code == 0, shown.output
    assert f"The account holds {SAVINGS:g} BTC, 5000 USDT: once signed off, these are your own" in shown.output
    [result] = [e["payload"] for e in events(root, "phase_result")]
    assert by_id(result)["key_can_read"]["evidence"]["baseline_holdings"] == {"BTC": SAVINGS, "USDT": 5_000.0}
    signed = run_cli("-w", root, "signoff", "env", "--by", "Ann", "--yes")
    assert signed.exit_code == 0, signed.output
    sign_off(root, operator_key, "paper", "testnet")
    set_env(root, **LIVE_FLAGS)
    return pair


def test_savings_held_at_the_sign_off_do_not_block_the_switch_and_a_new_position_does(sandbox, workspace, run_cli, operator_key):
    pair = signed_with_savings(sandbox, workspace, run_cli, operator_key)
    assert btc_held(sandbox, pair) == SAVINGS

    switched = run_cli("-w", workspace, *LIVE)
    assert switched.exit_code == 0, switched.output
    assert modes.current_mode(Workspace(workspace)) == "LIVE_MINIMAL"
    [change] = [e["payload"] for e in events(workspace, "mode_changed")]
    [positions] = [c for c in change["checks"] if c["check"] == "positions"]
    assert positions["ok"] and positions["detail"] == f"no open position in BTC/USDT; {OWN}"
    assert btc_held(sandbox, pair) == SAVINGS  # the switch traded none of it

    # back to paper; BTC bought since the sign-off is a position livegate must see closed first
    assert run_cli("-w", workspace, "mode", "set", "PAPER", "--reason", "pause", "--yes").exit_code == 0
    sandbox.client(pair).create_order("BTC/USDT", "market", "buy", 0.002)
    excess = btc_held(sandbox, pair) - SAVINGS  # the exchange's own balance, less the savings
    assert abs(excess - 0.002) < 1e-5  # 0.002 bought (less any fee taken in BTC)
    refused = run_cli("-w", workspace, *LIVE)
    assert refused.exit_code == 2, refused.output
    assert refused.output.count("\n  - ") == 1, refused.output
    assert f"open position: {excess:g} BTC above the {SAVINGS:g} BTC held before the environment sign-off" in refused.output
    assert f"close it first — the {SAVINGS:g} BTC is your own and is left alone" in refused.output
    assert f"{SAVINGS + excess:g} BTC" not in refused.output  # the excess is named, not the whole holding
    assert modes.current_mode(Workspace(workspace)) == "PAPER"

    # validate run again (same configuration: the env step stays signed) does not move the baseline
    set_env(workspace, **SAFE_FLAGS)
    assert by_id(validate(run_cli, workspace))["key_can_read"]["evidence"]["baseline_holdings"]["BTC"] == SAVINGS + excess
    set_env(workspace, **LIVE_FLAGS)
    again = run_cli("-w", workspace, *LIVE)
    assert again.exit_code == 2 and f"open position: {excess:g} BTC above the {SAVINGS:g} BTC" in again.output, again.output

    # the excess sold: the switch goes through, the savings untouched
    sandbox.client(pair).create_order("BTC/USDT", "market", "sell", float(f"{excess:.6f}"))
    assert abs(btc_held(sandbox, pair) - SAVINGS) < 1e-6
    assert run_cli("-w", workspace, *LIVE).exit_code == 0


def test_without_a_balance_read_at_the_sign_off_every_holding_counts(sandbox, workspace, run_cli, operator_key):
    """An env sign-off whose result read no balance (recorded before livegate kept the holdings)
    has no baseline: the savings count as an open position, as they always did."""
    savings_key(sandbox, workspace)
    sign_off(workspace, operator_key, "env", "paper", "testnet")
    set_env(workspace, **LIVE_FLAGS)
    refused = run_cli("-w", workspace, *LIVE)
    assert refused.exit_code == 2, refused.output
    assert f"open position: {SAVINGS:g} BTC (≈" in refused.output and "your own" not in refused.output


def test_the_baseline_belongs_to_the_key_it_was_read_with(sandbox, workspace, run_cli, operator_key):
    """Another key validated since (it becomes the bound key) holds its own savings: the signed
    baseline was read with the first key, so none applies to the second."""
    signed_with_savings(sandbox, workspace, run_cli, operator_key)
    other = sandbox.add_key(f"savings-key-b{next(_ids)}", "savings-secret-b-Wq", balances={"USDT": 5_000, "BTC": SAVINGS})
    set_env(workspace, EXCHANGE_API_KEY=other.api_key, EXCHANGE_API_SECRET=other.secret, **SAFE_FLAGS)
    validate(run_cli, workspace)
    set_env(workspace, **LIVE_FLAGS)
    refused = run_cli("-w", workspace, *LIVE)
    assert refused.exit_code == 2, refused.output
    assert f"open position: {SAVINGS:g} BTC (≈" in refused.output and "your own" not in refused.output
