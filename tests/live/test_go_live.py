"""go-live against the accelerated local exchange: real ccxt, real orders, the stage's cap in
quote value, the gate between stages, resume, halts and kill criteria."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

from freezegun import freeze_time

from livegate.config.workspace import Workspace
from livegate.phases.microlive.runner import LiveRunner
from tests.live.conftest import live_options


def events(root, kind):
    conn = sqlite3.connect(root / ".livegate" / "ledger.db")
    try:
        return [(i, json.loads(p)) for i, p in conn.execute("SELECT id, payload FROM events WHERE kind = ? ORDER BY id", (kind,))]
    finally:
        conn.close()


def venue_client_ids(sandbox, root) -> set[str]:
    """The client order ids of every order the venue holds for this workspace's key (any state)."""
    api_key = next(line.split("=", 1)[1] for line in (root / ".env").read_text().splitlines()
                   if line.startswith("EXCHANGE_API_KEY="))

    def read():
        account = sandbox.venue.account_of(sandbox.venue.keys[api_key])
        return {o.client_id for o in account.orders.values()}

    return sandbox._on_loop(read)


def run(root, sandbox, key, stage="4.1a", **options):
    return LiveRunner(Workspace(root), stage, key, live_options(sandbox, **options)).run()


def test_a_stage_runs_to_completion_passes_and_opens_the_next(live_ws, sandbox, operator_key, run_cli):
    from livegate.phases import run_phase
    from livegate.phases.microlive.plugin import PHASE

    outcome = run(live_ws, sandbox, operator_key, max_seconds=3600)
    assert outcome.status == "completed", outcome.reason
    m = outcome.measures
    assert m["min_successful_trades"] >= 2 and 0 < m["max_trade_value"] <= 10 and m["limits_enforced"]
    result = run_phase(PHASE, Workspace(live_ws), step="4.1a", extras={"measures": m}, key=operator_key)
    assert result.passed, [c.to_dict() for c in result.checks if c.verdict.value != "pass"]
    sent = [p["client_id"] for _, p in events(live_ws, "order_sending")]
    assert len(sent) == len(set(sent))
    skipped = run_cli("-w", live_ws, "go-live", "--stage", "4.1c", "--yes")
    assert skipped.exit_code == 3 and "4.1b" in skipped.output  # stages open in order
    assert run_cli("-w", live_ws, "signoff", "4.1a", "--by", "Ann", "--yes").exit_code == 0


def test_orders_above_the_stage_cap_are_refused_in_quote_value(make_live_ws, sandbox, operator_key):
    root = make_live_ws(value=12.0)  # $12 > the $10 of stage 4.1a (and MAX_TRADE_AMOUNT 10)
    outcome = run(root, sandbox, operator_key, max_seconds=120)
    assert outcome.status == "paused" and outcome.measures["orders"] == 0
    blocked = [p for _, p in events(root, "order_blocked")]
    assert blocked and all({"stage_cap", "max_trade_amount"} <= {b[0] for b in p["blocks"]} for p in blocked)
    assert "refused, not resized" in blocked[0]["blocks"][0][1]


def test_a_stopped_stage_resumes_with_its_start_and_orders(make_live_ws, sandbox, operator_key):
    # half an hour of market time (3 s at the fast sandbox's speed): a run cut at 150 market seconds
    # cannot reach it in one loop turn on a busy machine
    live_ws = make_live_ws(stage={"min_duration_hours": 0.5, "min_successful_trades": 2})
    first = run(live_ws, sandbox, operator_key, max_seconds=150)
    assert first.status == "paused"
    second = run(live_ws, sandbox, operator_key, max_seconds=3600)
    assert second.run == first.run and second.status == "completed"
    assert len(events(live_ws, "stage_started")) == 1
    sent = [p["client_id"] for _, p in events(live_ws, "order_sending")]
    assert len(sent) == len(set(sent))


HALTER = """
import sys
from livegate.cli import main
from livegate.cli import control_cmds  # noqa: F401 - imported before the signal
print("ready", flush=True)
sys.stdin.readline()
sys.argv = ["livegate", "-w", sys.argv[1], "halt", "--reason", "operator test"]
main()
"""


