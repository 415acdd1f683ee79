"""The livegate command line: parse, call the library, report, exit.

Exit codes (SPEC §9): 0 ok · 1 criteria not met · 2 usage or configuration error ·
3 gate closed · 4 trading halted · 5 venue unreachable · 130 interrupted · 70 internal error (a bug).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from typer.core import TyperGroup

from livegate.core import errors

EXIT_OK, EXIT_CRITERIA, EXIT_USAGE, EXIT_GATE, EXIT_HALTED, EXIT_VENUE, EXIT_INTERNAL = 0, 1, 2, 3, 4, 5, 70
EXIT_INTERRUPTED = 130

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
    from livegate.cli import display

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


class LivegateGroup(TyperGroup):
    """The one top-level handler: livegate errors become a message and their exit code;
    anything unexpected becomes one line (no traceback, no local variables) and exit 70."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except errors.LivegateError as exc:
            report_error(exc)
            ctx.exit(exit_code_for(exc))
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if isinstance(exc, _click_exceptions()):
                raise
            from livegate.cli import display

            if os.environ.get("LIVEGATE_DEBUG"):
                import traceback

                traceback.print_exception(exc, file=sys.stderr)  # frames only, no locals
            display.error(f"internal error: {type(exc).__name__}: {exc} (a bug in livegate; rerun with LIVEGATE_DEBUG=1 for the traceback)")
            _alert_crash(ctx, exc)
            ctx.exit(EXIT_INTERNAL)


def _alert_crash(ctx, exc: BaseException) -> None:
    """An unhandled crash in a workspace raises a critical alert (best effort: never a second crash)."""
    try:
        from livegate.services.alerts import Alerter
        from livegate.config.workspace import resolve_workspace

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
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    ctx: typer.Context,
    workspace: Path = typer.Option(None, "--workspace", "-w", envvar="LIVEGATE_WORKSPACE", help="Workspace directory (default: the current directory).", show_default=False),
) -> None:
    ctx.obj = {"workspace": workspace}


def workspace_from(ctx: typer.Context):
    from livegate.config.workspace import resolve_workspace

    root = (ctx.find_root().obj or {}).get("workspace")
    return resolve_workspace(root)


from livegate.cli import alert_cmds, approval_cmds, config_cmds, control_cmds, demo_cmds, import_cmds, ledger_cmds, live_cmds, mode_cmds, monitor_cmds, paper_cmds, production_cmds, sandbox_cmds, testnet_cmds, validate_cmds, workspace_cmds  # noqa: E402,F401  (registers commands)


def main() -> None:
    app()
