"""The exchange key bound to the env sign-off, and the environment checked and recorded by every
phase command. A real `validate` against the local exchange records the key's fingerprint; after
the sign-off, another key in `.env` is refused by go-live, testnet and the switch to a live mode
(exit 3) before anything reaches the venue; a key given withdrawal rights since is refused at
go-live's start; a MAX_TRADE_AMOUNT livegate cannot use is exit 2 for every phase command."""

from __future__ import annotations

import hashlib
import itertools
import json
import sqlite3

import pytest
import yaml

from livegate.adapters.sandbox.configure import set_env_values, write_workspace
from livegate.adapters.sandbox.local import describe
from livegate.config.workspace import Workspace
from tests.conftest import by_id
from tests.live.conftest import FLIP
from tests.protocol_helpers import sign_off

KEY_CHANGED = "the exchange key changed since the env sign-off: run validate again"
LIVE_FLAGS = {"PAPER_MODE": "false", "LIVE_TRADING_ENABLED": "true", "TRADING_HALTED": "false",
              "EXECUTION_APPROVAL_MODE": "auto", "MAX_TRADE_AMOUNT": "10"}
GO_LIVE = ("go-live", "--stage", "4.1a", "--yes")
LIVE_SWITCH = ("mode", "set", "LIVE_MINIMAL", "--reason", "first stage", "--by", "Ann", "--yes", "--i-understand-real-money")
_ids = itertools.count(1)


def odd_pair(sandbox, tag: str):
    """A funded key whose every 4 characters hold a `~`: any piece of it in the ledger would show."""
    n = next(_ids)
    return sandbox.add_key(f"K{n}~{tag}~Zq7~Wv3~Yx9~Pj{n}", f"S{n}~{tag}~Rm4~Tk8~Hb2~Nc6~Df{n}", balances={"USDT": 5_000})


def set_env(root, **values: str) -> None:
    path = root / ".env"
    path.write_text(set_env_values(path.read_text(), values))


def rows(root) -> list[tuple]:
    """Every row of every table of the ledger, read with plain sqlite3."""
    conn = sqlite3.connect(root / ".livegate" / "ledger.db")
    try:
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [(table, *row) for table in tables for row in conn.execute(f'SELECT * FROM "{table}"')]
    finally:
        conn.close()


def payloads(root, kind: str) -> list[dict]:
    conn = sqlite3.connect(root / ".livegate" / "ledger.db")
    try:
        return [json.loads(p) for (p,) in conn.execute("SELECT payload FROM events WHERE kind = ? ORDER BY id", (kind,))]
    finally:
        conn.close()


def venue_orders(sandbox, *pairs) -> list[str]:
    """The client order ids of every order the exchange holds for these keys' accounts."""
    def read():
        return [o.client_id for p in pairs for o in sandbox.venue.account_of(sandbox.venue.keys[p.api_key]).orders.values()]

    return sandbox._on_loop(read)


def by_hand(api_key: str) -> str:
    """The fingerprint as README documents it, computed here independently."""
    text = '["livegate exchange key v1","binance",' + json.dumps(api_key) + "]"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@pytest.fixture
