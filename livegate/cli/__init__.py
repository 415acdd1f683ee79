"""The livegate command line: parse, call the library, report, exit.

Exit codes (SPEC §9): 0 ok · 1 criteria not met · 2 usage or configuration error ·
3 gate closed · 4 trading halted · 5 venue unreachable · 6 the kill switch could not be engaged
(`halt`, `rollback`) · 7 a go-live stage paused, resumable · 130 interrupted · 141 the reader of the output went away · 70 internal error (a bug).

This module is what `livegate --help` loads, so it stays light: command modules are imported
when their command runs (`COMMANDS`), and the workspace and alert services only when a
command asks for the workspace or crashes — the two imports inside functions below, on purpose.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator, MutableMapping
from pathlib import Path

import typer
from typer._click import Command, Context, HelpFormatter  # typer's vendored click
from typer.core import TyperCommand, TyperGroup

from livegate.cli import display, help_layout
from livegate.core import errors

EXIT_OK, EXIT_CRITERIA, EXIT_USAGE, EXIT_GATE, EXIT_HALTED, EXIT_VENUE, EXIT_INTERNAL = 0, 1, 2, 3, 4, 5, 70
EXIT_PAUSED = 7  # a go-live stage stopped before its end (--max-hours, Ctrl-C, SIGTERM): the same command resumes it
EXIT_NOT_FLAT = 8  # flatten / EMERGENCY_STOP: a position could not be closed, or a step failed
EXIT_INTERRUPTED = 130
EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE, as the shell reports a writer whose reader went away (`| head`)
HELP_OPTION_NAMES = ["-h", "--help"]

EXIT_CODES: tuple[tuple[type[errors.LivegateError], int], ...] = (
    (errors.CriteriaNotMet, EXIT_CRITERIA),
    (errors.ConfigError, EXIT_USAGE),
    (errors.UsageError, EXIT_USAGE),
    (errors.LedgerError, EXIT_USAGE),
    (errors.GateClosed, EXIT_GATE),
    (errors.KeyMissing, EXIT_GATE),
    (errors.TradingHalted, EXIT_HALTED),
    (errors.VenueUnreachable, EXIT_VENUE),
    (errors.Interrupted, EXIT_INTERRUPTED),
)


def exit_code_for(exc: errors.LivegateError) -> int:
    for kind, code in EXIT_CODES:
        if isinstance(exc, kind):
            return code
    return EXIT_USAGE


def report_error(exc: errors.LivegateError) -> None:
    if isinstance(exc, errors.GateClosed):
        display.error(f"gate closed: cannot proceed with {exc.target}")
        for reason in exc.reasons:
            display.console(stderr=True).print(f"  - {display.redact_text(reason)}", markup=False)
    elif isinstance(exc, errors.ConfigError) and len(exc.problems) > 1:
        display.error(f"{len(exc.problems)} problems")
        for line in exc.problems:
            display.console(stderr=True).print(f"  {display.redact_text(line)}", markup=False)
    else:
        display.error(str(exc).replace("[", "\\["))


# Every top-level command, grouped into the panels of `livegate --help` and listed in the order a
# go-live takes them: panel -> name -> (its module in livegate.cli, its one-line help).
# `livegate --help` is printed from this table alone; a command's module is imported only when
# that command is run (or asked for its own --help). Each module defines its commands on its own
# `app = typer.Typer()`; tests/test_cli_meta.py keeps this table and the modules in step.
COMMAND_PANELS: dict[str, dict[str, tuple[str, str]]] = {
    "Setup": {
        "init": ("workspace_cmds", "Scaffold a workspace: livegate.yaml, risk_limits.yaml, .env.example, .gitignore and the ledger."),
        "keys": ("ledger_cmds", "The operator's Ed25519 signing key: init, show, rotate."),
        "config": ("config_cmds", "Configuration helpers: the JSON Schema and the reference of the config files."),
        "check-config": ("config_cmds", "Validate config files without network or keys; exit 2 on any problem (use in CI or pre-commit)."),
        "gateway": ("gateway_cmds", "The Binance-compatible gateway your own bot trades through (`bot: external`): its key."),
    },
    "Protocol": {
        "validate": ("validate_cmds", "Phase 1 — check the environment: config and .env, keys and their permissions, latency, chain id, clock, secret scan."),
        "paper-run": ("paper_cmds", "Phase 2 — run the strategy through the risk guardian on simulated fills, then evaluate it against the paper criteria."),
        "paper-import": ("import_cmds", "Phase 2 from another bot's closed trades (CSV, JSONL, Freqtrade dry-run database), against the paper criteria."),
        "testnet": ("testnet_cmds", "Phase 3 — real orders on the exchange's sandbox and a swap on the test chain."),
        "mode": ("mode_cmds", "Trading mode (PAPER, LIVE_MINIMAL, LIVE_SCALED, EMERGENCY_STOP) and its history."),
        "go-live": ("live_cmds", "Phase 4 — trade real money at one graduated micro-live stage (4.1a–4.1d) through the order gateway."),
        "approvals": ("approval_cmds", "Pending orders under EXECUTION_APPROVAL_MODE=approve_each: list, approve, reject."),
        "production": ("production_cmds", "Phase 5 — production readiness: a test alert delivered, the runbooks present, a timed kill-switch drill."),
        "signoff": ("workspace_cmds", "Sign off a passed phase with the operator key, after the risk acknowledgment."),
        "scale": ("production_cmds", "Change the capital level after production: up by at most +50 % per step when the rules are met, down at once."),
        "trade": ("trade_cmds", "Phase 5 in operation — trade real money at the signed capital level, with its caps; red flags make trading reduce-only."),
    },
    "Emergency": {
        "halt": ("control_cmds", "Kill switch: no new order on any path from the next check on, in every running process; cancels still go through."),
        "cancel-all": ("control_cmds", "Cancel every open order of the configured symbols and check none is left; reject orders awaiting approval."),
        "reduce-only": ("control_cmds", "Reduce only: only orders that reduce an open position pass, in every running process, until `livegate resume`."),
        "flatten": ("control_cmds", "Close every open position at market in exchange-legal sizes and record the dust; savings held at the env sign-off are left alone."),
        "rollback": ("control_cmds", "Halt, cancel every open order and return to PAPER; the halt stays on until `livegate resume`."),
        "resume": ("control_cmds", "Lift the kill switch and reduce-only after a confirmation; EMERGENCY_STOP becomes PAPER."),
    },
    "Watching": {
        "status": ("workspace_cmds", "Show first whether trading is halted (who, when, why), the mode, tripped breakers and unsigned events; then the ladder."),
        "monitor": ("monitor_cmds", "Live dashboard of the running bot, read from the ledger, with green/yellow/red flags. Ctrl-C exits 0."),
        "report": ("monitor_cmds", "Write the report — charts, criteria tables, breaker and mode history, sign-offs — as HTML, JSON or CSV."),
        "alert": ("alert_cmds", "Alerts through apprise (webhook, Discord, Telegram, Slack, e-mail)."),
    },
    "Ledger": {
        "ledger": ("ledger_cmds", "The tamper-evident ledger: verify, export, show, anchor."),
    },
    "Sandbox": {
        "demo": ("demo_cmds", "Rehearse the whole protocol offline in about a minute and a half, on the local exchange and chain."),
        "sandbox": ("sandbox_cmds", "The local exchange and chain for offline rehearsals."),
    },
}
COMMANDS: dict[str, tuple[str, str]] = {name: entry for panel in COMMAND_PANELS.values() for name, entry in panel.items()}
PANEL_OF: dict[str, str] = {name: title for title, panel in COMMAND_PANELS.items() for name in panel}


def load_command(name: str) -> Command:
    """The click command `name` of COMMANDS, built from its module's Typer app (importing the module)."""
    module = importlib.import_module(f"livegate.cli.{COMMANDS[name][0]}")
    commands = typer.main.get_group(module.app).commands
    if name not in commands:
        raise LookupError(f"livegate.cli.{COMMANDS[name][0]} defines no command {name!r}")
    command = help_layout.tidy(commands[name], HELP_OPTION_NAMES)
    command.rich_help_panel = PANEL_OF[name]
    return command


