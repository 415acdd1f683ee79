"""`livegate go-live --sandbox-clock` on the sandbox's step clock: the stage's hours measured in
the sandbox's market time and walked bar by bar, a paused run resumed on the same clock, the
flag refused for any other venue — and the same trades on a machine whose every core is busy."""

from __future__ import annotations

import json

import pytest
import yaml

from livegate.adapters.sandbox.configure import set_env_values, write_workspace
from livegate.adapters.sandbox.exchange import SandboxExchange
from livegate.adapters.sandbox.local import THIN_BOOK, describe
from livegate.config.workspace import Workspace
from livegate.services import mode_switch
from tests.live.conftest import FLIP, events
from tests.protocol_helpers import sign_off
from tests.sandbox.load import busy_cores, still_busy

MINUTE = 60_000
STEP_OPTIONS = {"clock": "step", "history_bars": 600, "seed": 9, "book": THIN_BOOK}
STAGE = {"min_duration_hours": 0.5, "min_successful_trades": 2}
GO_LIVE = ("go-live", "--stage", "4.1a", "--sandbox-clock", "--yes", "--json")


@pytest.fixture
def sandbox_options():
    """A step clock: market time moves only when the go-live loop moves it."""
    return {**STEP_OPTIONS, "share": "module"}


def live_workspace(root, sandbox, key, run_cli, name: str, stage: dict | None = None):
    """A workspace at `root` on `sandbox` with its own USDT-only key, the Flip strategy, env /
    paper / testnet signed off and the mode LIVE_MINIMAL (as tests/live/conftest.py's)."""
    assert run_cli("init", root).exit_code == 0
    pair = sandbox.add_key(f"rehearsal-{name}", f"rehearsal-secret-{name}", balances={"USDT": 5_000})
    ws = Workspace(root)
    write_workspace(ws, describe(sandbox))
    (root / "strategies" / "flip.py").write_text(FLIP)
    path = root / "livegate.yaml"
    data = yaml.safe_load(path.read_text())
    data["strategy"] = {"ref": "strategies/flip.py:Flip", "params": {"value": 8.0}}
    data["thresholds"] = {"micro-live": {"4.1a": stage or STAGE, "win_rate_gap_points": 60, "live_vs_paper_worse_pct": 100}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    env = (root / ".env").read_text()
    (root / ".env").write_text(set_env_values(env, {
        "EXCHANGE_API_KEY": pair.api_key, "EXCHANGE_API_SECRET": pair.secret, "PAPER_MODE": "false",
        "LIVE_TRADING_ENABLED": "true", "TRADING_HALTED": "false", "EXECUTION_APPROVAL_MODE": "auto", "MAX_TRADE_AMOUNT": "10"}))
    sign_off(root, key, "env", "paper", "testnet")
    mode_switch.set_mode(ws, "LIVE_MINIMAL", "rehearsal", by="Test Operator", key=key)
    return root


def test_a_stage_walks_its_hours_in_sandbox_market_time(tmp_path, sandbox, operator_key, run_cli):
    root = live_workspace(tmp_path / "ws", sandbox, operator_key, run_cli, "walk")
    before = sandbox.venue.clock.market_ms()
    result = run_cli("-w", root, *GO_LIVE)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "completed" and report["verdict"] == "pass", report["reason"]
    started = events(root, "stage_started")[0]["started_ms"]
    assert started % MINUTE == 0 and before < started <= before + MINUTE  # the loop began on the next bar boundary
    hours = report["measures"]["min_duration_hours"]
    assert STAGE["min_duration_hours"] <= hours < 24  # market hours, passed in seconds
    after = sandbox.venue.clock.market_ms() - started - hours * 3_600_000
    assert 0 <= after < 5_000  # the market moved as far as the stage measured (and its closing requests)


def test_a_paused_rehearsal_resumes_on_the_sandbox_clock(tmp_path, sandbox, operator_key, run_cli):
    root = live_workspace(tmp_path / "ws", sandbox, operator_key, run_cli, "resume",
                          stage={"min_duration_hours": 1.0, "min_successful_trades": 2})
    first = run_cli("-w", root, *GO_LIVE, "--max-hours", "0.25")  # a quarter of a market hour, then paused
    assert first.exit_code == 7, first.output  # paused: its own exit code, neither a pass nor a failure
    paused = json.loads(first.stdout)
    assert paused["status"] == "paused" and 0.25 <= paused["measures"]["min_duration_hours"] < 0.3
    [stopped] = [e for e in events(root, "live_stopped")]
    ladder = {s["step"]: s for s in json.loads(run_cli("-w", root, "status", "--json").stdout)["steps"]}
    stage = ladder["4.1a"]
    assert stage["status"] == "paused" and stage["verdict"] is None, stage
    assert stage["stage_run"]["run"] == paused["run"] and stage["stage_run"]["reason"] == "time limit of this run reached"
    assert stage["stage_run"]["resume"] == "livegate go-live --stage 4.1a --sandbox-clock"
    assert stopped["reason"].startswith("paused") and stage["stage_run"]["stopped_at"] is not None
    text = run_cli("-w", root, "status")
    [row] = [line for line in text.output.splitlines() if "│ 4.1a " in line]
    assert text.exit_code == 0 and "paused" in row and "not run" not in row, text.output
    assert "Next: resume the paused run of 4.1a: `livegate go-live --stage 4.1a --sandbox-clock`" in text.output

    second = run_cli("-w", root, *GO_LIVE)  # the same command resumes it
    done = json.loads(second.stdout)
    assert second.exit_code == 0 and done["status"] == "completed" and done["run"] == paused["run"], second.output
    assert len(events(root, "stage_started")) == 1  # the same stage, its start kept
    assert done["measures"]["min_duration_hours"] >= 1.0
    ladder = {s["step"]: s for s in json.loads(run_cli("-w", root, "status", "--json").stdout)["steps"]}
    assert ladder["4.1a"]["status"] == "passed" and ladder["4.1a"]["stage_run"] is None
    # every result of this workspace was obtained on the local sandbox: a rehearsal, in the ledger and in status
    [result] = [e for e in events(root, "phase_result") if e["step"] == "4.1a"]
    assert result["rehearsal"] is True and sandbox.url in result["rehearsal_reasons"][0]
    assert ladder["4.1a"]["rehearsal"] is True and ladder["4.1a"]["rehearsal_reasons"] == result["rehearsal_reasons"]


def test_a_step_sandbox_without_the_flag_and_the_flag_without_a_sandbox_are_refused(tmp_path, sandbox, operator_key, run_cli):
    root = live_workspace(tmp_path / "ws", sandbox, operator_key, run_cli, "refuse")
    result = run_cli("-w", root, "go-live", "--stage", "4.1a", "--yes")
    assert result.exit_code == 2 and "livegate go-live --sandbox-clock" in result.output
    cfg = root / "livegate.yaml"
    cfg.write_text(cfg.read_text().replace(sandbox.url, "https://api.binance.com"))
    result = run_cli("-w", root, *GO_LIVE)
    assert result.exit_code == 2 and "rehearsals on the local sandbox only" in result.output
    assert "Traceback" not in result.output and not events(root, "stage_started")


def test_a_paper_forward_run_rehearses_its_days_on_the_sandbox_clock(tmp_path, sandbox, operator_key, run_cli):
    root = tmp_path / "paper"
    assert run_cli("init", root).exit_code == 0
    write_workspace(Workspace(root), describe(sandbox))
    sign_off(root, operator_key, "env")
    before = sandbox.venue.clock.market_ms()
    result = run_cli("-w", root, "paper-run", "--days", "0.05", "--sandbox-clock", "--json")  # 72 one-minute bars
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)
    assert report["kind"] == "forward" and report["data"]["started_ms"] == before
    assert 72 <= report["summary"]["bars"] <= 73
    assert 72 * MINUTE <= sandbox.venue.clock.market_ms() - before <= 73 * MINUTE  # 0.05 market days, bar by bar
    # the local sandbox's generated prices, not Binance's market: named so, and the result labelled a rehearsal
    assert report["data"]["sources"] == [f"livegate sandbox at {sandbox.url}, generated prices"] and report["data"]["synthetic"] is True
    [result] = events(root, "phase_result")[-1:]
    assert result["step"] == "paper" and result["summary"]["data"]["sources"] == report["data"]["sources"]
    assert result["rehearsal"] is True
    assert result["rehearsal_reasons"] == [f"the exchange is {sandbox.url}, on this machine (the local sandbox), not binance itself",
                                           f"synthetic market data (livegate sandbox at {sandbox.url}, generated prices)"]
    paper = next(s for s in json.loads(run_cli("-w", root, "status", "--json").stdout)["steps"] if s["step"] == "paper")
    assert paper["rehearsal"] is True and paper["rehearsal_reasons"] == result["rehearsal_reasons"]
    text = run_cli("-w", root, "status").output
    assert "(rehearsal)" in text and "Rehearsal results" in text
    shown = json.loads(run_cli("-w", root, "report", "--format", "json").stdout)
    [row] = [r for r in shown["results"] if r["step"] == "paper" and r["kind"] == "phase"]
    assert row["rehearsal"] is True and row["rehearsal_reasons"] == "; ".join(result["rehearsal_reasons"])
    assert shown["meta"]["rehearsal_steps"] == "env, paper"  # env was recorded against the same sandbox
    html = tmp_path / "report.html"
    assert run_cli("-w", root, "report", "--html", str(html)).exit_code == 0
    assert "rehearsal — not the real venue" in html.read_text()


