"""Gate rules (SPEC §4): which step may run, which may be signed, and why not.

Pure functions over records read from the ledger; the caller supplies the current config
fingerprint and snapshot and whether the ledger verified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from livegate.core.canonical import diff_paths
from livegate.core.errors import UsageError
from livegate.core.steps import Step


@dataclass(frozen=True)
class StepRecord:
    """The latest counting result of a step and the sign-off that covers it, if any (see `step_record`)."""

    step: str
    verdict: str | None = None
    result_event: int | None = None
    result_at: str | None = None
    result_config: str | None = None
    signed_by: str | None = None
    signed_at: str | None = None
    signoff_config: str | None = None
    signoff_snapshot: dict[str, Any] = field(default_factory=dict)
    signed_result: int | None = None  # the result the sign-off signed (the latest, or an earlier pass it still covers)
    rehearsal: bool = False  # the latest result was obtained on the local sandbox, a test network or synthetic data


def step_record(step: str, results: list[dict[str, Any]], signoffs: list[dict[str, Any]]) -> StepRecord:
    """A step's standing from its counting results and its sign-offs, each a ledger event
    (`id`, `ts`, `payload`) in ledger order.

    The latest result gives the verdict. A sign-off still covers it when it signed a passing
    result under the same config fingerprint as the latest and every result since that one
    passed under that fingerprint too: a passing re-run adds evidence and the step stays
    signed; a failing re-run, or a run under another configuration, ends the sign-off (the
    step must then pass and be signed again)."""
    if not results:
        return StepRecord(step)
    latest = results[-1]
    res = latest["payload"]
    config = res.get("config_fingerprint")
    by_result = {so["payload"].get("result_event"): so for so in signoffs}  # the latest sign-off of each result
    signoff = None
    for result in reversed(results):
        payload = result["payload"]
        if payload.get("verdict") != "pass" or payload.get("config_fingerprint") != config:
            break
        signoff = by_result.get(result["id"])
        if signoff is not None:
            break
    so = signoff["payload"] if signoff is not None else {}
    return StepRecord(
        step=step,
        verdict=res.get("verdict"),
        result_event=latest["id"],
        result_at=latest["ts"],
        result_config=config,
        signed_by=so.get("by"),
        signed_at=signoff["ts"] if signoff is not None else None,
        signoff_config=so.get("config_fingerprint"),
        signoff_snapshot=so.get("config_snapshot") or {},
        signed_result=so.get("result_event"),
        rehearsal=bool(res.get("rehearsal")),
    )


@dataclass(frozen=True)
class GateState:
    """Everything the rules need: records per step, the config now, the ledger's health."""

    steps: tuple[Step, ...]
    records: dict[str, StepRecord]
    config_fingerprint: str
    config_snapshot: dict[str, Any]
    ledger_ok: bool = True
    ledger_problem: str = ""
    real_venue: bool = False  # the workspace now trades on the venue itself: a rehearsal's sign-off opens nothing there


def config_changes(old: dict[str, Any], new: dict[str, Any], limit: int = 5) -> list[str]:
    """Human lines for what changed between two config snapshots ("file key old → new")."""
    lines: list[str] = []
    for section in sorted(set(old) | set(new)):
        for path, before, after in diff_paths(old.get(section) or {}, new.get(section) or {}):
            lines.append(f"{section} {path} {_show(before)} → {_show(after)}")
    if len(lines) > limit:
        lines = lines[:limit] + [f"... and {len(lines) - limit} more"]
    return lines


def _show(value: object) -> str:
    return "(unset)" if value is None else str(value)


def step_status(state: GateState, step_id: str) -> tuple[str, str]:
    """(status, detail) of one step: not-run, failed, passed (unsigned), signed, stale."""
    rec = state.records.get(step_id) or StepRecord(step_id)
    if rec.verdict is None:
        return "not run", ""
    if rec.verdict != "pass":
        return "failed", f"latest result {rec.verdict} at {rec.result_at}"
    if rec.signed_by is None:
        if rec.result_config != state.config_fingerprint:
            return "stale", "config changed since this result; run the phase again"
        return "passed", "awaiting sign-off"
    if rec.signoff_config != state.config_fingerprint:
        changes = config_changes(rec.signoff_snapshot, state.config_snapshot)
        detail = f"config changed since {step_id} sign-off"
        if changes:
            detail += ": " + "; ".join(changes)
        return "stale", detail
    return "signed", f"by {rec.signed_by} at {rec.signed_at}"


