"""`livegate paper-import`: another bot's trades (CSV, JSONL, a Freqtrade dry-run database)
evaluated against the paper criteria, each number checked against a hand computation."""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import statistics

import pytest
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livegate.core.errors import StrategyError, UsageError
from livegate.core.metrics import compute_metrics
from livegate.phases.paper.importers import detect_format, import_trades
from tests.paper.conftest import sign_off_env

SPEC_METRICS = ("total_trades", "win_rate", "profit_factor", "expectancy", "total_return_pct", "fee_drag_pct",
                "worst_trade_pct", "max_consecutive_losses", "max_drawdown_pct", "sharpe", "sortino",
                "daily_pnl_variance", "psr", "dsr")

# Four trades, written out of close order (the 01-03 trade comes first in the file).
# Sorted by close: net = gross − fee = 100−2 = 98, −50−1 = −51, 30−1 = 29, 0−0.5 = −0.5.
CSV_TEXT = (
    "closed_at,symbol,side,pnl_quote,fee_quote,opened_at,qty,strategy,note\n"
    "2024-01-03T10:00:00+02:00,ETH/USDT,buy,30,1,2024-01-03T07:00:00Z,0.1,alpha,x\n"
    "2024-01-01T10:00:00Z,BTC/USDT,long,100,2,2024-01-01 09:00,0.01,alpha,\n"
    "\n"
    "2024-01-02 10:00:00,BTC/USDT,short,-50,1,2024-01-02T01:00:00,0.01,alpha,\"a, quoted\"\n"
    "2024-01-05,ETH/USDT,sell,0,0.5,2024-01-04T23:00:00Z,0.1,alpha,\n"
)
CAPITAL = 1000.0
# Σnet = 98 − 51 + 29 − 0.5 = 75.5 → total return 7.55 %; wins 98, 29 → win rate 2/4 = 0.5
# (the −0.5 is a loss, the zero-gross trade is not a win); profit factor = 127 / 51.5;
# fee drag = 100·4.5 / Σgross 80 = 5.625 %; worst = 100·(−51)/1000 = −5.1 %;
# equity 1000, 1098, 1047, 1076, 1075.5 → max drawdown = 100·(1 − 1047/1098);
# consecutive losses: −51 and −0.5 are not adjacent → 1; expectancy = 75.5 / 4.
EXPECTED_GROSS = {
    "total_trades": 4,
    "total_return_pct": 7.55,
    "win_rate": 0.5,
    "profit_factor": 127 / 51.5,
    "fee_drag_pct": 5.625,
    "worst_trade_pct": -5.1,
    "max_drawdown_pct": 100 * (1 - 1047 / 1098),
    "max_consecutive_losses": 1,
    "expectancy": 18.875,
    "fees": 4.5,
}
# Daily P&L 01-01..01-05 (01-04 empty): 98, −51, 29, 0, −0.5; returns on the previous day's equity.
DAILY_RETURNS = [98 / 1000, -51 / 1098, 29 / 1047, 0 / 1076, -0.5 / 1076]
# The same file with --pnl-is-net: net = 100, −50, 30, 0 → Σ 80 → 8 %; wins 2/4 (0 is no win);
# profit factor 130/50 = 2.6; gross = net + fee = 102, −49, 31, 0.5 → Σ 84.5 → fee drag 100·4.5/84.5;
# worst −5 %; equity 1000, 1100, 1050 → drawdown 100·(1 − 1050/1100).
EXPECTED_NET = {
    "total_return_pct": 8.0,
    "win_rate": 0.5,
    "profit_factor": 2.6,
    "fee_drag_pct": 100 * 4.5 / 84.5,
    "worst_trade_pct": -5.0,
    "max_drawdown_pct": 100 * (1 - 1050 / 1100),
    "max_consecutive_losses": 1,
}


def _jsonl_text() -> str:
    """The CSV's four trades as JSONL: numbers and numeric strings, blank lines, extra keys."""
    rows = [
        {"closed_at": "2024-01-03T10:00:00+02:00", "symbol": "ETH/USDT", "side": "buy", "pnl_quote": 30, "fee_quote": "1", "extra": [1]},
        {"closed_at": "2024-01-01T10:00:00Z", "symbol": "BTC/USDT", "side": "LONG", "pnl_quote": 100.0, "fee_quote": 2},
        {"closed_at": "2024-01-02 10:00:00", "symbol": "BTC/USDT", "side": "short", "pnl_quote": "-50", "fee_quote": 1, "qty": None},
        {"closed_at": "2024-01-05", "symbol": "ETH/USDT", "side": "sell", "pnl_quote": 0, "fee_quote": 0.5},
    ]
    return "\n" + "\n\n".join(json.dumps(r) for r in rows) + "\n"


# -- Freqtrade: the documented `trades` table (freqtrade/persistence/trade_model.py, docs/sql_cheatsheet.md) --

