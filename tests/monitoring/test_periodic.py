"""`livegate report --daily` / `--weekly` after a real go-live stage on the local exchange: the
figures against the exchange's own trade log (P&L and fees recomputed here from the venue's
trades, not from the ledger), and every kind of disagreement between venue and ledger reported
as a mismatch with exit 1."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from livegate.config.workspace import Workspace
from livegate.phases.microlive.runner import LiveRunner
from livegate.services.alerts.receiver import LocalReceiver
from livegate.services.monitoring import periodic
from tests.live.conftest import live_options
from tests.monitoring.conftest import ledger_events

DAY_MS = 86_400_000


def env_value(root, name: str) -> str:
    return next(line.split("=", 1)[1] for line in (root / ".env").read_text().splitlines() if line.startswith(f"{name}="))


def venue_trades(sandbox, root) -> list:
    """The exchange's own trades of this workspace's key, every symbol, oldest first."""
    api_key = env_value(root, "EXCHANGE_API_KEY")

    def read():
        account = sandbox.venue.account_of(sandbox.venue.keys[api_key])
        return sorted((t for trades in account.trades.values() for t in trades), key=lambda t: (t.time, t.id))

    return sandbox._on_loop(read)


def round_trips(trades) -> list[dict]:
    """livegate's trade unit recomputed from the venue's fills: one reducing (sell) order's fills
    against the position's quantity-weighted entry; entry fees pro rata plus the sell's fees."""
    orders: dict[int, list] = {}
    for t in trades:
        orders.setdefault(t.order_id, []).append(t)
    book: dict[str, list[float]] = {}  # symbol -> [amount, cost, entry fees]
    out = []
    for fills in sorted(orders.values(), key=lambda f: f[-1].time):
        pos = book.setdefault(fills[0].symbol, [0.0, 0.0, 0.0])
        qty = sum(f.qty for f in fills)
        value = sum(f.qty * f.price for f in fills)
        fee = sum(fee_of(f) for f in fills)  # the local exchange charges the quote currency
        if fills[0].is_buyer:
            pos[0], pos[1], pos[2] = pos[0] + qty, pos[1] + value, pos[2] + fee
            continue
        share = qty / pos[0]
        entry_cost, entry_fee = pos[1] * share, pos[2] * share
        out.append({"symbol": fills[0].symbol, "closed_ms": fills[-1].time, "gross": value - entry_cost, "fee": entry_fee + fee,
                    "net": value - entry_cost - entry_fee - fee})
        pos[0], pos[1], pos[2] = pos[0] - qty, pos[1] - entry_cost, pos[2] - entry_fee
    return out


def fee_of(trade) -> float:
    """A trade's commission as the venue reports it (8 decimals on the wire)."""
    return round(trade.commission, 8)


def send_to(root, url: str) -> None:
    """Point the workspace's alerts at one destination, `desk`, taking every severity."""
    path = root / "livegate.yaml"
    data = yaml.safe_load(path.read_text())
    data.setdefault("alerts", {})["destinations"] = [{"url": url, "min_severity": "info", "name": "desk"}]
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def utc_day(ms: int):
    return datetime.fromtimestamp(ms / 1000, UTC).date()


@pytest.fixture
def traded(make_live_ws, sandbox, operator_key):
    """A workspace whose micro-live stage 4.1a ran to completion on the local exchange."""
    root = make_live_ws()
    outcome = LiveRunner(Workspace(root), "4.1a", operator_key, live_options(sandbox, max_seconds=3600)).run()
    assert outcome.status == "completed", outcome.reason
    return root


