"""A forward paper run on a clock: seven days driven by freezegun, with the env gate,
checkpoints after every bar, an outage that is retried, and the result counted."""

from __future__ import annotations

import pytest
from freezegun import freeze_time

from livegate.config.workspace import Workspace
from livegate.core.errors import GateClosed, VenueUnreachable
from livegate.ledger.keys import load_private
from livegate.phases.paper.run import FORWARD, PaperRunner, RunPlan, run_counts, run_events, unfinished_run

START = "2024-03-04 00:00:00"  # a Monday


def _runner(ws_root, client, frozen, days=7.0, resume=False):
    plan = RunPlan(FORWARD, days=None if resume else days, resume=resume)
    return PaperRunner(Workspace(ws_root), plan, key=load_private(), client=client,
                       sleep=lambda s: frozen.tick(s), progress=None)


def test_forward_run_needs_env_signed_off(workspace, operator_key, clock_exchange):
    with freeze_time(START) as frozen:
        with pytest.raises(GateClosed):
            _runner(workspace, clock_exchange, frozen).run()


def test_seven_day_forward_run_with_freezegun(forward_workspace, clock_exchange):
    with freeze_time(START) as frozen:
        runner = _runner(forward_workspace, clock_exchange, frozen)
        outcome = runner.run()
        ws = Workspace(forward_workspace)
        # 7 days of 15-minute bars: 672 closed bars (+/- the first, which closed before the start).
        assert 671 <= outcome.bars <= 673
        counts = run_counts(ws, outcome.run_id)["events"]
        assert counts["paper_checkpoint"] >= 670  # a checkpoint after every poll
        assert counts["paper_run_completed"] == 1
        trades = run_events(ws, outcome.run_id, ("trade",))
        fills = run_events(ws, outcome.run_id, ("fill",))
        assert trades and fills
        assert all(f["model"] == "book" for f in fills)  # forward market orders walk the live book
        assert len({f["order_id"] for f in fills}) == len(fills)
        assert unfinished_run(ws) is not None  # completed, but not yet evaluated
    # The evaluation (outside the frozen clock: it does not depend on it) records the paper result.
    from livegate.phases.paper.report import run_report
    from livegate.services.gate import snapshot

    report = run_report(ws, outcome, runner.key, trials=1)
    assert report["kind"] == "forward" and report["counts_as_phase_result"] is True
    assert unfinished_run(ws) is None
    record = snapshot(ws).state.records["paper"]
    assert record.verdict == report["verdict"]


def test_outage_is_retried_then_stops_resumably(forward_workspace, clock_exchange):
    with freeze_time(START) as frozen:
        runner = _runner(forward_workspace, clock_exchange, frozen, days=1)
        clock_exchange.fail_next = 2  # a short outage: retried with backoff, the run goes on
        outcome = runner.run()
        assert outcome.bars > 90
        # A long outage mid-run: clean stop, resumable.
        runner = _runner(forward_workspace, clock_exchange, frozen, days=1)
        orig = clock_exchange.fetch_ohlcv
        calls = {"n": 0}

        def flaky(*a, **k):
            calls["n"] += 1
            if calls["n"] > 20:
                raise ConnectionError("exchange down")
            return orig(*a, **k)

        clock_exchange.fetch_ohlcv = flaky
        with pytest.raises(VenueUnreachable, match="resume"):
            runner.run()
        ws = Workspace(forward_workspace)
        found = unfinished_run(ws)
        assert found is not None
        start, checkpoint = found
        assert checkpoint is not None
        clock_exchange.fetch_ohlcv = orig
        frozen.tick(3600)
        resumed = _runner(forward_workspace, clock_exchange, frozen, resume=True).run()
        assert resumed.run_id == f"r{start['id']}"
        assert run_counts(ws, resumed.run_id)["events"]["paper_run_completed"] == 1
        stopped = run_events(ws, resumed.run_id, ("paper_run_stopped",))
        assert stopped and stopped[0]["resumable"] is True
