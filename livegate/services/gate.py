"""The gate against a real workspace: read the ledger, apply the rules of `core.gate`,
record phase results and sign-offs."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from livegate.adapters.exchange.venue import rehearsal_venue
from livegate.config.workspace import CONFIG_FILE, Workspace
from livegate.core import gate as rules
from livegate.core.errors import ConfigError, GateClosed, UsageError
from livegate.ledger import queries
from livegate.ledger.keys import load_public
from livegate.ledger.store import Ledger
from livegate.ledger.trust import would_open
from livegate.ledger.verify import verified
from livegate.services.livelock import live_holder

if TYPE_CHECKING:
    from livegate.core.results import PhaseResult

ACKNOWLEDGMENT = (
    "I have completed all validation phases up to this one",
    "I understand the risks of live trading",
    "I accept full responsibility for any losses",
    "I have tested rollback procedures",
    "I have configured appropriate risk limits",
)


@dataclass(frozen=True)
class Snapshot:
    """The gate's view of a workspace at one moment."""

    state: rules.GateState
    verify: Any  # VerifyReport
    effective: Any  # workspace.Effective


def counts(event: dict[str, Any], signed: set[int]) -> bool:
    """Whether a result or a sign-off counts: a sign-off or a pass only when the operator's
    signature covers it (a result written without the key, or forged into the ledger, can close a
    gate but never open one; a forged sign-off never shows a step signed)."""
    return (event["kind"] != "signoff" and not would_open(event["kind"], event["payload"])) or event["id"] in signed


def step_records(conn, signed: set[int]) -> dict[str, rules.StepRecord]:
    """Each step's standing (`core.gate.step_record`) from its counting results and sign-offs: the
    latest result, and the sign-off that still covers it. `signed`: the events whose own
    signature verified (`VerifyReport.signed`)."""
    history = queries.results_and_signoffs_per_step(conn, lambda event: counts(event, signed))
    return {step: rules.step_record(step, results, signoffs) for step, (results, signoffs) in history.items()}


def snapshot(ws: Workspace, public_key=None, effective=None, incremental: bool = False) -> Snapshot:
    """Load config and ledger and evaluate everything the gate needs. ConfigError/LedgerError propagate.
    The ledger is verified in full: every command that trades or records a decision acts on it.
    `incremental` (only what is shown, `status`): from the signed checkpoint of the last full
    verify, re-checking its decisions and what came after (`ledger.verify`)."""

    effective = effective or ws.effective
    with verified(ws.ledger_path, public_key or load_public(), incremental) as (conn, report):  # one snapshot: checked, then read
        records = step_records(conn, report.signed)
    problem = report.problems[0] if report.problems else ""
    state = rules.GateState(
        steps=effective.steps,
        records=records,
        config_fingerprint=effective.fingerprint,
        config_snapshot=effective.snapshot,
        ledger_ok=report.ok,
        ledger_problem=problem,
        real_venue=rehearsal_venue(SimpleNamespace(**(effective.snapshot.get(CONFIG_FILE) or {}).get("exchange", {}))) is None,
    )
    return Snapshot(state, report, effective)


def find_step(state: rules.GateState, name: str) -> str:
    """Accept `4.1a`, `micro-live/4.1a` or a phase id; a staged phase alone is ambiguous."""
    name = name.strip()
    ids = [s.id for s in state.steps]
    if name in ids:
        return name
    if "/" in name and name.split("/", 1)[1] in ids:
        return name.split("/", 1)[1]
    staged = [s.id for s in state.steps if s.phase == name]
    if staged:
        raise UsageError(f"{name} has stages; name one: {', '.join(staged)}")
    raise UsageError(f"unknown phase {name!r}; one of: {', '.join(ids)}")


def require_open(snap: Snapshot, step_id: str) -> None:
    reasons = rules.gate_reasons(snap.state, step_id)
    if reasons:
        raise GateClosed(step_id, reasons)


CHECKABLE = ("env", "testnet")  # their commands measure without recording with --check


def require_recordable(ws: Workspace, step_id: str) -> None:
    """While a go-live stage trades (it holds the live lock), no other step's result is recorded:
    a re-run of an earlier phase must not replace what the running stage was opened on. Raises
    GateClosed naming the running stage."""
    holder = live_holder(ws)
    if holder is None or holder.stage == step_id:
        return
    hint = f"; `livegate {'validate' if step_id == 'env' else step_id} --check` measures without recording" if step_id in CHECKABLE else ""
    raise GateClosed(step_id, [f"{holder.describe()} is running: no {step_id} result is recorded while it trades — "
                               f"wait until it stops{hint}"])


