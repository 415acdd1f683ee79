"""halt | resume | cancel-all | rollback: the emergency controls, effective without a restart."""

from __future__ import annotations

import typer

from livegate.cli import display as d
from livegate.cli import workspace_from
from livegate.cli.prompts import confirm
from livegate.core.errors import UsageError
from livegate.ledger.keys import try_load_private
from livegate.services.approvals import operator_name
from livegate.services.controls import cancel_all, halt, resume, rollback
from livegate.services.modes import halted_reason, mode_limits

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand

BY = typer.Option(None, "--by", help="Who (default: workspace.operator in livegate.yaml, else the OS user).", show_default=False)
YES = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
JSON = typer.Option(False, "--json", help="Print JSON.")


def _open(ctx: typer.Context, by: str | None, yes: bool = False, ask=None, declined: str = ""):
    """The workspace, who acts, and the operator key (or None). With `ask` (the question, or
    a function of the workspace returning it) the operator confirms first, unless `yes`;
    declining prints `declined` and exits 0."""

    ws = workspace_from(ctx).require()
    if ask is not None and not confirm(ask(ws) if callable(ask) else ask, yes):
        d.out(declined)
        raise typer.Exit(0)
    return ws, operator_name(ws, by), try_load_private()


def _resume_question(ws) -> str:
    why = halted_reason(ws)
    if why is None:
        raise UsageError("trading is not halted; nothing to resume")
    return f"Resume trading? Now: {why}"


def _report_cancelled(items: list[dict]) -> None:
    orders = [i for i in items if "approval" not in i]
    rejected = [i["approval"] for i in items if "approval" in i]
    if orders:
        d.table("Cancelled", ["Order id", "Symbol", "Side", "Type", "Amount", "Price", "Status"],
                [[o["id"], o["symbol"], o["side"], o["type"], d.fmt_value(o["amount"]), d.fmt_value(o["price"]), o["status"]] for o in orders])
    if rejected:
        d.out(f"Rejected awaiting approval: {', '.join(rejected)}")
    d.out(f"[green]No open order left[/] ({len(orders)} cancelled, {len(rejected)} approval(s) rejected).")


@app.command("halt")
def halt_cmd(
    ctx: typer.Context,
    reason: str = typer.Option("manual halt", "--reason", help="Why (kept in the ledger and shown to every refused order)."),
    by: str = BY,
    as_json: bool = JSON,
) -> None:
    """Kill switch: no new order on any path from the next check on, in every running process, without a restart; cancels still go through."""

    ws, name, key = _open(ctx, by)
    event_id = halt(ws, reason, name, key)
    why = halted_reason(ws)
    if as_json:
        d.emit_json({"halted": True, "event": event_id, "already_halted": event_id is None, "reason": why})
    elif event_id is None:
        d.out(f"Already halted: {why}")
    else:
        d.out(f"[bold red]Trading halted[/] (ledger event #{event_id}): no new order will be placed. `livegate resume` lifts it.")


@app.command("resume")
def resume_cmd(
    ctx: typer.Context,
    reason: str = typer.Option("", "--reason", help="Why trading may resume (kept in the ledger)."),
    by: str = BY,
    yes: bool = YES,
    as_json: bool = JSON,
) -> None:
    """Lift the kill switch after a confirmation; EMERGENCY_STOP becomes PAPER (going live again takes `mode set`)."""

    ws, name, key = _open(ctx, by, yes, _resume_question, "Still halted.")
    events = resume(ws, name, key, reason)
    mode = mode_limits(ws)["mode"]
    if as_json:
        d.emit_json({"halted": halted_reason(ws) is not None, "mode": mode, "events": events})
    else:
        d.out(f"[green]Trading resumed[/] in {mode} (ledger event{'s' if len(events) > 1 else ''} #{', #'.join(map(str, events))}).")


@app.command("cancel-all")
def cancel_all_cmd(
    ctx: typer.Context,
    by: str = BY,
    yes: bool = YES,
    as_json: bool = JSON,
) -> None:
    """Cancel every open order of the configured symbols on the exchange and check none is left; reject orders awaiting approval. Works while halted."""

    ws, name, key = _open(ctx, by, yes, "Cancel every open order on the exchange and reject every order awaiting approval?",
                          "Nothing cancelled.")
    items = cancel_all(ws, by=name, key=key)
    if as_json:
        d.emit_json({"cancelled": items, "remaining": []})
    else:
        _report_cancelled(items)


@app.command("rollback")
def rollback_cmd(
    ctx: typer.Context,
    reason: str = typer.Option("rollback", "--reason", help="Why (kept with every step in the ledger)."),
    by: str = BY,
    yes: bool = YES,
    as_json: bool = JSON,
) -> None:
    """Seed 000 §4.5 rollback: halt, cancel every open order, return to PAPER — each step recorded; the halt stays on until `livegate resume`."""

    ws, name, key = _open(ctx, by, yes, "Roll back: halt trading, cancel every open order and return to PAPER?", "Nothing changed.")
    summary = rollback(ws, name, reason, key=key)
    if as_json:
        d.emit_json({**summary, "mode": "PAPER", "halted": True})
        return
    d.out(f"[bold red]Halted[/] ({'ledger event #' + str(summary['halt_event']) if summary['halt_event'] else 'already halted'}).")
    _report_cancelled(summary["cancelled"])
    d.out(f"Mode: [bold]PAPER[/] (was {summary['from_mode']}). Rollback recorded as ledger event #{summary['rollback_event']}; "
          "`livegate resume` lifts the halt.")
