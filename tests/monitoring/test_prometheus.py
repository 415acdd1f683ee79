"""Prometheus metrics: `livegate monitor --serve-metrics` scraped over HTTP and parsed by
prometheus_client's own parser; the order latency histogram of a real live stage."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from datetime import datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from livegate.config.workspace import Workspace
from tests.monitoring.conftest import expected_from_trades, ledger_events


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of a text exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_the_endpoint_serves_the_snapshot_and_ctrl_c_exits_0(backtest_ws):
    proc = subprocess.Popen([sys.executable, "-m", "livegate", "-w", str(backtest_ws), "monitor", "--serve-metrics", "0", "--json",
                             "--interval", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stderr.readline().strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics"), url
        first = json.loads(proc.stdout.readline())  # the collector holds a snapshot once the first line is out
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
            text = response.read().decode()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, proc.stderr.read()
    got = samples(text)
    (start_id, start), = ledger_events(backtest_ws, "paper_run_started")
    run = (("run", f"r{start_id}"),)
    want = expected_from_trades([p for _, p in ledger_events(backtest_ws, "trade")], start["capital"])
    assert first["run"]["id"] == f"r{start_id}"
    assert got[("livegate_trades_total", run)] == want["trades"]
    assert got[("livegate_realized_pnl", run)] == pytest.approx(want["realized"])
    assert got[("livegate_equity", run)] == pytest.approx(want["final_equity"])
    assert got[("livegate_win_rate_ratio", run)] == pytest.approx(want["win_rate_pct"] / 100)
    assert got[("livegate_drawdown_ratio", (("kind", "max"),) + run)] == pytest.approx(want["max_drawdown_pct"] / 100)
    assert got[("livegate_drawdown_limit_ratio", (("limit", "breaker"),))] == 0.15
    assert got[("livegate_orders_total", run)] == len(ledger_events(backtest_ws, "order_placed"))
    assert got[("livegate_failures_total", (("kind", "rejected"),) + run)] == 0
    trips = [p["breaker"] for _, p in ledger_events(backtest_ws, "breaker_trip")]
    assert got[("livegate_breaker_trips_total", (("breaker", "consecutive_losses"),) + run)] == trips.count("consecutive_losses") > 0
    assert got[("livegate_breaker_tripped", (("breaker", "total_drawdown"),))] == 0
    assert got[("livegate_mode", (("livegate_mode", "PAPER"),))] == 1 and got[("livegate_mode", (("livegate_mode", "LIVE_MINIMAL"),))] == 0
    assert got[("livegate_halted", ())] == 0
    levels = {"green": 0, "yellow": 1, "red": 2}
    for flag in first["flags"]["rules"]:
        key = ("livegate_flag_level", (("rule", flag["rule"]),))
        assert got.get(key) == levels.get(flag["level"]), flag  # n/a rules are left out
    assert not any(name.startswith("livegate_order_latency_seconds") for name, _ in got)  # nothing timed in a backtest


def test_a_live_stage_has_a_latency_histogram_and_its_kill_shows_red(make_live_ws, sandbox, operator_key):
    from livegate.phases.microlive.runner import LiveRunner
    from livegate.services.monitoring import prom
    from livegate.services.monitoring.snapshot import snapshot
    from tests.live.conftest import live_options

    root = make_live_ws(risk={"max_single_trade_loss": 0.0001}, thresholds={"unexpected_loss_usd": 0})
    outcome = LiveRunner(Workspace(root), "4.1a", operator_key, live_options(sandbox, max_seconds=3600)).run()
    assert outcome.status == "killed"
    snap = snapshot(Workspace(root))
    (stage_id, stage), = ledger_events(root, "stage_started")
    assert snap["run"]["id"] == f"lgl{stage_id}" and snap["run"]["source"] == "live" and snap["run"]["stage"] == "4.1a"
    assert snap["run"]["status"].startswith("killed: kill criteria at stage 4.1a") and snap["run"]["capital"] == stage["capital"]
    acked = [p for _, p in ledger_events(root, "order_acknowledged") if not p.get("recovered")]
    lat = snap["latency"]["order_ack"]
    assert lat["measured"] and lat["count"] == len(acked) > 0 and 0 <= lat["p50_s"] <= lat["max_s"] < 10
    flags = {f["rule"]: f["level"] for f in snap["flags"]["rules"]}
    assert flags["alerts"] == "red" and snap["flags"]["overall"] == "red" and snap["mode"]["halted"]
    assert snap["pnl"]["realized"] == pytest.approx(sum(p["net"] for _, p in ledger_events(root, "trade")))

    collector = prom.SnapshotCollector()
    server, _ = prom.serve(prom.registry(collector), 0)
    try:
        collector.update(snap)
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    hist = families["livegate_order_latency_seconds"]
    assert hist.type == "histogram"
    buckets = [s for s in hist.samples if s.name.endswith("_bucket")]
    counts = [s.value for s in buckets]
    assert counts == sorted(counts) and buckets[-1].labels["le"] == "+Inf" and counts[-1] == len(acked)
    seconds = ack_latencies(root)
    assert len(seconds) == len(acked)
    for bucket in buckets[:-1]:
        assert bucket.value == sum(1 for x in seconds if x <= float(bucket.labels["le"])), bucket
    assert next(s.value for s in hist.samples if s.name.endswith("_count")) == len(seconds)
    assert next(s.value for s in hist.samples if s.name.endswith("_sum")) == pytest.approx(sum(seconds))
    assert next(s.value for s in families["livegate_halted"].samples) == 1
    run_info = next(s for s in families["livegate_run_info"].samples)
    assert run_info.labels["source"] == "live" and run_info.labels["run"] == f"lgl{stage_id}"


def ack_latencies(root) -> list[float]:
    """Seconds between each order's `order_sending` and `order_acknowledged` ledger times."""
    conn = sqlite3.connect(root / ".livegate" / "ledger.db")
    try:
        rows = conn.execute("SELECT kind, ts, payload FROM events WHERE kind IN ('order_sending', 'order_acknowledged') ORDER BY id").fetchall()
    finally:
        conn.close()
    sent, out = {}, []
    for kind, ts, payload in rows:
        p = json.loads(payload)
        when = datetime.fromisoformat(ts).timestamp()
        if kind == "order_sending":
            sent[p["client_id"]] = when
        elif not p.get("recovered"):
            out.append(when - sent[p["client_id"]])
    return out