FREQTRADE_SCHEMA = """
CREATE TABLE trades (
    id INTEGER NOT NULL,
    exchange VARCHAR(25) NOT NULL,
    pair VARCHAR(25) NOT NULL,
    base_currency VARCHAR(25),
    stake_currency VARCHAR(25),
    is_open BOOLEAN NOT NULL,
    fee_open FLOAT NOT NULL,
    fee_open_cost FLOAT,
    fee_open_currency VARCHAR(25),
    fee_close FLOAT NOT NULL,
    fee_close_cost FLOAT,
    fee_close_currency VARCHAR(25),
    open_rate FLOAT NOT NULL,
    open_rate_requested FLOAT,
    open_trade_value FLOAT,
    close_rate FLOAT,
    close_rate_requested FLOAT,
    realized_profit FLOAT,
    close_profit FLOAT,
    close_profit_abs FLOAT,
    stake_amount FLOAT NOT NULL,
    max_stake_amount FLOAT,
    amount FLOAT NOT NULL,
    amount_requested FLOAT,
    open_date DATETIME NOT NULL,
    close_date DATETIME,
    stop_loss FLOAT,
    stop_loss_pct FLOAT,
    initial_stop_loss FLOAT,
    initial_stop_loss_pct FLOAT,
    max_rate FLOAT,
    min_rate FLOAT,
    exit_reason VARCHAR(100),
    exit_order_status VARCHAR(100),
    strategy VARCHAR(100),
    enter_tag VARCHAR(100),
    timeframe INTEGER,
    trading_mode VARCHAR(7),
    leverage FLOAT,
    is_short BOOLEAN NOT NULL,
    liquidation_price FLOAT,
    interest_rate FLOAT NOT NULL,
    funding_fees FLOAT,
    PRIMARY KEY (id),
    CHECK (is_open IN (0, 1))
);
CREATE INDEX ix_trades_pair ON trades (pair);
CREATE INDEX ix_trades_is_open ON trades (is_open);
CREATE TABLE orders (id INTEGER NOT NULL, ft_trade_id INTEGER, PRIMARY KEY (id));
"""


def ft_trade(id, pair, amount, open_rate, close_rate, fee_open, fee_close, *, is_short=False, is_open=False,
             open_date="2024-03-01 08:00:00.000000", close_date=None, stake="USDT", with_open_value=True):
    """A row the way Freqtrade writes it: open_trade_value includes the open fee, close_profit_abs
    is net of both fees (long: close value − fee − open value − fee; short: the reverse)."""
    open_value, close_value = amount * open_rate, amount * close_rate
    sign = -1 if is_short else 1
    open_trade_value = open_value * (1 + sign * fee_open)
    close_trade_value = close_value * (1 - sign * fee_close)
    profit = None if is_open else sign * (close_trade_value - open_trade_value)
    return {
        "id": id, "exchange": "binance", "pair": pair, "base_currency": pair.split("/")[0], "stake_currency": stake,
        "is_open": int(is_open), "fee_open": fee_open, "fee_open_cost": open_value * fee_open, "fee_open_currency": stake,
        "fee_close": fee_close, "open_rate": open_rate, "open_trade_value": open_trade_value if with_open_value else None,
        "close_rate": None if is_open else close_rate, "close_profit_abs": profit, "stake_amount": open_value,
        "amount": amount, "open_date": open_date, "close_date": None if is_open else close_date,
        "strategy": "SampleStrategy", "trading_mode": "SPOT", "leverage": 1.0, "is_short": int(is_short), "interest_rate": 0.0,
    }


FT_TRADES = [
    # long BTC: value 400 → 410, fees 0.1 % each: 0.4 + 0.41; net 409.59 − 400.4 = 9.19 (gross 10)
    ft_trade(1, "BTC/USDT", 0.01, 40_000, 41_000, 0.001, 0.001, close_date="2024-03-01 10:00:00.000000"),
    # short ETH, a loss: value 2000 → 2100, fees 2 + 2.1; net 1998 − 2102.1 = −104.1 (gross −100)
    ft_trade(2, "ETH/USDT", 1.0, 2_000, 2_100, 0.001, 0.001, is_short=True, close_date="2024-03-03 12:00:00.000000"),
    # short ETH, a win, closed before id 2: value 1000 → 950, fees 1 + 0.95; net 999 − 950.95 = 48.05 (gross 50)
    ft_trade(3, "ETH/USDT", 0.5, 2_000, 1_900, 0.001, 0.001, is_short=True, close_date="2024-03-02 18:30:00.500000"),
    # long BTC without open_trade_value (older rows): value 800 → 810, fees 0.8 + 1.62; net 7.58 (gross 10)
    ft_trade(4, "BTC/USDT", 0.02, 40_000, 40_500, 0.001, 0.002, close_date="2024-03-04 09:00:00", with_open_value=False),
    # still open: skipped
    ft_trade(5, "BTC/USDT", 0.01, 40_000, 40_000, 0.001, 0.001, is_open=True),
]
# Sorted by close: 9.19, 48.05, −104.1, 7.58 → Σnet −39.28 → −3.928 %; wins 3/4; profit factor
# 64.82 / 104.1; worst −10.41 %; equity 1000, 1009.19, 1057.24, 953.14, 960.72 → drawdown
# 100·(1 − 953.14/1057.24); fees 0.81 + 1.95 + 4.1 + 2.42 = 9.28; Σgross = 10 + 50 − 100 + 10 = −30,
# so the fee drag is undefined (null with a reason).
FT_EXPECTED = {
    "total_trades": 4,
    "total_return_pct": -3.928,
    "win_rate": 0.75,
    "profit_factor": 64.82 / 104.1,
    "worst_trade_pct": -10.41,
    "max_drawdown_pct": 100 * (1 - 953.14 / 1057.24),
    "fees": 9.28,
    "gross_pnl": -30.0,
    "max_consecutive_losses": 1,
}


