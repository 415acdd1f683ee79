"""What an import may count as: `paper-import --as-paper-result` takes only a forward dry run
whose every trade closed after the env sign-off; a backtest file (Freqtrade's backtest result)
never. Each refusal is exit 2 with one message and nothing in the ledger (counted with sqlite3);
research imports, without the flag, stay unrestricted."""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile

import pytest
from freezegun import freeze_time

from livegate.phases.paper.importers import detect_format, import_trades
from tests.paper.conftest import sign_off_env
from tests.paper.test_import import ft_trade, make_freqtrade_db

ENV_SIGNOFF_AT = "2024-03-01 00:00:00"  # frozen: the env sign-off of these tests
HEADER = "closed_at,symbol,side,pnl_quote,fee_quote\n"


def ledger_rows(ws) -> list[tuple[int, str]]:
    """Every event of the workspace's ledger (id, kind), read with plain sqlite3."""
    conn = sqlite3.connect(f"file:{ws / '.livegate' / 'ledger.db'}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT id, kind FROM events ORDER BY id").fetchall()
    finally:
        conn.close()


def results(ws) -> list[dict]:
    conn = sqlite3.connect(f"file:{ws / '.livegate' / 'ledger.db'}?mode=ro", uri=True)
    try:
        return [json.loads(p) for (p,) in conn.execute("SELECT payload FROM events WHERE kind = 'phase_result' ORDER BY id")]
    finally:
        conn.close()


@pytest.fixture
def env_signed(workspace, operator_key, run_cli):
    """The workspace with env signed off at ENV_SIGNOFF_AT; returns (root, the sign-off's time as `status` shows it)."""
    with freeze_time(ENV_SIGNOFF_AT):
        sign_off_env(workspace, operator_key)
    status = json.loads(run_cli("-w", workspace, "status", "--json").stdout)
    env = next(s for s in status["steps"] if s["step"] == "env")
    assert env["status"] == "signed" and env["signed_at"].startswith("2024-03-01T00:00:00"), env
    return workspace, env["signed_at"]


def trade_log(rows: list[tuple[str, float]]) -> str:
    return HEADER + "".join(f"{closed},BTC/USDT,long,{pnl},0.1\n" for closed, pnl in rows)


# Five trades, three of them closed before the sign-off (one exactly at it: not after it).
MIXED = [("2024-02-27T10:00:00Z", 12), ("2024-02-29T23:59:59Z", -4), ("2024-03-01T00:00:00Z", 3),
         ("2024-03-02T10:00:00Z", 8), ("2024-03-03T10:00:00Z", -2)]
AFTER = [("2024-03-02T10:00:00Z", 8), ("2024-03-03T10:00:00Z", -2), ("2024-03-04T10:00:00Z", 5)]


def test_trades_closed_before_the_env_signoff_are_refused_and_nothing_is_recorded(env_signed, run_cli, tmp_path):
    root, signed_at = env_signed
    path = tmp_path / "dryrun.csv"
    path.write_text(trade_log(MIXED))
    before = ledger_rows(root)

    result = run_cli("-w", root, "paper-import", path, "--capital", "1000", "--as-paper-result")

    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert f"3 of 5 trades closed before the env sign-off ({signed_at}; the earliest at 2024-02-27T10:00:00Z)" in out
    assert "Nothing was recorded" in out and "Traceback" not in result.output
    assert ledger_rows(root) == before
    # the same file as research evidence: unrestricted, kept as an import
    research = run_cli("-w", root, "paper-import", path, "--capital", "1000")
    assert research.exit_code == 1, research.output  # 5 trades: too few for the paper criteria
    assert [(r["step"], r["kind"]) for r in results(root)][-1] == ("paper", "import")