def test_the_daily_summary_matches_the_venues_trades(traded, sandbox, run_cli):
    trades = venue_trades(sandbox, traded)
    trips = round_trips(trades)
    assert len(trips) >= 2
    (_, stage), = ledger_events(traded, "stage_started")
    before = 0.0
    for day in sorted({utc_day(t.time) for t in trades}):
        start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
        mine = [r for r in trips if start <= r["closed_ms"] < start + DAY_MS]
        code, report, output = run_cli.json("-w", traded, "report", "--daily", "--date", day.isoformat(), "--json")
        assert code == 0, output
        s = report["summary"]
        assert s["trades"] == len(mine)
        assert s["wins"] == sum(1 for r in mine if r["net"] > 0)
        assert s["net_pnl"] == pytest.approx(sum(r["net"] for r in mine), abs=1e-9)
        assert s["fees"] == pytest.approx(sum(r["fee"] for r in mine), abs=1e-9)
        assert s["gross_pnl"] == pytest.approx(sum(r["gross"] for r in mine), abs=1e-9)
        assert s["fills"] == sum(1 for t in trades if start <= t.time < start + DAY_MS)
        assert s["fill_fees"] == pytest.approx(sum(fee_of(t) for t in trades if start <= t.time < start + DAY_MS), abs=1e-9)
        # the day's drawdown of realized equity, from the day's opening equity
        equity = peak = stage["capital"] + before
        worst = 0.0
        for r in mine:
            equity += r["net"]
            peak = max(peak, equity)
            worst = max(worst, peak - equity)
        assert s["opening_equity"] == pytest.approx(stage["capital"] + before)
        assert s["max_drawdown"] == pytest.approx(worst, abs=1e-9)
        before += sum(r["net"] for r in mine)
        by_symbol = {r["symbol"]: r for r in report["symbols"]}
        for symbol in {r["symbol"] for r in mine}:
            ours = [r for r in mine if r["symbol"] == symbol]
            row = next(v for k, v in by_symbol.items() if k.replace("/", "") == symbol)
            assert row["trades"] == len(ours) and row["net"] == pytest.approx(sum(r["net"] for r in ours), abs=1e-9)
        # written into the workspace and recorded with the files' digests
        written = report["written"]
        for fmt in ("json", "md"):
            data = (traded / "reports" / f"daily-{day.isoformat()}.{fmt}").read_bytes()
            assert hashlib.sha256(data).hexdigest() == written["sha256"][fmt]
        recorded = {i: p for i, p in ledger_events(traded, "daily_report")}[written["event"]]
        assert recorded["sha256"] == written["sha256"] and recorded["headline"]["trades"] == len(mine)
        assert recorded["files"] == {"json": f"reports/daily-{day.isoformat()}.json", "md": f"reports/daily-{day.isoformat()}.md"}


def test_the_daily_summary_counts_refused_orders_by_rule(make_live_ws, sandbox, operator_key, run_cli):
    root = make_live_ws(value=12.0)  # $12 > the stage's $10 cap and MAX_TRADE_AMOUNT 10: every buy is refused
    outcome = LiveRunner(Workspace(root), "4.1a", operator_key, live_options(sandbox, max_seconds=120)).run()
    assert outcome.measures["orders"] == 0
    blocked = [p for _, p in ledger_events(root, "order_blocked")]
    assert blocked
    for day in sorted({utc_day(p["at"]) for p in blocked}):
        start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
        mine = [p for p in blocked if start <= p["at"] < start + DAY_MS]
        code, report, output = run_cli.json("-w", root, "report", "--daily", "--date", day.isoformat(), "--json")
        assert code == 0, output
        assert report["summary"]["refused"] == len(mine) and report["summary"]["trades"] == 0
        rules = {}
        for p in mine:
            rules[p["blocks"][0][0]] = rules.get(p["blocks"][0][0], 0) + 1
        assert {r["rule"]: r["count"] for r in report["refusals"]} == rules
        assert all("refused, not resized" in r["last_message"] for r in report["refusals"] if r["rule"] == "stage_cap")


