"""`livegate.ledger.queries` on a small hand-written ledger: the questions the rest of livegate
asks, and the watched connection the halt check reads before every order."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from livegate.core.errors import LedgerError
from livegate.ledger import queries
from livegate.ledger.store import Ledger


@pytest.fixture
def path(tmp_path) -> Path:
    path = tmp_path / "ledger.db"
    Ledger.create(path)  # event 1: ledger_created
    return path


def add(path: Path, *items: tuple[str, dict]) -> list[int]:
    with Ledger.open(path) as ledger:
        return [e.id for e in ledger.append_many(list(items))]


def test_reading_is_read_only_and_closed_after_the_block(path):
    with queries.reading(path) as conn:
        assert queries.count_kind(conn, "ledger_created") == 1
        with pytest.raises(Exception, match="readonly"):
            conn.execute("INSERT INTO events (id, record, hash) VALUES (99, 'x', 'y')")
    with pytest.raises(Exception, match="closed"):
        conn.execute("SELECT 1")
    with pytest.raises(LedgerError, match="no ledger"):
        with queries.reading(path.with_name("missing.db")):
            pass


def test_shared_reads_use_one_connection_that_sees_new_events_and_is_closed_after(path, tmp_path):
    other = tmp_path / "other.db"
    Ledger.create(other)
    with queries.shared_reads(path):
        with queries.reading(path) as first, queries.reading(path) as second:
            assert first is second
            before = queries.count_kind(first, "drill")
        add(path, ("drill", {"n": 1}))  # written meanwhile: the next read sees it (no snapshot held)
        with queries.reading(path) as conn:
            assert conn is first and queries.count_kind(conn, "drill") == before + 1
        with queries.reading(other) as own:  # another ledger: a connection of its own
            assert own is not first
    with pytest.raises(Exception, match="closed"):
        first.execute("SELECT 1")
    with queries.shared_reads(path.with_name("missing.db")):  # nothing to share: each read reports it, as without
        with pytest.raises(LedgerError, match="no ledger"):
            with queries.reading(path.with_name("missing.db")):
                pass


def test_events_newest_first_limited_and_the_latest(path):
    ids = add(path, ("a", {"n": 1}), ("b", {"n": 2}), ("a", {"n": 3}))
    with queries.reading(path) as conn:
        assert [e["payload"]["n"] for e in queries.events(conn, ("a", "b"))] == [1, 2, 3]
        assert [e["id"] for e in queries.events(conn, ("a",), limit=1, descending=True)] == [ids[2]]
        assert queries.latest_event(conn, ("b",))["payload"] == {"n": 2}
        assert queries.latest_event(conn, ("nothing",)) is None
        assert queries.latest_of_kind(conn, "a")["id"] == ids[2]
        assert queries.event_by_id(conn, ids[1])["payload"] == {"n": 2}
        assert queries.event_by_id(conn, ids[1], "a") is None  # not of that kind
        assert queries.event_ids(conn, ("a", "b")) == [(ids[0], "a"), (ids[1], "b"), (ids[2], "a")]
        assert queries.head(conn)["last_event_id"] == queries.head_id(conn) == ids[2]
    assert queries.count_events(path, "a") == 2


def test_latest_with_matches_every_field(path):
    first, _, _ = add(path, ("attestation", {"exchange": "x", "key": "k1"}), ("attestation", {"exchange": "y", "key": "k1"}),
                      ("attestation", {"exchange": "x", "key": "k2"}))
    with queries.reading(path) as conn:
        assert queries.latest_with(conn, "attestation", {"exchange": "x", "key": "k1"})["id"] == first
        assert queries.latest_with(conn, "attestation", {"exchange": "z"}) is None


def test_the_events_of_a_run(path):
    start, *_ = add(path, ("paper_run_started", {}), ("fill", {"run": "r2", "q": 1}), ("fill", {"run": "r9", "q": 2}),
                    ("order_blocked", {"run": "r2", "blocks": [["cap", "too big"]]}),
                    ("order_blocked", {"run": "r2", "blocks": [["cap", "too big"]]}),
                    ("order_blocked", {"run": "r2", "blocks": [["halt", "halted"]]}),
                    ("breaker_trip", {"run": "r2", "breaker": "daily_loss"}),
                    ("paper_checkpoint", {"run": "r2", "state": 1}), ("paper_checkpoint", {"run": "r2", "state": 2}))
    with queries.reading(path) as conn:
        assert [e["payload"]["q"] for e in queries.events_of_run(conn, "r2", ("fill",))] == [1]
        assert queries.events_of_run(conn, "r2", ()) == []  # no kinds asked: none (every kind is None)
        assert [e["kind"] for e in queries.events_of_run(conn, "r2")][:2] == ["fill", "order_blocked"]
        assert set(queries.events_of_run(conn, "r2", since_id=start)[0]) == {"id", "ts", "kind", "payload"}
        assert queries.events_of_run(conn, "r2", since_id=start + 100) == []
        assert queries.run_kind_counts(conn, "r2") == {"breaker_trip": 1, "fill": 1, "order_blocked": 3, "paper_checkpoint": 2}
        assert queries.run_kind_counts(conn, "r2", since_id=start + 100) == {}
        assert list(queries.blocked_by_rule(conn, "r2").items()) == [("cap", 2), ("halt", 1)]
        assert queries.breaker_trips(conn, "r2") == ["daily_loss"]
        assert queries.latest_in_run(conn, "r2", "paper_checkpoint")["payload"]["state"] == 2
        assert queries.latest_in_run(conn, "r9", "paper_checkpoint") is None
        assert not queries.result_recorded_for_run(conn, "r2")
    add(path, ("phase_result", {"step": "paper", "kind": "phase", "summary": {"run": "r2"}}))
    with queries.reading(path) as conn:
        assert queries.result_recorded_for_run(conn, "r2")


def test_live_trades_closed_within_the_bounds(path):
    add(path, *[("trade", {"run": run, "closed_ms": ms}) for run, ms in (("lgl5", 99), ("lgl5", 100), ("r7", 150), ("lgl8", 200), ("lgl8", 201))])
    with queries.reading(path) as conn:
        assert [(t["run"], t["closed_ms"]) for t in queries.live_trades_closed_between(conn, 100, 200)] == [("lgl5", 100), ("lgl8", 200)]


def test_results_sign_offs_and_the_stage_in_progress(path):
    _, env2, stray, _, bt2 = add(path, ("phase_result", {"step": "env", "kind": "phase", "verdict": "fail"}),
                                  ("phase_result", {"step": "env", "kind": "phase", "verdict": "pass"}),
                                  ("signoff", {"step": "env", "result_event": 0}),  # signs no result of env
                                  ("phase_result", {"step": "paper", "kind": "backtest", "summary": {"n": 1}}),
                                  ("phase_result", {"step": "paper", "kind": "backtest", "summary": {"n": 2}}))
    with queries.reading(path) as conn:
        [(result, signoff)] = queries.latest_result_per_step(conn).values()
        assert result["id"] == env2 and signoff is None
    so, paper, stage = add(path, ("signoff", {"step": "env", "result_event": env2}),
                           ("phase_result", {"step": "paper", "kind": "phase", "verdict": "pass"}),
                           ("stage_started", {"stage": "4.1a", "config_fingerprint": "f"}))
    with queries.reading(path) as conn:
        per_step = queries.latest_result_per_step(conn)
        assert per_step["env"][1]["id"] == so
        assert per_step["paper"][0]["id"] == paper and per_step["paper"][1] is None
        assert {k: e["id"] for k, e in queries.latest_results(conn).items()} == {("env", "phase"): env2, ("paper", "backtest"): bt2,
                                                                                   ("paper", "phase"): paper}
        assert queries.latest_result(conn, "env")["id"] == env2 and queries.latest_result(conn, "testnet") is None
        assert [p["summary"]["n"] for p in queries.result_payloads(conn, "backtest")] == [1, 2]
        assert sorted(queries.research_result_counts(conn)) == [("paper", "backtest", 2)]
        assert [e["id"] for e in queries.signoffs(conn)] == [stray, so]
        assert queries.signed_result(conn, "env")["verdict"] == "pass" and queries.signed_result(conn, "paper") is None
        assert queries.stage_in_progress(conn, "4.1a") == {"stage": "4.1a", "config_fingerprint": "f", "event": stage}
    add(path, ("phase_result", {"step": "4.1a", "kind": "phase"}))
    with queries.reading(path) as conn:
        assert queries.stage_in_progress(conn, "4.1a") is None  # its result is recorded: finished


def test_the_stress_result_of_a_key(path):
    add(path, ("stress_result", {"key": "k", "result": 1}), ("stress_result", {"key": "other", "result": 2}),
        ("stress_result", {"key": "k", "result": 3}))
    with queries.reading(path) as conn:
        assert queries.latest_stress_result(conn, "k")["result"] == 3
        assert queries.latest_stress_result(conn, "none") is None


def test_a_watched_ledger_is_re_read_only_when_its_head_moved(path):
    calls = []

    def read(conn):
        calls.append(1)
        return queries.latest_event(conn, ("halt",))

    view = queries.watched(path.parent, lambda: path)
    assert view.derived(read) is None and view.derived(read) is None
    assert len(calls) == 1  # nothing appended: the cached answer
    add(path, ("halt", {"reason": "x"}))  # another connection writes
    assert view.derived(read)["payload"] == {"reason": "x"} and len(calls) == 2
    assert queries.watched(path.parent, lambda: pytest.fail("an open view is reused")) is view


def test_a_watched_ledger_is_per_thread_and_reopened_when_the_file_is_replaced(path, tmp_path):
    view = queries.watched(tmp_path, lambda: path)
    others = []
    thread = threading.Thread(target=lambda: others.append(queries.watched(tmp_path, lambda: path)))
    thread.start()
    thread.join()
    assert others[0] is not view  # a thread never shares a connection
    replacement = tmp_path / "new.db"
    Ledger.create(replacement)
    add(replacement, ("halt", {"reason": "in the new file"}))
    replacement.replace(path)
    reopened = queries.watched(tmp_path, lambda: path)
    assert reopened is not view
    assert reopened.derived(lambda conn: queries.latest_event(conn, ("halt",)))["payload"]["reason"] == "in the new file"


def test_locked_reads_and_appends_in_one_write_transaction(path):
    with Ledger.open(path) as ledger, ledger.locked():
        assert ledger.conn.in_transaction
        number = queries.count_kind(ledger.conn, "approval_requested") + 1
        ledger.append("approval_requested", {"id": f"A-{number}"})
        with pytest.raises(Exception, match="locked"):  # another writer waits for the lock
            with Ledger.open(path) as other:
                other.db.conn.execute("PRAGMA busy_timeout = 0")
                other.append("x", {})
    assert queries.count_events(path, "approval_requested") == 1 and queries.count_events(path, "x") == 0
