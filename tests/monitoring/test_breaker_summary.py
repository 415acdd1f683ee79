"""Breaker history collapsed to one row per breaker (how many trips, the first and the last) in
the monitor and the report, and a breaker tripped now shown first by `status` — checked against
the trips of a real backtest read straight from SQLite."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from livegate.config.workspace import Workspace
from livegate.ledger.store import Ledger
from tests.monitoring.conftest import ledger_events


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def short(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def framed(text: str) -> str:
    """The lines inside the status's frame, joined as one text (the frame wraps long lines)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("╭"))
    end = next(i for i, line in enumerate(lines) if line.startswith("╰"))
    return " ".join(line.strip("│ ") for line in lines[start + 1:end])


def expected_rows(root) -> dict[str, dict]:
    """{breaker: {trips, first, last}} from the ledger's trip events."""
    out: dict[str, dict] = {}
    for _, p in ledger_events(root, "breaker_trip"):
        row = out.setdefault(p["breaker"], {"trips": 0, "first": p["at_ms"]})
        row["trips"] += 1
        row["last"] = p["at_ms"]
    return out


def test_the_report_and_the_monitor_show_one_row_per_breaker(backtest_ws, run_cli, tmp_path):
    want = expected_rows(backtest_ws)
    assert want and sum(r["trips"] for r in want.values()) > len(want)  # a breaker tripped more than once: rows to collapse
    data = json.loads(run_cli("-w", backtest_ws, "report", "--json").stdout)
    got = {b["breaker"]: {"trips": b["trips"], "first": b["first_trip_at"], "last": b["last_trip_at"]} for b in data["breaker_summary"]}
    assert got == {name: {"trips": r["trips"], "first": iso(r["first"]), "last": iso(r["last"])} for name, r in want.items()}
    assert len(data["breakers"]) == len(ledger_events(backtest_ws, "breaker_trip")) + len(ledger_events(backtest_ws, "breaker_rearmed"))

    page = tmp_path / "r.html"
    assert run_cli("-w", backtest_ws, "report", "--html", page).exit_code == 0
    section = page.read_text().split("<h2>Circuit breakers</h2>", 1)[1].split("<h2>", 1)[0]
    assert section.count("<tr>") == 1 + len(want)  # the header and one row per breaker
    for name, r in want.items():
        assert f"<td>{name}</td><td class=\"num\">{r['trips']}</td><td>{iso(r['first'])}</td><td>{iso(r['last'])}</td>" in section

    screen = run_cli("-w", backtest_ws, "monitor", "--once").output
    for name, r in want.items():
        [line] = [line for line in screen.splitlines() if f" {name} " in line and "armed" in line]
        assert re.search(rf"{name}\s+│\s+armed\s+│\s+{r['trips']}\s+│\s+{short(r['first'])}\s+│\s+{short(r['last'])}", line), line
    snap = json.loads(run_cli("-w", backtest_ws, "monitor", "--once", "--json").stdout)
    tripped = {b["breaker"]: (b["trips"], b["first_trip_at"], b["last_trip_at"]) for b in snap["breakers"] if b["trips"]}
    assert tripped == {name: (r["trips"], iso(r["first"]), iso(r["last"])) for name, r in want.items()}


def test_status_shows_a_breaker_tripped_now_first(backtest_ws, run_cli):
    assert json.loads(run_cli("-w", backtest_ws, "status", "--json").stdout)["tripped_breakers"] == []  # every trip re-armed
    (_, first), *_, (_, last) = ledger_events(backtest_ws, "breaker_trip")
    again = {**last, "at_ms": last["at_ms"] + 3_600_000, "until_ms": last["until_ms"] + 3_600_000}
    with Ledger.open(Workspace(backtest_ws).ledger_path) as ledger:  # as the engine records a trip
        ledger.append("breaker_trip", again)
    report = json.loads(run_cli("-w", backtest_ws, "status", "--json").stdout)
    trips = len(ledger_events(backtest_ws, "breaker_trip"))
    assert report["tripped_breakers"] == [{"run": last["run"], "breaker": last["breaker"], "trips": trips, "first_trip_at": iso(first["at_ms"]),
                                           "last_trip_at": iso(again["at_ms"]), "until": iso(again["until_ms"]), "message": last["message"]}]
    text = run_cli("-w", backtest_ws, "status").output
    line = (f"Circuit breaker tripped: {last['breaker']} in run {last['run']} — {trips} trip(s), first {short(first['at_ms'])}, "
            f"last {short(again['at_ms'])} UTC, cooling down until {short(again['until_ms'])} UTC: {last['message']}")
    assert line in framed(text) and text.index("Needs attention") < text.index("Step"), text

    with Ledger.open(Workspace(backtest_ws).ledger_path) as ledger:
        ledger.append("breaker_rearmed", {"at": again["until_ms"], "breaker": last["breaker"], "run": last["run"], "tripped_at": again["at_ms"]})
    assert json.loads(run_cli("-w", backtest_ws, "status", "--json").stdout)["tripped_breakers"] == []