def record_result(ws: Workspace, result: PhaseResult, key=None, ran_under: str | None = None) -> int:
    """Write a phase result. A result of kind `phase` counts only while its gate is open;
    research results (`backtest`, `import`) are always kept as evidence. `ran_under` is the
    config fingerprint the phase ran with: if the files changed meanwhile, nothing is written."""

    snap = snapshot(ws)
    if ran_under is not None and ran_under != snap.effective.fingerprint:
        raise ConfigError("the configuration changed while the phase was running; nothing was recorded — run it again")
    if result.kind == "phase":
        require_open(snap, result.step)
        require_recordable(ws, result.step)
    spec_step = next(s for s in snap.state.steps if s.id == result.step)
    payload = result.to_dict()
    reasons = rehearsal_reasons(snap.effective.config.exchange, result)
    payload.update(
        phase=spec_step.phase,
        config_fingerprint=snap.effective.fingerprint,
        looser_thresholds=[item.describe() for item in snap.effective.looser if item.scope.split(".")[0] == spec_step.phase],
        rehearsal=bool(reasons),
        rehearsal_reasons=reasons,
    )
    with Ledger.open(ws.ledger_path, key=key) as ledger:
        return ledger.append("phase_result", payload).id


def rehearsal_reasons(exchange: Any, result: PhaseResult) -> list[str]:
    """Why `result` is a rehearsal rather than a result on the real venue ([] when it is not):
    the workspace trades on the local sandbox or the exchange's test network
    (`rehearsal_venue`), or the result was measured on synthetic market data. A rehearsal
    result counts for its workspace's ladder like any other (the demo walks the ladder on one);
    `status` and the report label it, so it is never shown as a result on the real venue."""
    reasons = []
    venue = rehearsal_venue(exchange, result.step)
    if venue:
        reasons.append(venue)
    data = result.summary.get("data") or {}
    if data.get("synthetic"):
        reasons.append(f"synthetic market data ({', '.join(map(str, data.get('sources') or ())) or 'generated'})")
    return reasons


def _unsigned_results(ws: Workspace, snap: Snapshot, step_id: str) -> list[str]:
    """Passing results of `step_id` newer than the one that counts, written without the operator
    key (or into the ledger by someone without it): named, because they cannot be signed."""
    counted = (snap.state.records.get(step_id) or rules.StepRecord(step_id)).result_event or 0
    ids = [event_id for event_id, kind in snap.verify.unsigned if kind == "phase_result" and event_id > counted]
    if not ids:
        return []
    with queries.reading(ws.ledger_path) as conn:
        mine = [i for i in ids if ((queries.event_by_id(conn, i) or {}).get("payload") or {}).get("step") == step_id]
    return [f"{step_id} result #{i} was written without the operator key, so it does not count and cannot be signed; "
            "run the phase again with the key (LIVEGATE_KEY_DIR)" for i in mine]


def signoff(ws: Workspace, step_name: str, by: str, key, confirm=lambda step: True) -> int | None:
    """Sign the latest passed result of a step with the operator key and the acknowledgment.
    `confirm(step)` is asked once every rule allows the sign-off; declining signs nothing (None)."""

    if not by.strip():
        raise UsageError("--by needs the signer's name")
    snap = snapshot(ws, public_key=key.public)
    step_id = find_step(snap.state, step_name)
    reasons = _unsigned_results(ws, snap, step_id) + rules.signoff_reasons(snap.state, step_id)
    if reasons:
        raise GateClosed(f"sign-off of {step_id}", reasons)
    if not confirm(step_id):
        return None
    rec = snap.state.records[step_id]
    payload = {
        "step": step_id,
        "by": by.strip(),
        "acknowledgment": list(ACKNOWLEDGMENT),
        "result_event": rec.result_event,
        "config_fingerprint": snap.effective.fingerprint,
        "config_snapshot": snap.effective.snapshot,
    }
    with Ledger.open(ws.ledger_path, key=key) as ledger:
        return ledger.append("signoff", payload, actor=by.strip(), sign=True).id