def make_freqtrade_db(path, trades=FT_TRADES, schema=FREQTRADE_SCHEMA):
    conn = sqlite3.connect(path)
    conn.executescript(schema)
    for t in trades:
        conn.execute(f"INSERT INTO trades ({', '.join(t)}) VALUES ({', '.join('?' * len(t))})", list(t.values()))
    conn.commit()
    conn.close()
    return path


def _events(ws) -> list[tuple[str, str | None]]:
    conn = sqlite3.connect(f"file:{ws / '.livegate' / 'ledger.db'}?mode=ro", uri=True)
    try:
        return [(k, json.loads(p).get("kind")) for k, p in conn.execute("SELECT kind, payload FROM events ORDER BY id")]
    finally:
        conn.close()


def _phase_results(ws) -> list[dict]:
    conn = sqlite3.connect(f"file:{ws / '.livegate' / 'ledger.db'}?mode=ro", uri=True)
    try:
        return [json.loads(p) for (p,) in conn.execute("SELECT payload FROM events WHERE kind = 'phase_result' ORDER BY id")]
    finally:
        conn.close()


def _check(metrics: dict, expected: dict) -> None:
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key


# -- readers, against hand-computed metrics ------------------------------------------------------


def test_csv_reader_sorts_by_close_and_matches_hand_metrics(tmp_path):
    path = tmp_path / "trades.csv"
    path.write_text(CSV_TEXT)
    log, facts = import_trades(path, CAPITAL)
    assert list(log.net) == [98, -51, 29, -0.5]
    assert list(log.side) == ["long", "short", "buy", "sell"]
    metrics = compute_metrics(log)
    _check(metrics, EXPECTED_GROSS)
    r = DAILY_RETURNS
    assert metrics["sharpe"] == pytest.approx(statistics.mean(r) / statistics.stdev(r) * math.sqrt(365))
    assert facts["format"] == "csv" and facts["format_from"] == "detected"
    assert facts["rows_read"] == 4 and facts["trades"] == 4 and facts["rows_skipped"] == 0
    assert facts["quote_currency"] == "USDT" and facts["strategies"] == ["alpha"]
    assert facts["first_close"] == "2024-01-01T10:00:00Z" and facts["last_close"] == "2024-01-05T00:00:00Z"
    assert facts["sha256"] == hashlib.sha256(CSV_TEXT.encode()).hexdigest()
    assert log.opened_at_ms is not None


def test_pnl_is_net_takes_the_pnl_as_it_is(tmp_path):
    path = tmp_path / "trades.csv"
    path.write_text(CSV_TEXT)
    log, facts = import_trades(path, CAPITAL, pnl_is_net=True)
    assert list(log.net) == [100, -50, 30, 0]
    assert list(log.gross) == [102, -49, 31, 0.5]
    assert facts["pnl_is_net"] is True
    _check(compute_metrics(log), EXPECTED_NET)


def test_jsonl_reader_matches_the_csv(tmp_path):
    path = tmp_path / "trades.jsonl"
    path.write_text(_jsonl_text())
    log, facts = import_trades(path, CAPITAL)
    assert facts["format"] == "jsonl" and facts["format_from"] == "detected"
    assert list(log.net) == [98, -51, 29, -0.5]
    _check(compute_metrics(log), EXPECTED_GROSS)


def test_freqtrade_reader_net_profit_fees_shorts_and_open_trades(tmp_path):
    path = make_freqtrade_db(tmp_path / "tradesv3.dryrun.sqlite")
    log, facts = import_trades(path, CAPITAL)
    assert facts["format"] == "freqtrade"
    assert facts["stake_currency"] == "USDT"
    assert facts["rows_read"] == 5 and facts["trades"] == 4
    assert facts["skipped"] == {"open trade (is_open = 1)": 1}
    assert list(log.side) == ["long", "short", "short", "long"]
    assert list(log.symbol) == ["BTC/USDT", "ETH/USDT", "ETH/USDT", "BTC/USDT"]
    assert list(log.net) == pytest.approx([9.19, 48.05, -104.1, 7.58])
    assert list(log.fee) == pytest.approx([0.81, 1.95, 4.1, 2.42])
    metrics = compute_metrics(log)
    _check(metrics, FT_EXPECTED)
    assert metrics["fee_drag_pct"] is None and "gross PnL <= 0" in metrics["reasons"]["fee_drag_pct"]
    assert facts["first_close"] == "2024-03-01T10:00:00Z" and facts["last_close"] == "2024-03-04T09:00:00Z"