def test_a_halt_from_another_process_stops_the_loop_before_its_next_order(live_ws, sandbox, operator_key):
    outcome = {}
    options = dict(max_seconds=10 ** 6)

    def go():
        outcome["value"] = run(live_ws, sandbox, operator_key, **options)

    # The other process is started (and has imported livegate) before the loop runs, then pulls
    # the kill switch the moment the first order is journaled: the interpreter's start-up time
    # must not decide whether the halt lands before the stage completes.
    halter = subprocess.Popen([sys.executable, "-c", HALTER, str(live_ws)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert halter.stdout.readline().strip() == "ready"
    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not events(live_ws, "order_sending") and time.time() < deadline:
        time.sleep(0.02)
    _, stderr = halter.communicate("halt\n", timeout=30)
    assert halter.returncode == 0, stderr
    t0 = time.perf_counter()
    thread.join(timeout=5)
    stopped_in = time.perf_counter() - t0
    assert outcome["value"].status == "halted" and stopped_in < 1.0
    halted_at = events(live_ws, "trading_halted")[-1][0]
    not_sent = {p["client_id"] for _, p in events(live_ws, "order_not_sent")}
    late = [p["client_id"] for i, p in events(live_ws, "order_sending") if i > halted_at]
    assert set(late) <= not_sent  # journaled after the halt: stopped before it left
    acked = {p["client_id"] for _, p in events(live_ws, "order_acknowledged")}
    assert not (acked & not_sent)


def test_a_kill_criterion_halts_alerts_and_fails(make_live_ws, sandbox, operator_key):
    from livegate.services import modes

    root = make_live_ws(risk={"max_single_trade_loss": 0.0001}, thresholds={"unexpected_loss_usd": 0})
    outcome = run(root, sandbox, operator_key, max_seconds=3600)
    assert outcome.status == "killed" and "unexpected loss" in outcome.reason
    assert modes.halted_reason(Workspace(root)) is not None
    assert [p["severity"] for _, p in events(root, "alert")] == ["critical"]


def test_the_duration_is_measured_on_the_ledger_clock(live_ws, sandbox, operator_key):
    from livegate.phases.microlive.runner import stage_status

    ws = Workspace(live_ws)
    started = run(live_ws, sandbox, operator_key, max_seconds=30)
    assert started.status == "paused"
    start_ms = events(live_ws, "stage_started")[0][1]["started_ms"]
    def at(hours):
        return datetime.fromtimestamp((start_ms + hours * 3_600_000) / 1000, tz=UTC)

    from livegate.core.protocol import Criterion
    from livegate.phases import Measurement, evaluate

    seed_rule = Criterion("min_duration_hours", "hours at the stage", ">=", 24)  # 4.1a: 24 h (seed 000 §4.1)
    with freeze_time(at(23)):
        status = stage_status(ws, "4.1a")
    assert status["min_duration_hours"] == 23.0
    assert evaluate(seed_rule, Measurement(status["min_duration_hours"])).verdict.value == "fail"
    with freeze_time(at(24)):
        status = stage_status(ws, "4.1a")
    assert evaluate(seed_rule, Measurement(status["min_duration_hours"])).verdict.value == "pass"


def test_going_live_needs_the_live_mode_and_flags(live_ws, sandbox, operator_key, run_cli):
    from livegate.services import mode_switch

    env = live_ws / ".env"
    env.write_text(env.read_text().replace("PAPER_MODE=false", "PAPER_MODE=true"))
    result = run_cli("-w", live_ws, "go-live", "--stage", "4.1a", "--yes")
    assert result.exit_code == 2 and "PAPER_MODE is not false" in result.output
    mode_switch.set_mode(Workspace(live_ws), "PAPER", "back", by="Ann", key=operator_key)
    result = run_cli("-w", live_ws, "go-live", "--stage", "4.1a", "--yes")
    assert result.exit_code == 2 and "trading mode is PAPER" in result.output


def test_a_stage_whose_every_order_is_refused_stops_as_stalled_and_fails(make_live_ws, sandbox, operator_key):
    from livegate.phases.microlive.runner import go_live
    from livegate.phases.microlive.stage import STALL_BARS

    root = make_live_ws(value=12.0)  # every buy is above the $10 cap: refused on every bar, for ever
    outcome, result = go_live(Workspace(root), "4.1a", operator_key, live_options(sandbox, max_seconds=3 * 3600))
    assert outcome.status == "stalled" and f"{STALL_BARS} bars in a row" in outcome.reason
    assert "stage_cap" in outcome.reason and outcome.measures["orders"] == 0
    assert result is not None and not result.passed  # recorded as the stage's (failing) result
    stopped = [p for _, p in events(root, "live_stopped")]
    assert stopped[-1]["stall"]["bars"] == STALL_BARS and stopped[-1]["canceled"] == []
    assert any("stalled" in p["message"] for _, p in events(root, "alert"))


def test_a_slow_venue_in_go_live_trips_the_latency_breaker_and_no_order_follows(make_live_ws, sandbox, operator_key):
    root = make_live_ws(stage={"min_duration_hours": 10, "min_successful_trades": 1000},
                        risk={"consecutive_losses_halt": 1000, "max_trades_per_hour": 100, "max_trades_per_day": 1000,
                              "min_seconds_between_trades": 0},
                        breakers={"api_window": 10, "api_latency_seconds": 0.2})
    first = run(root, sandbox, operator_key, max_seconds=300)  # a healthy venue: it trades
    assert first.status == "paused" and first.measures["orders"] > 0
    sandbox.set_fault(latency_ms=300)  # every answer of the venue now takes 0.3 s
    try:
        second = run(root, sandbox, operator_key, max_seconds=1200)
    finally:
        sandbox.clear_faults()
    assert second.status == "paused"
    trips = [(i, p) for i, p in events(root, "breaker_trip") if p["breaker"] == "api_latency"]
    assert trips, "the venue's latency in go-live never reached the API latency breaker"
    tripped_at = trips[0][0]
    assert trips[0][1]["value"] >= 0.3
    # nothing left once it tripped: an order already journaled when the trip came (its quote was
    # the call that tripped it) is stopped right before it leaves — the venue never saw it
    late = {p["client_id"] for i, p in events(root, "order_sending") if i > tripped_at}
    assert late <= {p["client_id"] for i, p in events(root, "order_not_sent") if "circuit breaker" in p["reason"]}
    assert not late & venue_client_ids(sandbox, root)
    assert [p for i, p in events(root, "order_blocked") if i > tripped_at and any(
        b[0] == "breaker:api_latency" for b in p["blocks"])]


def test_with_half_of_every_order_filled_the_stage_ends_by_itself_with_its_dust_recorded(make_live_ws, sandbox, operator_key):
    from livegate.phases.microlive.runner import go_live

    root = make_live_ws(stage={"min_duration_hours": 0.5, "min_successful_trades": 3},
                        risk={"consecutive_losses_halt": 1000, "max_trades_per_hour": 100, "max_trades_per_day": 1000,
                              "min_seconds_between_trades": 0})
    api_key = next(line.split("=", 1)[1] for line in (root / ".env").read_text().splitlines()
                   if line.startswith("EXCHANGE_API_KEY="))
    sandbox.set_fault(api_key, partial_fill=0.5)  # the venue fills half of each order, the rest expires
    try:
        outcome, result = go_live(Workspace(root), "4.1a", operator_key, live_options(sandbox, max_seconds=24 * 3600))
    finally:
        sandbox.clear_faults(api_key)
    assert outcome.status in ("completed", "stalled"), outcome.reason  # never wedged until the time limit
    assert result is not None  # a verdict, pass or fail
    m = outcome.measures
    assert m["fills"] >= m["orders_filled"] > 0 and m["closed_trades"] >= 1
    dust = [p for _, p in events(root, "dust")]
    assert dust and m["dust"] and all(p["value"] < p["min_notional"] for p in dust)
    notional = [p for _, p in events(root, "order_blocked") if any(b[0] == "NOTIONAL" for b in p["blocks"])]
    assert len(notional) < 30, "a holding too small to sell kept the strategy asking: the dust was not set aside"
