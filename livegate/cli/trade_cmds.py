"""trade (phase 5 in operation)."""

from __future__ import annotations

import typer

from livegate.cli import EXIT_CRITERIA, EXIT_HALTED, EXIT_PAUSED, workspace_from
from livegate.cli import display as d
from livegate.cli.bot_output import stopping_on_signals
from livegate.cli.live_run import GATEWAY_HOST_OPTION, GATEWAY_PORT_OPTION, JSON_OPTION, SANDBOX_CLOCK_OPTION, YES_OPTION, live_run_options
from livegate.ledger.keys import try_load_private
from livegate.phases.microlive import runner

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand


@app.command("trade")
def trade(
    ctx: typer.Context,
    max_hours: float = typer.Option(None, "--max-hours", metavar="H", min=0.0, help="Pause after this many hours of this run (market hours with --sandbox-clock): "
                                                                                "exit 7, and the same command continues.", show_default=False),
    sandbox_clock: bool = SANDBOX_CLOCK_OPTION,
    yes: bool = YES_OPTION,
    gateway_port: int = GATEWAY_PORT_OPTION,
    gateway_host: str = GATEWAY_HOST_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Phase 5 in operation — trade real money after production is signed off: your strategy,
    or your own bot through the gateway (`bot: external`), on the live exchange, under the
    signed capital level (`livegate scale`).

    The level caps every order and position: Micro (from 100) 10, Small (from 1,000) 50,
    Medium (from 2,500) 100, Standard (from 5,000) 200, in the quote currency
    (phases/production.yaml). An order above the cap is refused, never resized. The mode's exposure
    (LIVE_MINIMAL 2 % of the level, LIVE_SCALED 5–10 %), MAX_TRADE_AMOUNT and
    MAX_CEX_ORDER_AMOUNT apply too; a level signed while it runs applies from the next order.

    The green/yellow/red flags of `livegate monitor` act: a rule turning yellow raises an
    alert; a red one (risk_limits.yaml `flags.act_on_red`: win rate, drawdown, daily loss,
    losing streak, slippage, failed orders) makes trading reduce-only — only orders that shrink
    a position pass until `livegate resume` — alerts, and proposes halving the capital level
    (applied at once with `scaling.auto_downscale: true` in livegate.yaml).

    It halts on the same triggers as go-live (the kill switch, the kill criteria against the
    signed paper result, circuit breakers) and resumes where it stopped when run again; its
    trades are the evidence `livegate scale` reads.
    Exit 7 when paused (--max-hours, Ctrl-C, SIGTERM), 4 when halted, 1 when a kill criterion
    fired or it stalled; 3 when production is not signed off."""

    ws = workspace_from(ctx).require()
    options = live_run_options(ws, "trade", yes=yes, max_hours=max_hours, as_json=as_json, gateway_host=gateway_host,
                               gateway_port=gateway_port, sandbox_clock=sandbox_clock, limits="the capital level's limits")
    key = try_load_private()
    with stopping_on_signals(ctrl_c=True) as options.stop_requested:
        outcome = runner.trade(ws, key, options)
    report = {"run": outcome.run, "status": outcome.status, "reason": outcome.reason, "measures": outcome.measures}
    if as_json:
        d.emit_json(report)
    else:
        d.out(f"trade: {outcome.status} — {outcome.reason}")
        if outcome.status == "paused":
            d.out("Run `livegate trade` again to continue.")
    if outcome.status == "halted":
        raise typer.Exit(EXIT_HALTED)
    raise typer.Exit(EXIT_PAUSED if outcome.status == "paused" else EXIT_CRITERIA)