def test_freqtrade_rows_that_exited_in_parts_are_named(tmp_path):
    """One trade per row — Freqtrade's unit and livegate's, except for a row that exited in parts
    (position adjustment): Freqtrade leaves `amount` at what the last exit sold, so amount ×
    open_rate falls short of `max_stake_amount`, everything bought."""
    # bought 0.02 at 40,000 (max stake 800); sold 0.01 at 41,000, then the last 0.01 at 42,000
    in_parts = ft_trade(7, "BTC/USDT", 0.01, 40_000, 42_000, 0.001, 0.001, close_date="2024-03-05 09:00:00")
    in_parts["max_stake_amount"] = 800.0
    # bought twice (DCA), 0.01 at 40,000 and 0.01 at 39,000, sold at once: amount 0.02 at 39,500 = 790 = max stake
    dca = ft_trade(8, "BTC/USDT", 0.02, 39_500, 40_000, 0.001, 0.001, close_date="2024-03-06 09:00:00")
    dca["max_stake_amount"] = 790.0
    one = dict(FT_TRADES[0], max_stake_amount=400.0)  # 0.01 at 40,000: one entry, one exit
    log, facts = import_trades(make_freqtrade_db(tmp_path / "ft.sqlite", [one, in_parts, dca]), CAPITAL)
    assert len(log) == 3
    (warning,) = facts["warnings"]
    assert warning.startswith("1 closed trade exited in parts (trades id 7): each counts as one trade here")


def test_freqtrade_close_value_from_profit_when_close_rate_is_missing(tmp_path):
    row = ft_trade(1, "BTC/USDT", 0.01, 40_000, 41_000, 0.001, 0.001, close_date="2024-03-01 10:00:00")
    row["close_rate"] = None  # the close value follows from open_trade_value and close_profit_abs: (400.4 + 9.19) / 0.999 = 410
    log, _ = import_trades(make_freqtrade_db(tmp_path / "ft.sqlite", [row]), CAPITAL)
    assert list(log.fee) == pytest.approx([0.81])


@pytest.mark.parametrize("head, fmt", [
    (b"SQLite format 3\x00\x10\x00", "freqtrade"),
    (b'{"closed_at": "2024-01-01"}\n', "jsonl"),
    (b"\xef\xbb\xbf\n  \n\t{\"a\": 1}", "jsonl"),
    (b"closed_at,symbol,side,pnl_quote,fee_quote\n", "csv"),
    (b"\n\nclosed_at;symbol\n{", "csv"),
])
def test_format_detection(head, fmt):
    assert detect_format(head) == fmt


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trades=st.lists(st.tuples(st.integers(1_600_000_000_000, 1_800_000_000_000),
                                 st.decimals(-1000, 1000, places=4), st.decimals(0, 10, places=4)), min_size=1, max_size=25),
       jsonl=st.booleans())
def test_property_written_trades_read_back_sorted_and_exact(tmp_path, trades, jsonl):
    from datetime import UTC, datetime

    def iso(ms):
        return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")

    if jsonl:
        text = "\n".join(json.dumps({"closed_at": iso(ms), "symbol": "BTC/USDT", "side": "long", "pnl_quote": str(p), "fee_quote": float(f)})
                         for ms, p, f in trades)
    else:
        text = "closed_at,symbol,side,pnl_quote,fee_quote\n" + "".join(f"{iso(ms)},BTC/USDT,long,{p},{f}\n" for ms, p, f in trades)
    path = tmp_path / "prop.txt"
    path.write_text(text)
    log, facts = import_trades(path, CAPITAL)
    assert facts["format"] == ("jsonl" if jsonl else "csv")
    expected = sorted(((ms, float(p), float(f)) for ms, p, f in trades), key=lambda t: t[0])  # stable, like the importer
    assert list(log.closed_at_ms) == [t[0] for t in expected]
    assert list(log.gross) == [t[1] for t in expected]
    assert list(log.fee) == [t[2] for t in expected]


# -- the command ---------------------------------------------------------------------------------


