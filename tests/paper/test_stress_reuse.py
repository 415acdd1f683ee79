"""The stress test's result is reused by research runs (a backtest) under the same configuration,
but a result that can count for the paper gate runs the scenarios itself: a `stress_result`
carries no operator signature, so one written into the ledger with sqlite3 never passes a gate."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime

from livegate.config.strategy import load_strategy
from livegate.config.workspace import Workspace
from livegate.core.canonical import canonical_json
from livegate.ledger.chain import event_hash, event_record
from livegate.phases.paper.evaluate import PendingStress, _stress_key


def forge_stress(ws: Workspace, result: dict) -> None:
    """A well-formed `stress_result` appended with plain SQL, the head moved onto it."""
    with closing(sqlite3.connect(ws.ledger_path)) as conn:
        last_id, last_hash = conn.execute("SELECT last_id, last_hash FROM ledger_head WHERE id = 1").fetchone()
        ts = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        payload = {"key": _stress_key(ws.effective), "config_fingerprint": ws.effective.fingerprint, "result": result}
        record = event_record(last_hash, ts, "stress_result", "mallory", canonical_json(payload))
        conn.execute("INSERT INTO events (id, record, hash) VALUES (?, ?, ?)", (last_id + 1, record, event_hash(record)))
        conn.execute("UPDATE ledger_head SET last_id = ?, last_hash = ? WHERE id = 1", (last_id + 1, event_hash(record)))
        conn.commit()


def test_a_stress_result_that_can_count_is_run_not_read_from_the_ledger(workspace, run_cli):
    first = json.loads(run_cli("-w", workspace, "paper-run", "--days", "1", "--replay", "builtin:btc-1m", "--json").stdout)
    real = first["stress"]
    assert real["cached"] is False and real["scenarios"] == 203

    ws = Workspace(workspace)
    forged = {**real, "max_drawdown_pct": 0.0, "worst": {**real["worst"], "max_drawdown_pct": 0.0}}
    forged.pop("cached")
    forge_stress(ws, forged)
    cfg = ws.effective.config
    factory = lambda: load_strategy(cfg.strategy.ref, dict(cfg.strategy.params), ws.root)  # noqa: E731

    with PendingStress(ws, ws.effective, factory) as research:  # a backtest's: the latest recorded one
        assert research.result()["max_drawdown_pct"] == 0.0
    with PendingStress(ws, ws.effective, factory, reuse=False) as counting:  # what can count: the scenarios run
        fresh = counting.result(reuse=False)
    assert fresh["cached"] is False and fresh["max_drawdown_pct"] == real["max_drawdown_pct"] > 0.0