def test_the_weekly_reconciliation_matches_the_venue_and_its_text(traded, sandbox, run_cli, monkeypatch):
    trades = venue_trades(sandbox, traded)
    week = periodic.week_start_of(utc_day(trades[0].time))
    start = int(datetime(week.year, week.month, week.day, tzinfo=UTC).timestamp() * 1000)
    mine = [t for t in trades if start <= t.time < start + 7 * DAY_MS]
    trips = [r for r in round_trips(trades) if start <= r["closed_ms"] < start + 7 * DAY_MS]
    label = f"{week.isocalendar()[0]}-W{week.isocalendar()[1]:02d}"
    code, report, output = run_cli.json("-w", traded, "report", "--weekly", "--week", label, "--json")
    assert code == 0, output
    assert report["ok"] is True and report["verdict"].startswith("the exchange's trades and the ledger agree")
    s = report["summary"]
    assert s["venue_trades"] == s["matched"] == len(mine) > 0 and s["ledger_fills"] == len(mine)
    assert s["missing_from_ledger"] == s["unknown_to_venue"] == s["fee_differences"] == s["other_differences"] == 0
    assert sorted(r["venue_trade"] for r in report["matched"]) == sorted(str(t.id) for t in mine)
    (row,) = report["pnl_by_symbol"]
    assert row["bought"] == pytest.approx(sum(t.qty for t in mine if t.is_buyer))
    assert row["sold"] == pytest.approx(sum(t.qty for t in mine if not t.is_buyer))
    assert row["fees"] == pytest.approx(sum(fee_of(t) for t in mine))
    cash = sum(t.qty * t.price * (-1 if t.is_buyer else 1) for t in mine) - sum(fee_of(t) for t in mine)
    assert row["venue_cash_flow"] == pytest.approx(cash)
    assert row["ledger_trades"] == len(trips) and row["ledger_net_pnl"] == pytest.approx(sum(r["net"] for r in trips))
    # page by page: a few trades a request (more than share one millisecond) give the same list as the whole week
    from livegate.adapters.exchange import history
    from livegate.services.mode_switch import exchange_config, venue_client

    client = venue_client(Workspace(traded), exchange_config(Workspace(traded)))
    symbols = Workspace(traded).effective.config.exchange.symbols
    page = max(Counter(t.time for t in mine).values()) + 1
    assert len(mine) > 2 * page
    monkeypatch.setattr(history, "PAGE", page)
    paged = history.account_trades(client, symbols, start, start + 7 * DAY_MS)
    assert [(t["id"], t["amount"], t["price"], t["fee_cost"]) for t in paged] == [(str(t.id), t.qty, t.price, fee_of(t)) for t in mine]
    md = (traded / "reports" / f"weekly-{label}.md").read_text()
    assert "the exchange's trades and the ledger agree" in md and "## P&L by symbol" in md
    same = run_cli("-w", traded, "report", "--weekly", "--date", (week + timedelta(days=3)).isoformat())
    assert same.exit_code == 0 and f"Weekly reconciliation {label}" in same.output
    assert [p["headline"]["matched"] for _, p in ledger_events(traded, "weekly_report")] == [len(mine)] * 2


def record_with(root, event_id: int, change) -> str:
    """Event `event_id`'s stored record with its payload (the last field) changed by `change`."""
    conn = sqlite3.connect(root / ".livegate" / "ledger.db")
    try:
        (record,) = conn.execute("SELECT record FROM events WHERE id = ?", (event_id,)).fetchone()
    finally:
        conn.close()
    head, _, payload = record.rpartition("\x1f")
    return f"{head}\x1f{json.dumps(change(json.loads(payload)))}"


def _drop_triggers(conn) -> None:
    conn.execute("DROP TRIGGER events_append_only_delete")
    conn.execute("DROP TRIGGER events_append_only_update")