def test_paper_run_and_go_live_refuse_the_flag_on_the_real_venue(workspace, run_cli):
    for args in (("go-live", "--stage", "4.1a", "--sandbox-clock"), ("paper-run", "--days", "7", "--sandbox-clock")):
        result = run_cli("-w", workspace, *args)
        assert result.exit_code == 2, result.output
        assert "--sandbox-clock is for rehearsals on the local sandbox only" in result.output and "exchange.base_url is not set" in result.output
    result = run_cli("-w", workspace, "paper-run", "--replay", "builtin:btc-1m", "--sandbox-clock")
    assert result.exit_code == 2 and "for forward runs" in result.output


def trades_of(root) -> list[tuple]:
    """The stage's trades, their times relative to the stage's start (each run has its own sandbox)."""
    start = events(root, "stage_started")[0]["started_ms"]
    return [(t["opened_ms"] - start, t["closed_ms"] - start, round(t["net"], 10)) for t in events(root, "trade")]


def test_the_same_trades_on_a_busy_machine_as_on_an_idle_one(tmp_path, operator_key, run_cli):
    """Two sandboxes alike (same seed, both started at the last UTC midnight): the stage run on
    one with the machine idle, on the other with every core busy — identical trades and counts."""
    stage = {"min_duration_hours": 1.0, "min_successful_trades": 4}
    runs = {}
    for name in ("idle", "busy"):
        with SandboxExchange(**STEP_OPTIONS) as sandbox:
            root = live_workspace(tmp_path / name, sandbox, operator_key, run_cli, name, stage=stage)
            if name == "idle":
                result = run_cli("-w", root, *GO_LIVE)
            else:
                with busy_cores() as procs:
                    result = run_cli("-w", root, *GO_LIVE)
                    assert still_busy(procs)
            assert result.exit_code == 0, result.output
            report = json.loads(result.stdout)
            assert report["status"] == "completed", report["reason"]
            m = report["measures"]
            runs[name] = (trades_of(root), m["min_successful_trades"], m["orders"], round(m["min_duration_hours"], 6))
    assert runs["busy"] == runs["idle"]
    assert len(runs["idle"][0]) >= stage["min_successful_trades"]


