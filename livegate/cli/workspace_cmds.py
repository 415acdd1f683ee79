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
from livegate.ledger.verify import unsigned_warning
from livegate.services import gate
from livegate.services.modes import mode_label
from livegate.services.status import ladder_report

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand


@app.command()
def init(
    ctx: typer.Context,
    directory: Path = typer.Argument(None, metavar="DIR", help="Where to create the workspace (default: --workspace or the current directory).", show_default=False),
    force: bool = typer.Option(False, "--force", help="Overwrite existing config files (the ledger is never overwritten)."),
    bot: str = typer.Option("builtin", "--bot", metavar="builtin|external", help="builtin: livegate's strategy trades. external: your own bot trades through "
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


def _halt_lines(report: dict) -> list[tuple[bool, str]]:
    halt = report["halt"]
    if halt is None:
        return [(False, "Trading: not halted")]
    since = f" since {d.when(halt['at'])} UTC" if halt["at"] else ""
    by = f" by {d.escape(halt['by'])}" if halt["by"] else ""
    why = f": {d.escape(halt['reason'])}" if halt["reason"] else ""
    if halt["source"] == "emergency_stop":
        return [(True, f"[bold red]Trading is STOPPED[/] (EMERGENCY_STOP){since}{by}{why} — "
                       "`livegate resume` lifts it (to PAPER)")]
    if halt["source"] == "ledger_check":
        return [(True, f"[bold red]Trading is HALTED[/]: {d.escape(halt['detail'])}")]
    held = " (held by the halt file .livegate/HALTED; the ledger does not hold it yet)" if halt["source"] == "halt_file" else ""
    return [(True, f"[bold red]Trading is HALTED[/]{since}{by}{why}{held} — `livegate resume` lifts it")]


def _reducing_lines(report: dict) -> list[tuple[bool, str]]:
    reducing = report.get("reducing")
    if reducing is None:
        return []
    held = " (a halt wins over it while both hold)" if report["halt"] is not None else ""
    return [(True, f"[bold yellow]Trading is REDUCING ONLY[/] since {d.when(reducing['at'])} UTC by {d.escape(reducing['by'] or '?')}"
                   f"{': ' + d.escape(reducing['reason']) if reducing['reason'] else ''} — only orders that reduce an open "
                   f"position pass{held}; `livegate resume` lifts it")]


def _mode_lines(report: dict) -> list[tuple[bool, str]]:
    change = report["mode_change"]
    if change is None or change["to"] != report["mode"]:
        return [(False, f"Mode: [bold]{report['mode']}[/]")]
    label = mode_label(change["to"], change["level"])
    return [(False, f"Mode: [bold]{label}[/] since {d.when(change['at'])} UTC by {d.escape(change['by'] or '?')}"
                    f"{': ' + d.escape(change['reason']) if change['reason'] else ''}")]


def _breaker_lines(report: dict) -> list[tuple[bool, str]]:
    lines = []
    for b in report["tripped_breakers"]:
        cooling = f", cooling down until {d.when(b['until'])} UTC" if b["until"] else ""
        lines.append((True, f"[bold red]Circuit breaker tripped[/]: {b['breaker']} in run {b['run']} — {b['trips']} trip(s), "
                            f"first {d.when(b['first_trip_at'])}, last {d.when(b['last_trip_at'])} UTC{cooling}"
                            f"{': ' + d.escape(b['message']) if b['message'] else ''}"))
    return lines


def _unsigned_lines(report: dict) -> list[tuple[bool, str]]:
    warning = unsigned_warning([e["id"] for e in report["unsigned_events"]])
    return [(True, f"[bold yellow]Unsigned[/]: {d.escape(warning)}")] if warning else []


# What `status` shows before the ladder, in this order; a new trading state is one more function here.
FIRST = (_halt_lines, _reducing_lines, _mode_lines, _breaker_lines, _unsigned_lines)


def show_first(report: dict) -> None:
    """The halt, the mode, tripped breakers and unsigned events: framed when any needs attention."""
    lines = [line for lines_of in FIRST for line in lines_of(report)]
    if any(alarm for alarm, _ in lines):
        d.panel("Needs attention", [text for _, text in lines])
    else:
        for _, text in lines:
            d.out(text)


@app.command()
def status(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Show first whether trading is halted (who, when, why), the trading mode, tripped circuit
    breakers and unsigned events that would open something; then the ladder: each phase, its
    verdict, when, who signed it, and what blocks the next step. A go-live stage stopped before
    its end, or a forward paper run stopped at a checkpoint, shows as paused (since when, why,
    and the command that resumes it); a stage trading now shows as running. A result
    obtained on the local sandbox, the exchange's test network or synthetic market data is
    marked as a rehearsal: it is never shown as a result on the real venue. `--json` carries the
    same as `halt` (null when not halted), `reducing` (null unless only orders that reduce a
    position pass), `mode`, `tripped_breakers`, `unsigned_events`, and per
    step `rehearsal`, `rehearsal_reasons` and `stage_run` (a paused or running run)."""

    ws = workspace_from(ctx).require()
    report = ladder_report(ws)
    if as_json:
        d.emit_json(report)
        raise typer.Exit(EXIT_OK)
    show_first(report)
    rows = []
    for s in report["steps"]:
        kept = ", ".join(f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in s["evidence"].items())
        detail = s["detail"] + (f"{'; ' if s['detail'] else ''}evidence only: {kept}" if kept else "")
        if s["status"] == "signed":  # who signed has a column of its own (when: `status --json`, `ledger show`)
            detail = detail.replace(f"by {s['signed_by']} at {s['signed_at']}", "", 1).removeprefix("; ")
        rows.append([s["step"], s["title"], d.step_status(s), d.when(s["result_at"]), s["signed_by"] or "", detail])
    d.table(f"livegate — {report['workspace']} (mode {report['mode']}, profile {report['profile']})",
            ["Step", "Phase", "Status", "Result (UTC)", "Signed by", "Detail"], rows, no_wrap=("Result (UTC)",))
    ledger = report["ledger"]
    if ledger["ok"]:
        d.out(f"Ledger: {ledger['events']} events, hash chain and {ledger['signatures_checked']} signature(s) verified")
    else:
        d.out(f"Ledger: [bold red]DOES NOT VERIFY[/] — {ledger['problems'][0]}")
    for note in ledger["notes"]:
        d.out(f"  note: {note}")
    shown_first = unsigned_warning([e["id"] for e in report["unsigned_events"]])
    for warning in ledger.get("warnings", ()):
        if warning != shown_first:
            d.out(f"  [bold yellow]warning[/]: {warning}")
    rehearsed: dict[str, list[str]] = {}  # why -> the steps whose result is a rehearsal for that reason
    for s in report["steps"]:
        if s["rehearsal"]:
            rehearsed.setdefault("; ".join(s["rehearsal_reasons"]), []).append(s["step"])
    if rehearsed:
        d.out("[yellow]Rehearsal results[/] — they open this workspace's next steps, but were not obtained on the real "
              "venue with real market data, and say nothing about how the strategy trades there:")
        for why, steps in rehearsed.items():
            d.out(f"  [yellow]~[/] {', '.join(steps)}: {why}")
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
    phase: str = typer.Argument(..., metavar="STEP", help="Phase or stage to sign: env, paper, testnet, 4.1a–4.1d, production."),
    by: str = typer.Option(..., "--by", metavar="NAME", help="Name of the person signing."),
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