def test_json_object_import_is_evidence_never_the_phase_result(workspace, run_cli, tmp_path):
    path = tmp_path / "trades.csv"
    path.write_text(CSV_TEXT)
    result = run_cli("-w", workspace, "paper-import", path, "--capital", "1000", "--trials", "5", "--json")
    assert result.exit_code == 1, result.output  # 4 trades: min_trades fails
    report = json.loads(result.stdout)
    assert report["counts_as_phase_result"] is False and report["kind"] == "import"
    assert report["verdict"] == "fail"
    for key in SPEC_METRICS:
        assert key in report["metrics"]
    _check(report["metrics"], EXPECTED_GROSS)
    assert {"bootstrap_sharpe", "ruin", "psr", "dsr", "out_of_sample", "regimes"} <= set(report["statistics"])
    assert "operator: 5" in report["statistics"]["dsr"]["trials_note"]
    crits = {c["criterion"]: c for c in report["criteria"]}
    assert crits["min_trades"]["measured"] == 4 and crits["min_trades"]["verdict"] == "fail"
    assert crits["stress_scenarios"]["measured"] >= 200
    assert report["import"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert report["stress_strategy"] == "strategies/ema_cross.py:EmaCross"
    recorded = _phase_results(workspace)
    assert [r["kind"] for r in recorded] == ["import"]
    assert recorded[0]["summary"]["import"]["sha256"] == report["import"]["sha256"]
    assert recorded[0]["summary"]["counts_as_phase_result"] is False
    status = json.loads(run_cli("-w", workspace, "status", "--json").stdout)
    assert next(s for s in status["steps"] if s["step"] == "paper")["verdict"] is None


def test_freqtrade_text_output_says_what_counts_and_what_the_stress_test_ran(workspace, run_cli, tmp_path):
    path = make_freqtrade_db(tmp_path / "tradesv3.dryrun.sqlite")
    result = run_cli("-w", workspace, "paper-import", path, "--capital", "1000")
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())
    assert "freqtrade, detected" in out
    assert "open trade (is_open = 1) ×1" in out
    assert "USDT" in out and "-39.28 after 9.28 fees" in out
    assert "Paper criteria" in out and "Verdict: fail" in out
    assert "The stress test ran the workspace's strategy (strategies/ema_cross.py:EmaCross), not the imported bot" in out
    assert "This was an import" in out and "never counts as the paper phase result" in out


def test_an_account_that_reaches_zero_equity_is_reported_and_fails(workspace, run_cli, tmp_path):
    path = tmp_path / "ruin.csv"
    path.write_text(HEADER + "2024-01-01,BTC/USDT,long,-600,1\n2024-01-02,BTC/USDT,long,-500,1\n2024-01-03,BTC/USDT,long,50,1\n")
    result = run_cli("-w", workspace, "paper-import", path, "--capital", "1000")
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())
    assert "reached zero: the account was ruined" in out and "Verdict: fail" in out
    assert "equity reached <= 0" in out  # the Sharpe ratio is undefined, not silently dropped
    assert [r["verdict"] for r in _phase_results(workspace)] == ["fail"]


def test_as_paper_result_needs_the_gate_open(workspace, run_cli, tmp_path):
    path = tmp_path / "trades.csv"
    path.write_text(CSV_TEXT)
    before = _events(workspace)
    result = run_cli("-w", workspace, "paper-import", path, "--capital", "1000", "--as-paper-result")
    assert result.exit_code == 3, result.output
    assert "gate closed" in result.output and "env" in result.output
    assert _events(workspace) == before


def test_as_paper_result_with_env_signed_off_is_the_paper_result(workspace, run_cli, operator_key, tmp_path):
    with freeze_time("2023-12-31 12:00:00"):  # the trades (2024-01-01 on) closed after the env sign-off
        sign_off_env(workspace, operator_key)
    path = tmp_path / "trades.jsonl"
    path.write_text(_jsonl_text())
    result = run_cli("-w", workspace, "paper-import", path, "--capital", "1000", "--as-paper-result")
    assert result.exit_code == 1, result.output
    assert "are recorded as the paper phase result" in " ".join(result.output.split())
    recorded = [r for r in _phase_results(workspace) if r["step"] == "paper"]
    assert [r["kind"] for r in recorded] == ["phase"]
    assert recorded[0]["summary"]["stated_forward_dry_run"] is True
    status = json.loads(run_cli("-w", workspace, "status", "--json").stdout)
    paper = next(s for s in status["steps"] if s["step"] == "paper")
    assert paper["verdict"] == "fail" and paper["result_at"]


# -- bad input: exit 2, one message naming the file and where, nothing recorded -----------------

HEADER = "closed_at,symbol,side,pnl_quote,fee_quote\n"
GOOD = "2024-01-01T10:00:00Z,BTC/USDT,long,10,0.1\n"

