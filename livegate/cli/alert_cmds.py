"""alert test: prove that every alert destination in livegate.yaml receives alerts."""

from __future__ import annotations

import typer

from livegate.cli import EXIT_CRITERIA, workspace_from
from livegate.cli import display as d
from livegate.core.errors import UsageError
from livegate.services.alerts import SEVERITIES, Alerter

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand

alert_app = typer.Typer(help="Alerts through apprise (webhook, Discord, Telegram, Slack, e-mail).", no_args_is_help=True)
app.add_typer(alert_app, name="alert")


@alert_app.command("test")
def alert_test(
    ctx: typer.Context,
    severity: str = typer.Option("info", "--severity", help="info, warning, error or critical (the test goes to every destination whatever its min_severity)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Send a test alert to every destination in livegate.yaml, whatever its min_severity, and show which got it; recorded in the ledger. Exit 0 all delivered, 1 not, 2 none configured."""

    if severity not in SEVERITIES:
        raise UsageError(f"--severity must be one of {', '.join(SEVERITIES)} (got {severity!r})")
    ws = workspace_from(ctx).require()
    alerter = Alerter(ws)
    if not alerter.settings().destinations:  # a broken alerts section raises ConfigError: exit 2
        raise UsageError("no alert destination in livegate.yaml; add one under alerts.destinations, e.g. "
                         "{url: \"tgram://${TELEGRAM_TOKEN}/CHAT_ID\", min_severity: warning}")
    results = alerter.test(severity)
    delivered = all(r["delivered"] for r in results)
    if as_json:
        d.emit_json({"delivered": delivered, "severity": severity, "results": results})
    else:
        d.table("Test alert", ["Destination", "Min severity", "Delivered", "Attempts", "Error"],
                [[r["destination"], r["min_severity"], d.styled("pass" if r["delivered"] else "fail"), r["attempts"], (r["error"] or "").replace("[", "\\[")]
                 for r in results])
        d.out(f"[green]Delivered to every destination[/] ({len(results)})." if delivered
              else f"[red]Not delivered to {sum(not r['delivered'] for r in results)} of {len(results)} destination(s).[/]")
    if not delivered:
        raise typer.Exit(EXIT_CRITERIA)
