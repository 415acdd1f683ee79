"""The one trading path: the halt rule for every purpose, MAX_TRADE_AMOUNT parsed once, and an
order gateway that is built in exactly one place."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import livegate
from livegate.config.environment import load_env
from livegate.config.workspace import Workspace
from livegate.core.errors import ConfigError
from livegate.services import controls, mode_switch, trading

LIVE = {"risk_per_trade": 0.001, "max_exposure": 0.02}

# purpose → expected refusal in each state: None allows; a string is a fragment of the refusal.
CASES = [
    # state:          calm (PAPER)          halted             EMERGENCY_STOP        LIVE_MINIMAL
    (trading.BACKTEST,   None,               None,              None,                 None),
    (trading.SIMULATION, None,               None,              None,                 None),
    (trading.PAPER,      None,               "desk closed",     "EMERGENCY_STOP",     None),
    (trading.TESTNET,    None,               "desk closed",     "EMERGENCY_STOP",     None),
    (trading.DRILL,      None,               "desk closed",     "EMERGENCY_STOP",     None),
    (trading.LIVE_STAGE, "mode is PAPER",    "desk closed",     "EMERGENCY_STOP",     None),
    (trading.PRODUCTION, "mode is PAPER",    "desk closed",     "EMERGENCY_STOP",     None),
]


@pytest.fixture
def states(tmp_path, run_cli, operator_key):
    out = {}
    for state in ("calm", "halted", "emergency", "live"):
        root = tmp_path / state
        assert run_cli("init", root).exit_code == 0
        ws = Workspace(root)
        if state == "halted":
            controls.halt(ws, "desk closed", by="tester", key=operator_key)
        elif state == "emergency":
            mode_switch.halt(ws, "reconciliation mismatch", by="tester", key=operator_key)
        elif state == "live":
            mode_switch.append(ws, [("mode_changed", {"from": "PAPER", "to": "LIVE_MINIMAL", "reason": "test", **LIVE})],
                               "tester", operator_key)
        out[state] = ws
    return out


@pytest.mark.parametrize("purpose, calm, halted, emergency, live", CASES, ids=[c[0].name for c in CASES])
def test_one_halt_rule_for_every_purpose(states, purpose, calm, halted, emergency, live):
    for state, expected in (("calm", calm), ("halted", halted), ("emergency", emergency), ("live", live)):
        refusal = trading.order_refusal(states[state], purpose)
        if expected is None:
            assert refusal is None, (state, refusal)
        else:
            assert refusal is not None and expected in refusal, (state, refusal)


def test_halt_rule_is_read_fresh_for_every_call(states, operator_key):
    ws = states["live"]
    assert trading.order_refusal(ws, trading.LIVE_STAGE) is None
    controls.halt(ws, "pulled mid-run", by="tester", key=operator_key)
    assert "pulled mid-run" in trading.order_refusal(ws, trading.LIVE_STAGE)
    controls.resume(ws, "tester", operator_key, reason="ok")
    assert trading.order_refusal(ws, trading.LIVE_STAGE) is None


@pytest.mark.parametrize("purpose", [p for p in trading.PURPOSES if p.halts], ids=lambda p: p.name)
def test_an_unreadable_halt_state_refuses(tmp_path, run_cli, purpose):
    root = tmp_path / "broken"
    assert run_cli("init", root).exit_code == 0
    ws = Workspace(root)
    ws.ledger_path.write_bytes(b"this is not a database" * 100)
    refusal = trading.order_refusal(ws, purpose)
    assert refusal is not None and "cannot read whether trading is halted" in refusal


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-inf", "-5", "0", "ten", "1e999"])
def test_max_trade_amount_that_is_not_a_positive_finite_number_is_a_config_error(tmp_path, monkeypatch, raw):
    monkeypatch.setenv("MAX_TRADE_AMOUNT", raw)
    env = load_env(tmp_path)
    with pytest.raises(ConfigError, match="MAX_TRADE_AMOUNT: must be a positive, finite amount"):
        env.max_trade_amount()
    assert any("MAX_TRADE_AMOUNT" in p for p in env.problems())  # validate reports it too


@pytest.mark.parametrize("raw, value", [("10", 10.0), ("0.5", 0.5), (" 25 ", 25.0), (None, None)])
def test_max_trade_amount_parsed(tmp_path, monkeypatch, raw, value):
    if raw is None:
        monkeypatch.delenv("MAX_TRADE_AMOUNT", raising=False)
    else:
        monkeypatch.setenv("MAX_TRADE_AMOUNT", raw)
    assert load_env(tmp_path).max_trade_amount() == value


def test_max_trade_amount_from_dotenv_names_the_file_and_line(tmp_path):
    (tmp_path / ".env").write_text("PAPER_MODE=true\nMAX_TRADE_AMOUNT=nan\n")
    with pytest.raises(ConfigError, match=r"\.env:2 MAX_TRADE_AMOUNT"):
        load_env(tmp_path).max_trade_amount()


def test_the_order_gateway_is_constructed_in_exactly_one_place():
    """Every order path gets its gateway from `services.trading.assemble_gateway`."""
    package = Path(livegate.__file__).parent
    calls = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
                if name == "OrderGateway":
                    calls.append(f"{path.relative_to(package)}:{node.lineno}")
    assert len(calls) == 1 and calls[0].startswith("services/trading.py:"), calls


def test_a_halt_pulled_while_an_order_waits_for_approval_stops_it(states, operator_key):
    """The approval can take minutes: the halt rule is read again once it is given."""
    from livegate.core.fills import default_rules
    from livegate.core.gateway import NullJournal
    from livegate.core.guardian import RiskState
    from livegate.core.orders import BUY, OrderIntent
    from livegate.core.portfolio import Portfolio

    ws = states["calm"]
    sent = []

    class Venue:
        def place(self, order, now_ms, account):
            sent.append(order)
            return []

        def cancel_all(self, symbol=None):
            return []

        def open_orders(self):
            return []

    def approve_then_halt(order):  # the operator approves; meanwhile another terminal halts
        controls.halt(ws, "halted while waiting", by="tester", key=operator_key)
        return None

    account = Portfolio(cash=10_000.0, last_price={"BTC/USDT": 50_000.0})
    gateway = trading.assemble_gateway(trading.TESTNET, risk=ws.effective.risk, executor=Venue(), account=account,
                                       state=RiskState(peak_equity=10_000.0, equity=10_000.0),
                                       rules={"BTC/USDT": default_rules("BTC/USDT", 50_000.0)}, journal=NullJournal(),
                                       id_prefix="t", ws=ws, approve=approve_then_halt, scripted=True)
    decision = gateway.submit(OrderIntent("BTC/USDT", BUY, quote_amount=20.0), 0)
    assert not decision.accepted and [b.rule for b in decision.blocks] == ["halted"]
    assert "halted while waiting" in decision.blocks[0].message and sent == []


def test_a_workspace_path_with_uri_characters_reads_its_own_ledger(tmp_path, run_cli, operator_key):
    """`bot%31` must not read `bot1`'s ledger (a halt in one is never missed for the other)."""
    roots = [tmp_path / "bot%31", tmp_path / "bot1", tmp_path / "desk#2", tmp_path / "what?3"]
    for root in roots:
        assert run_cli("init", root).exit_code == 0
    controls.halt(Workspace(roots[0]), "only this one", by="tester", key=operator_key)
    controls.halt(Workspace(roots[2]), "and this one", by="tester", key=operator_key)
    assert "only this one" in trading.order_refusal(Workspace(roots[0]), trading.PAPER)
    assert trading.order_refusal(Workspace(roots[1]), trading.PAPER) is None
    assert "and this one" in trading.order_refusal(Workspace(roots[2]), trading.PAPER)
    assert trading.order_refusal(Workspace(roots[3]), trading.PAPER) is None
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == []  # no stray file made by a mis-read path


