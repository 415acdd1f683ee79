"""go-live (phase 4)."""

from __future__ import annotations

import typer

from livegate.cli import EXIT_CRITERIA, EXIT_HALTED, EXIT_OK, EXIT_PAUSED, workspace_from
from livegate.cli import display as d
from livegate.cli.bot_output import stopping_on_signals
from livegate.cli.live_run import GATEWAY_HOST_OPTION, GATEWAY_PORT_OPTION, JSON_OPTION, SANDBOX_CLOCK_OPTION, YES_OPTION, live_run_options
from livegate.ledger.keys import try_load_private
from livegate.phases.microlive import runner

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand


@app.command("go-live")
def go_live(
    ctx: typer.Context,
    stage: str = typer.Option(..., "--stage", metavar="4.1a", help="The micro-live stage: 4.1a, 4.1b, 4.1c or 4.1d (in order; each needs the previous one signed off)."),
    max_hours: float = typer.Option(None, "--max-hours", metavar="H", min=0.0, help="Pause after this many hours of this run (market hours with --sandbox-clock): "
                                                                                "exit 7, and the same command resumes the stage.", show_default=False),
    sandbox_clock: bool = SANDBOX_CLOCK_OPTION,
    yes: bool = YES_OPTION,
    gateway_port: int = GATEWAY_PORT_OPTION,
    gateway_host: str = GATEWAY_HOST_OPTION,
    as_json: bool = JSON_OPTION,
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
    Exit 0 when the stage passed, 1 when it failed, stalled or a kill criterion fired, 4 when halted,
    7 when it paused — stopped by --max-hours, Ctrl-C or SIGTERM before its time and trades were
    reached, nothing left resting at the venue and no result recorded. `livegate status` then shows
    the stage as paused; the same command resumes it where it stopped.

    Rehearsing on the local sandbox (`livegate sandbox serve --clock step --write-config`),
    `--sandbox-clock` measures the stage in the sandbox's market time and moves it one bar at a
    time: a stage takes seconds, and a stopped or killed run resumes with the same flag."""

    ws = workspace_from(ctx).require()
    options = live_run_options(ws, "go-live", yes=yes, max_hours=max_hours, as_json=as_json, gateway_host=gateway_host,
                               gateway_port=gateway_port, sandbox_clock=sandbox_clock, limits="the stage's limits")
    key = try_load_private()
    with stopping_on_signals(ctrl_c=True) as options.stop_requested:
        outcome, result = runner.go_live(ws, stage, key, options)
    report = {"stage": stage, "run": outcome.run, "status": outcome.status, "reason": outcome.reason,
              "measures": outcome.measures, **(result.to_dict() if result else {"verdict": None, "checks": []})}
    if as_json:
        d.emit_json(report)
    else:
        show(report)
    if outcome.status == "halted":
        raise typer.Exit(EXIT_HALTED)
    if outcome.status == "paused":
        raise typer.Exit(EXIT_PAUSED)
    raise typer.Exit(EXIT_OK if result is not None and result.passed else EXIT_CRITERIA)


def show(report: dict) -> None:
    d.out(f"go-live {report['stage']}: {report['status']} — {report['reason']}")
    if report["checks"]:
        d.criteria_table(f"Stage {report['stage']} (phases/micro-live.yaml)", report["checks"])
        d.out(f"Verdict: {d.styled(report['verdict'])} — recorded as the {report['stage']} result.")
        if report["verdict"] == "pass":
            d.out(f"Next: `livegate signoff {report['stage']} --by NAME`.")
    elif report["status"] == "paused":
        d.out("Paused, not finished: no result was recorded. Run the same command again to resume the stage where it stopped.")