class LazyCommands(MutableMapping[str, Command]):
    """The top-level group's `commands`: every name of COMMANDS, in order, then any command
    added directly; a name's command is built (its module imported) on first access."""

    def __init__(self, added: MutableMapping[str, Command]) -> None:
        self._built: dict[str, Command] = dict(added)

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = load_command(name)
        return self._built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __contains__(self, name: object) -> bool:  # without building anything
        return name in COMMANDS or name in self._built

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._built if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(name not in COMMANDS for name in self._built)


class LivegateGroup(TyperGroup):
    """The top-level group. Commands load lazily (see COMMANDS); its help lists them from the
    table without importing a command module.

    The one top-level handler: livegate errors become a message and their exit code;
    anything unexpected becomes one line (no traceback, no local variables) and exit 70."""

    def __init__(self, **attrs):
        super().__init__(**attrs)
        self.commands = LazyCommands(self.commands)
        self._listing = False

    def get_params(self, ctx: Context):
        params = super().get_params(ctx)  # typer appends the completion options after __init__
        for param in params:
            help_layout.tidy_parameter(param)
        return params

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)  # the names only: nothing is built

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if self._listing and cmd_name in COMMANDS:
            # Listing for --help: a stand-in with the table's help line and panel, the module stays unimported.
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name][1], rich_help_panel=PANEL_OF[cmd_name])
        return self.commands.get(cmd_name)

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def shell_complete(self, ctx: Context, incomplete: str):
        self._listing = True  # completing a command name shows the table's help lines: no module imported
        try:
            return super().shell_complete(ctx, incomplete)
        finally:
            self._listing = False

    def make_context(self, info_name, args, parent=None, **extra):
        try:  # `livegate --help | head`: the top-level help is printed while parsing
            return super().make_context(info_name, args, parent=parent, **extra)
        except BrokenPipeError:
            _quiet_pipe_exit()

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _quiet_pipe_exit()
        except errors.LivegateError as exc:
            report_error(exc)
            ctx.exit(exit_code_for(exc))
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if isinstance(exc, _click_exceptions()):
                raise
            if os.environ.get("LIVEGATE_DEBUG"):
                import traceback

                traceback.print_exception(exc, file=sys.stderr)  # frames only, no locals
            display.error(f"internal error: {type(exc).__name__}: {exc} (a bug in livegate; rerun with LIVEGATE_DEBUG=1 for the traceback)")
            _alert_crash(ctx, exc)
            ctx.exit(EXIT_INTERNAL)


