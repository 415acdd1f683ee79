"""`livegate validate` run again after env was signed off, against the local exchange: a passing
re-run keeps env signed, a failing one un-signs it and closes the gate from paper on (and says
so), and `--check` measures without writing a single event."""

from __future__ import annotations

import json

import pytest

from tests.conftest import by_id
from tests.envcheck.conftest import write_env
from tests.protocol_helpers import event_count

CLOSED = "validate failed: env is no longer signed; paper and later phases are closed until it passes and is signed again"


def steps(run_cli, ws) -> dict[str, dict]:
    result = run_cli("-w", ws, "status", "--json")
    assert result.exit_code == 0, result.output
    return {s["step"]: s for s in json.loads(result.stdout)["steps"]}


@pytest.fixture
def env_signed(run_cli, env_ws, operator_key):
    first = run_cli("-w", env_ws, "validate")
    assert first.exit_code == 0, first.output
    signed = run_cli("-w", env_ws, "signoff", "env", "--by", "Ann", "--yes")
    assert signed.exit_code == 0, signed.output
    return env_ws


def withdrawing_key(env_ws, new_key) -> None:
    """Break the env check the way an operator would: a key that can withdraw, in .env."""
    key = new_key(can_withdraw=True)
    write_env(env_ws, EXCHANGE_API_KEY=key.api_key, EXCHANGE_API_SECRET=key.secret)


def test_a_passing_rerun_keeps_env_signed_and_paper_open(run_cli, env_signed):
    count = event_count(env_signed)
    again = run_cli("-w", env_signed, "validate")
    assert again.exit_code == 0, again.output
    assert "Verdict: pass — recorded as the env phase result." in again.stdout
    assert "env stays signed (by Ann at " in again.stdout and "kept as further evidence" in again.stdout
    assert "livegate signoff env" not in again.stdout  # nothing to sign
    assert event_count(env_signed) == count + 1  # the new result, as evidence
    ladder = steps(run_cli, env_signed)
    assert ladder["env"]["status"] == "signed" and ladder["env"]["signed_by"] == "Ann"
    assert ladder["paper"]["gate_open"] is True
    human = run_cli("-w", env_signed, "status")
    assert human.exit_code == 0 and "signed" in human.stdout


def test_a_failing_rerun_unsigns_env_and_closes_the_gate_from_paper_on(run_cli, env_signed, new_key):
    withdrawing_key(env_signed, new_key)
    failed = run_cli("-w", env_signed, "validate")
    assert failed.exit_code == 1, failed.output
    assert "Verdict: fail — recorded as the env phase result." in failed.stdout
    assert CLOSED in failed.stdout
    code, report, _ = run_cli.json("-w", env_signed, "validate", "--json")  # failing again: env was no longer signed
    assert code == 1 and report["recorded"] is True and report["gate_notice"] is None
    ladder = steps(run_cli, env_signed)
    assert ladder["env"]["status"] == "failed" and ladder["env"]["signed_by"] is None
    assert ladder["env"]["gate_open"] is True
    assert not any(s["gate_open"] for step, s in ladder.items() if step != "env")
    paper = run_cli("-w", env_signed, "paper-run", "--days", "1")
    assert paper.exit_code == 3 and "env did not pass" in paper.output


def test_validate_check_records_nothing_and_shows_the_result(run_cli, env_signed, new_key):
    count = event_count(env_signed)
    checked = run_cli("-w", env_signed, "validate", "--check")
    assert checked.exit_code == 0, checked.output
    lines = checked.stdout.splitlines()
    assert any(line.startswith("key withdrawal disabled.") and line.endswith("Passed") for line in lines)
    assert "Verdict: pass — check only: nothing was recorded." in checked.stdout
    assert "stays signed" not in checked.stdout and "livegate signoff env" not in checked.stdout
    assert event_count(env_signed) == count

    withdrawing_key(env_signed, new_key)  # a failing check changes nothing either: env stays signed
    code, report, output = run_cli.json("-w", env_signed, "validate", "--check", "--json")
    assert code == 1, output
    assert report["recorded"] is False and report["counts_as_phase_result"] is False and report["gate_notice"] is None
    assert by_id(report)["key_withdrawal_disabled"]["verdict"] == "fail"
    assert event_count(env_signed) == count
    ladder = steps(run_cli, env_signed)
    assert ladder["env"]["status"] == "signed" and ladder["paper"]["gate_open"] is True


def test_check_cannot_record_an_attestation(run_cli, env_ws):
    count = event_count(env_ws)
    result = run_cli("-w", env_ws, "validate", "--check", "--attest-no-withdrawal", "--by", "Ann", "--yes")
    assert result.exit_code == 2 and "run it without --check" in result.output
    assert event_count(env_ws) == count
