"""The ledger through the CLI and the real SQLite file: verify, secrets, export/show, keys, WAL,
concurrent writers."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
from contextlib import closing

import pytest

from livegate.core.errors import KeyMissing
from livegate.ledger.keys import PRIVATE_FILE, key_dir, load_private, load_public
from livegate.ledger.store import Ledger

COLUMNS = ["id", "ts", "kind", "actor", "payload", "prev_hash", "hash"]


def assert_linked(rows):
    """ids 1..n with no gap, and each prev_hash is the hash of the event before it."""
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0][5] == "0" * 64
    for before, after in zip(rows, rows[1:]):
        assert after[5] == before[6]


# --- 1. verification of an honest ledger --------------------------------------------------------


def test_fresh_ledger_verifies(run_cli, workspace):
    result = run_cli("-w", workspace, "ledger", "verify")
    assert result.exit_code == 0, result.output
    assert "Ledger verified: 1 events, hash chain intact, 0 signature(s) valid." in result.output
    report = json.loads(run_cli("-w", workspace, "ledger", "verify", "--json").stdout)
    assert report == {"ok": True, "events": 1, "first_bad_event": None, "problems": [], "notes": [],
                      "signatures_checked": 0, "key_id": None, "unsigned_events": [], "warnings": []}


def test_appended_events_verify_and_signatures_are_counted(append, operator_key, verify, read_events):
    first = append("note", {"text": "alpha"}, key=operator_key)
    append("phase_result", {"step": "env", "kind": "phase", "verdict": "pass"}, key=operator_key)
    signoff = append("signoff", {"step": "env", "by": "Ada", "result_event": 3}, key=operator_key, sign=True, actor="Ada")
    assert (first.id, signoff.id) == (2, 4)
    assert signoff.payload["key_id"] == operator_key.key_id and len(signoff.payload["signature"]) == 128
    code, report, text = verify()
    assert code == 0, text
    assert report["ok"] is True and report["events"] == 4 and report["first_bad_event"] is None
    assert report["signatures_checked"] == 3  # the head, the result (signed when written) and the sign-off
    assert report["key_id"] == operator_key.key_id
    assert "Ledger verified: 4 events, hash chain intact, 3 signature(s) valid." in text
    rows = read_events()
    assert_linked(rows)
    assert rows[3][2:4] == ("signoff", "Ada")


def test_events_appended_without_the_key_verify_with_a_note(append, operator_key, verify):
    append("note", {"n": 1}, key=operator_key)
    append("note", {"n": 2})  # no key loaded: the head keeps its signature over #2
    code, report, text = verify()
    assert code == 0, text
    assert report["signatures_checked"] == 1
    assert any("#3" in note and "without the operator key" in note for note in report["notes"])
    assert "note: events #3" in text


def test_signed_append_needs_a_key(append, read_events):
    from livegate.core.errors import LedgerError

    with pytest.raises(LedgerError, match="no operator key"):
        append("signoff", {"step": "env"}, sign=True)
    assert len(read_events()) == 1


# --- 4. secrets -----------------------------------------------------------------------------------

SECRET = "zQ9-exch-SECRET-4417-vv"
API_KEY_VALUE = "ak-live-5512-abcdef"


def test_secrets_never_reach_the_ledger_or_its_exports(monkeypatch, append, operator_key, run_cli, workspace, ledger_path, read_events):
    monkeypatch.setenv("EXCHANGE_API_SECRET", SECRET)
    event = append("venue_check", {"note": f"connected with {SECRET}", "api_key": API_KEY_VALUE, "nested": {"values": [SECRET, "ok"]}},
                   key=operator_key)
    assert SECRET not in json.dumps(event.payload) and API_KEY_VALUE not in json.dumps(event.payload)

    stored = json.loads(read_events()[-1][4])
    assert stored == {"note": "connected with ***", "api_key": "***", "nested": {"values": ["***", "ok"]}}
    for suffix in ("", "-wal"):  # not even in the database pages
        raw = ledger_path.with_name(ledger_path.name + suffix)
        if raw.exists():
            data = raw.read_bytes()
            assert SECRET.encode() not in data and API_KEY_VALUE.encode() not in data

    def outputs():
        exports = [run_cli("-w", workspace, "ledger", "export", "--format", fmt) for fmt in ("json", "csv")]
        shown = run_cli("-w", workspace, "ledger", "show", "--json")
        for result in (*exports, shown):
            assert result.exit_code == 0, result.output
        return [r.stdout for r in (*exports, shown)]

    texts = outputs()
    # ... and without the variable set (nothing left for output-time masking to catch)
    monkeypatch.delenv("EXCHANGE_API_SECRET")
    texts += outputs()
    for text in texts:
        assert SECRET not in text
        assert API_KEY_VALUE not in text
        assert "connected with ***" in text
    assert run_cli("-w", workspace, "ledger", "verify").exit_code == 0


# --- 5. export and show ---------------------------------------------------------------------------


@pytest.fixture
def four_events(append):
    append("note", {"text": "alpha"})
    append("phase_result", {"step": "env", "kind": "phase", "verdict": "pass"})
    append("note", {"text": "gamma, with a comma and \"quotes\"\nand a newline"})


def test_export_csv(four_events, run_cli, workspace, read_events):
    result = run_cli("-w", workspace, "ledger", "export", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == ",".join(COLUMNS)
    reader = csv.DictReader(io.StringIO(result.stdout))
    assert reader.fieldnames == COLUMNS
    rows = list(reader)
    assert len(rows) == 4
    stored = read_events()
    assert [int(r["id"]) for r in rows] == [1, 2, 3, 4]
    assert [r["hash"] for r in rows] == [s[6] for s in stored]
    assert [r["prev_hash"] for r in rows] == [s[5] for s in stored]
    assert [r["kind"] for r in rows] == ["ledger_created", "note", "phase_result", "note"]
    assert json.loads(rows[3]["payload"]) == {"text": "gamma, with a comma and \"quotes\"\nand a newline"}


def test_export_json(four_events, run_cli, workspace, read_events):
    result = run_cli("-w", workspace, "ledger", "export", "--format", "json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert isinstance(records, list) and len(records) == 4
    assert [r["id"] for r in records] == [1, 2, 3, 4]
    assert all(list(r) == COLUMNS for r in records)
    assert records[2]["payload"] == {"step": "env", "kind": "phase", "verdict": "pass"}
    assert [r["hash"] for r in records] == [s[6] for s in read_events()]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_to_a_file(four_events, run_cli, workspace, tmp_path, fmt):
    target = tmp_path / f"ledger.{fmt}"
    result = run_cli("-w", workspace, "ledger", "export", "--format", fmt, "--output", target)
    assert result.exit_code == 0, result.output
    assert f"Wrote {target}" in result.output
    assert target.is_file() and not target.with_name(target.name + ".partial").exists()
    assert target.read_text(encoding="utf-8") == run_cli("-w", workspace, "ledger", "export", "--format", fmt).stdout


def test_export_filters_by_kind_and_rejects_bad_format(four_events, run_cli, workspace):
    records = json.loads(run_cli("-w", workspace, "ledger", "export", "--kind", "note").stdout)
    assert [r["id"] for r in records] == [2, 4]
    bad = run_cli("-w", workspace, "ledger", "export", "--format", "xml")
    assert bad.exit_code == 2 and "--format must be csv or json" in bad.output


def test_show_latest_first(four_events, run_cli, workspace):
    result = run_cli("-w", workspace, "ledger", "show", "--limit", "2", "--json")
    assert result.exit_code == 0, result.output
    events = json.loads(result.stdout)
    assert [e["id"] for e in events] == [4, 3]
    assert [e["kind"] for e in events] == ["note", "phase_result"]
    assert events[1]["payload"]["verdict"] == "pass"
    everything = json.loads(run_cli("-w", workspace, "ledger", "show", "--json").stdout)
    assert [e["id"] for e in everything] == [4, 3, 2, 1]
    table = run_cli("-w", workspace, "ledger", "show", "--limit", "2")
    assert table.exit_code == 0 and "phase_result" in table.output and "ledger_created" not in table.output


def test_show_and_export_without_a_ledger(run_cli, tmp_path):
    for args in (("ledger", "show"), ("ledger", "export"), ("ledger", "verify")):
        result = run_cli("-w", tmp_path / "nowhere", *args)
        assert result.exit_code == 2, result.output
        assert "no ledger at" in result.output


# --- 6. keys --------------------------------------------------------------------------------------


def test_keys_init_creates_a_private_key_readable_only_by_its_owner(run_cli):
    result = run_cli("keys", "init")
    assert result.exit_code == 0, result.output
    directory = key_dir()
    private = directory / PRIVATE_FILE
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    key_id = load_public().key_id
    assert load_private().key_id == key_id
    assert f"Created operator key {key_id}" in result.output


def test_keys_init_refuses_to_replace_a_key_without_force(operator_key, run_cli):
    private = key_dir() / PRIVATE_FILE
    before = private.read_bytes()
    again = run_cli("keys", "init")
    assert again.exit_code == 2
    assert "already exists" in again.output and "--force" in again.output
    assert private.read_bytes() == before
    forced = run_cli("keys", "init", "--force")
    assert forced.exit_code == 0, forced.output
    assert private.read_bytes() != before
    assert load_private().key_id != operator_key.key_id
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


def test_keys_init_refuses_a_key_dir_inside_the_workspace(run_cli, workspace, monkeypatch):
    result = run_cli("-w", workspace, "keys", "init", "--dir", workspace / "keys")
    assert result.exit_code == 2
    assert "inside the workspace" in result.output
    assert not (workspace / "keys" / PRIVATE_FILE).exists()
    # the same through the current directory and LIVEGATE_KEY_DIR
    monkeypatch.chdir(workspace)
    monkeypatch.setenv("LIVEGATE_KEY_DIR", str(workspace / ".secret"))
    result = run_cli("keys", "init")
    assert result.exit_code == 2 and "inside the workspace" in result.output
    assert not (workspace / ".secret" / PRIVATE_FILE).exists()


def test_keys_init_from_a_directory_that_is_not_a_workspace(run_cli, monkeypatch, tmp_path):
    """Running `keys init` from $HOME (which holds ~/.config/livegate) is the ordinary case."""
    monkeypatch.chdir(tmp_path / "home")
    result = run_cli("keys", "init")
    assert result.exit_code == 0, result.output
    assert (key_dir() / PRIVATE_FILE).is_file()


def test_keys_show_prints_the_id_but_never_the_private_key(operator_key, run_cli):
    result = run_cli("keys", "show", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert set(info) == {"key_id", "public_key", "path"}
    assert info["key_id"] == operator_key.key_id
    assert info["public_key"] == operator_key.public.raw.hex()  # public, so never masked
    pem = (key_dir() / PRIVATE_FILE).read_text()
    body = "".join(pem.strip().splitlines()[1:-1])
    plain = run_cli("keys", "show")
    for output in (result.output, plain.output):
        assert "PRIVATE KEY" not in output
        assert body not in output and body[:16] not in output
    assert operator_key.key_id in plain.output
    assert operator_key.key_id in repr(operator_key) and body not in repr(operator_key)


def test_keys_show_without_a_key(run_cli):
    result = run_cli("keys", "show", "--json")
    assert result.exit_code == 3
    assert "no operator key" in result.output


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_private_key_readable_by_others_is_refused(operator_key, mode):
    private = key_dir() / PRIVATE_FILE
    os.chmod(private, mode)
    with pytest.raises(KeyMissing, match="readable by other users"):
        load_private()
    os.chmod(private, 0o600)
    assert load_private().key_id == operator_key.key_id


# --- 7. WAL ---------------------------------------------------------------------------------------


def test_ledger_uses_wal_mode(ledger_path, append):
    append("note", {"n": 1})
    with closing(sqlite3.connect(ledger_path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# --- 8. concurrent writers ------------------------------------------------------------------------


def test_two_ledger_objects_appending_alternately_keep_the_chain(ledger_path, operator_key, verify, read_events):
    first, second = Ledger.open(ledger_path, key=operator_key), Ledger.open(ledger_path, key=operator_key)
    try:
        ids = []
        for i in range(10):
            ids.append(first.append("note", {"writer": 1, "i": i}, actor="one").id)
            ids.append(second.append("note", {"writer": 2, "i": i}, actor="two").id)
    finally:
        first.close()
        second.close()
    assert ids == list(range(2, 22))
    rows = read_events()
    assert_linked(rows)
    assert [r[3] for r in rows[1:]] == ["one", "two"] * 10
    code, report, text = verify()
    assert code == 0, text
    assert report["events"] == 21 and report["signatures_checked"] == 1


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from livegate.ledger.keys import load_private
    from livegate.ledger.store import Ledger

    path, name, barrier = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    key = load_private()
    ledger = Ledger.open(path, key=key)
    (barrier / name).touch()
    deadline = time.monotonic() + 20
    while len(list(barrier.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.002)
    for i in range(50):
        ledger.append("concurrent", {"writer": name, "i": i}, actor=name)
        time.sleep(0.001)  # give the other writer a chance between transactions
    ledger.close()
    """
)


def test_two_processes_appending_concurrently(ledger_path, operator_key, verify, read_events, tmp_path):
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(ledger_path), name, str(barrier)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
        for name in ("p1", "p2")
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    rows = read_events()
    assert len(rows) == 1 + 100
    assert_linked(rows)
    for name in ("p1", "p2"):
        mine = [json.loads(r[4]) for r in rows if r[3] == name]
        assert [p["i"] for p in mine] == list(range(50))
    code, report, text = verify()
    assert code == 0, text
    assert report["ok"] is True and report["events"] == 101 and report["signatures_checked"] == 1