def _quiet_pipe_exit() -> None:
    """Whoever read our output stopped reading (`livegate ledger export | head`): nothing more to
    say, no error. Python would still flush stdout at exit into the closed pipe; point it at
    /dev/null first."""
    with contextlib.suppress(OSError, ValueError):  # stdout already gone entirely: nothing to silence
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    raise SystemExit(EXIT_PIPE_CLOSED)


def _alert_crash(ctx, exc: BaseException) -> None:
    """An unhandled crash in a workspace raises a critical alert (best effort: never a second crash)."""
    try:
        from livegate.config.workspace import resolve_workspace
        from livegate.services.alerts import Alerter

        ws = resolve_workspace((ctx.find_root().obj or {}).get("workspace"))
        if ws.config_path.is_file() and ws.ledger_path.is_file():
            Alerter(ws).emit("crash", "critical", f"livegate {ctx.invoked_subcommand or ''} crashed: {type(exc).__name__}",
                             str(exc)[:500])
    except Exception:  # noqa: BLE001 - the crash is already being reported
        pass


def _click_exceptions():
    from typer._click import exceptions as click_exc  # typer's vendored click

    # Exit/Abort live in typer.exceptions (the vendored click has no Exit); they are
    # re-raised above already, listed here only for completeness.
    return (click_exc.ClickException, typer.Exit, typer.Abort)


app = typer.Typer(
    cls=LivegateGroup,
    name="livegate",
    help="The gate between a trading strategy and real money: a fixed, signed-off go-live protocol with a tamper-evident ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    add_completion=True,
    context_settings={"help_option_names": HELP_OPTION_NAMES},
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # stdlib, but slow to import: only for --version

        typer.echo(f"livegate {version('livegate')}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    workspace: Path = typer.Option(None, "--workspace", "-w", envvar="LIVEGATE_WORKSPACE", metavar="DIR", help="Workspace directory (default: the current directory).", show_default=False),
    version: bool = typer.Option(False, "--version", is_eager=True, expose_value=False, callback=_print_version, help="Print livegate's version and exit."),
) -> None:
    ctx.obj = {"workspace": workspace}


def workspace_from(ctx: typer.Context):
    from livegate.config.workspace import resolve_workspace

    root = (ctx.find_root().obj or {}).get("workspace")
    return resolve_workspace(root)


def main() -> None:
    app()