def _step_index(state: GateState, step_id: str) -> int:
    for i, step in enumerate(state.steps):
        if step.id == step_id:
            return i
    raise UsageError(f"unknown step {step_id!r}; one of: {', '.join(s.id for s in state.steps)}")


def _requirement(state: GateState, step: Step) -> str | None:
    """Why `step` does not count as a completed prerequisite, or None if it does."""
    status, detail = step_status(state, step.id)
    if status == "signed":
        rec = state.records[step.id]
        if state.real_venue and rec.rehearsal:
            return (f"{step.id} was signed off on a rehearsal (the local sandbox, a test network or synthetic data), and the "
                    f"exchange is now the real venue: run `{step.command}` there and sign it off")
        return None
    if status == "not run":
        return f"{step.id} has not passed yet (run `{step.command}`)"
    if status == "failed":
        return f"{step.id} did not pass ({detail}; run `{step.command}` again)"
    if status == "passed":
        return f"{step.id} passed but is not signed off (run `livegate signoff {step.id} --by NAME`)"
    return f"{detail} (run `{step.command}` again and sign it off)"


def gate_reasons(state: GateState, step_id: str) -> list[str]:
    """Everything that keeps `step_id` from running; empty means the gate is open."""
    reasons: list[str] = []
    if not state.ledger_ok:
        reasons.append(f"the ledger does not verify: {state.ledger_problem}")
    index = _step_index(state, step_id)
    for step in state.steps[:index]:
        why = _requirement(state, step)
        if why:
            reasons.append(why)
    return reasons


def signoff_reasons(state: GateState, step_id: str) -> list[str]:
    """Everything that keeps `step_id`'s latest result from being signed off."""
    reasons: list[str] = []
    if not state.ledger_ok:
        reasons.append(f"the ledger does not verify: {state.ledger_problem}")
    rec = state.records.get(step_id) or StepRecord(step_id)
    step = state.steps[_step_index(state, step_id)]
    if rec.verdict is None:
        reasons.append(f"{step_id} has no result to sign (run `{step.command}` first)")
    elif rec.verdict != "pass":
        reasons.append(f"{step_id} did not pass (latest result: {rec.verdict} at {rec.result_at}); only a passed phase can be signed off")
    elif rec.result_config != state.config_fingerprint:
        reasons.append(f"config changed since the {step_id} result was recorded; run `{step.command}` again")
    elif rec.signed_by is not None and rec.signoff_config == state.config_fingerprint:
        reasons.append(f"{step_id} is already signed off by {rec.signed_by} at {rec.signed_at}")
    return reasons


def rerun_notice(before: GateState, step_id: str, passed: bool) -> str | None:
    """What a result just recorded did to a step that was signed before it (`before`: the gate
    as the run found it), in one line; None when the step was not signed."""
    status, _ = step_status(before, step_id)
    if status != "signed":
        return None
    index = _step_index(before, step_id)
    step = before.steps[index]
    rec = before.records[step_id]
    if passed:
        return (f"{step_id} stays signed (by {rec.signed_by} at {rec.signed_at}): this passing run under the same "
                "configuration is kept as further evidence")
    name = step.command.removeprefix("livegate ")
    later = before.steps[index + 1:]
    closed = f"; {later[0].id} and later phases are closed" if later else ""
    return f"{name} failed: {step_id} is no longer signed{closed} until it passes and is signed again"


def next_step(state: GateState) -> Step | None:
    """The first step that is not signed off under the current config (None when all are)."""
    for step in state.steps:
        if step_status(state, step.id)[0] != "signed":
            return step
    return None


def next_action(state: GateState) -> str:
    """One line: what the operator should do next."""
    if not state.ledger_ok:
        return f"the ledger does not verify ({state.ledger_problem}); investigate before anything else"
    step = next_step(state)
    if step is None:
        return "every phase is passed and signed off"
    status, detail = step_status(state, step.id)
    if status == "passed":
        return f"sign off {step.id}: livegate signoff {step.id} --by NAME"
    if status == "stale":
        return f"{detail}; run `{step.command}` again"
    if status == "failed":
        return f"{step.id} failed; fix what failed and run `{step.command}` again"
    return f"run `{step.command}`"