def signed(workspace, sandbox, operator_key, run_cli):
    """A workspace on the local exchange with its own key A: a real `validate` passed and signed
    off, paper and testnet signed off, then `.env` switched to the live flags. Returns (root, A)."""
    pair = odd_pair(sandbox, "A")
    write_workspace(Workspace(workspace), {**describe(sandbox), "api_key": pair.api_key, "secret": pair.secret})
    (workspace / "strategies" / "flip.py").write_text(FLIP)
    path = workspace / "livegate.yaml"
    data = yaml.safe_load(path.read_text())
    data["strategy"] = {"ref": "strategies/flip.py:Flip", "params": {"value": 8.0}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    code, report, output = run_cli.json("-w", workspace, "validate", "--json")
    assert code == 0, output
    signoff = run_cli("-w", workspace, "signoff", "env", "--by", "Ann", "--yes")
    assert signoff.exit_code == 0, signoff.output
    sign_off(workspace, operator_key, "paper", "testnet")
    set_env(workspace, **LIVE_FLAGS)
    return workspace, pair


def test_the_env_result_keeps_the_key_fingerprint_and_nothing_of_the_key(signed):
    root, pair = signed
    [env_result] = [r for r in payloads(root, "phase_result") if r["step"] == "env"]
    checks = by_id(env_result)
    assert checks["api_keys_present"]["evidence"]["exchange_key_fingerprint"] == by_hand(pair.api_key)
    assert checks["config_schema_valid"]["evidence"]["environment"]["EXECUTION_APPROVAL_MODE"] == "approve_each"
    dump = repr(rows(root))
    assert "exchange_key_fingerprint" in dump
    for secret in (pair.api_key, pair.secret):
        pieces = {secret[i:i + 4] for i in range(len(secret) - 3)}
        assert not [piece for piece in pieces if piece in dump], secret[:1]


def test_another_key_is_refused_wherever_it_would_trade(signed, sandbox, run_cli):
    root, key_a = signed
    key_b = odd_pair(sandbox, "B")
    set_env(root, EXCHANGE_API_KEY=key_b.api_key, EXCHANGE_API_SECRET=key_b.secret)
    before = rows(root)
    for args in (LIVE_SWITCH, GO_LIVE, ("testnet", "--yes")):
        result = run_cli("-w", root, *args)
        assert result.exit_code == 3, (args, result.output)
        assert KEY_CHANGED in result.output and "Traceback" not in result.output, result.output
        assert key_b.api_key not in result.output
    assert rows(root) == before  # no result, no mode change, no stage or testnet run: nothing written
    assert venue_orders(sandbox, key_a, key_b) == []  # the exchange's own record: nothing traded

    # the signed-off key again: the switch and the stage start, with the environment in force recorded
    set_env(root, EXCHANGE_API_KEY=key_a.api_key, EXCHANGE_API_SECRET=key_a.secret)
    switched = run_cli("-w", root, *LIVE_SWITCH)
    assert switched.exit_code == 0, switched.output
    started = run_cli("-w", root, *GO_LIVE, "--max-hours", "0", "--json")
    assert started.exit_code == 7, started.output  # paused at once
    [stage] = payloads(root, "stage_started")
    assert stage["environment"] == {"MAX_TRADE_AMOUNT": 10.0, "MAX_CEX_ORDER_AMOUNT": None, "EXECUTION_APPROVAL_MODE": "auto", "PAPER_MODE": False,
                                    "LIVE_TRADING_ENABLED": True, "TRADING_HALTED": False, "ALLOW_EXCHANGES": ["binance"],
                                    "ALLOW_CHAINS": [], "ALLOW_TOKENS": [], "ALLOW_SIGNER_ADDRESSES": [], "ALLOW_ROUTERS": []}
    assert payloads(root, "live_started")[-1]["environment"] == stage["environment"]


def test_a_key_given_withdrawal_rights_since_the_sign_off_is_refused_at_go_live(signed, sandbox, run_cli):
    root, key_a = signed
    assert run_cli("-w", root, *LIVE_SWITCH).exit_code == 0
    sandbox.set_key(key_a.api_key, can_withdraw=True)  # the same key: its fingerprint still matches
    before = rows(root)
    result = run_cli("-w", root, *GO_LIVE)
    assert result.exit_code == 3, result.output
    assert "gate closed: cannot proceed with go-live 4.1a" in result.output
    assert "the exchange key can move funds out (enableWithdrawals" in result.output
    assert rows(root) == before and venue_orders(sandbox, key_a) == []


@pytest.mark.parametrize("where", ["environment", ".env"])
def test_a_max_trade_amount_livegate_cannot_use_stops_every_phase_command(signed, sandbox, run_cli, monkeypatch, where):
    root, key_a = signed
    assert run_cli("-w", root, *LIVE_SWITCH).exit_code == 0  # every gate open: only the value stops them
    before = rows(root)
    commands = (("validate",), ("paper-run", "--days", "1"), ("paper-run", "--replay", "builtin:btc-1m", "--days", "1"),
                ("testnet", "--yes"), GO_LIVE, ("production", "--yes"))
    for raw in ("nan", "inf", "-5", "abc"):
        if where == "environment":
            monkeypatch.setenv("MAX_TRADE_AMOUNT", raw)
        else:
            set_env(root, MAX_TRADE_AMOUNT=raw)
        for args in commands:
            result = run_cli("-w", root, *args)
            assert result.exit_code == 2, (raw, args, result.output)
            named = f"{where if where == 'environment' else '.env:11'} MAX_TRADE_AMOUNT: must be a positive, finite amount"
            assert named in result.output and repr(raw) in result.output and "Traceback" not in result.output, result.output
    monkeypatch.delenv("MAX_TRADE_AMOUNT", raising=False)
    set_env(root, MAX_TRADE_AMOUNT="10", EXECUTION_APPROVAL_MODE="sometimes")
    for args in (("validate",), ("testnet", "--yes"), GO_LIVE):
        result = run_cli("-w", root, *args)
        assert result.exit_code == 2 and ".env:8 EXECUTION_APPROVAL_MODE: must be one of approve_each, auto" in result.output
    assert rows(root) == before and venue_orders(sandbox, key_a) == []


def test_a_max_cex_order_amount_livegate_cannot_use_stops_every_phase_command(signed, sandbox, run_cli):
    root, key_a = signed
    assert run_cli("-w", root, *LIVE_SWITCH).exit_code == 0  # every gate open: only the value stops them
    line = next(n for n, text in enumerate((root / ".env").read_text().splitlines(), 1) if text.startswith("MAX_CEX_ORDER_AMOUNT="))
    before = rows(root)
    for raw in ("nan", "-5", "abc"):
        set_env(root, MAX_CEX_ORDER_AMOUNT=raw)
        for args in (("validate",), ("testnet", "--yes"), GO_LIVE, ("production", "--yes")):
            result = run_cli("-w", root, *args)
            assert result.exit_code == 2, (raw, args, result.output)
            assert f".env:{line} MAX_CEX_ORDER_AMOUNT: must be a positive, finite amount in the quote currency (got {raw!r})" in result.output
            assert "Traceback" not in result.output
    assert rows(root) == before and venue_orders(sandbox, key_a) == []
    set_env(root, MAX_CEX_ORDER_AMOUNT="50")  # a usable value is recorded with the run
    started = run_cli("-w", root, *GO_LIVE, "--max-hours", "0", "--json")
    assert started.exit_code == 7, started.output  # paused at once
    assert payloads(root, "stage_started")[-1]["environment"]["MAX_CEX_ORDER_AMOUNT"] == 50.0


def test_a_backtest_records_the_environment_in_force(signed, run_cli):
    root, _ = signed
    result = run_cli("-w", root, "paper-run", "--replay", "builtin:btc-1m", "--days", "1", "--json")
    assert result.exit_code in (0, 1), result.output
    [started] = payloads(root, "paper_run_started")
    assert started["environment"]["MAX_TRADE_AMOUNT"] == 10.0 and started["environment"]["EXECUTION_APPROVAL_MODE"] == "auto"


def test_validate_run_again_with_a_new_key_binds_that_key(signed, sandbox, run_cli):
    root, key_a = signed
    key_b = odd_pair(sandbox, "B")
    set_env(root, EXCHANGE_API_KEY=key_b.api_key, EXCHANGE_API_SECRET=key_b.secret)
    assert run_cli("-w", root, *LIVE_SWITCH).exit_code == 3
    set_env(root, PAPER_MODE="true", LIVE_TRADING_ENABLED="false", TRADING_HALTED="true")  # what validate requires
    code, report, output = run_cli.json("-w", root, "validate", "--json")
    assert code == 0, output
    assert by_id(report)["api_keys_present"]["evidence"]["exchange_key_fingerprint"] == by_hand(key_b.api_key)
    set_env(root, **LIVE_FLAGS)
    switched = run_cli("-w", root, *LIVE_SWITCH)
    assert switched.exit_code == 0, switched.output  # the key validate checked last (same configuration) is the bound one
    set_env(root, EXCHANGE_API_KEY=key_a.api_key, EXCHANGE_API_SECRET=key_a.secret)
    result = run_cli("-w", root, *GO_LIVE)
    assert result.exit_code == 3 and KEY_CHANGED in result.output


@pytest.mark.parametrize("value", ["LiveKeyQx7Zr9\n", " LiveKeyQx7Zr9", "Live Key Qx7Zr9"])
def test_a_key_with_a_pasted_newline_or_space_stops_at_once_and_is_never_shown(workspace, run_cli, monkeypatch, value):
    monkeypatch.setenv("EXCHANGE_API_KEY", value)
    before = (workspace / ".livegate" / "ledger.db").read_bytes()
    result = run_cli("-w", workspace, "validate", "--yes")
    assert result.exit_code == 2, result.output
    assert "EXCHANGE_API_KEY: contains spaces, tabs or line breaks" in result.output
    assert "Qx7Zr9" not in result.output
    assert (workspace / ".livegate" / "ledger.db").read_bytes() == before
