"""`livegate status`: what needs attention first — the halt (who, when, why), reduce-only, the mode, tripped
circuit breakers, unsigned events that would open something — then the ladder, the ledger's
health, what blocks the next step, and the dust the latest run holds (holdings too small to
sell, kept out of trading)."""

from __future__ import annotations

from typing import Any

from livegate.adapters.exchange import WEBSOCKET_NOT_USED
from livegate.config.workspace import Workspace
from livegate.core import gate as rules
from livegate.core.formats import money, number, when
from livegate.ledger import queries
from livegate.services import gate, modes, signers
from livegate.services.livelock import live_holder
from livegate.services.monitoring.runs import CHECKPOINT_KINDS, LIVE, find_run
from livegate.services.monitoring.views import BREAKER_KINDS, collapse_breakers, positions_of


def ladder_report(ws: Workspace) -> dict[str, Any]:
    effective = ws.effective_for_display()  # a config problem stops here, before the ledger is opened
    with queries.shared_reads(ws.ledger_path):  # a dozen reads, one connection
        return _ladder_report(ws, effective)


def _ladder_report(ws: Workspace, effective: Any) -> dict[str, Any]:
    snap = gate.snapshot(ws, effective=effective, incremental=True)  # shown, not acted on
    state = snap.state
    evidence = research_evidence(ws)
    dust = dust_report(ws)
    # production's stage runs are `livegate trade`'s: they never end with a result, the same command continues them
    commands = {step.id: "livegate trade" if step.id == "production" else step.command for step in state.steps}
    unfinished = {**unfinished_stages(ws, commands), **paused_paper_run(ws)}
    rehearsals = rehearsal_results(ws, [rec.result_event for rec in state.records.values() if rec.result_event])
    steps = []
    for step in state.steps:
        status, detail = rules.step_status(state, step.id)
        rec = state.records.get(step.id) or rules.StepRecord(step.id)
        blockers = rules.gate_reasons(state, step.id)
        stage = unfinished.get(step.id)
        if stage is not None and stage.pop("fingerprint") != snap.effective.fingerprint:
            detail += (f"{'; ' if detail else ''}its run {stage['run']} stopped unfinished and cannot resume: the configuration "
                       "changed since it started")
            stage = None
        elif stage is not None and status == "signed":  # a further run of a signed step: the sign-off stands meanwhile
            detail += f"{'; ' if detail else ''}a further run {stage['run']}: {stage['detail']}"
        elif stage is not None:
            status, detail = stage["state"], stage["detail"]
        reasons = rehearsals.get(rec.result_event or 0, [])
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
            "rehearsal": bool(reasons),
            "rehearsal_reasons": reasons,
            "stage_run": stage,
        })
        if dust and dust["positions"] and dust["step"] == step.id:
            kept = ", ".join(f"{p['symbol']} {number(p['amount'], 6)} worth {money(p['value'])}" for p in dust["positions"])
            steps[-1]["detail"] += f"{'; ' if steps[-1]['detail'] else ''}dust kept (run {dust['run']}, too small to sell): {kept}"
    nxt = rules.next_step(state)
    stage_run = next((s["stage_run"] for s in steps if nxt and s["step"] == nxt.id), None) if state.ledger_ok else None
    return {
        "workspace": str(ws.root),
        "ledger": snap.verify.to_dict(),
        "halt": halt_report(ws),
        "reducing": reducing_report(ws),
        "mode": modes.current_mode(ws),
        "mode_change": mode_change(ws),
        "tripped_breakers": tripped_breakers(ws),
        "unsigned_events": [{"id": i, "kind": k} for i, k in snap.verify.unsigned],
        "websocket": WEBSOCKET_NOT_USED,
        "steps": steps,
        "next_step": nxt.id if nxt else None,
        "next_action": _stage_action(nxt.id, stage_run) if nxt and stage_run else rules.next_action(state),
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


def unfinished_stages(ws: Workspace, commands: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The micro-live stages started and not ended by a result: {stage: {state, run, started_at,
    stopped_at, reason, resume, detail, fingerprint}}. `state` is `running` while a go-live
    process holds the stage, else `paused` — stopped by --max-hours, Ctrl-C, SIGTERM, a halt, an
    error or a crash — which `resume` (the command that ran it) continues, when the configuration
    (`fingerprint`, the one it started under) is still the same."""
    started: dict[str, dict[str, Any]] = {}
    with queries.reading(ws.ledger_path) as conn:
        for event in queries.events(conn, ("stage_started", "phase_result")):
            p = event["payload"]
            if event["kind"] == "stage_started":
                started[p.get("stage")] = event
            else:
                started.pop(p.get("step"), None)
        turns = {stage: queries.events_of_run(conn, f"lgl{start['id']}", ("live_started", "live_stopped"), since_id=start["id"])
                 for stage, start in started.items() if stage in commands}
    holder = live_holder(ws) if turns else None
    out = {}
    for stage, events in turns.items():
        start = started[stage]
        p = start["payload"]
        resume = commands[stage] + (" --sandbox-clock" if p.get("clock") == "sandbox" else "")
        last = events[-1] if events else None
        stage_run = {"run": f"lgl{start['id']}", "started_at": start["ts"], "resume": resume,
                     "fingerprint": p.get("config_fingerprint")}
        if holder is not None and holder.stage == stage:
            out[stage] = {**stage_run, "state": "running", "stopped_at": None, "reason": None,
                          "detail": f"running now: {holder.describe()}"}
            continue
        if last is not None and last["kind"] == "live_stopped":
            stopped_at, reason = last["ts"], _pause_reason(str(last["payload"].get("reason") or "stopped"))
        else:
            stopped_at, reason = (last or start)["ts"], "the process ended before the stage did (a crash or a kill)"
        what = "production trading" if stage == "production" else "no result yet"
        out[stage] = {**stage_run, "state": "paused", "stopped_at": stopped_at, "reason": reason,
                      "detail": f"paused since {when(stopped_at)} UTC ({reason}), {what}; `{resume}` resumes it"}
    return out


def paused_paper_run(ws: Workspace) -> dict[str, dict[str, Any]]:
    """{"paper": {state: paused, run, started_at, stopped_at, reason, resume, detail, fingerprint}}
    when the latest forward paper run stopped at a checkpoint (Ctrl-C, SIGTERM, a halt, a venue
    outage) and has not gone on since; else {}. A run going on, or one whose process died
    without a word, is not called paused: a paper run holds no lock that would tell."""
    with queries.reading(ws.ledger_path) as conn:
        start = queries.latest_of_kind(conn, "paper_run_started")
        if start is None or not start["payload"].get("counts_as_phase_result"):
            return {}
        run = f"r{start['id']}"
        last = queries.latest_event(conn, ("paper_checkpoint", "paper_run_stopped", "paper_run_completed"))
        if (last is None or last["kind"] != "paper_run_stopped" or last["payload"].get("run") != run
                or not last["payload"].get("resumable") or queries.result_recorded_for_run(conn, run)):
            return {}
    reason, resume = str(last["payload"].get("reason") or "stopped"), "livegate paper-run --resume"
    return {"paper": {"state": "paused", "run": run, "started_at": start["ts"], "stopped_at": last["ts"], "reason": reason,
                      "resume": resume, "fingerprint": start["payload"].get("config_fingerprint"),
                      "detail": f"paused since {when(last['ts'])} UTC ({reason}), no result yet; `{resume}` resumes it"}}


def _stage_action(stage: str, stage_run: dict[str, Any]) -> str:
    if stage_run["state"] == "running":
        return f"stage {stage} is trading ({stage_run['detail']}); it records its result when it ends"
    return f"resume the paused run of {stage}: `{stage_run['resume']}`"


def _pause_reason(reason: str) -> str:
    """The go-live loop records a pause as "paused (WHY); resume with go-live": WHY alone."""
    if reason.startswith("paused (") and ")" in reason:
        return reason[len("paused ("):reason.rindex(")")]
    return reason


def rehearsal_results(ws: Workspace, result_ids: list[int]) -> dict[int, list[str]]:
    """{result event id: why it is a rehearsal} for those of these results recorded as one."""
    out = {}
    with queries.reading(ws.ledger_path) as conn:
        for event_id in result_ids:
            payload = (queries.event_by_id(conn, event_id) or {}).get("payload") or {}
            if payload.get("rehearsal"):
                out[event_id] = [str(r) for r in payload.get("rehearsal_reasons") or ()] or ["recorded as a rehearsal"]
    return out


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


def reducing_report(ws: Workspace) -> dict[str, Any] | None:
    """None unless trading is REDUCING (only orders that reduce an open position pass); else
    {by, at, reason, source, event, detail} — shown next to the halt, which wins over it. Never
    raises: when the ledger cannot be read, the halt report says so."""
    try:
        return modes.reduce_state(ws)
    except Exception:  # noqa: BLE001 - shown, never raised: the halt report carries the unreadable ledger
        return None


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
