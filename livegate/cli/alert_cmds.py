"""alert test | list | ack: prove that every alert destination receives alerts; list the alerts
sent; acknowledge a critical one so that it is no longer sent again."""

from __future__ import annotations

import typer

from livegate.cli import EXIT_CRITERIA, workspace_from
from livegate.cli import display as d
from livegate.core.errors import UsageError
from livegate.core.formats import when
from livegate.ledger.keys import try_load_private
from livegate.services.alerts import SEVERITIES, Alerter
from livegate.services.alerts.acks import acknowledge, list_alerts
from livegate.services.approvals import operator_name

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand

alert_app = typer.Typer(help="Alerts through apprise (webhook, Discord, Telegram, Slack, e-mail): test, list, ack.", no_args_is_help=True)
app.add_typer(alert_app, name="alert")


@alert_app.command("test")
def alert_test(
    ctx: typer.Context,
    severity: str = typer.Option("info", "--severity", metavar="SEVERITY", help="info, warning, error or critical (the test goes to every destination whatever its min_severity)."),
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


@alert_app.command("list")
def alert_list(
    ctx: typer.Context,
    unacked: bool = typer.Option(False, "--unacked", help="Only the critical alerts nobody acknowledged yet."),
    limit: int = typer.Option(20, "--limit", metavar="N", min=1, help="Show at most N alerts, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """The alerts recorded in the ledger, newest first: id, when first sent, severity, what it said, who got it, re-sends, and for a critical alert whether it was acknowledged."""

    ws = workspace_from(ctx).require()
    found = list_alerts(ws, waiting_only=unacked, limit=limit)
    if as_json:
        d.emit_json({"alerts": [a.to_dict() for a in found]})
        return
    if not found:
        d.out("No critical alert waits for an acknowledgement." if unacked else "No alert in this ledger yet.")
        return
    rows = []
    for a in found:
        got = sum(a.delivered.values())
        ack = a.ack
        state = (f"[green]acknowledged[/] by {d.escape(str(ack['by']))} at {when(str(ack['at']))}" if ack
                 else "[red]waiting[/]: livegate alert ack " + a.id if a.state == "waiting" else "—")
        rows.append([a.id, when(a.first_at), a.severity, d.escape(a.title), f"{got} of {len(a.delivered)}", a.resends, state])
    d.table("Alerts waiting for an acknowledgement" if unacked else "Alerts",
            ["ID", "First sent (UTC)", "Severity", "Alert", "Delivered", "Re-sent", "Acknowledged"], rows,
            no_wrap=("ID", "First sent (UTC)"))


@alert_app.command("ack")
def alert_ack(
    ctx: typer.Context,
    alert_id: str = typer.Argument(..., metavar="ID", help="The alert's id, as in `livegate alert list` and the alert's own text (or its first 6 characters or more)."),
    by: str = typer.Option(None, "--by", metavar="NAME", help="Who acknowledges (default: workspace.operator in livegate.yaml, else the OS user).", show_default=False),
    note: str = typer.Option("", "--note", metavar="NOTE", help="What was done about it (kept in the ledger)."),
) -> None:
    """Acknowledge a critical alert: it is no longer sent again. Recorded in the ledger (who, when, the note),
    signed when the operator key is loaded. Exit 0 also when it already was acknowledged (saying by whom);
    2 for an unknown id or an alert that is not critical."""

    ws = workspace_from(ctx).require()
    record, new = acknowledge(ws, alert_id, operator_name(ws, by), note, key=try_load_private())
    ack = record.ack or {}
    if new:
        d.out(f"[green]Acknowledged[/] {record.id} ({d.escape(record.title)}) by {d.escape(str(ack['by']))}; it is not sent again.")
    else:
        d.out(f"{record.id} was already acknowledged by {d.escape(str(ack.get('by')))} at {when(str(ack.get('at')))}; nothing recorded.")
