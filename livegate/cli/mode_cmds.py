"""mode show | set."""

from __future__ import annotations

import typer

from livegate.cli import app, workspace_from
from livegate.cli import display as d

mode_app = typer.Typer(help="Trading mode (PAPER, LIVE_MINIMAL, LIVE_SCALED, EMERGENCY_STOP) and its history.", no_args_is_help=True)
app.add_typer(mode_app, name="mode")


@mode_app.command("show")
def mode_show(
    ctx: typer.Context,
    history: int = typer.Option(10, "--history", "-n", min=0, help="How many past changes to list."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the current trading mode and who changed it, when and why."""
    from livegate.modes import DEFAULT_MODE, mode_history

    ws = workspace_from(ctx).require()
    past = mode_history(ws, limit=history or None)
    mode = past[0]["to"] if past else DEFAULT_MODE
    if as_json:
        d.emit_json({"mode": mode, "history": past})
        return
    d.out(f"Mode: [bold]{mode}[/]")
    if past:
        d.table("History (newest first)", ["#", "At (UTC)", "By", "From", "To", "Reason"],
                [[h["id"], h["at"][:19], h["by"], h["from"], h["to"], h["reason"]] for h in past])


@mode_app.command("set")
def mode_set(
    ctx: typer.Context,
    mode: str = typer.Argument(..., help="PAPER, LIVE_MINIMAL, LIVE_SCALED or EMERGENCY_STOP."),
    reason: str = typer.Option(..., "--reason", help="Why (kept in the history)."),
    by: str = typer.Option(None, "--by", help="Who (default: the OS user).", show_default=False),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Change the trading mode. Live modes need the gate to micro-live open (testnet signed off)."""
    from livegate.cli.prompts import confirm
    from livegate.ledger.keys import try_load_private
    from livegate.modes import set_mode

    ws = workspace_from(ctx).require()
    if not confirm(f"Switch trading mode to {mode.upper()}?", yes):
        d.out("Mode unchanged.")
        return
    event_id = set_mode(ws, mode, reason, by=by, key=try_load_private())
    d.out(f"Mode is now [bold]{mode.upper()}[/] (ledger event #{event_id}).")
