"""sandbox serve."""

from __future__ import annotations

import json
import sys

import typer

from livegate.adapters.sandbox.configure import write_workspace
from livegate.adapters.sandbox.local import LocalSandbox
from livegate.adapters.sandbox.market import CLOCKS, STEP, WALL
from livegate.cli import EXIT_OK, workspace_from
from livegate.cli import display as d
from livegate.core.errors import UsageError

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand

sandbox_app = typer.Typer(help="The local exchange and chain for offline rehearsals.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")

TEST_KEYS_NOTE = "Every key shown is a test key of this local sandbox (the chain's are anvil's public development keys): valid nowhere else."


@sandbox_app.command("serve")
def serve(
    ctx: typer.Context,
    port: int = typer.Option(0, "--port", metavar="PORT", min=0, max=65535, help="Exchange port on 127.0.0.1 (0: a free one)."),
    speed: float = typer.Option(None, "--speed", metavar="X", min=0.001, help="Wall clock only: how fast market time runs (default 1, real time; 60: a 1m candle every second).", show_default=False),
    clock: str = typer.Option(WALL, "--clock", metavar="wall|step", help="wall: market time runs by itself, at --speed. step: market time stands still until a rehearsal "
                                                      "moves it bar by bar (`go-live --sandbox-clock`, `paper-run --sandbox-clock`): "
                                                      "the stages' hours pass in seconds, with the same results on a busy machine."),
    seed: int = typer.Option(0, "--seed", metavar="N", help="Seed of the synthetic price paths."),
    chain: bool = typer.Option(True, "--chain/--no-chain", help="Also start the local EVM chain with Uniswap V2 deployed."),
    chain_backend: str = typer.Option(None, "--chain-backend", metavar="BACKEND", show_default=False,
                                      help="anvil, eth-tester or auto (default: $LIVEGATE_CHAIN_BACKEND, else auto: anvil when installed)."),
    write_config: bool = typer.Option(False, "--write-config", help="Point the workspace at this sandbox: exchange.base_url, chain.rpc_url/chain_id in livegate.yaml; "
                                                                        "the test keys and matching allowlists in .env."),
    as_json: bool = typer.Option(False, "--json", help="First line on stdout: one JSON object with the URLs, keys and addresses."),
) -> None:
    """Start the local Binance-compatible exchange (and the local chain: anvil with Uniswap V2),
    print how to reach them, and serve until Ctrl-C or SIGTERM stops both.

    Everything stays on 127.0.0.1 and needs no keys or network: rehearse `livegate validate`,
    paper runs, testnet orders and the go-live stages against it. The keys printed are test keys
    of this sandbox. With `--clock step` its market time moves only when a rehearsal moves it:
    `livegate go-live --stage 4.1a --sandbox-clock` walks a stage's hours in seconds, bar by bar."""

    if clock not in CLOCKS:
        raise UsageError(f"--clock must be one of {', '.join(CLOCKS)} (got {clock!r})")
    if clock == STEP and speed is not None:
        raise UsageError("--speed sets how fast a wall clock runs; a step clock (--clock step) moves only when a rehearsal moves it")
    ws = workspace_from(ctx).require() if write_config else None
    sandbox = LocalSandbox(port=port, speed=1.0 if speed is None else speed, seed=seed, chain=chain,
                           chain_backend=chain_backend, clock=clock)
    stop = _Stop()
    try:
        info = sandbox.start()
        written = []
        if ws is not None:
            written = write_workspace(ws, info)
        stop.serving = True  # from here a SIGTERM or Ctrl-C stops serving, wherever it lands
        if as_json:
            sys.stdout.write(json.dumps(info, separators=(",", ":")) + "\n")
            sys.stdout.flush()
        else:
            _show(info, written)
        stop.wait()
    finally:
        sandbox.stop()
    if not as_json:
        d.out("Sandbox stopped.")
    raise typer.Exit(EXIT_OK)


class _Stop:
    """SIGTERM and Ctrl-C: while starting, they interrupt (KeyboardInterrupt, exit 130); once
    serving, they only ask `wait` to return, so a signal that lands between printing the URLs
    and waiting still ends in a clean stop (exit 0)."""

    def __init__(self) -> None:
        import signal

        self.serving = self.requested = False
        for signum in (signal.SIGTERM, signal.SIGINT):
            try:
                signal.signal(signum, self._on_signal)
            except ValueError:  # not the main thread
                pass

    def _on_signal(self, signum, frame) -> None:
        if not self.serving:
            raise KeyboardInterrupt
        self.requested = True

    def wait(self) -> None:
        import time

        while not self.requested:
            time.sleep(0.2)


def _show(info: dict, written: list) -> None:
    from rich.table import Table

    console = d.console()
    table = Table(title="livegate sandbox", title_justify="left", show_header=False)
    table.add_column("")
    table.add_column("", overflow="fold")
    table.add_row("Exchange (Binance spot API)", info["exchange_url"])
    table.add_row("Symbols", ", ".join(info["symbols"]))
    table.add_row("Market clock", "step: stands still until a rehearsal moves it" if info["clock"] == STEP
                  else "wall: runs by itself")
    for name, key in info["keys"].items():
        rights = "trade" if key["trade"] else "read only"
        rights += ", WITHDRAW enabled" if key["withdraw"] else ", no withdrawal"
        rights += "" if key["ip_restricted"] else ", no IP whitelist"
        table.add_row(f"Key '{name}' ({rights})", f"{key['api_key']} / {key['secret']}")
    if info["rpc_url"]:
        table.add_row(f"Chain RPC ({info['chain_backend']})", f"{info['rpc_url']} · chain id {info['chain_id']}")
        table.add_row("Uniswap V2 router / factory", f"{info['router']} / {info['factory']}")
        table.add_row("WETH", info["weth"])
        for symbol, address in info["tokens"].items():
            table.add_row(f"Token {symbol}", address)
        table.add_row("Chain trader account", f"{info['signer_address']} (test key {info['signer_test_key']})")
    else:
        table.add_row("Chain", "not started (--no-chain)")
    console.print(table)
    d.out(TEST_KEYS_NOTE)
    if written:
        d.out("Wrote " + ", ".join(p.name for p in written) + ": the workspace now points at this sandbox "
              "(a configuration change: signed-off steps must be re-run).")
    else:
        d.out("Use it: `livegate sandbox serve --write-config` (in a workspace) points livegate.yaml and .env here.")
    if info["clock"] == STEP:
        d.out("Rehearse against it with the market clock in steps: `livegate go-live --stage 4.1a --sandbox-clock`, "
              "`livegate paper-run --days 7 --sandbox-clock`.")
    d.out("Serving until Ctrl-C.")