def test_a_freqtrade_dry_run_database_closed_after_the_signoff_is_the_paper_result(env_signed, run_cli, tmp_path):
    root, signed_at = env_signed
    rows = [ft_trade(i, "BTC/USDT", 0.01, 40_000, 40_000 + 100 * (i % 3) - 50, 0.001, 0.001,
                     open_date=f"2024-03-{i + 1:02d} 08:00:00", close_date=f"2024-03-{i + 1:02d} 10:00:00") for i in range(1, 6)]
    db = make_freqtrade_db(tmp_path / "tradesv3.dryrun.sqlite", rows)
    before = len(ledger_rows(root))

    result = run_cli("-w", root, "paper-import", db, "--capital", "1000", "--as-paper-result", "--json")

    assert result.exit_code == 1, result.output  # recorded; 5 trades fail min_trades >= 20
    report = json.loads(result.stdout)
    assert report["counts_as_phase_result"] is True and report["import"]["format"] == "freqtrade"
    paper = [r for r in results(root) if r["step"] == "paper"]
    assert [r["kind"] for r in paper] == ["phase"]
    assert paper[0]["summary"]["import"]["env_signed_off_at"] == signed_at
    assert paper[0]["summary"]["import"]["first_close"] == "2024-03-02T10:00:00Z"
    assert len(ledger_rows(root)) > before


def test_one_trade_before_the_signoff_refuses_a_freqtrade_database_too(env_signed, run_cli, tmp_path):
    root, signed_at = env_signed
    rows = [ft_trade(1, "BTC/USDT", 0.01, 40_000, 40_100, 0.001, 0.001, open_date="2024-02-29 20:00:00", close_date="2024-02-29 22:00:00"),
            ft_trade(2, "BTC/USDT", 0.01, 40_000, 40_100, 0.001, 0.001, close_date="2024-03-05 10:00:00")]
    db = make_freqtrade_db(tmp_path / "tradesv3.dryrun.sqlite", rows)
    before = ledger_rows(root)
    result = run_cli("-w", root, "paper-import", db, "--capital", "1000", "--as-paper-result")
    assert result.exit_code == 2, result.output
    assert f"1 of 2 trades closed before the env sign-off ({signed_at}" in " ".join(result.output.split())
    assert ledger_rows(root) == before


def test_trades_closing_in_the_future_are_refused(env_signed, run_cli, tmp_path):
    root, _ = env_signed
    path = tmp_path / "dryrun.csv"
    path.write_text(trade_log([("2024-03-02T10:00:00Z", 8), ("2999-01-01T00:00:00Z", 1)]))
    before = ledger_rows(root)
    result = run_cli("-w", root, "paper-import", path, "--capital", "1000", "--as-paper-result")
    assert result.exit_code == 2, result.output
    assert "1 of 2 trades close in the future (the latest at 2999-01-01T00:00:00Z" in " ".join(result.output.split())
    assert ledger_rows(root) == before


# -- a Freqtrade backtest result (`freqtrade backtesting --export trades`) -----------------------------

def bt_trade(pair, amount, open_rate, close_rate, open_date, close_date, *, fee=0.001, is_short=False, is_open=False):
    """A trade as Freqtrade's backtest export writes it (BT_DATA_COLUMNS): profit_abs net of both fees."""
    open_value, close_value = amount * open_rate, amount * close_rate
    sign = -1 if is_short else 1
    profit = sign * (close_value * (1 - sign * fee) - open_value * (1 + sign * fee))
    return {"pair": pair, "stake_amount": open_value, "max_stake_amount": open_value, "amount": amount,
            "open_date": open_date, "close_date": close_date, "open_rate": open_rate, "close_rate": close_rate,
            "fee_open": fee, "fee_close": fee, "trade_duration": 120, "profit_ratio": profit / open_value, "profit_abs": profit,
            "exit_reason": "roi", "is_open": is_open, "enter_tag": "", "leverage": 1.0, "is_short": is_short,
            "open_timestamp": 0, "close_timestamp": 0, "orders": []}


BACKTEST = {
    "strategy": {"SampleStrategy": {
        "trades": [
            # long: 400 → 410, fees 0.4 + 0.41 → net 9.19
            bt_trade("BTC/USDT", 0.01, 40_000, 41_000, "2024-03-02 08:00:00+00:00", "2024-03-02 10:00:00+00:00"),
            # short: 1000 → 950, fees 1 + 0.95 → net 48.05
            bt_trade("ETH/USDT", 0.5, 2_000, 1_900, "2024-03-03 08:00:00+00:00", "2024-03-03 10:00:00+00:00", is_short=True),
            bt_trade("BTC/USDT", 0.01, 40_000, 40_000, "2024-03-04 08:00:00+00:00", "2024-03-04 10:00:00+00:00", is_open=True),
        ],
        "stake_currency": "USDT", "backtest_start": "2024-03-02 00:00:00", "backtest_end": "2024-03-05 00:00:00",
    }},
    "strategy_comparison": [{"key": "SampleStrategy", "trades": 2}],
}


