"""`livegate report --daily` / `--weekly`: parse the period, build the report, write and record
it, send it when asked, exit 1 on a reconciliation mismatch or a failed delivery."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from livegate.cli import EXIT_CRITERIA
from livegate.cli import display as d
from livegate.core.errors import UsageError
from livegate.services.alerts.dispatch import Alerter
from livegate.services.mode_switch import exchange_config, venue_client
from livegate.services.monitoring import periodic


def run(ws, *, daily: bool, weekly: bool, day: str | None, week: str | None, as_json: bool, send: bool,
        others: dict[str, object]) -> None:
    """Check the options, then build, write, record and (with `send`) deliver one report."""
    if daily and weekly:
        raise UsageError("give one of --daily or --weekly")
    given = [name for name, value in others.items() if value not in (None, False)]
    if given:
        raise UsageError(f"{' and '.join(given)} cannot be combined with {'--daily' if daily else '--weekly'}")
    if daily and week is not None:
        raise UsageError("--week goes with --weekly; a daily summary takes --date")
    if week is not None and day is not None:
        raise UsageError("give one of --week or --date")
    alerter = _alerter(ws) if send else None
    today = datetime.now(UTC).date()
    if daily:
        report = periodic.daily_report(ws, periodic.parse_day(day) if day else today)
    else:
        start = periodic.parse_week(week) if week else periodic.week_start_of(periodic.parse_day(day) if day else today)
        report = periodic.weekly_report(ws, start, _client(ws), _symbols(ws))
    written = periodic.write_and_record(ws, report)
    sent = periodic.send_report(ws, report, alerter=alerter) if alerter is not None else None
    failed = sent is not None and (not sent or not all(r["delivered"] for r in sent))
    if as_json:
        d.emit_json({**report, "written": written, "sent": sent})
    else:
        _show(report, written, sent)
    if report.get("ok") is False or failed:
        raise typer.Exit(EXIT_CRITERIA)


def _alerter(ws) -> Alerter:
    """The workspace's alerter, after checking there is somewhere to send to (before anything is written)."""
    alerter = Alerter(ws)
    if not alerter.settings().destinations:
        raise UsageError("--send: no alert destination is configured (alerts.destinations in livegate.yaml)")
    return alerter


def _client(ws):
    return venue_client(ws, exchange_config(ws))


def _symbols(ws) -> list[str]:
    return list(exchange_config(ws).exchange.symbols)


def _show(report: dict, written: dict, sent: list[dict] | None) -> None:
    s = report["summary"]
    if report["kind"] == periodic.DAILY:
        rate = f"{s['win_rate_pct']:.1f} %" if s["win_rate_pct"] is not None else "n/a"
        pct = f" ({s['max_drawdown_pct']:.2f} %)" if s["max_drawdown_pct"] is not None else ""
        d.out(f"Daily summary {report['period']} (UTC): {s['trades']} trades, win rate {rate}, net P&L {s['net_pnl']:.4f}, "
              f"fees {s['fees']:.4f}, drawdown {s['max_drawdown']:.4f}{pct}")
        d.out(f"  refused orders {s['refused']}, alerts {s['alerts']}, breaker trips {s['breaker_trips']}, halts {s['halts']}")
    else:
        style = "green" if report["ok"] else "bold red"
        d.out(f"Weekly reconciliation {report['period']} ({report['from']} – {report['until']}): [{style}]{d.escape(report['verdict'])}[/]")
        d.out(f"  venue trades {s['venue_trades']}, ledger fills {s['ledger_fills']}, matched {s['matched']}, "
              f"missing from the ledger {s['missing_from_ledger']}, unknown to the venue {s['unknown_to_venue']}, "
              f"fee differences {s['fee_differences']}, other differences {s['other_differences']}")
        for row in report["pnl_by_symbol"]:
            d.out(f"  {row['symbol']}: cash flow at the exchange {row['venue_cash_flow']:.4f} (position change {row['position_change']:g}), "
                  f"ledger net P&L {row['ledger_net_pnl']:.4f} over {row['ledger_trades']} trades")
    d.out(f"Wrote {written['files']['md']} and {written['files']['json']} (ledger event {written['event']})")
    if sent is not None:
        if not sent:
            d.out("[red]Not sent: no alert destination takes this severity (min_severity).[/]")
        for r in sent:
            d.out(f"  sent to {r['destination']}: " + ("delivered" if r["delivered"] else f"[red]not delivered[/] ({d.escape(r['error'] or '')})"))
