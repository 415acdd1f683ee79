"""mode show | set."""

from __future__ import annotations

import typer

from livegate.cli import EXIT_NOT_FLAT, workspace_from
from livegate.cli import display as d
from livegate.cli.prompts import confirm, confirm_real_money
from livegate.core.formats import number
from livegate.ledger.keys import try_load_private
from livegate.services.approvals import operator_name
from livegate.services.controls import emergency_stop
from livegate.services.mode_switch import set_mode
from livegate.services.modes import LIVE_MODES, halt_status, mode_label, mode_limits
from livegate.services.signers import mode_history

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand

mode_app = typer.Typer(help="Trading mode (PAPER, LIVE_MINIMAL, LIVE_SCALED, EMERGENCY_STOP) and its history.", no_args_is_help=True)
app.add_typer(mode_app, name="mode")



def pct(fraction: float) -> str:
    return d.pct(fraction * 100)


@mode_app.command("show")
def mode_show(
    ctx: typer.Context,
    history: int = typer.Option(10, "--history", "-n", metavar="N", min=0, help="How many past changes to list."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the current trading mode, its risk per trade and exposure, the kill switch and reduce-only, and who changed the mode, when and why.

    Who: the name the operator signs off with, for every change their key signed; otherwise the
    name recorded with the change."""

    ws = workspace_from(ctx).require()
    past = mode_history(ws, limit=history or None)
    limits = mode_limits(ws)
    halt = halt_status(ws)
    if as_json:
        d.emit_json({"mode": limits["mode"], "halted": halt["halted"], "reducing": halt["reducing"], "history": past})
        return
    d.out(f"Mode: [bold]{mode_label(limits['mode'], limits['level'])}[/] — risk per trade {pct(limits['risk_per_trade'])}, "
          f"max exposure {pct(limits['max_exposure'])}")
    if halt["halted"]:
        d.out("[bold red]Halted:[/] " + halt["reason"].replace("[", "\\["))
    elif halt["reducing"]:
        d.out("[bold yellow]Reducing only:[/] " + halt["reducing"].replace("[", "\\["))
    if past:
        d.table("History (newest first)", ["#", "At (UTC)", "By", "From", "To", "Reason"],
                [[h["id"], d.when(h["at"]), h["by"], h["from"], mode_label(h["to"], h["level"]), h["reason"]] for h in past],
                no_wrap=("At (UTC)",))


def confirm_switch(label: str, live: bool, yes: bool, real_money: bool) -> bool:
    """A live mode needs the typed phrase, or `--yes` together with `--i-understand-real-money`;
    any other mode a plain confirmation (or `--yes`)."""

    if not live:
        return confirm(f"Switch trading mode to {label}?", yes)
    return confirm_real_money(label, f"switching to {label}", f"Switch to {label}: orders will trade real money.", yes, real_money)


@mode_app.command("set")
def mode_set(
    ctx: typer.Context,
    mode: str = typer.Argument(..., metavar="MODE", help="PAPER, LIVE_MINIMAL, LIVE_SCALED or EMERGENCY_STOP."),
    reason: str = typer.Option(..., "--reason", metavar="REASON", help="Why (kept in the history)."),
    by: str = typer.Option(None, "--by", metavar="NAME", help="Who (default: workspace.operator in livegate.yaml, else the OS user).", show_default=False),
    level: int = typer.Option(None, "--level", metavar="1|2|3", min=1, max=3, show_default=False,
                              help="LIVE_SCALED only: 1, 2 or 3 — risk per trade 0.25, 0.5 or 1 % (default 1)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation (for a live mode only with --i-understand-real-money)."),
    real_money: bool = typer.Option(False, "--i-understand-real-money", help="With --yes: switch to a live mode without typing the phrase."),
) -> None:
    """Change the trading mode. A live mode is refused — every reason listed — unless the gate to
    micro-live is open, the risk config loads, the exchange accepts the credentials and no position
    or order is open (what the account held at the env sign-off is your own and does not count:
    only holdings above it do); then the operator types REAL MONEY. Modes go up one rung at a time (exit 3
    otherwise, nothing written): EMERGENCY_STOP only to PAPER; LIVE_MINIMAL after testnet is signed
    off; LIVE_SCALED after stage 4.1d, one level at a time, levels 2 and 3 each after a signed
    `livegate scale --to` step taken at the level below. Less risk is never held up.

    EMERGENCY_STOP stops trading, cancels every open order and closes every open position at market
    (what the account held at the env sign-off is left alone), each step recorded and alerted; a
    step that fails does not stop the next. Exit 8 when one failed: the account may not be flat."""

    ws = workspace_from(ctx).require()
    live = mode.upper() in LIVE_MODES
    name, key = operator_name(ws, by), try_load_private()
    event_id = set_mode(ws, mode, reason, by=name, key=key, level=level,
                        confirm=lambda label: confirm_switch(label, live, yes, real_money))
    if event_id is None:
        d.out("Mode unchanged.")
        return
    if mode.upper() == "EMERGENCY_STOP":
        report_emergency(emergency_stop(ws, name, reason, key=key, mode_event=event_id))
        return
    limits = mode_limits(ws)
    d.out(f"Mode is now [bold]{mode_label(limits['mode'], limits['level'])}[/] (ledger event #{event_id}): risk per trade {pct(limits['risk_per_trade'])}, "
          f"max exposure {pct(limits['max_exposure'])}.")
    halt = halt_status(ws)
    if halt["halted"] and live:
        d.out("[yellow]Still halted:[/] " + halt["reason"].replace("[", "\\["))




def report_emergency(outcome: dict) -> None:
    """What EMERGENCY_STOP did, step by step; exit EXIT_NOT_FLAT when a step failed."""
    labels = {"halt": "Trading stopped (EMERGENCY_STOP)", "cancel_all": "Open orders cancelled", "flatten": "Positions closed"}
    for step in outcome["steps"]:
        if not step["ok"]:
            d.out(f"[bold red]{labels[step['step']]}: FAILED[/] — {d.escape(step['error'])}")
        elif "skipped" in step:
            d.out(f"{labels[step['step']]}: skipped — {d.escape(step['skipped'])}")
        elif step["step"] == "halt":
            d.out(f"[bold red]{labels['halt']}[/] (ledger event #{step['event']}).")
        elif step["step"] == "cancel_all":
            d.out(f"{labels['cancel_all']}: {step['cancelled']}.")
        else:
            dust = ", ".join(f"{number(v, 8)} {a}" for a, v in step["dust"].items())
            d.out(f"{labels['flatten']}: {step['sold']} sell(s)" + (f"; dust kept: {dust}" if dust else "") + ".")
    d.out("`livegate resume` leads to PAPER once the emergency is over.")
    if not outcome["ok"]:
        raise typer.Exit(EXIT_NOT_FLAT)