def test_a_trade_made_outside_livegate_is_a_mismatch(traded, sandbox, run_cli):
    from livegate.adapters.exchange.client import build_exchange

    symbol = Workspace(traded).effective.config.exchange.symbols[0]
    client = build_exchange("binance", testnet=False, base_url=Workspace(traded).effective.config.exchange.base_url,
                            api_key=env_value(traded, "EXCHANGE_API_KEY"), secret=env_value(traded, "EXCHANGE_API_SECRET"))
    client.load_markets()
    order = client.create_order(symbol, "market", "buy", None, None, {"quoteOrderQty": 6})  # straight to the venue, same key
    outside = [t for t in venue_trades(sandbox, traded) if str(t.order_id) == str(order["id"])]
    assert outside and len({utc_day(t.time) for t in outside}) == 1
    week = periodic.week_start_of(utc_day(outside[0].time))
    code, report, output = run_cli.json("-w", traded, "report", "--weekly", "--date", utc_day(outside[0].time).isoformat(), "--json")
    assert code == 1, output
    assert report["ok"] is False and report["verdict"] == f"MISMATCH: {len(outside)} exchange trades missing from the ledger"
    assert [(r["venue_trade"], r["amount"], r["price"]) for r in report["missing_from_ledger"]] == [
        (str(t.id), pytest.approx(t.qty), pytest.approx(t.price)) for t in outside]
    assert "MISMATCH" in (traded / "reports" / f"weekly-{periodic.week_label(week)}.md").read_text()
    receiver = LocalReceiver()
    try:
        send_to(traded, receiver.url())
        text = run_cli("-w", traded, "report", "--weekly", "--date", utc_day(outside[0].time).isoformat(), "--send")
        assert text.exit_code == 1 and "MISMATCH" in text.output and "sent to desk: delivered" in text.output
        [sent] = receiver.requests
    finally:
        receiver.close()
    assert sent["body"]["title"].startswith("[WARNING]") and "MISMATCH" in sent["body"]["title"]
    assert f"missing from ledger: {len(outside)}" in sent["body"]["message"]


def test_a_ledger_missing_a_fill_or_holding_a_wrong_one_is_a_mismatch(traded, sandbox, tmp_path):
    trades = venue_trades(sandbox, traded)
    week = periodic.week_start_of(utc_day(trades[0].time))
    client_ws = Workspace(traded)
    from livegate.services.mode_switch import exchange_config, venue_client

    client = venue_client(client_ws, exchange_config(client_ws))
    fills = ledger_events(traded, "venue_fill")
    (gone_id, gone), (fee_id, _) = fills[0], fills[1]

    def copy(name, *statements) -> Workspace:
        root = shutil.copytree(traded, tmp_path / name)
        conn = sqlite3.connect(root / ".livegate" / "ledger.db")
        _drop_triggers(conn)
        for sql, args in statements:
            conn.execute(sql, args)
        conn.commit()
        conn.close()
        return Workspace(root)

    missing = periodic.weekly_report(copy("missing", ("DELETE FROM events WHERE id = ?", (gone_id,))), week, client)
    assert missing["ok"] is False and [r["venue_trade"] for r in missing["missing_from_ledger"]] == [gone["venue_trade"]]
    assert missing["summary"]["matched"] == len(fills) - 1

    fee_record = record_with(traded, fee_id, lambda p: {**p, "fee_cost": p["fee_cost"] + 0.01})
    fee = periodic.weekly_report(copy("fee", ("UPDATE events SET record = ? WHERE id = ?", (fee_record, fee_id))), week, client)
    assert fee["ok"] is False and len(fee["fee_differences"]) == 1
    assert fee["fee_differences"][0]["difference"] == pytest.approx(0.01)

    invented = record_with(traded, fills[-1][0], lambda p: {**p, "venue_trade": "999999999", "order_id": "not-at-the-venue"})
    unknown = periodic.weekly_report(copy("unknown", ("INSERT INTO events (id, record, hash) VALUES (?, ?, ?)", (10**9, invented, "x"))),
                                     week, client)
    assert unknown["ok"] is False and [r["venue_trade"] for r in unknown["unknown_to_venue"]] == ["999999999"]
    assert unknown["verdict"] == "MISMATCH: 1 ledger fills the exchange does not know"