def test_a_ledger_briefly_replaced_then_restored_is_read_again(tmp_path, run_cli, operator_key):
    root = tmp_path / "ws"
    assert run_cli("init", root).exit_code == 0
    ws = Workspace(root)
    assert trading.order_refusal(ws, trading.PAPER) is None
    aside = root / "ledger-aside.db"
    ws.ledger_path.rename(aside)
    ws.ledger_path.write_bytes(b"")
    assert "cannot read" in trading.order_refusal(ws, trading.PAPER)  # fails closed meanwhile
    ws.ledger_path.unlink()
    aside.rename(ws.ledger_path)
    assert trading.order_refusal(ws, trading.PAPER) is None  # and recovers, without a restart
    controls.halt(ws, "after the restore", by="tester", key=operator_key)
    assert "after the restore" in trading.order_refusal(ws, trading.PAPER)


def test_an_empty_export_never_erases_max_trade_amount_from_dotenv(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("MAX_TRADE_AMOUNT=5\n")
    monkeypatch.setenv("MAX_TRADE_AMOUNT", "")
    assert load_env(tmp_path).max_trade_amount() == 5.0
    monkeypatch.setenv("MAX_TRADE_AMOUNT", "7")
    assert load_env(tmp_path).max_trade_amount() == 7.0  # a value in the environment still wins
