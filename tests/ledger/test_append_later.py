"""Events kept for the next write (what follows an order's answer on the bot gateway's path)
land in order, before anything appended after them, and are never dropped."""

from __future__ import annotations

import json
import sqlite3

from livegate.ledger.journal import WriteThroughJournal
from livegate.ledger.store import Ledger
from livegate.ledger.verify import verify_ledger


def _kinds(path):
    conn = sqlite3.connect(path)
    try:
        return [(k, json.loads(p).get("n")) for k, p in conn.execute("SELECT kind, payload FROM events WHERE kind != 'ledger_created' ORDER BY id")]
    finally:
        conn.close()


def _intact(path) -> bool:
    conn = sqlite3.connect(path)
    try:
        return verify_ledger(conn).ok
    finally:
        conn.close()


def test_events_kept_for_later_go_in_before_a_later_append_and_at_close(tmp_path):
    path = tmp_path / "ledger.db"
    Ledger.create(path)
    ledger = Ledger.open(path)
    written: list = []
    ledger.append_later([("after_answer", {"n": 1}), ("after_answer", {"n": 2})], on_written=written.extend)
    ledger.append("before_send", {"n": 3})  # whatever waited is written first, in the same transaction
    for n in range(4, 40):
        ledger.append_later([("after_answer", {"n": n})])
    ledger.close()  # writes what still waits
    assert _kinds(path) == [("after_answer", 1), ("after_answer", 2), ("before_send", 3)] + [("after_answer", n) for n in range(4, 40)]
    assert [e.payload["n"] for e in written] == [1, 2]
    assert _intact(path)


def test_a_grouped_journal_answers_first_and_its_events_land_in_order(tmp_path):
    path = tmp_path / "ledger.db"
    Ledger.create(path)
    kept: list = []
    with Ledger.open(path) as ledger:
        journal = WriteThroughJournal(ledger, "r", kept=kept)
        for n in range(0, 60, 3):
            with journal.grouped(wait_at_end=False):
                journal.emit("order_sending", {"n": n})
                journal.flush()  # what precedes an order is on disk before it leaves
                assert ("order_sending", n) in _kinds(path)
                journal.emit("order_acknowledged", {"n": n + 1})
                journal.emit("fill", {"n": n + 2})
        journal.emit("checkpoint", {"n": 60})  # written through: after every event emitted before it
    assert _kinds(path) == [(k, n + i) for n in range(0, 60, 3) for i, k in enumerate(("order_sending", "order_acknowledged", "fill"))] + [
        ("checkpoint", 60)]
    assert [p["n"] for _, p in kept] == list(range(61)) and journal.count == 61
    assert _intact(path)


def test_a_secret_set_after_a_first_append_is_still_masked(tmp_path, monkeypatch):
    path = tmp_path / "ledger.db"
    Ledger.create(path)
    monkeypatch.setenv("EXCHANGE_API_SECRET", "first-secret-value-1")
    with Ledger.open(path) as ledger:
        ledger.append("note", {"text": "first-secret-value-1"})
        monkeypatch.setenv("EXCHANGE_API_SECRET", "other-secret-value-2")  # same name, same length: a new value
        ledger.append("note", {"text": "the key is now other-secret-value-2"})
    raw = path.read_bytes() + (path.with_name(path.name + "-wal").read_bytes() if path.with_name(path.name + "-wal").exists() else b"")
    assert b"other-secret-value-2" not in raw and b"first-secret-value-1" not in raw