def test_a_backtest_result_is_refused_as_the_paper_result_even_after_the_signoff(env_signed, run_cli, tmp_path):
    root, _ = env_signed
    path = tmp_path / "backtest-result-2024-03-05_00-00-00.json"
    path.write_text(json.dumps(BACKTEST, indent=4))
    before = ledger_rows(root)

    result = run_cli("-w", root, "paper-import", path, "--capital", "1000", "--as-paper-result")

    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert f"{path}: a Freqtrade backtest result: a backtest never counts as the paper phase result" in out
    assert ledger_rows(root) == before
    # the same file is research evidence: read, evaluated and kept as an import
    research = run_cli("-w", root, "paper-import", path, "--capital", "1000", "--json")
    assert research.exit_code == 1, research.output
    report = json.loads(research.stdout)
    assert report["counts_as_phase_result"] is False
    assert report["import"]["format"] == "freqtrade-backtest" and report["import"]["trades"] == 2
    assert report["import"]["skipped"] == {"open at the end of the backtest": 1}
    assert report["metrics"]["net_pnl"] == pytest.approx(9.19 + 48.05)
    assert report["metrics"]["fees"] == pytest.approx(0.81 + 1.95)
    assert [(r["step"], r["kind"]) for r in results(root)][-1] == ("paper", "import")


def test_a_zipped_backtest_result_is_read_and_refused_too(env_signed, run_cli, tmp_path):
    root, _ = env_signed
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # what Freqtrade 2025 writes: the result, its config, the strategy
        archive.writestr("backtest-result-2024-03-05_00-00-00.json", json.dumps(BACKTEST))
        archive.writestr("backtest-result-2024-03-05_00-00-00_config.json", json.dumps({"strategy": {"not": "a result"}}))
        archive.writestr("SampleStrategy.py", "class SampleStrategy: ...\n")
    path = tmp_path / "backtest-result-2024-03-05_00-00-00.zip"
    path.write_bytes(buffer.getvalue())
    assert detect_format(path.read_bytes()) == "freqtrade-backtest"
    log, facts = import_trades(path, 1000.0)
    assert facts["trades"] == 2 and facts["quote_currency"] == "USDT" and list(log.net) == pytest.approx([9.19, 48.05])
    before = ledger_rows(root)
    result = run_cli("-w", root, "paper-import", path, "--capital", "1000", "--as-paper-result")
    assert result.exit_code == 2, result.output
    assert "a backtest never counts as the paper phase result" in " ".join(result.output.split())
    assert ledger_rows(root) == before


@pytest.mark.parametrize("head, fmt", [
    (b'{\n    "strategy": {\n        "SampleStrategy": {', "freqtrade-backtest"),
    (b'{"strategy_comparison": [], "strategy": {}}', "freqtrade-backtest"),
    (b'{"strategy": "alpha", "closed_at": "2024-01-01"}\n', "jsonl"),  # a JSONL trade line may name its strategy
    (b"PK\x03\x04\x14\x00", "freqtrade-backtest"),
])
def test_backtest_detection(head, fmt):
    assert detect_format(head) == fmt


@pytest.mark.parametrize("content, message", [
    (json.dumps({"strategy": {"A": {"trades": []}, "B": {"trades": []}}, "strategy_comparison": []}),
     "holds the backtests of 2 strategies (A, B); livegate evaluates one"),
    (json.dumps({"strategy": {"A": {"results": []}}, "strategy_comparison": []}), "strategy A: no `trades` list"),
    (json.dumps({"strategy": {"A": {"trades": [{"pair": "BTC/USDT"}]}}}), "strategy A trades[0]: missing profit_abs, amount"),
    (json.dumps({"strategy": {"A": {"trades": [{**BACKTEST["strategy"]["SampleStrategy"]["trades"][0], "fee_open": -0.1}]}}}),
     "strategy A trades[0], fee_open: -0.1 is negative"),
    ('{"strategy": {"A": {"trades": [}', "not valid JSON"),
])
def test_a_broken_backtest_result_is_one_clear_error(workspace, run_cli, tmp_path, content, message):
    path = tmp_path / "bt.json"
    path.write_text(content)
    before = ledger_rows(workspace)
    result = run_cli("-w", workspace, "paper-import", path, "--capital", "1000")
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output
    assert ledger_rows(workspace) == before