BAD_TEXT = {
    "missing column": ("bad.csv", "closed_at,symbol,side,pnl_quote\n2024-01-01,BTC/USDT,long,1\n", "bad.csv:1: missing column fee_quote"),
    "non-numeric pnl": ("bad.csv", HEADER + GOOD + "2024-01-02,BTC/USDT,long,abc,0.1\n", "bad.csv:3: pnl_quote 'abc' is not a number"),
    "empty pnl": ("bad.csv", HEADER + GOOD + "2024-01-02,BTC/USDT,long,,0.1\n", "bad.csv:3: pnl_quote is empty"),
    "nan pnl": ("bad.csv", HEADER + "2024-01-02,BTC/USDT,long,nan,0.1\n" + GOOD, "bad.csv:2: pnl_quote 'nan' is not a finite number"),
    "negative fee": ("bad.csv", HEADER + GOOD + GOOD + "2024-01-03,BTC/USDT,long,1,-0.2\n", "bad.csv:4: fee_quote -0.2 is negative"),
    "bad date": ("bad.csv", HEADER + GOOD + "2024-13-01,BTC/USDT,long,1,0.1\n", "bad.csv:3: closed_at '2024-13-01' is not an ISO 8601 time"),
    "epoch date": ("bad.csv", HEADER + "1704067200000,BTC/USDT,long,1,0.1\n", "bad.csv:2: closed_at '1704067200000' is not an ISO 8601"),
    "bad side": ("bad.csv", HEADER + "2024-01-01,BTC/USDT,up,1,0.1\n", "bad.csv:2: side 'up' is not one of buy, sell, long, short"),
    "empty symbol": ("bad.csv", HEADER + "2024-01-01, ,long,1,0.1\n", "bad.csv:2: symbol is empty"),
    "opened after closed": ("bad.csv", "closed_at,symbol,side,pnl_quote,fee_quote,opened_at\n2024-01-01,BTC/USDT,long,1,0.1,2024-01-02\n",
                            "bad.csv:2: opened_at '2024-01-02' is after closed_at"),
    "truncated": ("bad.csv", HEADER + GOOD + "2024-01-02,BTC/USDT,lo", "bad.csv:3: 3 fields, but the header has 5 columns; the file looks truncated"),
    "extra field": ("bad.csv", HEADER + "2024-01-02,BTC/USDT,long,1,000.5,0.1\n" + GOOD, "bad.csv:2: 6 fields, but the header has 5"),
    "header only": ("bad.csv", HEADER, "bad.csv: no trades after the header"),
    "empty file": ("bad.csv", "", "bad.csv: the file is empty"),
    "blank file": ("bad.jsonl", "\n \n", "bad.jsonl: the file is empty"),
    "semicolons": ("bad.csv", "closed_at;symbol;side;pnl_quote;fee_quote\n", "(columns must be separated by commas)"),
    "json array": ("bad.json", '[{"closed_at": "2024-01-01"}]\n', "write one JSON object per line"),
    "jsonl invalid": ("bad.jsonl", '{"closed_at": "2024-01-01", "symbol": "BTC/USDT", "side": "long", "pnl_quote": 1, "fee_quote": 0}\n{"closed_at": \n',
                      "bad.jsonl:2: not valid JSON"),
    "jsonl missing key": ("bad.jsonl", '{"closed_at": "2024-01-01", "symbol": "BTC/USDT", "side": "long", "pnl_quote": 1}\n', "bad.jsonl:1: missing fee_quote"),
    "jsonl null pnl": ("bad.jsonl", '{"closed_at": "2024-01-01", "symbol": "X/USDT", "side": "long", "pnl_quote": null, "fee_quote": 0}\n',
                       "bad.jsonl:1: missing pnl_quote (it is null)"),
    "jsonl epoch": ("bad.jsonl", '{"closed_at": 1704067200000, "symbol": "BTC/USDT", "side": "long", "pnl_quote": 1, "fee_quote": 0}\n',
                    "bad.jsonl:1: closed_at must be a string"),
    "jsonl boolean pnl": ("bad.jsonl", '{"closed_at": "2024-01-01", "symbol": "BTC/USDT", "side": "long", "pnl_quote": true, "fee_quote": 0}\n',
                          "bad.jsonl:1: pnl_quote must be a number, found a boolean"),
    "jsonl not object": ("bad.jsonl", '{"closed_at": "2024-01-01", "symbol": "BTC/USDT", "side": "long", "pnl_quote": 1, "fee_quote": 0}\n[1, 2]\n',
                         "bad.jsonl:2: expected one JSON object per line, found an array"),
    "freqtrade format on csv": ("trades.csv", HEADER + GOOD, "trades.csv: not a SQLite database"),
}


def _bad_file(tmp_path, case):
    name, content, fragment = BAD_TEXT[case]
    path = tmp_path / name
    path.write_text(content)
    return path, fragment


@pytest.mark.parametrize("case", sorted(BAD_TEXT))
def test_bad_text_input_exits_2_naming_file_and_line(workspace, run_cli, tmp_path, case):
    path, fragment = _bad_file(tmp_path, case)
    args = ["--format", "freqtrade"] if case == "freqtrade format on csv" else []
    before = _events(workspace)
    result = run_cli("-w", workspace, "paper-import", path, "--capital", "1000", *args)
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert fragment in out
    assert str(tmp_path) in out  # the file is named in full
    assert "Traceback" not in result.output
    assert _events(workspace) == before


def test_non_utf8_names_the_line(workspace, run_cli, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + GOOD).encode() + b"2024-01-02,BTC/\xa4,long,1,0.1\n")  # latin-1 for the euro sign
    result = run_cli("-w", workspace, "paper-import", path, "--capital", "1000")
    assert result.exit_code == 2, result.output
    assert "latin1.csv:3: byte 0xa4 is not UTF-8 text" in " ".join(result.output.split())


def _ft_rows(**changes):
    rows = [dict(t) for t in FT_TRADES]
    for key, (index, value) in changes.items():
        rows[index][key] = value
    return rows


