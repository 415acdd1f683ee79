"""paper-run."""

from __future__ import annotations

import typer

from livegate.adapters.sandbox.rehearsal import follow_sandbox_clock
from livegate.cli import EXIT_CRITERIA, EXIT_OK, workspace_from
from livegate.cli import display as d
from livegate.cli.bot_output import gateway_json, gateway_text
from livegate.cli.paper_display import NEXT_LINE, show_criteria, stress_bar
from livegate.core.errors import UsageError
from livegate.core.timeparse import iso_to_ms
from livegate.ledger.keys import try_load_private
from livegate.phases.paper.report import run_report
from livegate.phases.paper.run import BACKTEST, FORWARD, BotOptions, PaperRunner, RunPlan, unfinished_run

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand

BACKTEST_LINE = "This was a backtest: kept in the ledger as evidence and as the baseline for later runs; it never counts as the paper phase result."
FORWARD_LINE = "This forward run on live market data is recorded as the paper phase result."


@app.command("paper-run")
def paper_run(
    ctx: typer.Context,
    days: float = typer.Option(None, "--days", metavar="N", help="Length of the run in days: a forward run on live data (needs the env phase signed off), "
                                                         "or the first N days of --replay/--since data.", show_default=False),
    replay: list[str] = typer.Option(None, "--replay", metavar="FILE", help="Backtest on an OHLCV CSV (header timestamp,open,high,low,close,volume) or `builtin:btc-1m` (seeded synthetic data). "
                                                              "Repeat with --symbol for several symbols.", show_default=False),
    since: str = typer.Option(None, "--since", metavar="DATE", help="Backtest on the exchange's historical candles from this date (ISO 8601, UTC), fetched with ccxt.", show_default=False),
    symbol: list[str] = typer.Option(None, "--symbol", metavar="SYMBOL", help="Symbol of each --replay source, in order (default: the workspace's first symbol; "
                                                              "all of them for --since and forward runs).", show_default=False),
    resume: bool = typer.Option(False, "--resume", help="Continue the last unfinished run from its last checkpoint (after a crash, Ctrl-C or a venue outage)."),
    trials: int = typer.Option(1, "--trials", metavar="N", min=1, help="Strategy variants you tried (for the deflated Sharpe ratio); the ledger's recorded backtests also count."),
    sandbox_clock: bool = typer.Option(False, "--sandbox-clock", help="Rehearsal only, forward runs: follow the market clock of the local sandbox "
                                                                        "(`livegate sandbox serve --clock step`), moving it bar by bar, so the days pass in minutes "
                                                                        "with the same result on a busy machine. Refused (exit 2) unless exchange.base_url is a livegate sandbox on this machine."),
    gateway_port: int = typer.Option(0, "--gateway-port", metavar="PORT", min=0, max=65535, help="bot: external — the port your bot connects to (0: a free one, printed)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (no progress bar; bot: external — first, one line with the gateway's URL and key)."),
) -> None:
    """Run the configured strategy through the risk guardian on simulated fills (fees, slippage,
    exchange filters), then evaluate it against the paper criteria.

    With `bot: external`, your own bot trades instead, through livegate's gateway: its orders
    are filled by the same simulation, its account and orders are the paper ones, and its trades
    are evaluated.

    `--days N` alone is a forward run on live market data (public endpoints, no keys): it needs
    the env phase signed off and becomes the paper phase result. `--replay` and `--since` are
    backtests at full speed: always allowed, kept as evidence and baseline, never the phase
    result. Exit 0 when every criterion passes, 1 otherwise. Ctrl-C or SIGTERM stops a run at
    its last checkpoint (exit 130; `livegate status` then shows a forward run as paused) and
    `--resume` continues it.

    Rehearsing on the local sandbox (`livegate sandbox serve --clock step --write-config`),
    `--sandbox-clock` runs a forward run on the sandbox's market time, one bar at a time (resume
    it with `--resume --sandbox-clock`)."""

    ws = workspace_from(ctx).require()
    plan = parse_plan(days, replay or [], since, symbol or [], resume)
    kind = _kind(ws, plan)
    if sandbox_clock and kind == BACKTEST:
        raise UsageError("--sandbox-clock is for forward runs: a backtest (--replay, --since) runs at full speed anyway")
    market = follow_sandbox_clock(ws.effective.config.exchange, sandbox_clock, "paper-run") if kind == FORWARD else None
    progress = _Progress(as_json)
    runner = PaperRunner(ws, plan, key=try_load_private(), progress=progress.update,
                         bot=BotOptions(port=gateway_port, on_gateway=gateway_json if as_json else gateway_text))
    if market is not None:  # the run's clock and waits are the sandbox's market time
        runner.clock, runner.sleep, runner.market_clock = market.now, market.sleep, market.market_ms
    _sigterm_stops_cleanly()
    if not as_json and not resume:
        d.out(f"livegate paper-run — {plan.describe()}")
    with progress:
        outcome = runner.run()
    report = finish(ws, outcome, runner, trials, progress_enabled=not as_json)
    if as_json:
        d.emit_json(report)
    else:
        show_report(report)
    raise typer.Exit(EXIT_OK if report["verdict"] == "pass" else EXIT_CRITERIA)


