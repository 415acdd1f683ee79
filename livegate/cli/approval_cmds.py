"""approvals list | approve | reject, and the interactive approval prompt."""

from __future__ import annotations

import typer

from livegate.cli import display as d
from livegate.cli import workspace_from
from livegate.cli.prompts import confirm, describe, duration
from livegate.ledger.keys import try_load_private
from livegate.services.approvals import APPROVED, REJECTED, decide, expire_stale, get, list_all, operator_name, pending

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand

approvals_app = typer.Typer(help="Pending orders under EXECUTION_APPROVAL_MODE=approve_each: list, approve, reject.", no_args_is_help=True)
app.add_typer(approvals_app, name="approvals")

ID_HELP = "The request's id as listed (A-7, or just 7)."
BY_HELP = "Who decides (default: workspace.operator in livegate.yaml, else the OS user)."


def _open(ctx: typer.Context):
    """The workspace and the operator key (or None), after the stale requests are expired."""

    ws = workspace_from(ctx).require()
    key = try_load_private()
    expire_stale(ws, key=key)
    return ws, key


@approvals_app.command("list")
def approvals_list(
    ctx: typer.Context,
    show_all: bool = typer.Option(False, "--all", help="Every request with its decision, newest first (default: pending only, oldest first)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the orders waiting for approval; stale requests are recorded expired first."""
    import time

    ws, _ = _open(ctx)
    now = time.time()
    items = list_all(ws) if show_all else pending(ws, now=lambda: now)
    if as_json:
        d.emit_json({"approvals": [a.to_dict(now) for a in items]})
        return
    if not items:
        d.out("No pending approvals." if not show_all else "No approval requests in this ledger.")
        return
    rows = []
    for a in items:
        state = a.state(now)
        decided = f" by {a.decided_by} at {a.decided_at[:19]}" if a.decision else ""
        left = duration(a.seconds_left(now)) if state == "pending" else "—"
        rows.append([a.id, a.summary, a.context, a.requested_at[:19], left, d.styled(state) + decided])
    d.table("Approval requests" if show_all else "Pending approvals", ["ID", "Order", "Context", "Requested (UTC)", "Expires in", "State"], rows)


@approvals_app.command("approve")
def approvals_approve(
    ctx: typer.Context,
    approval_id: str = typer.Argument(..., metavar="ID", help=ID_HELP),
    by: str = typer.Option(None, "--by", metavar="NAME", help=BY_HELP, show_default=False),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Approve a pending order so it goes to the executor; refused once expired or decided."""
    import time

    ws, key = _open(ctx)
    approval = get(ws, approval_id)
    name = operator_name(ws, by)
    # An expired or decided request goes straight to decide(), which says why it is refused.
    if approval.decision is None and not confirm(f"Approve {describe(approval, time.time())}?", yes):
        d.out(f"Not approved; {approval.id} is still pending.")
        return
    decided = decide(ws, approval.id, APPROVED, name, key=key)
    d.out(f"[green]Approved[/] {decided.id} ({decided.summary}) by {name}.")


@approvals_app.command("reject")
def approvals_reject(
    ctx: typer.Context,
    approval_id: str = typer.Argument(..., metavar="ID", help=ID_HELP),
    by: str = typer.Option(None, "--by", metavar="NAME", help=BY_HELP, show_default=False),
    reason: str = typer.Option("", "--reason", metavar="REASON", help="Why (kept in the ledger and reported with the blocked order)."),
) -> None:
    """Reject a pending order: it never executes. Refused once expired or decided."""

    ws, key = _open(ctx)
    decided = decide(ws, approval_id, REJECTED, operator_name(ws, by), reason, key=key)
    d.out(f"[red]Rejected[/] {decided.id} ({decided.summary}) by {decided.decided_by}.")
