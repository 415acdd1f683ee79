"""init, status, signoff."""

from __future__ import annotations

from pathlib import Path

import typer

from livegate.cli import EXIT_OK, workspace_from
from livegate.cli import display as d
from livegate.cli.prompts import confirm
from livegate.config.workspace import Workspace, scaffold
from livegate.core.errors import UsageError
from livegate.ledger.keys import load_private
from livegate.services import gate
from livegate.services.status import ladder_report

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand


@app.command()
def init(
    ctx: typer.Context,
    directory: Path = typer.Argument(None, help="Where to create the workspace (default: --workspace or the current directory).", show_default=False),
    force: bool = typer.Option(False, "--force", help="Overwrite existing config files (the ledger is never overwritten)."),
    bot: str = typer.Option("builtin", "--bot", help="builtin: livegate's strategy trades. external: your own bot trades through "
                                                     "livegate's Binance-compatible gateway (`livegate gateway key`)."),
) -> None:
    """Scaffold a workspace: livegate.yaml, risk_limits.yaml, .env.example, .gitignore and the ledger."""

    if bot not in ("builtin", "external"):
        raise UsageError(f"--bot must be builtin or external (got {bot!r})")
    ws = Workspace(directory) if directory is not None else workspace_from(ctx)
    written = scaffold(ws.root, force=force, bot=bot)
    d.out(f"Created workspace [bold]{ws.root}[/]:")
    for path in written:
        d.out(f"  {path.relative_to(ws.root)}")
    d.out("Next: copy .env.example to .env and fill it in, create your signing key with "
          "`livegate keys init`, then run `livegate validate`.")
    if bot == "external":
        d.out("Your bot trades through livegate's gateway: `livegate gateway key` gives it its key.")


@app.command()
def status(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Show the ladder: each phase, its verdict, when, who signed it, and what blocks the next step."""

    ws = workspace_from(ctx).require()
    report = ladder_report(ws)
    if as_json:
        d.emit_json(report)
        raise typer.Exit(EXIT_OK)
    rows = []
    for s in report["steps"]:
        kept = ", ".join(f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in s["evidence"].items())
        detail = s["detail"] + (f"{'; ' if s['detail'] else ''}evidence only: {kept}" if kept else "")
        rows.append([s["step"], s["title"], d.styled(s["status"]), (s["result_at"] or "")[:19], s["signed_by"] or "", detail])
    d.table(f"livegate — {report['workspace']} (mode {report['mode']}, profile {report['profile']})",
            ["Step", "Phase", "Status", "Result at (UTC)", "Signed by", "Detail"], rows)
    halt = report["halt"]
    if halt["halted"]:
        pending = " (written to the halt file; the ledger does not hold it yet)" if halt["pending"] else ""
        d.out(f"[bold red]Trading is HALTED[/]: {halt['reason']}{pending} — `livegate resume` lifts it")
    else:
        d.out("Trading: not halted")
    ledger = report["ledger"]
    if ledger["ok"]:
        d.out(f"Ledger: {ledger['events']} events, hash chain and {ledger['signatures_checked']} signature(s) verified")
    else:
        d.out(f"Ledger: [bold red]DOES NOT VERIFY[/] — {ledger['problems'][0]}")
    for note in ledger["notes"]:
        d.out(f"  note: {note}")
    for warning in ledger.get("warnings", ()):
        d.out(f"  [bold yellow]warning[/]: {warning}")
    if report["looser_thresholds"]:
        d.out("[yellow]Looser than the protocol's defaults:[/]")
        for line in report["looser_thresholds"]:
            d.out(f"  [yellow]![/] {line}")
    d.out(f"Next: {report['next_action']}")
    for reason in report["blocking"]:
        d.out(f"  blocked: {reason}")


@app.command()
def signoff(
    ctx: typer.Context,
    phase: str = typer.Argument(..., help="Phase or stage to sign: env, paper, testnet, 4.1a–4.1d, production."),
    by: str = typer.Option(..., "--by", help="Name of the person signing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Accept the risk acknowledgment without asking."),
) -> None:
    """Sign off a passed phase with the operator key, after the risk acknowledgment."""

    ws = workspace_from(ctx).require()
    key = load_private()

    signed: list[str] = []

    def acknowledge(step: str) -> bool:
        signed.append(step)
        d.out(f"Signing off [bold]{step}[/] as [bold]{by}[/] (key {key.key_id}). By signing you acknowledge that:")
        for i, line in enumerate(gate.ACKNOWLEDGMENT, 1):
            d.out(f"  {i}. {line}")
        return confirm("Do you accept these statements and sign?", yes)

    event_id = gate.signoff(ws, phase, by, key, confirm=acknowledge)
    if event_id is None:
        d.out("Not signed.")
        raise typer.Exit(EXIT_OK)
    d.out(f"[green]Signed[/] {signed[-1]} by {by} (ledger event #{event_id}).")
