"""demo."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from livegate.cli import EXIT_OK
from livegate.cli import display as d
from livegate.cli.prompts import confirm
from livegate.config.workspace import Workspace
from livegate.core.errors import UsageError
from livegate.demo import run_demo
from livegate.services.status import ladder_report

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand


@app.command()
def demo(
    directory: Path = typer.Argument(Path("livegate-demo"), metavar="DIR", help="Where to create the demo workspace (must not exist yet)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Run without asking."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object at the end."),
) -> None:
    """Rehearse the whole protocol offline, in about a minute and a half: a new workspace on the
    local exchange and chain, its market time moving one bar at a time (the stages' days pass in
    seconds, with the same results on a busy machine) — validate (failing once on purpose,
    the gate refusing, then fixed), a paper forward run, testnet orders and a Uniswap swap,
    two buys the gateway refuses (one above the stage's cap and MAX_TRADE_AMOUNT, one while
    trading is halted), micro-live stages 4.1a–4.1d, production with a test alert to a local
    receiver — every step signed off, then the ladder, an HTML report and a verified ledger.
    Nothing touches the internet. Every threshold is the default: the synthetic market carries
    a strong, regular edge (dips that rebound further than they extend, in turn) that the
    demo's dip-buying strategy trades, so it passes with the sandbox's real fees and fills; only
    market time is compressed. A real strategy's figures will look nothing like the demo's. The
    workspace stays for you to inspect; the commands to look around are printed as you can run
    them from here (`.venv/bin/livegate ...` when livegate is not on your PATH). In a clone of
    livegate, git ignores the default `livegate-demo/`."""

    if directory.exists() and any(directory.iterdir()):
        raise UsageError(f"{directory} already exists and is not empty: give the demo a new directory")
    if not confirm(f"Create a demo workspace in {directory} and rehearse the protocol on the local sandbox?", yes):
        raise typer.Exit(EXIT_OK)
    say = (lambda text: None) if as_json else (lambda text: d.console(stderr=True).print(f"[dim]→[/] {text}", highlight=False))
    if not as_json:
        d.out("[bold]livegate demo[/] — synthetic market, local exchange and chain, market time in bar-by-bar steps; "
              "every threshold the default; a market with a strong, regular edge.")
    report = run_demo(directory, say=say)
    ladder = ladder_report(Workspace(directory))
    looser = ladder["looser_thresholds"]  # the thresholds that differ from the defaults (the demo's: none)
    if as_json:
        d.emit_json({**report.__dict__, "looser_thresholds": looser})
        raise typer.Exit(EXIT_OK)
    d.table("The protocol, rehearsed", ["Step", "Verdict", "Detail"],
            [[s["step"], d.styled(s["verdict"]) if s["verdict"] in ("pass", "fail") else s["verdict"], s["detail"]] for s in report.steps])

    d.table("livegate status", ["Step", "Status", "Signed by"],
            [[s["step"], d.step_status(s), s["signed_by"] or ""] for s in ladder["steps"]])
    d.out("Thresholds that differ from the defaults: " + ("; ".join(looser) if looser else "none")
          + " (only market time is compressed: the paper days and stage hours pass in seconds).")
    d.out(f"Alerts delivered to the local receiver: {report.alerts_received}. Ledger verifies: {'yes' if report.ledger_ok else 'NO'}.")
    d.out(f"Report: {report.report_html}")
    run = f"{d.livegate_command()} -w {shlex.quote(str(directory))}"
    d.out(f"Done in {report.seconds:.0f} s. Look around: `{run} status`, `{run} ledger show`, `{run} monitor --once`.")
