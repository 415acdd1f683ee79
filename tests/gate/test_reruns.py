"""Re-running a phase against a real workspace: a passing re-run keeps the step signed (more
evidence), a failing one un-signs it and closes every later step, `record=False` (`--check`)
writes nothing, and no result is recorded while a go-live stage holds the live lock."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from livegate.config.workspace import Workspace
from livegate.core import gate as rules
from livegate.core.errors import GateClosed
from livegate.core.results import Verdict
from livegate.core.steps import Step
from livegate.phases import Measurement, criteria_for, run_phase
from livegate.services.livelock import live_holder
from tests.protocol_helpers import event_count, hold_live_lock, passing, sign_off

FAILED_ENV = ("validate failed: env is no longer signed; paper and later phases are closed until it passes "
              "and is signed again")

def phase(root: Path, step: str, failing: tuple[str, ...] = ()):
    """A plug-in measuring every criterion of `step` to pass, except those named in `failing`."""
    spec = next(s for s in Workspace(root).effective.specs if s.id == step or any(st.id == step for st in s.stages))

    class Phase:
        id = spec.id
        checks = {c.id: (lambda ctx, c=c: Measurement(None, message="broken on purpose", verdict=Verdict.FAIL) if c.id in failing
                         else Measurement(passing(c))) for c in criteria_for(spec, step)}

    return Phase()


def rerun(root: Path, key, step: str = "env", failing: tuple[str, ...] = (), record: bool = True):
    """Run `step` again as its command does: (result, what it did to the sign-off)."""
    extras: dict = {}
    result = run_phase(phase(root, step, failing), Workspace(root), step=step, extras=extras, key=key, record=record)
    return result, extras.get("gate_notice")


def status(run_cli, root: Path) -> dict[str, dict]:
    result = run_cli("-w", root, "status", "--json")
    assert result.exit_code == 0, result.output
    return {s["step"]: s for s in json.loads(result.stdout)["steps"]}


@pytest.fixture
def env_signed(workspace, operator_key) -> Path:
    sign_off(workspace, operator_key, "env")
    return workspace


def test_a_passing_rerun_keeps_the_step_signed(env_signed, operator_key, run_cli):
    before = status(run_cli, env_signed)["env"]
    result, notice = rerun(env_signed, operator_key)
    assert result.passed
    assert notice.startswith(f"env stays signed (by Test Operator at {before['signed_at']})")
    steps = status(run_cli, env_signed)
    assert steps["env"]["status"] == "signed" and steps["env"]["signed_by"] == "Test Operator"
    assert steps["env"]["result_at"] != before["result_at"]  # the new run is the latest result
    assert steps["paper"]["gate_open"] is True
    again = run_cli("-w", env_signed, "signoff", "env", "--by", "bob", "--yes")
    assert again.exit_code == 3 and "already signed off by Test Operator" in again.output
    assert run_phase(phase(env_signed, "paper"), Workspace(env_signed), key=operator_key).passed  # paper still runs


def test_a_failing_rerun_unsigns_the_step_until_it_passes_and_is_signed_again(env_signed, operator_key, run_cli):
    result, notice = rerun(env_signed, operator_key, failing=("key_withdrawal_disabled",))
    assert not result.passed and notice == FAILED_ENV
    steps = status(run_cli, env_signed)
    assert steps["env"]["status"] == "failed" and steps["env"]["signed_by"] is None
    assert [s["gate_open"] for s in steps.values()] == [True] + [False] * (len(steps) - 1)
    with pytest.raises(GateClosed, match="env did not pass"):
        run_phase(phase(env_signed, "paper"), Workspace(env_signed), key=operator_key)

    result, notice = rerun(env_signed, operator_key)  # passing again: the old sign-off does not come back
    assert result.passed and notice is None
    assert status(run_cli, env_signed)["env"]["status"] == "passed"
    with pytest.raises(GateClosed, match="env passed but is not signed off"):
        run_phase(phase(env_signed, "paper"), Workspace(env_signed), key=operator_key)
    assert run_cli("-w", env_signed, "signoff", "env", "--by", "bob", "--yes").exit_code == 0
    assert status(run_cli, env_signed)["paper"]["gate_open"] is True


def test_a_pass_under_another_configuration_in_between_ends_the_signoff(env_signed, operator_key, run_cli):
    risk = env_signed / "risk_limits.yaml"
    original = risk.read_text(encoding="utf-8")
    assert original.count("max_open_positions: 5") == 1
    risk.write_text(original.replace("max_open_positions: 5", "max_open_positions: 6"), encoding="utf-8")
    assert rerun(env_signed, operator_key)[0].passed  # passes under the changed config: awaiting sign-off
    risk.write_text(original, encoding="utf-8")  # back to the signed values, and run once more
    result, notice = rerun(env_signed, operator_key)
    assert result.passed and notice is None  # the step was not signed when this run started
    assert status(run_cli, env_signed)["env"]["status"] == "passed"


def test_a_failing_rerun_of_a_later_step_closes_only_from_there(workspace, operator_key, run_cli):
    sign_off(workspace, operator_key, "env", "paper")
    result, notice = rerun(workspace, operator_key, "paper", failing=("min_trades",))
    assert notice == "paper-run failed: paper is no longer signed; testnet and later phases are closed until it passes and is signed again"
    steps = status(run_cli, workspace)
    assert steps["env"]["status"] == "signed" and steps["paper"]["status"] == "failed"
    assert steps["paper"]["gate_open"] is True and steps["testnet"]["gate_open"] is False


def test_record_false_measures_and_writes_nothing(env_signed, operator_key, run_cli):
    count = event_count(env_signed)
    result, notice = rerun(env_signed, operator_key, failing=("safe_flags_initial",), record=False)
    assert result.verdict == Verdict.FAIL and notice is None
    assert [c.criterion for c in result.checks if c.verdict == Verdict.FAIL] == ["safe_flags_initial"]
    assert event_count(env_signed) == count
    assert status(run_cli, env_signed)["env"]["status"] == "signed"


@pytest.fixture
def lock_holder(workspace):
    """hold(stage) -> the process holding the live lock as go-live does (`controls.live_lock(ws, stage)`)."""
    procs = []

    def hold(stage: str) -> subprocess.Popen:
        proc = hold_live_lock(workspace, stage)
        procs.append(proc)
        return proc

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)


def test_no_result_is_recorded_while_a_go_live_stage_holds_the_live_lock(workspace, operator_key, lock_holder, run_cli):
    sign_off(workspace, operator_key, "env", "paper", "testnet", "4.1a")
    holder = lock_holder("4.1b")
    count = event_count(workspace)
    reasons = {}
    for step in ("env", "paper", "testnet", "4.1a"):
        with pytest.raises(GateClosed) as info:
            rerun(workspace, operator_key, step)
        [reasons[step]] = info.value.reasons
        assert reasons[step].startswith(f"go-live stage 4.1b (pid {holder.pid}) is running: no {step} result is recorded")
    assert reasons["testnet"].endswith("wait until it stops; `livegate testnet --check` measures without recording")
    assert reasons["env"].endswith("`livegate validate --check` measures without recording")
    assert event_count(workspace) == count
    assert rerun(workspace, operator_key, "testnet", failing=("approvals_behave",), record=False)[0].verdict == Verdict.FAIL
    assert event_count(workspace) == count
    assert all(s["status"] == "signed" for step, s in status(run_cli, workspace).items() if step in ("env", "paper", "testnet", "4.1a"))

    holder.communicate("\n", timeout=10)  # the stage stopped: the lock is free and recording works again
    assert rerun(workspace, operator_key, "testnet")[0].passed
    assert event_count(workspace) == count + 1


def test_a_holder_killed_without_releasing_blocks_nothing(workspace, operator_key, lock_holder):
    sign_off(workspace, operator_key, "env")
    holder = lock_holder("4.1a")
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    assert (workspace / ".livegate" / "live.lock").read_text().split() == [str(holder.pid), "4.1a"]  # its name is left behind
    assert live_holder(Workspace(workspace)) is None
    assert rerun(workspace, operator_key)[0].passed


# --------------------------------------------------------------------------- the rule itself (core.gate)

def ev(event_id: int, payload: dict) -> dict:
    return {"id": event_id, "ts": f"2026-01-01T00:00:{event_id:02d}Z", "payload": payload}


def res(event_id: int, verdict: str = "pass", config: str = "F1") -> dict:
    return ev(event_id, {"step": "env", "kind": "phase", "verdict": verdict, "config_fingerprint": config})


def so(event_id: int, result: int, config: str = "F1", by: str = "ann") -> dict:
    return ev(event_id, {"step": "env", "by": by, "result_event": result, "config_fingerprint": config})


@pytest.mark.parametrize("results, signoffs, signed_result", [
    ([res(1)], [], None),                                              # passed, never signed
    ([res(1)], [so(2, 1)], 1),                                         # the latest result signed
    ([res(1), res(3)], [so(2, 1)], 1),                                 # a passing re-run: still covered
    ([res(1), res(3), res(4), res(5)], [so(2, 1)], 1),                 # any number of them
    ([res(1), res(3, "fail")], [so(2, 1)], None),                      # a failing re-run ends it
    ([res(1), res(3, "fail"), res(4)], [so(2, 1)], None),              # ... also once it passes again
    ([res(1), res(3, "fail"), res(4)], [so(2, 1), so(5, 4, by="bo")], 4),  # until signed again
    ([res(1), res(3, config="F2")], [so(2, 1)], None),                 # a run under another config
    ([res(1), res(3, config="F2"), res(4)], [so(2, 1)], None),         # ... breaks the run of passes
    ([res(1), res(3, "error")], [so(2, 1)], None),                     # an error is not a pass
    ([res(1), res(3)], [so(2, 99)], None),                             # a sign-off of no result here
])
def test_which_signoff_covers_the_latest_result(results, signoffs, signed_result):
    record = rules.step_record("env", results, signoffs)
    assert record.result_event == results[-1]["id"] and record.verdict == results[-1]["payload"]["verdict"]
    assert record.signed_result == signed_result
    assert (record.signed_by is not None) == (signed_result is not None)


STEPS = (Step("env", "env", "Environment", "livegate validate"), Step("4.1d", "micro-live", "Micro-live 4.1d", "livegate go-live --stage 4.1d"),
         Step("production", "production", "Production", "livegate production"))


@pytest.mark.parametrize("step, passed, notice", [
    ("env", False, "validate failed: env is no longer signed; 4.1d and later phases are closed until it passes and is signed again"),
    ("4.1d", False, "go-live --stage 4.1d failed: 4.1d is no longer signed; production and later phases are closed until it passes "
                    "and is signed again"),
    ("production", False, "production failed: production is no longer signed until it passes and is signed again"),
    ("production", True, "production stays signed (by ann at 2026-01-01T00:00:02Z): this passing run under the same configuration "
                         "is kept as further evidence"),
])
def test_what_a_recorded_rerun_says(step, passed, notice):
    records = {s.id: rules.step_record(s.id, [{**res(1), "payload": {**res(1)["payload"], "step": s.id}}], [so(2, 1)]) for s in STEPS}
    signed = rules.GateState(steps=STEPS, records=records, config_fingerprint="F1", config_snapshot={})
    assert rules.rerun_notice(signed, step, passed) == notice
    unsigned = rules.GateState(steps=STEPS, records={}, config_fingerprint="F1", config_snapshot={})
    assert rules.rerun_notice(unsigned, step, passed) is None
    drifted = rules.GateState(steps=STEPS, records=records, config_fingerprint="F2", config_snapshot={})
    assert rules.rerun_notice(drifted, step, passed) is None  # stale already: the run changes nothing it had


def test_production_refuses_its_drill_while_a_go_live_stage_runs(workspace, operator_key, lock_holder, run_cli):
    """The kill-switch drill halts trading: run beside a stage, it would stop that stage's trading."""
    sign_off(workspace, operator_key, "env", "paper", "testnet", "4.1a", "4.1b", "4.1c", "4.1d")
    holder = lock_holder("4.1a")
    count = event_count(workspace)
    refused = run_cli("-w", workspace, "production", "--yes")
    assert refused.exit_code == 3, refused.output
    assert f"go-live stage 4.1a (pid {holder.pid}) is running" in refused.output
    assert event_count(workspace) == count  # no drill started, nothing recorded
