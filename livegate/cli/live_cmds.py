"""go-live (phase 4)."""

from __future__ import annotations

import typer

from livegate.adapters.marketdata.candles import TIMEFRAME_MS
from livegate.adapters.sandbox.rehearsal import follow_sandbox_clock
from livegate.cli import EXIT_CRITERIA, EXIT_HALTED, EXIT_OK, workspace_from
from livegate.cli import display as d
from livegate.cli.bot_output import gateway_json, gateway_text, stop_on_signal
from livegate.cli.prompts import ask_in_terminal
from livegate.ledger.keys import try_load_private
from livegate.phases.microlive import runner
from livegate.phases.microlive.runner import LiveOptions

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand


@app.command("go-live")
def go_live(
    ctx: typer.Context,
    stage: str = typer.Option(..., "--stage", metavar="4.1a", help="The micro-live stage: 4.1a, 4.1b, 4.1c or 4.1d (in order; each needs the previous one signed off)."),
    max_hours: float = typer.Option(None, "--max-hours", metavar="H", min=0.0, help="Pause (resumably) after this many hours of this run (market hours with --sandbox-clock).", show_default=False),
    sandbox_clock: bool = typer.Option(False, "--sandbox-clock", help="Rehearsal only: follow the market clock of the local sandbox (`livegate sandbox serve --clock step`), "
                                                                        "moving it bar by bar, so the stage's hours pass in seconds with the same trades on a busy machine. "
                                                                        "Refused (exit 2) unless exchange.base_url is a livegate sandbox on this machine."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Approve this run's orders without asking (under approve_each they are still recorded as approved by you)."),
    gateway_port: int = typer.Option(0, "--gateway-port", metavar="PORT", min=0, max=65535, help="bot: external — the port your bot connects to (0: a free one, printed)."),
    gateway_host: str = typer.Option("127.0.0.1", "--gateway-host", metavar="HOST", help="bot: external — the address the gateway listens on. Anything but this machine "
                                                                          "(127.0.0.1, ::1) lets other machines try your gateway key: a warning is printed."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object at the end (bot: external — and first, one line with the gateway's URL and key)."),
) -> None:
    """Phase 4 — trade real money at one graduated stage ($10 / 24 h / 3 trades,
    $50 / 24 h / 5, $100 / 48 h / 10, $500 / 72 h / 20), through the order gateway: risk
    guardian, the stage's cap and MAX_TRADE_AMOUNT (a bigger order is refused, never resized),
    approval, the halt read before every order. Runs until the stage's time and trades are
    reached, then records the stage result; a restart resumes the stage. The kill criteria are
    checked after every bar: a breach halts trading, alerts and fails the stage.

    Needs: the stage's gate open, the mode switched to live (`livegate mode set LIVE_MINIMAL`),
    PAPER_MODE=false and LIVE_TRADING_ENABLED=true, trading not halted, no other live process.
    A stage that makes no progress — the strategy asks for orders and none is accepted for 30
    bars in a row (a holding too small to sell, a cap it cannot trade under) — stops, alerts
    and fails instead of waiting for ever. A trade is one round trip: all fills of the order
    that reduces a position count once.
    Exit 0 when the stage passed, 1 when it failed, stalled or a kill criterion fired, 4 when halted.

    Rehearsing on the local sandbox (`livegate sandbox serve --clock step --write-config`),
    `--sandbox-clock` measures the stage in the sandbox's market time and moves it one bar at a
    time: a stage takes seconds, and a stopped or killed run resumes with the same flag."""

    ws = workspace_from(ctx).require()
    exchange = ws.effective.config.exchange
    market = follow_sandbox_clock(exchange, sandbox_clock, "go-live")
    options = LiveOptions(ask=(lambda approval: True) if yes else ask_in_terminal,
                          max_seconds=None if max_hours is None else max_hours * 3600,
                          progress=(lambda m: None) if as_json else _Progress().update,
                          gateway_host=gateway_host, gateway_port=gateway_port,
                          on_gateway=gateway_json if as_json else gateway_text)
    options.stop_requested = stop_on_signal()
    if gateway_host not in ("127.0.0.1", "::1", "localhost"):
        d.console(stderr=True).print(f"[bold yellow]warning:[/] the bot gateway will listen on {gateway_host}, reachable from other "
                                     "machines: anyone who has the gateway key there can trade within the stage's limits")
    if market is not None:
        bar_ms = TIMEFRAME_MS[exchange.timeframe]
        market.start_on_bar(bar_ms)
        options.clock, options.sleep, options.market_clock = market.now, market.sleep, market.market_ms
        options.poll_s = bar_ms / 1000  # each wait of the loop: the market moves one bar
    key = try_load_private()
    outcome, result = runner.go_live(ws, stage, key, options)
    report = {"stage": stage, "run": outcome.run, "status": outcome.status, "reason": outcome.reason,
              "measures": outcome.measures, **(result.to_dict() if result else {"verdict": None, "checks": []})}
    if as_json:
        d.emit_json(report)
    else:
        show(report)
    if outcome.status == "halted":
        raise typer.Exit(EXIT_HALTED)
    raise typer.Exit(EXIT_OK if result is not None and result.passed else (EXIT_OK if outcome.status == "paused" else EXIT_CRITERIA))


class _Progress:
    def __init__(self):
        self.last = None

    def update(self, m: dict) -> None:
        line = (f"{m['min_duration_hours']:.2f} h · {m['closed_trades']} closed trades · "
                f"{m['orders_filled']} orders filled · P&L {d.money(m['net_pnl'], sign=True)}")
        if line != self.last:
            d.console(stderr=True).print(f"[dim]{line}[/]", highlight=False)
            self.last = line


def show(report: dict) -> None:
    d.out(f"go-live {report['stage']}: {report['status']} — {report['reason']}")
    if report["checks"]:
        d.criteria_table(f"Stage {report['stage']} (phases/micro-live.yaml)", report["checks"])
        d.out(f"Verdict: {d.styled(report['verdict'])} — recorded as the {report['stage']} result.")
        if report["verdict"] == "pass":
            d.out(f"Next: `livegate signoff {report['stage']} --by NAME`.")
    elif report["status"] == "paused":
        d.out("Run the same command again to continue the stage.")
