"""`livegate status`: the ladder, the ledger's health, the mode, what blocks the next step, and
the dust the latest run holds (holdings too small to sell, kept out of trading)."""

from __future__ import annotations

from typing import Any

from livegate.config.workspace import Workspace
from livegate.core import gate as rules
from livegate.ledger import queries
from livegate.services import gate
from livegate.services.alerts.thresholds import WEBSOCKET_NOT_USED
from livegate.services.modes import current_mode, halt_status
from livegate.services.monitoring.runs import CHECKPOINT_KINDS, LIVE, find_run
from livegate.services.monitoring.snapshot import positions_of


def ladder_report(ws: Workspace) -> dict[str, Any]:
    snap = gate.snapshot(ws, effective=ws.effective_for_display())
    state = snap.state
    evidence = research_evidence(ws)
    dust = dust_report(ws)
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
        if dust and dust["positions"] and dust["step"] == step.id:
            kept = ", ".join(f"{p['symbol']} {p['amount']:g} worth {p['value']:,.2f}" for p in dust["positions"])
            steps[-1]["detail"] += f"{'; ' if steps[-1]['detail'] else ''}dust kept (run {dust['run']}, too small to sell): {kept}"
    nxt = rules.next_step(state)
    return {
        "workspace": str(ws.root),
        "ledger": snap.verify.to_dict(),
        "mode": current_mode(ws),
        "halt": halt_status(ws),
        "websocket": WEBSOCKET_NOT_USED,
        "steps": steps,
        "next_step": nxt.id if nxt else None,
        "next_action": rules.next_action(state),
        "blocking": rules.gate_reasons(state, nxt.id) if nxt else [],
        "looser_thresholds": list(snap.effective.looser_lines),
        "profile": snap.effective.profile,
        "dust": dust,
    }


def dust_report(ws: Workspace) -> dict[str, Any] | None:
    """The dust of the latest run — the one `livegate monitor` watches: the latest live stage,
    else the latest paper run — at its latest checkpoint: {run, step, positions}; None without
    a run. Dust never blocks a step; it is shown so that it is not forgotten."""
    with queries.reading(ws.ledger_path) as conn:
        found = find_run(conn)
        if found is None:
            return None
        run, source, start, _why = found
        checkpoint = queries.latest_in_run(conn, run, CHECKPOINT_KINDS[source], since_id=start["id"])
    state = checkpoint["payload"].get("state") if checkpoint else None
    step = start["payload"].get("stage") if source == LIVE else "paper"
    return {"run": run, "step": step, "positions": positions_of(state, "dust")}


def research_evidence(ws: Workspace) -> dict[str, dict[str, int]]:
    """Results kept as evidence only (backtests, imports) per step: {step: {kind: count}}."""
    with queries.reading(ws.ledger_path) as conn:
        rows = queries.research_result_counts(conn)
    out: dict[str, dict[str, int]] = {}
    for step, kind, n in rows:
        out.setdefault(step, {})[kind] = n
    return out
