"""The options of a live run (`go-live`, `trade`) from the command line, and its progress line."""

from __future__ import annotations

import typer

from livegate.adapters.marketdata.candles import TIMEFRAME_MS
from livegate.adapters.sandbox.rehearsal import follow_sandbox_clock
from livegate.cli import display as d
from livegate.cli.bot_output import gateway_json, gateway_text
from livegate.cli.prompts import ask_in_terminal
from livegate.phases.microlive.runner import LiveOptions

# The options go-live and trade share (one declaration each; Typer reads them per command).
YES_OPTION = typer.Option(False, "--yes", "-y", help="Approve this run's orders without asking (under approve_each they are still recorded as approved by you).")
GATEWAY_PORT_OPTION = typer.Option(0, "--gateway-port", metavar="PORT", min=0, max=65535, help="bot: external — the port your bot connects to (0: a free one, printed).")
GATEWAY_HOST_OPTION = typer.Option("127.0.0.1", "--gateway-host", metavar="HOST", help="bot: external — the address the gateway listens on. Anything but this machine "
                                  "(127.0.0.1, ::1) lets other machines try your gateway key: a warning is printed.")
SANDBOX_CLOCK_OPTION = typer.Option(False, "--sandbox-clock", help="Rehearsal only: follow the market clock of the local sandbox (`livegate sandbox serve --clock step`), "
                                    "moving it bar by bar, so market hours pass in seconds with the same trades on a busy machine. "
                                    "Refused (exit 2) unless exchange.base_url is a livegate sandbox on this machine.")
JSON_OPTION = typer.Option(False, "--json", help="Print one JSON object at the end (bot: external — and first, one line with the gateway's URL and key).")


class LiveProgress:
    """The progress line of a live run (go-live, trade) on stderr, printed when it changes."""

    def __init__(self):
        self.last = None

    def update(self, m: dict) -> None:
        line = (f"{m['min_duration_hours']:.2f} h · {m['closed_trades']} closed trades · "
                f"{m['orders_filled']} orders filled · P&L {d.money(m['net_pnl'], sign=True)}")
        if line != self.last:
            d.console(stderr=True).print(f"[dim]{line}[/]", highlight=False)
            self.last = line


def live_run_options(ws, command: str, *, yes: bool, max_hours: float | None, as_json: bool, gateway_host: str, gateway_port: int,
                     sandbox_clock: bool, limits: str):
    """The options of a live run from the command line (go-live, trade): the approval prompt
    (`--yes` approves), the pause after `--max-hours`, the progress line unless `--json`, where a
    bot's gateway listens — warned on stderr when other machines can reach it (`limits`: what
    caps what they could trade) — and, with `--sandbox-clock` (a rehearsal on the local sandbox
    only; refused otherwise), the sandbox's market clock, moved one bar per turn of the loop."""
    exchange = ws.effective.config.exchange
    market = follow_sandbox_clock(exchange, sandbox_clock, command)
    if gateway_host not in ("127.0.0.1", "::1", "localhost"):
        d.console(stderr=True).print(f"[bold yellow]warning:[/] the bot gateway will listen on {gateway_host}, reachable from other "
                                     f"machines: anyone who has the gateway key there can trade within {limits}")
    options = LiveOptions(ask=(lambda approval: True) if yes else ask_in_terminal,
                          max_seconds=None if max_hours is None else max_hours * 3600,
                          progress=(lambda m: None) if as_json else LiveProgress().update,
                          gateway_host=gateway_host, gateway_port=gateway_port,
                          on_gateway=gateway_json if as_json else gateway_text)
    if market is not None:
        bar_ms = TIMEFRAME_MS[exchange.timeframe]
        market.start_on_bar(bar_ms)
        options.clock, options.sleep, options.market_clock = market.now, market.sleep, market.market_ms
        options.poll_s = bar_ms / 1000  # each wait of the loop: the market moves one bar
    return options
