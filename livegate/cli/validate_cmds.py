"""validate (phase 1)."""

from __future__ import annotations

import json

import typer

from livegate.cli import EXIT_CRITERIA, EXIT_OK, EXIT_VENUE, workspace_from
from livegate.cli import display as d
from livegate.cli.prompts import confirm
from livegate.core.errors import UsageError
from livegate.ledger.keys import load_private, try_load_private
from livegate.phases.env.plugin import ATTEST_STATEMENT
from livegate.phases.env.run import attester, record_attestation, run_validate
from livegate.services.exchange_key import BASELINE_CHECK, BASELINE_FIELD, FINGERPRINT_FIELD, KEY_CHECK

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand

WIDTH = 79
WORDS = {"pass": ("Passed", "green"), "fail": ("Failed", "red"), "error": ("Error", "bold red"),
         "warn": ("Warning", "yellow"), "skip": ("Skipped", "cyan")}


@app.command()
def validate(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show every check's evidence, not only the failures'."),
    attest_no_withdrawal: bool = typer.Option(False, "--attest-no-withdrawal", help="For an exchange whose key permissions livegate cannot read: record your signed statement "
                                                     "that the key can read and trade and has no withdrawal or transfer rights "
                                                     "(bound to this exchange and this API key)."),
    by: str = typer.Option(None, "--by", metavar="NAME", help="Who makes the attestation (default: workspace.operator).", show_default=False),
    yes: bool = typer.Option(False, "--yes", "-y", help="Make the attestation without asking."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    check: bool = typer.Option(False, "--check", help="Measure and judge everything the same way but record nothing (the gate stays as it is)."),
) -> None:
    """Phase 1 — check the environment: config and .env, .env never committed, safe flags,
    keys present, what the exchange key may do (read and trade yes, withdraw NO, IP
    whitelist), the signer's address pinned, exchange and RPC latency, chain id, clock skew, a
    secret scan of the workspace and its git history, allowlists and rate limits.

    The result is recorded as the env phase result (with --check: nothing is recorded), with the
    exchange key's fingerprint and what the account holds now: once signed off, those holdings
    are your own, and a switch to a live mode counts only what is held above them. A
    recorded passing re-run keeps a signed env signed (same configuration); a failing one ends
    the sign-off and closes every later phase. Exit 0 when every criterion passes, 1 when one
    fails, 5 when the exchange or the chain node cannot be reached."""

    ws = workspace_from(ctx).require()
    extras: dict = {}
    if attest_no_withdrawal and check:
        raise UsageError("--attest-no-withdrawal records a signed statement; run it without --check")
    if attest_no_withdrawal:
        _attest(ws, by, yes, extras, quiet=as_json)
    result, report = run_validate(ws, try_load_private(), extras, record=not check)
    lost = report["unreachable"]
    if as_json:
        d.emit_json(report)
    else:
        show(report, verbose)
    if lost:
        for message in lost:
            d.error(message)
        raise typer.Exit(EXIT_VENUE)
    raise typer.Exit(EXIT_OK if result.passed else EXIT_CRITERIA)


def _attest(ws, by: str | None, yes: bool, extras: dict, quiet: bool) -> None:
    """Record the operator's signed statement about the key's permissions (before the checks)."""

    name = attester(ws, by, extras)
    key = load_private()
    exchange = ws.effective.config.exchange.id
    if not confirm(f"{name}, you attest for the {exchange} API key now configured: {ATTEST_STATEMENT} Record it?", yes):
        raise UsageError("attestation declined; nothing was recorded")
    event_id = record_attestation(ws, name, key, extras)
    if not quiet:
        d.out(f"Attestation recorded (ledger event #{event_id}, signed by {name}).")


def show(report: dict, verbose: bool) -> None:
    """pre-commit style: one dotted line per check; details under failures (all with -v)."""
    d.out(f"livegate validate — environment · exchange: {report['exchange']}"
          f" · chain: {report['chain'] or 'off'}")
    for check in report["checks"]:
        word, style = WORDS[check["verdict"]]
        label = check["criterion"].replace("_", " ")
        dots = "." * max(3, WIDTH - len(label) - len(word))
        d.out(f"{label}{dots}[{style}]{word}[/]")
        failed = check["verdict"] in ("fail", "error", "warn")
        if check["verdict"] == "skip" and not verbose:
            d.out(f"[dim]- {check['message'].replace('[', chr(92) + '[')}[/]")
        elif failed or verbose:
            if check["measured"] is not None or failed:
                d.out(f"- measured: {d.fmt_value(check['measured'])} (needs {check['op']} {d.fmt_value(check['threshold'])})")
            if check["message"]:
                d.out(f"- {check['message'].replace('[', chr(92) + '[')}")
            if verbose and check["evidence"] not in (None, {}, []):
                evidence = json.dumps(check["evidence"], default=str, separators=(", ", ": "))
                d.out(f"- evidence: {evidence.replace('[', chr(92) + '[')}")
    verdict = report["verdict"]
    d.out(d.verdict_line(report))
    if report["gate_notice"]:
        d.out(report["gate_notice"])
    elif verdict == "pass" and report["recorded"]:
        keys = next((c["evidence"] for c in report["checks"] if c["criterion"] == KEY_CHECK), None) or {}
        if keys.get(FINGERPRINT_FIELD):
            d.out(f"Exchange key fingerprint {keys[FINGERPRINT_FIELD]}: once signed off, testnet, go-live and a switch to a "
                  "live mode refuse any other key.")
        read = next((c["evidence"] for c in report["checks"] if c["criterion"] == BASELINE_CHECK), None) or {}
        held = read.get(BASELINE_FIELD) if isinstance(read, dict) else None
        if held:
            d.out("The account holds " + ", ".join(f"{amount:g} {asset}" for asset, amount in held.items()) + ": once signed off, "
                  "these are your own — livegate leaves them alone and a switch to a live mode counts only what is held above them.")
        d.out("Next: `livegate signoff env --by NAME`.")
