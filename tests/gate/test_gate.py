"""The gate (SPEC §4) against a real workspace: ordering, sign-off, config drift, the key,
the ledger's integrity, looser thresholds, stage naming and trading modes."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from livegate.cli import prompts
from livegate.config.loader import load_phase_specs
from livegate.config.workspace import Workspace
from livegate.core.errors import GateClosed
from livegate.core.results import Verdict
from livegate.ledger.queries import connect_readonly
from livegate.ledger.queries import events as iter_events
from livegate.phases import Measurement, run_phase
from livegate.services import gate

STEPS = ["env", "paper", "testnet", "4.1a", "4.1b", "4.1c", "4.1d", "production"]


# --------------------------------------------------------------------------- test phases

@dataclass
class FakePhase:
    """A phase plug-in as `livegate.phases` expects one: an id and checks per criterion."""

    id: str
    checks: dict[str, Callable[[Any], Measurement]] = field(default_factory=dict)


def measuring(values: dict[str, Any]) -> dict[str, Callable[[Any], Measurement]]:
    return {cid: (lambda ctx, v=value: Measurement(v, evidence={"test": True})) for cid, value in values.items()}


ENV_PASSING = {
    "config_schema_valid": True,
    "env_file_present": True,
    "env_file_not_tracked": True,
    "safe_flags_initial": True,
    "api_keys_present": True,
    "key_can_read": True,
    "key_can_trade": True,
    "key_withdrawal_disabled": True,
    "key_ip_whitelist": True,
    "signer_address_pinned": True,
    "exchange_latency_ms": 120,
    "rpc_latency_ms": 300,
    "chain_id_matches": True,
    "clock_skew_ms": 15,
    "secret_findings": 0,
    "allowlists_set": True,
    "rate_limits_set": True,
}
# The key can withdraw funds and the exchange is slow: two required criteria fail.
ENV_FAILING = {**ENV_PASSING, "key_withdrawal_disabled": False, "exchange_latency_ms": 900}

PAPER_PASSING = {
    "min_trades": 40,
    "max_drawdown_pct": 4.2,
    "sharpe": 2.1,
    "profit_factor": 1.8,
    "total_return_pct": 6.5,
    "fee_drag_pct": 8.0,
    "win_rate_pct": 52.0,
    "worst_trade_pct": -1.2,
    "bootstrap_sharpe_low": 0.4,
    "ruin_prob_50_pct": 0.1,
    "oos_sharpe": 1.1,
    "regime_breakdown_positive": 3,
    "psr": 0.98,
    "dsr": 0.97,
    "guardian_drills_blocked": True,
    "stress_scenarios": 250,
    "stress_max_drawdown_pct": 14.0,
}
# Too few trades and a too-deep drawdown.
PAPER_FAILING = {**PAPER_PASSING, "min_trades": 7, "max_drawdown_pct": 12.5}

ENV_PASS = FakePhase("env", measuring(ENV_PASSING))
ENV_FAIL = FakePhase("env", measuring(ENV_FAILING))
PAPER_PASS = FakePhase("paper", measuring(PAPER_PASSING))
PAPER_FAIL = FakePhase("paper", measuring(PAPER_FAILING))


def ws_of(root: Path) -> Workspace:
    """A fresh Workspace object, as every CLI invocation makes one (the effective config is
    loaded once per object)."""
    return Workspace(root)


def events(root: Path, *kinds: str) -> list[dict]:
    conn = connect_readonly(ws_of(root).ledger_path)
    try:
        return list(iter_events(conn, kinds=kinds))
    finally:
        conn.close()


def status_json(run_cli, root: Path) -> dict:
    result = run_cli("-w", root, "status", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def step_of(report: dict, step: str) -> dict:
    return next(s for s in report["steps"] if s["step"] == step)


def set_risk_value(root: Path, key: str, old: str, new: str) -> None:
    path = root / "risk_limits.yaml"
    text = path.read_text(encoding="utf-8")
    needle = f"{key}: {old}"
    assert text.count(needle) == 1, f"{needle!r} not found once in {path}"
    path.write_text(text.replace(needle, f"{key}: {new}"), encoding="utf-8")


def set_thresholds(root: Path, yaml_text: str) -> None:
    path = root / "livegate.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("\nthresholds: {}\n") == 1
    path.write_text(text.replace("\nthresholds: {}\n", f"\nthresholds: {yaml_text}\n"), encoding="utf-8")


@pytest.fixture
def env_passed(workspace, operator_key) -> Path:
    result = run_phase(ENV_PASS, ws_of(workspace), key=operator_key)
    assert result.verdict == Verdict.PASS, [c for c in result.checks if c.verdict != Verdict.PASS]
    return workspace


@pytest.fixture
def env_signed(env_passed, run_cli) -> Path:
    result = run_cli("-w", env_passed, "signoff", "env", "--by", "alice", "--yes")
    assert result.exit_code == 0, result.output
    return env_passed


# --------------------------------------------------------------------------- the test phases themselves

@pytest.mark.parametrize(
    "phase_id, values",
    [("env", ENV_PASSING), ("env", ENV_FAILING), ("paper", PAPER_PASSING), ("paper", PAPER_FAILING)],
)
def test_test_phases_cover_every_criterion_of_the_phase_file(phase_id, values):
    spec = next(s for s in load_phase_specs() if s.id == phase_id)
    assert set(values) == {c.id for c in spec.criteria}


def test_phase_result_is_recorded_with_every_check(workspace, operator_key):
    result = run_phase(ENV_FAIL, ws_of(workspace), key=operator_key)
    assert result.verdict == Verdict.FAIL
    failed = sorted(c.criterion for c in result.checks if c.verdict == Verdict.FAIL)
    assert failed == ["exchange_latency_ms", "key_withdrawal_disabled"]
    [ev] = events(workspace, "phase_result")
    payload = ev["payload"]
    assert payload["step"] == "env" and payload["phase"] == "env" and payload["kind"] == "phase"
    assert payload["verdict"] == "fail"
    assert len(payload["checks"]) == len(ENV_PASSING)
    assert payload["config_fingerprint"] == ws_of(workspace).effective.fingerprint


def test_a_raising_or_missing_check_fails_the_phase_closed(workspace, operator_key):
    def boom(ctx):
        raise ConnectionError("exchange unreachable")

    checks = measuring(ENV_PASSING)
    checks["exchange_latency_ms"] = boom
    del checks["chain_id_matches"]
    result = run_phase(FakePhase("env", checks), ws_of(workspace), key=operator_key)
    assert result.verdict == Verdict.FAIL
    by_id = {c.criterion: c for c in result.checks}
    assert by_id["exchange_latency_ms"].verdict == Verdict.ERROR
    assert "ConnectionError: exchange unreachable" in by_id["exchange_latency_ms"].message
    assert by_id["chain_id_matches"].verdict == Verdict.ERROR
    assert "no check implements" in by_id["chain_id_matches"].message
    [ev] = events(workspace, "phase_result")
    assert ev["payload"]["verdict"] == "fail"


# --------------------------------------------------------------------------- (1) skipping a phase

def test_paper_before_env_is_refused_naming_env(workspace, operator_key):
    with pytest.raises(GateClosed) as info:
        run_phase(PAPER_PASS, ws_of(workspace), key=operator_key)
    assert info.value.target == "paper"
    assert len(info.value.reasons) == 1
    assert info.value.reasons[0].startswith("env has not passed yet")
    assert "livegate validate" in info.value.reasons[0]
    assert events(workspace, "phase_result") == []  # nothing recorded


def test_paper_after_failed_or_unsigned_env_is_refused(workspace, operator_key):
    run_phase(ENV_FAIL, ws_of(workspace), key=operator_key)
    with pytest.raises(GateClosed) as info:
        run_phase(PAPER_PASS, ws_of(workspace), key=operator_key)
    assert "env did not pass" in info.value.reasons[0]

    run_phase(ENV_PASS, ws_of(workspace), key=operator_key)
    with pytest.raises(GateClosed) as info:
        run_phase(PAPER_PASS, ws_of(workspace), key=operator_key)
    assert "env passed but is not signed off" in info.value.reasons[0]
    assert "livegate signoff env" in info.value.reasons[0]
    assert [e["payload"]["step"] for e in events(workspace, "phase_result")] == ["env", "env"]


def test_live_mode_on_a_fresh_workspace_is_refused_listing_missing_steps(workspace, run_cli):
    result = run_cli("-w", workspace, "mode", "set", "LIVE_MINIMAL", "--reason", "x", "--yes")
    assert result.exit_code == 3, result.output
    out = result.output
    assert "gate closed" in out and "4.1a" in out
    for step in ("env", "paper", "testnet"):
        assert f"{step} has not passed yet" in out
    assert "production" not in out  # only the steps before micro-live are prerequisites
    shown = json.loads(run_cli("-w", workspace, "mode", "show", "--json").stdout)
    assert shown == {"mode": "PAPER", "halted": False, "reducing": None, "history": []}


def test_a_later_stage_lists_every_missing_step_but_not_signed_ones(env_signed, operator_key):
    with pytest.raises(GateClosed) as info:
        run_phase(FakePhase("micro-live", {}), ws_of(env_signed), step="4.1b", key=operator_key)
    assert info.value.target == "4.1b"
    assert [r.split(" ", 1)[0] for r in info.value.reasons] == ["paper", "testnet", "4.1a"]  # env is signed
    assert all("has not passed yet" in r for r in info.value.reasons)
    assert "livegate go-live --stage 4.1a" in info.value.reasons[-1]


# --------------------------------------------------------------------------- (2) signing a failed phase

def test_signoff_of_a_failed_phase_is_refused(workspace, operator_key, run_cli):
    run_phase(ENV_FAIL, ws_of(workspace), key=operator_key)
    result = run_cli("-w", workspace, "signoff", "env", "--by", "alice", "--yes")
    assert result.exit_code == 3, result.output
    assert "did not pass" in result.output
    assert "only a passed phase can be signed off" in result.output
    assert events(workspace, "signoff") == []
    assert step_of(status_json(run_cli, workspace), "env")["status"] == "failed"


def test_signoff_of_a_phase_never_run_is_refused(workspace, operator_key, run_cli):
    result = run_cli("-w", workspace, "signoff", "env", "--by", "alice", "--yes")
    assert result.exit_code == 3
    assert "env has no result to sign" in result.output
    assert events(workspace, "signoff") == []


def test_library_signoff_refuses_a_failed_phase_and_an_empty_name(workspace, operator_key):
    from livegate.core.errors import UsageError

    run_phase(ENV_FAIL, ws_of(workspace), key=operator_key)
    with pytest.raises(GateClosed, match="did not pass"):
        gate.signoff(ws_of(workspace), "env", "alice", operator_key)
    with pytest.raises(UsageError, match="--by"):
        gate.signoff(ws_of(workspace), "env", "   ", operator_key)
    assert events(workspace, "signoff") == []


# --------------------------------------------------------------------------- (3) config drift

def test_config_drift_after_signoff_closes_the_gate(env_signed, operator_key, run_cli):
    root = env_signed
    assert step_of(status_json(run_cli, root), "env")["status"] == "signed"

    set_risk_value(root, "max_position_size", "50.00", "80.00")

    with pytest.raises(GateClosed) as info:
        run_phase(PAPER_PASS, ws_of(root), key=operator_key)
    [reason] = info.value.reasons
    assert "config changed since env sign-off" in reason
    assert "risk_limits.yaml live_trading.max_position_size" in reason
    assert "50.0 → 80.0" in reason
    assert events(root, "phase_result")[-1]["payload"]["step"] == "env"  # paper not recorded

    report = status_json(run_cli, root)
    env = step_of(report, "env")
    assert env["status"] == "stale"
    assert env["signed_by"] == "alice"  # the old sign-off is still on record
    assert "max_position_size 50.0 → 80.0" in env["detail"]
    assert env["gate_open"] is True  # env itself may run again
    assert step_of(report, "paper")["gate_open"] is False
    assert report["next_step"] == "env"

    # The CLI says the same with exit 3
    result = run_cli("-w", root, "mode", "set", "LIVE_MINIMAL", "--reason", "x", "--yes")
    assert result.exit_code == 3
    assert "max_position_size 50.0 → 80.0" in result.output

    # Putting the same value back re-opens the gate: the fingerprint is over values.
    set_risk_value(root, "max_position_size", "80.00", "50.00")
    assert step_of(status_json(run_cli, root), "env")["status"] == "signed"
    result = run_phase(PAPER_PASS, ws_of(root), key=operator_key)
    assert result.verdict == Verdict.PASS
    assert events(root, "phase_result")[-1]["payload"]["step"] == "paper"


def test_comment_and_spelling_edits_do_not_drift(env_signed, operator_key, run_cli):
    root = env_signed
    before = ws_of(root).effective.fingerprint
    path = root / "risk_limits.yaml"
    text = path.read_text(encoding="utf-8")
    edited = "# reviewed by bob, no changes\n" + text.replace("max_position_size: 50.00", "max_position_size: 50.0   # per trade")
    assert edited != text
    path.write_text(edited, encoding="utf-8")

    assert ws_of(root).effective.fingerprint == before
    assert step_of(status_json(run_cli, root), "env")["status"] == "signed"
    assert run_phase(PAPER_PASS, ws_of(root), key=operator_key).verdict == Verdict.PASS


def test_threshold_change_after_signoff_is_drift_too(env_signed, operator_key, run_cli):
    root = env_signed
    set_thresholds(root, "{env: {exchange_latency_ms: 400}}")  # stricter, but different
    with pytest.raises(GateClosed) as info:
        run_phase(PAPER_PASS, ws_of(root), key=operator_key)
    assert "thresholds env.exchange_latency_ms 500 → 400" in info.value.reasons[0]
    assert step_of(status_json(run_cli, root), "env")["status"] == "stale"


def test_drift_before_signoff_makes_the_result_unsignable(env_passed, run_cli):
    root = env_passed
    set_risk_value(root, "max_open_positions", "5", "6")
    result = run_cli("-w", root, "signoff", "env", "--by", "alice", "--yes")
    assert result.exit_code == 3
    assert "config changed since the env result was recorded" in result.output
    assert step_of(status_json(run_cli, root), "env")["status"] == "stale"
    assert events(root, "signoff") == []


def test_rerun_and_resign_after_drift_reopens_the_gate(env_signed, operator_key, run_cli):
    root = env_signed
    set_risk_value(root, "max_position_size", "50.00", "80.00")
    assert run_phase(ENV_PASS, ws_of(root), key=operator_key).passed
    # the new result is not signed yet: paper stays closed
    with pytest.raises(GateClosed, match="not signed off"):
        run_phase(PAPER_PASS, ws_of(root), key=operator_key)
    assert run_cli("-w", root, "signoff", "env", "--by", "alice", "--yes").exit_code == 0
    assert run_phase(PAPER_PASS, ws_of(root), key=operator_key).passed
    assert len(events(root, "signoff")) == 2


# --------------------------------------------------------------------------- (4) missing key

def test_signoff_without_an_operator_key_exits_3_naming_keys_init(workspace, run_cli):
    assert run_phase(ENV_PASS, ws_of(workspace)).passed  # recorded without a key
    result = run_cli("-w", workspace, "signoff", "env", "--by", "alice", "--yes")
    assert result.exit_code == 3, result.output
    assert "keys init" in result.output
    assert "no operator key" in result.output
    assert events(workspace, "signoff") == []
    # a result written without the key does not count (it can never open a gate); status says so
    report = status_json(run_cli, workspace)
    assert step_of(report, "env")["status"] == "not run"
    [env_result] = events(workspace, "phase_result")
    assert report["ledger"]["unsigned_events"] == [{"id": env_result["id"], "kind": "phase_result"}]
    assert any("written without the operator key" in w and "count for nothing" in w for w in report["ledger"]["warnings"])


# --------------------------------------------------------------------------- (5) happy path

def test_happy_path_env_signoff_then_paper(workspace, operator_key, run_cli):
    env_result = run_phase(ENV_PASS, ws_of(workspace), key=operator_key)
    assert env_result.passed
    [env_event] = events(workspace, "phase_result")

    signed = run_cli("-w", workspace, "signoff", "env", "--by", "alice", "--yes")
    assert signed.exit_code == 0, signed.output
    assert "Signed" in signed.output and operator_key.key_id in signed.output

    paper_result = run_phase(PAPER_PASS, ws_of(workspace), key=operator_key)
    assert paper_result.passed
    results = events(workspace, "phase_result")
    assert [e["payload"]["step"] for e in results] == ["env", "paper"]
    assert results[-1]["payload"]["verdict"] == "pass"

    report = status_json(run_cli, workspace)
    assert [s["step"] for s in report["steps"]] == STEPS
    env, paper = step_of(report, "env"), step_of(report, "paper")
    assert env["status"] == "signed" and env["signed_by"] == "alice" and env["signed_at"]
    assert env["verdict"] == "pass"
    assert paper["status"] == "passed" and paper["verdict"] == "pass" and paper["signed_by"] is None
    assert paper["gate_open"] is True
    assert step_of(report, "testnet")["gate_open"] is False
    assert report["next_step"] == "paper"
    assert report["next_action"] == "sign off paper: livegate signoff paper --by NAME"
    assert report["ledger"]["ok"] is True

    shown = run_cli("-w", workspace, "ledger", "show", "--json", "--kind", "signoff")
    assert shown.exit_code == 0
    [signoff] = json.loads(shown.stdout)
    payload = signoff["payload"]
    assert signoff["actor"] == "alice"
    assert payload["step"] == "env" and payload["by"] == "alice"
    assert payload["key_id"] == operator_key.key_id
    assert re.fullmatch(r"[0-9a-f]{128}", payload["signature"])  # Ed25519: 64 bytes
    assert payload["result_event"] == env_event["id"]
    assert payload["acknowledgment"] == list(gate.ACKNOWLEDGMENT)
    assert payload["config_fingerprint"] == ws_of(workspace).effective.fingerprint
    assert payload["config_snapshot"]["risk_limits.yaml"]["live_trading"]["max_position_size"] == 50.0

    verified = run_cli("-w", workspace, "ledger", "verify", "--json")
    assert verified.exit_code == 0, verified.output
    report = json.loads(verified.stdout)
    assert report["ok"] is True and report["problems"] == []
    assert report["signatures_checked"] == 4  # the head, the two results (signed when written) and the sign-off
    assert report["key_id"] == operator_key.key_id


def test_failing_paper_is_recorded_and_reported(env_signed, operator_key, run_cli):
    result = run_phase(PAPER_FAIL, ws_of(env_signed), key=operator_key)
    assert result.verdict == Verdict.FAIL
    assert events(env_signed, "phase_result")[-1]["payload"]["verdict"] == "fail"
    report = status_json(run_cli, env_signed)
    assert step_of(report, "paper")["status"] == "failed"
    assert report["next_action"].startswith("paper failed")


# --------------------------------------------------------------------------- (6) the prompter

def test_signoff_without_yes_asks_and_respects_no(env_passed, run_cli, monkeypatch):
    prompter = prompts.ScriptedPrompter([False])
    monkeypatch.setattr(prompts, "PROMPTER", prompter)
    result = run_cli("-w", env_passed, "signoff", "env", "--by", "alice")
    assert result.exit_code == 0, result.output
    assert "Not signed." in result.output
    assert "I accept full responsibility for any losses" in result.output
    assert prompter.asked == ["Do you accept these statements and sign?"]
    assert events(env_passed, "signoff") == []
    assert step_of(status_json(run_cli, env_passed), "env")["status"] == "passed"


def test_signoff_without_yes_asks_and_signs_on_yes(env_passed, run_cli, monkeypatch):
    prompter = prompts.ScriptedPrompter([True])
    monkeypatch.setattr(prompts, "PROMPTER", prompter)
    result = run_cli("-w", env_passed, "signoff", "env", "--by", "alice")
    assert result.exit_code == 0, result.output
    assert len(prompter.asked) == 1 and prompter.answers == []
    [ev] = events(env_passed, "signoff")
    assert ev["payload"]["by"] == "alice"
    assert step_of(status_json(run_cli, env_passed), "env")["status"] == "signed"


def test_signoff_with_yes_never_prompts(env_passed, run_cli):
    # conftest installs ScriptedPrompter([]): any prompt would raise AssertionError
    result = run_cli("-w", env_passed, "signoff", "env", "--by", "alice", "--yes")
    assert result.exit_code == 0, result.output
    assert len(events(env_passed, "signoff")) == 1


# --------------------------------------------------------------------------- (7) already signed

def test_second_signoff_is_refused(env_signed, run_cli):
    result = run_cli("-w", env_signed, "signoff", "env", "--by", "bob", "--yes")
    assert result.exit_code == 3, result.output
    assert "already signed off by alice" in result.output
    [ev] = events(env_signed, "signoff")
    assert ev["payload"]["by"] == "alice"


# --------------------------------------------------------------------------- (8) tampered ledger

def tamper_first_phase_result(root: Path) -> int:
    """Drop the append-only triggers and change one byte of a phase result payload."""
    conn = sqlite3.connect(ws_of(root).ledger_path)
    try:
        conn.execute("DROP TRIGGER events_append_only_update")
        # Whichever column holds the stored payload text: `payload`, or a `record` that
        # contains it (with `payload` generated from it).
        stored = [row[1] for row in conn.execute("PRAGMA table_info(events)")]
        column = "record" if "record" in stored else "payload"
        event_id, text = conn.execute(
            f"SELECT id, {column} FROM events WHERE kind = 'phase_result' ORDER BY id LIMIT 1"
        ).fetchone()
        assert text.count('"measured":120') == 1
        conn.execute(f"UPDATE events SET {column} = ? WHERE id = ?", (text.replace('"measured":120', '"measured":920'), event_id))
        conn.commit()
    finally:
        conn.close()
    return event_id


def test_tampered_ledger_closes_the_gate(env_signed, operator_key, run_cli):
    event_id = tamper_first_phase_result(env_signed)

    with pytest.raises(GateClosed) as info:
        run_phase(PAPER_PASS, ws_of(env_signed), key=operator_key)
    assert info.value.reasons[0].startswith("the ledger does not verify")
    assert f"event #{event_id}" in info.value.reasons[0]
    assert "was edited" in info.value.reasons[0]

    report = status_json(run_cli, env_signed)
    assert report["ledger"]["ok"] is False
    assert report["ledger"]["first_bad_event"] == event_id
    assert "does not verify" in report["next_action"]
    assert all(not s["gate_open"] for s in report["steps"])  # not even env may run

    verify = run_cli("-w", env_signed, "ledger", "verify")
    assert verify.exit_code == 1
    assert "does NOT verify" in verify.output

    signoff = run_cli("-w", env_signed, "signoff", "env", "--by", "bob", "--yes")
    assert signoff.exit_code == 3
    assert "does not verify" in signoff.output


def test_ledger_triggers_refuse_edits(env_signed):
    conn = sqlite3.connect(ws_of(env_signed).ledger_path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE events SET hash = 'ff' WHERE id = 1")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM events WHERE kind = 'signoff'")
    finally:
        conn.close()
    assert len(events(env_signed, "signoff")) == 1


# --------------------------------------------------------------------------- (9) looser thresholds

def test_looser_threshold_is_flagged_in_status(workspace, operator_key, run_cli):
    set_thresholds(workspace, "{paper: {min_trades: 12}}")
    report = status_json(run_cli, workspace)
    assert report["looser_thresholds"] == ["paper.min_trades: 12 is looser than the default >= 20"]

    text = run_cli("-w", workspace, "status")
    assert text.exit_code == 0, text.output
    assert "Looser than the protocol's defaults" in text.output
    assert "paper.min_trades: 12 is looser than the default >= 20" in text.output

    # and a paper result made under it carries the flag into the ledger
    run_phase(ENV_PASS, ws_of(workspace), key=operator_key)
    assert run_cli("-w", workspace, "signoff", "env", "--by", "alice", "--yes").exit_code == 0
    few_trades = FakePhase("paper", measuring({**PAPER_PASSING, "min_trades": 13}))
    assert run_phase(few_trades, ws_of(workspace), key=operator_key).passed
    paper_event = events(workspace, "phase_result")[-1]["payload"]
    assert paper_event["looser_thresholds"] == ["paper.min_trades: 12 is looser than the default >= 20"]
    env_event = events(workspace, "phase_result")[0]["payload"]
    assert env_event["looser_thresholds"] == []  # not env's business


def test_stricter_threshold_is_not_flagged(workspace, run_cli):
    set_thresholds(workspace, "{paper: {min_trades: 50}}")
    report = status_json(run_cli, workspace)
    assert report["looser_thresholds"] == []
    text = run_cli("-w", workspace, "status")
    assert text.exit_code == 0
    assert "Looser" not in text.output
    # the stricter value is what a paper run is judged against
    spec = next(s for s in ws_of(workspace).effective.specs if s.id == "paper")
    assert next(c for c in spec.criteria if c.id == "min_trades").threshold == 50


# --------------------------------------------------------------------------- (10) stage naming

def test_signoff_of_a_staged_phase_asks_for_a_stage(workspace, operator_key, run_cli):
    result = run_cli("-w", workspace, "signoff", "micro-live", "--by", "a", "--yes")
    assert result.exit_code == 2, result.output
    assert "micro-live has stages; name one: 4.1a, 4.1b, 4.1c, 4.1d" in result.output
    assert events(workspace, "signoff") == []


def test_signoff_accepts_phase_slash_stage_and_rejects_unknown_names(workspace, operator_key, run_cli):
    slash = run_cli("-w", workspace, "signoff", "micro-live/4.1a", "--by", "a", "--yes")
    assert slash.exit_code == 3  # understood as 4.1a, which has no result
    assert "4.1a has no result to sign" in slash.output

    unknown = run_cli("-w", workspace, "signoff", "live", "--by", "a", "--yes")
    assert unknown.exit_code == 2
    assert "unknown phase 'live'" in unknown.output
    assert ", ".join(STEPS) in unknown.output


# --------------------------------------------------------------------------- (11) trading modes

def test_mode_set_and_show_with_history(workspace, run_cli, operator_key):
    fresh = json.loads(run_cli("-w", workspace, "mode", "show", "--json").stdout)
    assert fresh == {"mode": "PAPER", "halted": False, "reducing": None, "history": []}

    result = run_cli("-w", workspace, "mode", "set", "EMERGENCY_STOP", "--reason", "exchange outage", "--by", "bob", "--yes")
    assert result.exit_code == 0, result.output
    assert "EMERGENCY_STOP" in result.output

    shown = run_cli("-w", workspace, "mode", "show", "--json")
    assert shown.exit_code == 0
    data = json.loads(shown.stdout)
    assert data["mode"] == "EMERGENCY_STOP"
    [change] = data["history"]
    assert change["by"] == "bob"
    assert change["from"] == "PAPER" and change["to"] == "EMERGENCY_STOP"
    assert change["reason"] == "exchange outage"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", change["at"])
    assert status_json(run_cli, workspace)["mode"] == "EMERGENCY_STOP"

    back = run_cli("-w", workspace, "mode", "set", "paper", "--reason", "resolved", "--by", "bob", "--yes")
    assert back.exit_code == 0
    history = json.loads(run_cli("-w", workspace, "mode", "show", "--json").stdout)["history"]
    assert [(h["from"], h["to"], h["reason"]) for h in history] == [
        ("EMERGENCY_STOP", "PAPER", "resolved"),
        ("PAPER", "EMERGENCY_STOP", "exchange outage"),
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["EMERGENCY_STOP", "--yes"], "--reason"),  # missing option (click usage error)
        (["EMERGENCY_STOP", "--reason", "   ", "--yes"], "--reason is required"),
        (["PAPER", "--reason", "x", "--yes"], "already PAPER"),
        (["TURBO", "--reason", "x", "--yes"], "unknown mode 'TURBO'"),
    ],
)
def test_mode_set_usage_errors_exit_2(workspace, run_cli, args, message):
    result = run_cli("-w", workspace, "mode", "set", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert json.loads(run_cli("-w", workspace, "mode", "show", "--json").stdout)["history"] == []


def test_mode_set_without_yes_asks(workspace, run_cli, monkeypatch):
    prompter = prompts.ScriptedPrompter([False])
    monkeypatch.setattr(prompts, "PROMPTER", prompter)
    result = run_cli("-w", workspace, "mode", "set", "EMERGENCY_STOP", "--reason", "drill")
    assert result.exit_code == 0
    assert "Mode unchanged." in result.output
    assert prompter.asked == ["Switch trading mode to EMERGENCY_STOP?"]
    assert json.loads(run_cli("-w", workspace, "mode", "show", "--json").stdout)["mode"] == "PAPER"
