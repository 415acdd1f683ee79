"""monitor, report."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import typer

from livegate.cli import display as d
from livegate.cli import periodic_report, workspace_from
from livegate.core.errors import UsageError
from livegate.services.monitoring import prom
from livegate.services.monitoring.dashboard import render
from livegate.services.monitoring.html import render_html
from livegate.services.monitoring.report import report_data, to_csv, to_json
from livegate.services.monitoring.snapshot import snapshot

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand

RUN_HELP = "The run to look at (r12 a paper run, lgl40 a live stage); default: the latest live stage, else the latest paper run."


@app.command("monitor")
def monitor(
    ctx: typer.Context,
    interval: float = typer.Option(5.0, "--interval", "-n", metavar="SECONDS", min=0.1, help="Seconds between refreshes."),
    once: bool = typer.Option(False, "--once", help="Read the ledger once, print, exit."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: one object with --once, else one line per refresh."),
    serve_metrics: int = typer.Option(None, "--serve-metrics", metavar="PORT", min=0, max=65535, show_default=False,
                                      help="Serve Prometheus metrics on 127.0.0.1:PORT/metrics (0: any free port), updated every refresh."),
    count: int = typer.Option(None, "--count", metavar="N", min=1, show_default=False, help="Stop after this many refreshes (default: until Ctrl-C)."),
    run: str = typer.Option(None, "--run", metavar="RUN", show_default=False, help=RUN_HELP),
) -> None:
    """Live dashboard of the running bot, read from the ledger: mode and halt, P&L, drawdown against
    the limits, circuit breakers (one row each: state, trips, first and last trip), open positions, recent trades, orders, failures, latency and the
    green/yellow/red flags. Ctrl-C exits 0."""

    ws = workspace_from(ctx).require()
    if once and serve_metrics is not None:
        raise UsageError("--serve-metrics keeps serving while the monitor refreshes; it cannot be combined with --once")

    def take() -> dict:
        return snapshot(ws, run)

    if once:
        snap = take()
        if as_json:
            d.emit_json(snap)
        else:
            _screen().print(render(snap))
        return
    collector = None
    if serve_metrics is not None:
        collector = prom.SnapshotCollector()
        server, _ = prom.serve(prom.registry(collector), serve_metrics)
        d.console(stderr=True).print(f"Serving Prometheus metrics at http://127.0.0.1:{server.server_port}/metrics", markup=False)
    try:
        _loop(take, interval, count, as_json, collector)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a dashboard is left: exit 0


def _loop(take, interval: float, count: int | None, as_json: bool, collector) -> None:
    """Refresh until Ctrl-C (or `count` refreshes): JSON lines, or a rich Live screen."""
    refreshes = 0

    def step() -> dict:
        nonlocal refreshes
        snap = take()
        refreshes += 1
        if collector is not None:
            collector.update(snap)
        return snap

    def more() -> bool:
        if count is not None and refreshes >= count:
            return False
        time.sleep(interval)
        return True

    if as_json:
        while True:
            sys.stdout.write(json.dumps(step(), default=str, allow_nan=False) + "\n")  # a snapshot comes redacted
            sys.stdout.flush()
            if not more():
                return
    from rich.live import Live

    with Live(render(step()), console=_screen(), auto_refresh=False, screen=False, transient=False) as live:
        while more():
            live.update(render(step()), refresh=True)


def _screen():
    """A console that wraps (the message console does not: its lines are meant to be copied)."""
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False)


@app.command("report")
def report(
    ctx: typer.Context,
    html_file: Path = typer.Option(None, "--html", metavar="FILE", show_default=False, help="Write one self-contained HTML file (charts inline, no script) here."),
    fmt: str = typer.Option(None, "--format", "-f", metavar="json|csv", show_default=False, help="json or csv: the same data as the HTML, to --output or stdout."),
    as_json: bool = typer.Option(False, "--json", help="Same as --format json (with --daily/--weekly: print that report as JSON)."),
    output: Path = typer.Option(None, "--output", "-o", metavar="FILE", show_default=False, help="With --format: write to this file instead of stdout."),
    run: str = typer.Option(None, "--run", metavar="RUN", show_default=False, help=RUN_HELP),
    daily: bool = typer.Option(False, "--daily", help="The day's summary of live trading (reports/daily-DAY.md and .json, recorded in the ledger)."),
    weekly: bool = typer.Option(False, "--weekly", help="The week's reconciliation: the exchange's own trades against the ledger; exit 1 on any mismatch."),
    day: str = typer.Option(None, "--date", metavar="YYYY-MM-DD", show_default=False, help="With --daily: the UTC day (default today); with --weekly: a day of the week."),
    week: str = typer.Option(None, "--week", metavar="YYYY-Www", show_default=False, help="With --weekly: the ISO week, e.g. 2026-W49 (default this week)."),
    send: bool = typer.Option(False, "--send", help="With --daily/--weekly: also send the summary to the alert destinations; exit 1 if not delivered."),
) -> None:
    """Write the report: a timeline of runs, results, sign-offs, halts and breaker trips; the
    signed-off paper run beside the latest micro-live stage (equity, win rate, slippage and the
    kill criteria go-live checks); slippage, holding times, monthly returns and exposure; a page
    per phase with its criteria and charts, the signed-off result marked (and a result obtained
    on the local sandbox, a test network or synthetic data tagged a rehearsal); breakers, mode history
    and flags — as HTML (--html FILE) or the same numbers as JSON/CSV (--format).
    --daily / --weekly write the daily summary or the weekly reconciliation instead."""

    if daily or weekly:
        return periodic_report.run(workspace_from(ctx).require(), daily=daily, weekly=weekly, day=day, week=week, as_json=as_json,
                                   send=send, others={"--html": html_file, "--format": fmt, "--output": output, "--run": run})
    if day is not None or week is not None or send:
        raise UsageError("--date, --week and --send go with --daily or --weekly")
    fmt = "json" if as_json and fmt is None else fmt
    if fmt not in (None, "json", "csv"):
        raise UsageError(f"--format must be json or csv (got {fmt!r})")
    if (html_file is None) == (fmt is None):
        raise UsageError("give one of --html FILE or --format json|csv")
    if output is not None and html_file is not None:
        raise UsageError("--output goes with --format; --html names its own file")
    ws = workspace_from(ctx).require()
    data = report_data(ws, run)
    if html_file is not None:
        _write(html_file, render_html(data))
        d.out(f"Wrote {html_file} ({len(data['trades'])} trades, {len(data['results'])} phase results, flags {data['flags'][0]['overall'] if data['flags'] else 'n/a'})")
        return
    text = to_json(data) if fmt == "json" else to_csv(data)
    if output is None:
        sys.stdout.write(text)
    else:
        _write(output, text)
        d.out(f"Wrote {output}")


def _write(path: Path, text: str) -> None:
    """Write atomically: a reader never sees half a report."""
    path = path.expanduser()
    tmp = path.with_name(path.name + ".partial")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"{path}: cannot be written ({exc.strerror})") from None