def _kind(ws, plan: RunPlan) -> str | None:
    """What this run is: FORWARD (it waits for market time) or BACKTEST; for --resume, the kind
    of the run it continues (None when there is none: the runner says so)."""
    if not plan.resume:
        return plan.kind
    found = unfinished_run(ws)
    return found[0]["plan"]["kind"] if found is not None else None


def _sigterm_stops_cleanly() -> None:
    """systemd and `kill` send SIGTERM: stop at the last checkpoint like Ctrl-C does."""
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (embedded use): leave the default
        pass


def parse_plan(days, replay, since, symbols, resume):
    """The command line as a RunPlan (usage errors named by option)."""
    import math

    if days is not None and not (math.isfinite(days) and days > 0):
        raise UsageError(f"--days must be a positive number of days (got {days:g})")
    if resume:
        if replay or since or days is not None or symbols:
            raise UsageError("--resume continues the recorded run as it was started; give no --days/--replay/--since/--symbol")
        return RunPlan(BACKTEST, resume=True)
    if replay and since:
        raise UsageError("--replay and --since are two different data sources; give one")
    if since:
        return RunPlan(BACKTEST, days=days, since_ms=parse_since(since), symbols=symbols)
    if replay:
        return RunPlan(BACKTEST, days=days, replay=list(replay), symbols=symbols)
    if days is None:
        raise UsageError("give --days N for a forward run, or --replay FILE / --since DATE for a backtest")
    if symbols:
        raise UsageError("--symbol goes with --replay; a forward run trades the workspace's exchange.symbols")
    return RunPlan(FORWARD, days=days)


def parse_since(text: str) -> int:
    import time

    try:
        ms = iso_to_ms(text)
    except (ValueError, OverflowError):
        raise UsageError(f"--since {text!r} is not an ISO 8601 date (e.g. 2024-01-01 or 2024-01-01T00:00Z)") from None
    if ms >= time.time() * 1000:
        raise UsageError(f"--since {text} is not in the past")
    return ms


class _Progress:
    def __init__(self, quiet: bool):
        self.bar = d.ProgressBar("paper run", 1, enabled=not quiet)
        self.last = 0.0

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        self.bar.__exit__(*exc)

    def update(self, p) -> None:
        if p.kind == "forward":
            done = f"{p.done:.2f} / {p.total:g} days"
        else:
            done = f"{int(p.done):,} / {int(p.total):,} bars"
        self.bar.update(p.done, f"{done} · {p.trades} trades · P&L {d.money(p.pnl, sign=True)} · drawdown {d.pct(100 * p.drawdown, 1)}",
                        total=p.total)


def finish(ws, outcome, runner, trials: int, progress_enabled: bool) -> dict:
    """Evaluate the run and record its result, with the stress test's progress bar."""

    with stress_bar(progress_enabled) as progress:
        return run_report(ws, outcome, runner.key, trials, stress_progress=progress)


def _tally(names: list[str]) -> str:
    from collections import Counter

    return ", ".join(f"{name} ×{n}" for name, n in Counter(names).most_common())


def show_report(report: dict) -> None:
    data, s, m = report["data"], report["summary"], report["metrics"]
    if report["synthetic_data"]:
        d.out("[bold yellow]SYNTHETIC DATA[/] — generated by livegate's seeded market model, not market history.")
    for w in data.get("warnings", []):
        d.out(f"[yellow]data warning:[/] {w}")
    blocked = ", ".join(f"{rule} {n}" for rule, n in s["blocked_by_rule"].items()) or "none"
    rows = [
        ["Run", f"{report['run']} ({report['kind']})"],
        ["Data", f"{', '.join(data.get('sources', []))} · {data.get('from', '')[:16]} → {data.get('to', '')[:16]}"],
        ["Bars processed", f"{s['bars']:,}"],
        ["Orders placed / fills", f"{s['orders']} / {s['fills']}"],
        ["Blocked by the guardian", f"{s['blocked']} ({blocked})"],
        ["Circuit breaker trips", _tally(s["breaker_trips"]) or "none"],
        ["Closed trades", str(m["total_trades"])],
        ["Final equity", f"{d.money(s['final_equity'])} (P&L {d.money(m['net_pnl'], sign=True)} after {d.money(m['fees'])} fees)"],
        ["Open positions", ", ".join(f"{k} {d.number(v, 6)}" for k, v in s["open_positions"].items()) or "none"],
    ]
    d.table("Paper run", ["", ""], rows, show_header=False)
    show_criteria(report)
    d.out(BACKTEST_LINE if report["kind"] == "backtest" else FORWARD_LINE)
    if report["kind"] != "backtest" and report["verdict"] == "pass":
        d.out(NEXT_LINE)
