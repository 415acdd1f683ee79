"""`livegate status`: what needs attention first — the halt (who, when, why), the mode, tripped
circuit breakers, unsigned events that would open something — then the ladder, the ledger's
health, what blocks the next step, and the dust the latest run holds (holdings too small to
sell, kept out of trading)."""

from __future__ import annotations

from typing import Any

from livegate.config.workspace import Workspace
from livegate.core import gate as rules
from livegate.core.formats import money, number
from livegate.ledger import queries
from livegate.services import gate, modes, signers
from livegate.services.alerts.thresholds import WEBSOCKET_NOT_USED
from livegate.services.monitoring.runs import CHECKPOINT_KINDS, LIVE, find_run
from livegate.services.monitoring.snapshot import BREAKER_KINDS, collapse_breakers, positions_of


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
            kept = ", ".join(f"{p['symbol']} {number(p['amount'], 6)} worth {money(p['value'])}" for p in dust["positions"])
            steps[-1]["detail"] += f"{'; ' if steps[-1]['detail'] else ''}dust kept (run {dust['run']}, too small to sell): {kept}"
    nxt = rules.next_step(state)
    return {
        "workspace": str(ws.root),
        "ledger": snap.verify.to_dict(),
        "halt": halt_report(ws),
        "mode": modes.current_mode(ws),
        "mode_change": mode_change(ws),
        "tripped_breakers": tripped_breakers(ws),
        "unsigned_events": [{"id": i, "kind": k} for i, k in snap.verify.unsigned],
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


# -- what `status` shows first -------------------------------------------------------------------

def halt_report(ws: Workspace) -> dict[str, Any] | None:
    """None while orders may be placed; else {halted, by, at, reason, source, pending, detail}:
    who stopped trading, when and why, and where that is held — `ledger` (the kill switch, `livegate
    halt`), `halt_file` (the kill switch, held by .livegate/HALTED and not yet in the ledger),
    `emergency_stop` (the mode), `ledger_check` (the ledger cannot be read, or does not continue as
    read or match its anchor: every order is refused). `detail` is the sentence every refused order
    gets. Never raises: what cannot be read shows as halted."""
    status = modes.halt_status(ws)
    if not status["halted"]:
        return None
    base = {"halted": True, "pending": status["pending"], "detail": status["reason"]}
    try:
        kill = modes.halt_state(ws)
    except Exception:  # noqa: BLE001 - the ledger cannot be read: the halt file alone may still say who
        try:
            held = modes.halt_file(ws)
        except modes.HaltStateUnreadable:
            held = None
        kill = {"halted": True, "by": held.by, "at": held.at, "reason": held.reason, "pending": True} if held else None
    if kill is not None and kill["halted"]:
        return {**base, "by": kill["by"], "at": kill["at"], "reason": kill["reason"],
                "source": "halt_file" if kill["pending"] else "ledger"}
    change = mode_change(ws)
    if change is not None and change["to"] == "EMERGENCY_STOP":
        return {**base, "by": change["by"], "at": change["at"], "reason": change["reason"], "source": "emergency_stop"}
    return {**base, "by": None, "at": None, "reason": status["reason"], "source": "ledger_check"}


def mode_change(ws: Workspace) -> dict[str, Any] | None:
    """The change that set the current mode — {id, at, by, to, level, reason}, `by` the operator's
    signing name where their key signed it — or None (PAPER from the start, or unreadable)."""
    try:
        with queries.reading(ws.ledger_path) as conn:
            event = modes.latest_counting(conn, ws.root, (modes.MODE_CHANGED,))
            if event is None:
                return None
            by = signers.signer_of(conn, ws.root, event, signers.signing_names(conn, ws.root)) or event["actor"]
    except Exception:  # noqa: BLE001 - shown, never raised: the halt report says when the ledger cannot be read
        return None
    p = event["payload"]
    return {"id": event["id"], "at": event["ts"], "by": by, "to": p.get("to"), "level": p.get("level"), "reason": p.get("reason", "")}


def tripped_breakers(ws: Workspace) -> list[dict[str, Any]]:
    """The circuit breakers tripped now in the latest run (the one `livegate monitor` watches),
    as the monitor counts them: a trip not re-armed since. {breaker, run, trips, first_trip_at,
    last_trip_at, until, message} each."""
    with queries.reading(ws.ledger_path) as conn:
        found = find_run(conn)
        if found is None:
            return []
        run, _source, start, _why = found
        events = queries.events_of_run(conn, run, BREAKER_KINDS, since_id=start["id"])
    return [{"run": run, **{k: b[k] for k in ("breaker", "trips", "first_trip_at", "last_trip_at", "until", "message")}}
            for b in collapse_breakers(events) if b["state"] == "tripped"]