BAD_FREQTRADE = {
    "no trades table": (lambda p: make_freqtrade_db(p, [], "CREATE TABLE pairlocks (id INTEGER);"),
                        "no `trades` table, so not a Freqtrade database (tables: pairlocks)"),
    "mixed stake currencies": (lambda p: make_freqtrade_db(p, _ft_rows(stake_currency=(3, "BTC"))),
                               "several stake currencies: USDT (3 trades), BTC (1 trade)"),
    "no closed trades": (lambda p: make_freqtrade_db(p, [FT_TRADES[4]]), "no closed trades in the trades table (1 open trade (is_open = 1))"),
    "empty trades table": (lambda p: make_freqtrade_db(p, []), "no closed trades in the trades table (it is empty)"),
    "bad close date": (lambda p: make_freqtrade_db(p, _ft_rows(close_date=(1, "yesterday"))), "trades id=2, close_date: 'yesterday' is not a date"),
    "negative fee rate": (lambda p: make_freqtrade_db(p, _ft_rows(fee_open=(0, -0.001))), "trades id=1, fee_open: -0.001 is negative"),
    "closed without profit": (lambda p: make_freqtrade_db(p, _ft_rows(close_profit_abs=(2, None))), "trades id=3, close_profit_abs: empty"),
    "missing column": (lambda p: make_freqtrade_db(p, [], FREQTRADE_SCHEMA.replace("    close_profit_abs FLOAT,\n", "")),
                       "table trades has no column close_profit_abs"),
    "truncated database": (lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\x10\x00\x01\x01" + b"\x00" * 80),
                           "not a readable SQLite database"),
}


@pytest.mark.parametrize("case", sorted(BAD_FREQTRADE))
def test_bad_freqtrade_database_exits_2(workspace, run_cli, tmp_path, case):
    build, fragment = BAD_FREQTRADE[case]
    path = tmp_path / "tradesv3.dryrun.sqlite"
    build(path)
    before = _events(workspace)
    result = run_cli("-w", workspace, "paper-import", path, "--capital", "1000")
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert f"{path}: " in out and fragment in out, out
    assert "Traceback" not in result.output
    assert _events(workspace) == before


def test_sqlite_file_read_as_text_format_is_refused(workspace, run_cli, tmp_path):
    path = make_freqtrade_db(tmp_path / "ft.sqlite")
    result = run_cli("-w", workspace, "paper-import", path, "--capital", "1000", "--format", "csv")
    assert result.exit_code == 2, result.output
    assert "is a SQLite database, not CSV text; use --format freqtrade" in " ".join(result.output.split())


@pytest.mark.parametrize("args, fragment", [
    (["--capital", "0"], "--capital must be a positive amount"),
    (["--capital", "-5"], "--capital must be a positive amount"),
    (["--capital", "nan"], "--capital must be a positive amount"),
    (["--capital", "1000", "--format", "xml"], "--format must be one of csv, jsonl, freqtrade"),
    ([], "Missing option '--capital'"),
])
def test_bad_options_exit_2(workspace, run_cli, tmp_path, args, fragment):
    path = tmp_path / "trades.csv"
    path.write_text(CSV_TEXT)
    before = _events(workspace)
    result = run_cli("-w", workspace, "paper-import", path, *args)
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert _events(workspace) == before


def test_missing_file_exits_2(workspace, run_cli, tmp_path):
    result = run_cli("-w", workspace, "paper-import", tmp_path / "nope.csv", "--capital", "1000")
    assert result.exit_code == 2, result.output
    assert f"{tmp_path / 'nope.csv'}: no such file" in " ".join(result.output.split())


def test_reader_errors_are_usage_errors(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "2024-01-01,BTC/USDT,long,1,x\n")
    with pytest.raises(UsageError, match=r"t\.csv:2: fee_quote 'x' is not a number"):
        import_trades(path, CAPITAL)


# -- the plain-CSV fast path reads exactly what the general reader reads ------------------------

TIME_CELLS = ["2024-01-02T03:04:05.678Z", "2024-01-02 03:04:05", "2024-01-02", "2024-01-02T03:04", "2024-01-02T03:04Z",
              "2024-01-02T03:04:05+00:00", "2024-01-02T03:04:05.1", "2024-01-02T03:04:05.123456Z", "1969-12-31T23:59:59.9999",
              "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "2024-02-29T12:00:00Z", "2023-02-29T12:00:00Z",
              "2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T23:60:00Z", "2024-01-01T23:59:60Z",
              "2024-01-01Z", "2024-01-01+00:00", "0000-01-01T00:00:00Z", "2024-01-02T03:04:05+02:00", "2024-01-02T03:04:05-00:00",
              " 2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z ", "", " ", "now", "2024-01", "1704067200000", "2024-1-02T03:04:05Z"]
NUMBER_CELLS = ["0", "-0", "12", "-12.5", ".5", "5.", "-.25", "007.50", "123456789012345", "1234567890123456", "0.000000000000001",
                "1e-05", "2.5E3", "+4", " 3", "3 ", "1_000", "nan", "inf", "-inf", "1e400", "", " ", "abc", "-", ".", "1.2.3", "--1", "0x10"]