@pytest.mark.parametrize(("args", "message"), [
    (["--daily", "--date", "2026-02-30"], "--date must be a date as YYYY-MM-DD"),
    (["--weekly", "--week", "2026-W60"], "--week must be an ISO week as YYYY-Www"),
    (["--daily", "--weekly"], "give one of --daily or --weekly"),
    (["--daily", "--week", "2026-W01"], "--week goes with --weekly"),
    (["--weekly", "--week", "2026-W01", "--date", "2026-01-01"], "give one of --week or --date"),
    (["--daily", "--html", "r.html"], "--html cannot be combined with --daily"),
    (["--daily", "--send"], "--send: no alert destination is configured"),
    (["--weekly"], "no exchange credentials"),
    (["--date", "2026-01-01", "--format", "json"], "--date, --week and --send go with --daily or --weekly"),
])
def test_bad_input_is_one_message_and_writes_nothing(workspace, run_cli, args, message):
    before = len(ledger_events(workspace, "daily_report")) + len(ledger_events(workspace, "weekly_report"))
    result = run_cli("-w", workspace, "report", *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output
    assert not (workspace / "reports").exists()
    assert len(ledger_events(workspace, "daily_report")) + len(ledger_events(workspace, "weekly_report")) == before


def test_a_day_without_trading_is_an_empty_summary_sent_as_info(workspace, run_cli):
    receiver = LocalReceiver()
    try:
        send_to(workspace, receiver.url())
        code, report, output = run_cli.json("-w", workspace, "report", "--daily", "--date", "2026-03-02", "--send", "--json")
        [sent] = receiver.requests
    finally:
        receiver.close()
    assert code == 0, output
    assert report["summary"]["trades"] == 0 and report["summary"]["win_rate_pct"] is None and report["trades"] == []
    assert report["from"] == "2026-03-02T00:00:00Z" and report["until"] == "2026-03-03T00:00:00Z"
    assert [r["delivered"] for r in report["sent"]] == [True]
    assert sent["body"]["title"].startswith("[INFO]") and "daily summary 2026-03-02: 0 trades" in sent["body"]["title"]
    [(event_id, recorded)] = ledger_events(workspace, "daily_report")
    assert event_id == report["written"]["event"] and recorded["period"] == "2026-03-02"


def test_a_killed_stage_shows_its_alerts_trips_and_halt_on_the_day_they_were_recorded(make_live_ws, sandbox, operator_key, run_cli):
    root = make_live_ws(risk={"max_single_trade_loss": 0.0001}, thresholds={"unexpected_loss_usd": 0})
    outcome = LiveRunner(Workspace(root), "4.1a", operator_key, live_options(sandbox, max_seconds=3600)).run()
    assert outcome.status == "killed"
    conn = sqlite3.connect(root / ".livegate" / "ledger.db")
    try:
        rows = conn.execute("SELECT id, ts, kind, payload FROM events WHERE kind IN ('alert', 'alert_sent', 'alert_failed', "
                            "'trading_halted', 'breaker_trip') ORDER BY id").fetchall()
    finally:
        conn.close()
    halted = [(ts, json.loads(p)) for _, ts, kind, p in rows if kind == "trading_halted"]
    assert halted
    day = datetime.fromisoformat(halted[-1][0]).date()
    on_day = [(i, kind, json.loads(p)) for i, ts, kind, p in rows if datetime.fromisoformat(ts).date() == day]
    code, report, output = run_cli.json("-w", root, "report", "--daily", "--date", day.isoformat(), "--json")
    assert code == 0, output
    s = report["summary"]
    raised = [p for _, kind, p in on_day if kind == "alert"]
    sent_ids = {p["alert_id"] for _, kind, p in on_day if kind in ("alert_sent", "alert_failed")}
    assert raised and s["alerts"] == len(raised) + len(sent_ids)
    assert [a["severity"] for a in report["alerts"] if not a["delivered_to"] and not a["failed_to"]] == [p["severity"] for p in raised]
    assert s["halts"] == sum(1 for _, kind, _ in on_day if kind == "trading_halted") >= 1
    assert [h["reason"] for h in report["halts"] if h["what"] == "trading_halted"] == [p.get("reason") for ts, p in halted
                                                                                       if datetime.fromisoformat(ts).date() == day]
    trips = [json.loads(p) for _, _, kind, p in rows if kind == "breaker_trip"]
    trips = [t for t in trips if utc_day(t["at_ms"]) == day]  # a trip counts on the day it happened at the exchange
    assert s["breaker_trips"] == len(trips)
    assert [t["breaker"] for t in report["breaker_trips"]] == [t["breaker"] for t in trips]
