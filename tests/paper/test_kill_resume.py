"""kill -9 at several points of a backtest, then --resume: the finished run holds exactly the
fills and trades of an uninterrupted run — nothing lost, nothing doubled."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

BARS = 1440 * 120


def _write_csv(path: Path) -> None:
    from livegate.adapters.marketdata.synthetic import generate

    c = generate("BTC/USDT", bars=BARS, seed=11)
    with path.open("w") as fh:
        fh.write("timestamp,open,high,low,close,volume\n")
        for row in zip(c.ts.tolist(), c.open.tolist(), c.high.tolist(), c.low.tolist(), c.close.tolist(), c.volume.tolist()):
            fh.write(",".join(map(repr, row)) + "\n")


def _cli(ws: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "livegate", "-w", str(ws), *args]


def _env() -> dict:
    return {**os.environ, "NO_COLOR": "1"}


def _count(ws: Path, kind: str) -> int:
    db = ws / ".livegate" / "ledger.db"
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT count(*) FROM events WHERE kind = ?", (kind,)).fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return 0


def _run_rows(ws: Path, kind: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{ws / '.livegate' / 'ledger.db'}?mode=ro", uri=True)
    try:
        rows = [json.loads(p) for (p,) in conn.execute("SELECT payload FROM events WHERE kind = ? ORDER BY id", (kind,))]
    finally:
        conn.close()
    drop = {"run"}
    return [tuple(sorted((k, v) for k, v in r.items() if k not in drop)) for r in rows]


def test_kill_minus_nine_then_resume_loses_and_doubles_nothing(tmp_path, run_cli):
    csv = tmp_path / "btc.csv"
    _write_csv(csv)
    for name in ("ref", "crash"):
        assert run_cli("init", tmp_path / name).exit_code == 0

    ref = subprocess.run(_cli(tmp_path / "ref", "paper-run", "--replay", str(csv), "--json"), capture_output=True, text=True, env=_env(), timeout=300)
    assert ref.returncode in (0, 1), ref.stderr
    ref_fills, ref_trades = _run_rows(tmp_path / "ref", "fill"), _run_rows(tmp_path / "ref", "trade")
    assert len(ref_trades) > 50

    crash = tmp_path / "crash"
    kills = 0
    # Kill points: while starting up, then after 3, 20, 50 and 90 simulated days, then during
    # the evaluation that follows the last bar.
    for target in (0, 3, 20, 50, 90, "completed"):
        started = _count(crash, "paper_run_started") > 0
        args = ["paper-run", "--resume", "--json"] if started else ["paper-run", "--replay", str(csv), "--json"]
        proc = subprocess.Popen(_cli(crash, *args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env())
        deadline = time.time() + 120
        if target == 0:
            time.sleep(0.4)
        elif target == "completed":
            while _count(crash, "paper_run_completed") == 0 and proc.poll() is None and time.time() < deadline:
                time.sleep(0.002)
        else:
            while _count(crash, "paper_checkpoint") < target and proc.poll() is None and time.time() < deadline:
                time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
    assert kills >= 4, "the run finished before it could be killed at several points"
    final = subprocess.run(_cli(crash, "paper-run", "--resume", "--json"), capture_output=True, text=True, env=_env(), timeout=300)
    assert final.returncode in (0, 1), final.stderr
    report = json.loads(final.stdout)
    assert report["kind"] == "backtest"
    fills, trades = _run_rows(crash, "fill"), _run_rows(crash, "trade")
    assert fills == ref_fills
    assert trades == ref_trades
    order_ids = [dict(f)["order_id"] for f in fills]
    assert len(order_ids) == len(set(order_ids))
    verify = subprocess.run(_cli(crash, "ledger", "verify"), capture_output=True, text=True, env=_env())
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_sigterm_stops_at_a_checkpoint_with_exit_130_and_resumes(tmp_path, run_cli):
    ws = tmp_path / "term"
    assert run_cli("init", ws).exit_code == 0
    proc = subprocess.Popen(_cli(ws, "paper-run", "--days", "150", "--replay", "builtin:btc-1m"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    deadline = time.time() + 60
    while _count(ws, "paper_checkpoint") < 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the run finished before SIGTERM"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert _count(ws, "paper_run_stopped") == 1
    done = subprocess.run(_cli(ws, "paper-run", "--resume", "--json"), capture_output=True, text=True, env=_env(), timeout=300)
    assert done.returncode in (0, 1), done.stderr
    assert json.loads(done.stdout)["summary"]["resumed_from_bar"] > 0