def test_a_stopped_forward_paper_run_shows_as_paused_until_it_goes_on(tmp_path, sandbox, operator_key, run_cli):
    """SIGTERM stops a forward paper run at its checkpoint (exit 130, as Ctrl-C does): `status`
    shows the paper step paused, with the command that resumes it."""
    import signal
    import subprocess
    import sys
    import time

    root = tmp_path / "paper-stop"
    assert run_cli("init", root).exit_code == 0
    write_workspace(Workspace(root), describe(sandbox))
    sign_off(root, operator_key, "env")
    proc = subprocess.Popen([sys.executable, "-m", "livegate", "-w", str(root), "paper-run", "--days", "5", "--sandbox-clock"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while len(events(root, "paper_checkpoint")) < 3:
            assert proc.poll() is None, proc.stderr.read()
            assert time.time() < deadline, "the paper run never checkpointed"
            time.sleep(0.05)
        going = {s["step"]: s for s in json.loads(run_cli("-w", root, "status", "--json").stdout)["steps"]}["paper"]
        assert going["status"] == "not run" and going["stage_run"] is None  # running: never called paused
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == 130, err[-2000:]
    [stopped] = events(root, "paper_run_stopped")
    shown = json.loads(run_cli("-w", root, "status", "--json").stdout)
    paper = {s["step"]: s for s in shown["steps"]}["paper"]
    assert paper["status"] == "paused" and paper["stage_run"]["reason"] == stopped["reason"] == "interrupted"
    assert paper["stage_run"]["resume"] == "livegate paper-run --resume" and paper["stage_run"]["run"] == stopped["run"]
    assert shown["next_action"] == "resume the paused run of paper: `livegate paper-run --resume`"
