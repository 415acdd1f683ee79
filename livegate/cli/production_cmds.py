"""production (phase 5) and scale."""

from __future__ import annotations

import typer

from livegate.cli import EXIT_CRITERIA, EXIT_OK, workspace_from
from livegate.cli import display as d
from livegate.cli.prompts import ask_in_terminal
from livegate.core.errors import UsageError
from livegate.ledger.keys import load_private, try_load_private
from livegate.phases.production.run import run_production
from livegate.phases.production.scaling import scale as do_scale
from livegate.services.approvals import operator_name

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand


@app.command()
def production(
    ctx: typer.Context,
    drill_order: bool = typer.Option(True, "--drill-order/--no-drill-order", help="Rest a small limit order far below the market before the kill-switch drill, so cancel-all has something to cancel."),
    by: str = typer.Option(None, "--by", metavar="NAME", help="Who runs the drill (default: workspace.operator, else your user name).", show_default=False),
    yes: bool = typer.Option(False, "--yes", "-y", help="Approve the drill order without asking."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Phase 5 — production readiness: alerting configured and a test alert
    delivered to every destination, the five runbooks present in runbooks/, and a kill-switch
    drill against the venue (halt + cancel-all, timed; trading resumes afterwards unless it was
    halted before). Needs stage 4.1d signed off. Exit 0 when every criterion passes, 1 otherwise."""

    ws = workspace_from(ctx).require()
    result, extras = run_production(ws, try_load_private(), by=by, place_order=drill_order,
                                    ask=(lambda approval: True) if yes else ask_in_terminal)
    report = {"step": "production", "counts_as_phase_result": True, **result.to_dict(),
              "alerts": extras.get("alerts"), "runbooks": extras.get("runbooks"), "drill": extras.get("drill")}
    if as_json:
        d.emit_json(report)
    else:
        d.criteria_table("Production criteria (phases/production.yaml)", report["checks"])
        d.out(f"Verdict: {d.styled(report['verdict'])} — recorded as the production phase result.")
        if report["verdict"] == "pass":
            d.out("Next: `livegate signoff production --by NAME`; then `livegate scale --to AMOUNT` as results allow.")
    raise typer.Exit(EXIT_OK if result.passed else EXIT_CRITERIA)


@app.command()
def scale(
    ctx: typer.Context,
    to: float = typer.Option(None, "--to", metavar="AMOUNT", help="The new capital level in the quote currency.", show_default=False),
    down: bool = typer.Option(False, "--down", help="Reduce capital (at once, always allowed); without --to: half the current level."),
    reason: str = typer.Option("", "--reason", metavar="REASON", help="Why (kept in the ledger)."),
    by: str = typer.Option(None, "--by", metavar="NAME", help="Who decides (default: workspace.operator, else your user name).", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Change the capital level after production: up by at most +50 %
    per step, after the minimum days at the current level with its live results meeting the
    rules (positive P&L, Sharpe, win rate, drawdown — `limits` in phases/production.yaml); down
    at once. Every step is signed with your key. Refusals name every rule not met (exit 2).
    The days are counted on the ledger's clock, from the level's first event to the ledger's
    latest; a computer clock reading earlier than the ledger is refused (exit 3)."""

    ws = workspace_from(ctx).require()
    key = load_private()
    if to is not None and not to > 0:
        raise UsageError(f"--to must be a positive amount (got {to:g})")
    step = do_scale(ws, to=to, down=down, by=operator_name(ws, by), key=key, reason=reason)
    if as_json:
        d.emit_json(step)
    else:
        d.out(f"Capital level {d.money(step['from'])} → [bold]{d.money(step['to'])}[/] ({step['direction']}; signed, ledger event #{step['event']}).")
    raise typer.Exit(EXIT_OK)