def _cells(numbers):
    plain = st.builds(lambda m, k, neg: f"{'-' if neg else ''}{m / 10 ** k:.{k}f}", st.integers(0, 10**9), st.integers(0, 8), st.booleans())
    return st.one_of(plain, st.sampled_from(numbers)) if numbers else plain


def _read_both(path, monkeypatch):
    """(what the fast path reads, what the general reader reads): arrays and facts, or the error."""
    from livegate.phases.paper import importers

    def outcome():
        try:
            log, facts = import_trades(path, CAPITAL)
        except UsageError as e:
            return str(e)
        arrays = [getattr(log, k) for k in ("closed_at_ms", "gross", "fee", "net", "symbol", "opened_at_ms", "side")]
        return [None if a is None else (a.dtype.str, a.tolist()) for a in arrays], facts

    fast = outcome()
    with monkeypatch.context() as m:
        m.setattr(importers, "_plain_csv_columns", lambda data, name: None)
        general = outcome()
    return fast, general


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.one_of(st.sampled_from(TIME_CELLS), st.sampled_from(TIME_CELLS[:12])),
                               st.sampled_from(["BTC/USDT", " ETH/USDT ", "BTC/USDT:USDT", "SOL/€", "X", "", " "]),
                               st.sampled_from(["buy", " Sell", "LONG", "short", "up", ""]),
                               _cells(NUMBER_CELLS), _cells(NUMBER_CELLS[:12] + ["-1", "abc", ""]),
                               st.one_of(st.just("2020-01-01T00:00:00Z"), st.sampled_from(TIME_CELLS))),
                     min_size=1, max_size=12),
       opened=st.booleans())
def test_property_plain_csv_fast_path_reads_as_the_general_reader(tmp_path, monkeypatch, rows, opened):
    header = "closed_at,symbol,side,pnl_quote,fee_quote" + (",opened_at" if opened else "")
    body = [",".join(r if opened else r[:5]) for r in rows if any(c.strip() for c in r[:5])]  # no blank rows: the general reader skips them
    path = tmp_path / "plain.csv"
    path.write_text(header + "\n" + "".join(line + "\n" for line in body or ["2024-01-01,BTC/USDT,buy,1,0"]))
    fast, general = _read_both(path, monkeypatch)
    assert fast == general


def test_plain_csv_fast_path_in_slices_reads_as_the_general_reader(tmp_path, monkeypatch):
    """More rows than one slice of the fast path, times of several widths, a few numbers numpy parses."""
    times = ["2024-03-%02dT%02d:%02d:%02d.%03dZ", "2024-03-%02d %02d:%02d:%02d.%d", "2024-03-%02dT%02d:%02d:%02d.%03d+00:00"]
    numbers = ["%.4f", "%.1f", "%d", "%.2e"]
    lines = [f"{times[i % 3] % (1 + i % 28, i % 24, i % 60, (7 * i) % 60, i % 1000)},{('BTC/USDT', 'ETH/USDT:USDT')[i % 2]},"
             f"{('buy', 'Sell ')[i % 2]},{numbers[i % 4] % ((i % 201 - 100) / 7)},{numbers[i % 3] % ((i % 13) / 9)},"
             f"2024-02-01T00:00:00Z" for i in range(70_003)]
    path = tmp_path / "big.csv"
    path.write_text("closed_at,symbol,side,pnl_quote,fee_quote,opened_at\n" + "\n".join(lines) + "\n")
    fast, general = _read_both(path, monkeypatch)
    assert isinstance(fast, tuple) and fast == general


# -- the stress test split with a helper process gives the numbers of the sequential run ---------


class _FallAverse:
    """Raises on the first bar 10 % below the first close it saw: only some scenarios fail."""

    def __init__(self):
        self.first = None

    def on_bar(self, bar, ctx):
        self.first = self.first or bar.close
        if bar.close < 0.9 * self.first:
            raise ValueError(f"fell to {bar.close}")


def test_stress_test_split_with_a_helper_equals_the_sequential_run(workspace):
    from livegate.config.strategy import load_strategy
    from livegate.config.workspace import Workspace
    from livegate.phases.paper.stress import StressTest, _can_fork, run_stress

    effective = Workspace(workspace).effective
    cfg = effective.config

    def factory():
        return load_strategy(cfg.strategy.ref, dict(cfg.strategy.params), workspace)

    sequential = run_stress(effective, factory, per_kind=3, bars=240)
    seen = []
    with StressTest(effective, factory, per_kind=3, bars=240) as test:
        assert (test._pid is not None) == _can_fork()  # a helper shares the work where one can be forked
        split = test.result(lambda done, total: seen.append((done, total)))
    assert json.dumps(split) == json.dumps(sequential)
    assert seen[-1] == (21, 21)
    with StressTest(effective, _FallAverse, per_kind=3, bars=240, helper=False) as test:
        with pytest.raises(StrategyError, match="fell to") as alone:
            test.result()
    with StressTest(effective, _FallAverse, per_kind=3, bars=240) as test:
        with pytest.raises(StrategyError) as split_error:
            test.result()
    assert str(split_error.value) == str(alone.value)  # the first failing scenario in order, either way
