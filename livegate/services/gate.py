"""The gate against a real workspace: read the ledger, apply the rules of `core.gate`,
record phase results and sign-offs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from livegate.config.workspace import Workspace
from livegate.core import gate as rules
from livegate.core.errors import ConfigError, GateClosed, UsageError
from livegate.core.results import PhaseResult
from livegate.ledger import queries
from livegate.ledger.keys import load_public
from livegate.ledger.store import Ledger
from livegate.ledger.verify import verify_ledger

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


def step_records(conn) -> dict[str, rules.StepRecord]:
    """Latest counting result per step, with the sign-off of that exact result."""
    records = {}
    for step, (result, signoff) in queries.latest_result_per_step(conn).items():
        res = result["payload"]
        so = signoff["payload"] if signoff is not None else {}
        records[step] = rules.StepRecord(
            step=step,
            verdict=res.get("verdict"),
            result_event=result["id"],
            result_at=result["ts"],
            result_config=res.get("config_fingerprint"),
            signed_by=so.get("by"),
            signed_at=signoff["ts"] if signoff is not None else None,
            signoff_config=so.get("config_fingerprint"),
            signoff_snapshot=so.get("config_snapshot") or {},
        )
    return records


def snapshot(ws: Workspace, public_key=None, effective=None) -> Snapshot:
    """Load config and ledger and evaluate everything the gate needs. ConfigError/LedgerError propagate."""

    effective = effective or ws.effective
    with queries.reading(ws.ledger_path) as conn:
        report = verify_ledger(conn, public_key or load_public())
        records = step_records(conn)
    problem = report.problems[0] if report.problems else ""
    state = rules.GateState(
        steps=effective.steps,
        records=records,
        config_fingerprint=effective.fingerprint,
        config_snapshot=effective.snapshot,
        ledger_ok=report.ok,
        ledger_problem=problem,
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


def record_result(ws: Workspace, result: PhaseResult, key=None, ran_under: str | None = None) -> int:
    """Write a phase result. A result of kind `phase` counts only while its gate is open;
    research results (`backtest`, `import`) are always kept as evidence. `ran_under` is the
    config fingerprint the phase ran with: if the files changed meanwhile, nothing is written."""

    snap = snapshot(ws)
    if ran_under is not None and ran_under != snap.effective.fingerprint:
        raise ConfigError("the configuration changed while the phase was running; nothing was recorded — run it again")
    if result.kind == "phase":
        require_open(snap, result.step)
    spec_step = next(s for s in snap.state.steps if s.id == result.step)
    payload = result.to_dict()
    payload.update(
        phase=spec_step.phase,
        config_fingerprint=snap.effective.fingerprint,
        looser_thresholds=[item.describe() for item in snap.effective.looser if item.scope.split(".")[0] == spec_step.phase],
    )
    with Ledger.open(ws.ledger_path, key=key) as ledger:
        return ledger.append("phase_result", payload).id


def signoff(ws: Workspace, step_name: str, by: str, key, confirm=lambda step: True) -> int | None:
    """Sign the latest passed result of a step with the operator key and the acknowledgment.
    `confirm(step)` is asked once every rule allows the sign-off; declining signs nothing (None)."""

    if not by.strip():
        raise UsageError("--by needs the signer's name")
    snap = snapshot(ws, public_key=key.public)
    step_id = find_step(snap.state, step_name)
    reasons = rules.signoff_reasons(snap.state, step_id)
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
