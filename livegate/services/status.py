"""`livegate status`: the ladder, the ledger's health, the mode and what blocks the next step."""

from __future__ import annotations

from typing import Any

from livegate.config.workspace import Workspace
from livegate.core import gate as rules
from livegate.ledger import queries
from livegate.services import gate
from livegate.services.modes import current_mode


def ladder_report(ws: Workspace) -> dict[str, Any]:
    snap = gate.snapshot(ws, effective=ws.effective_for_display())
    state = snap.state
    evidence = research_evidence(ws)
    steps = []
    for step in state.steps:
        status, detail = rules.step_status(state, step.id)
        rec = state.records.get(step.id) or rules.StepRecord(step.id)
        blockers = rules.gate_reasons(state, step.id)
        steps.append({
            "step": step.id,
            "phase": step.phase,
            "title": step.title,
            "command": step.command,
            "status": status,
            "verdict": rec.verdict,
            "result_at": rec.result_at,
            "signed_by": rec.signed_by,
            "signed_at": rec.signed_at,
            "detail": detail,
            "gate_open": not blockers,
            "evidence": evidence.get(step.id, {}),
        })
    nxt = rules.next_step(state)
    return {
        "workspace": str(ws.root),
        "ledger": snap.verify.to_dict(),
        "mode": current_mode(ws),
        "steps": steps,
        "next_step": nxt.id if nxt else None,
        "next_action": rules.next_action(state),
        "blocking": rules.gate_reasons(state, nxt.id) if nxt else [],
        "looser_thresholds": list(snap.effective.looser_lines),
        "profile": snap.effective.profile,
    }


def research_evidence(ws: Workspace) -> dict[str, dict[str, int]]:
    """Results kept as evidence only (backtests, imports) per step: {step: {kind: count}}."""
    with queries.reading(ws.ledger_path) as conn:
        rows = queries.research_result_counts(conn)
    out: dict[str, dict[str, int]] = {}
    for step, kind, n in rows:
        out.setdefault(step, {})[kind] = n
    return out
