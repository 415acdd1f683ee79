"""halt | resume | cancel-all | rollback | reduce-only | flatten: the emergency controls, effective without a restart.

`halt` exits 0 when trading is halted — by the ledger, or by the halt file alone while the
ledger cannot be written (then with a warning) — and EXIT_NOT_HALTED when neither took it.
`flatten` exits EXIT_NOT_FLAT when a position is left beyond recorded dust."""

from __future__ import annotations

import typer

from livegate.cli import EXIT_NOT_FLAT, workspace_from
from livegate.cli import display as d
from livegate.cli.prompts import confirm, confirm_real_money
from livegate.core.errors import UsageError
from livegate.core.formats import number
from livegate.ledger.keys import try_load_private
from livegate.services.approvals import operator_name
from livegate.services.controls import HaltNotEngaged, HaltOutcome, cancel_all, halt, reduce_only, resume, rollback
from livegate.services.flatten import flatten
from livegate.services.modes import halt_status, mode_limits, reduce_state

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand

BY = typer.Option(None, "--by", metavar="NAME", help="Who (default: workspace.operator in livegate.yaml, else the OS user).", show_default=False)
YES = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
JSON = typer.Option(False, "--json", help="Print JSON.")

EXIT_NOT_HALTED = 6  # the kill switch could not be engaged at all: trading is NOT halted


def _open(ctx: typer.Context, by: str | None, yes: bool = False, ask=None, declined: str = ""):
    """The workspace, who acts, and the operator key (or None). With `ask` (the question, or
    a function of the workspace returning it) the operator confirms first, unless `yes`;
    declining prints `declined` and exits 0."""

    ws = workspace_from(ctx).require()
    if ask is not None and not confirm(ask(ws) if callable(ask) else ask, yes):
        d.out(declined)
        raise typer.Exit(0)
    return ws, operator_name(ws, by), try_load_private()


def _resume_question(ws) -> str:
    halt = halt_status(ws)
    now = halt["reason"] if halt["halted"] else halt["reducing"]
    if now is None:
        raise UsageError("trading is not halted, nor reducing only; nothing to resume")
    return f"Resume trading? Now: {now}"


def _report_cancelled(items: list[dict]) -> None:
    orders = [i for i in items if "approval" not in i]
    rejected = [i["approval"] for i in items if "approval" in i]
    if orders:
        d.table("Cancelled", ["Order id", "Symbol", "Side", "Type", "Amount", "Price", "Status"],
                [[o["id"], o["symbol"], o["side"], o["type"], d.fmt_value(o["amount"]), d.fmt_value(o["price"]), o["status"]] for o in orders])
    if rejected:
        d.out(f"Rejected awaiting approval: {', '.join(rejected)}")
    d.out(f"[green]No open order left[/] ({len(orders)} cancelled, {len(rejected)} approval(s) rejected).")


def _escaped(text: str) -> str:
    return text.replace("[", "\\[")


def _not_engaged(exc: HaltNotEngaged, as_json: bool):
    if as_json:
        d.emit_json({"halted": False, "error": str(exc)})
    d.error(_escaped(str(exc)))
    return typer.Exit(EXIT_NOT_HALTED)


def _halt_warnings(outcome: HaltOutcome) -> list[str]:
    warnings = []
    if outcome.ledger_error:
        warnings.append(f"{outcome.ledger_error}. The halt holds on the halt file .livegate/HALTED alone; it is recorded in the "
                        "ledger as soon as a livegate process can write it (a running go-live or paper run at its next check, "
                        "`livegate halt` again, at the latest `livegate resume`, which refuses until it can)")
    if outcome.halt_file_error:
        warnings.append(f"{outcome.halt_file_error}: the halt is in the ledger only")
    return warnings


@app.command("halt")
def halt_cmd(
    ctx: typer.Context,
    reason: str = typer.Option("manual halt", "--reason", metavar="REASON", help="Why (kept in the ledger and shown to every refused order)."),
    by: str = BY,
    as_json: bool = JSON,
) -> None:
    """Kill switch: no new order on any path from the next check on, in every running process, without a restart; cancels still go through.

    Creates the halt file .livegate/HALTED, then records the halt in the ledger. On a full disk or
    a read-only ledger the halt holds on the file alone (exit 0, with a warning) and is recorded
    as soon as the ledger can be written. Exit 6 when neither could take it: trading is NOT halted."""

    ws, name, key = _open(ctx, by)
    try:
        outcome = halt(ws, reason, name, key)
    except HaltNotEngaged as exc:
        raise _not_engaged(exc, as_json) from None
    why = halt_status(ws)["reason"]
    warnings = _halt_warnings(outcome)
    if as_json:
        d.emit_json({"halted": True, "event": outcome.event, "already_halted": outcome.already, "reason": why,
                     "recorded": outcome.event is not None, "halt_file": outcome.halt_file, "warnings": warnings})
    elif outcome.already:
        recorded = f" Recorded in the ledger now (event #{outcome.event})." if outcome.appended else ""
        d.out(f"Already halted: {_escaped(why or '')}{recorded}")
    elif outcome.event is not None:
        d.out(f"[bold red]Trading halted[/] (ledger event #{outcome.event}): no new order will be placed. `livegate resume` lifts it.")
    else:
        d.out("[bold red]Trading halted[/] by the halt file .livegate/HALTED: no new order will be placed. `livegate resume` lifts it.")
    for warning in warnings:
        d.console(stderr=True).print(f"[bold yellow]Warning:[/] {_escaped(d.redact_text(warning))}")


@app.command("resume")
def resume_cmd(
    ctx: typer.Context,
    reason: str = typer.Option("", "--reason", metavar="REASON", help="Why trading may resume (kept in the ledger)."),
    by: str = BY,
    yes: bool = YES,
    as_json: bool = JSON,
) -> None:
    """Lift the kill switch and reduce-only after a confirmation and remove the halt file; EMERGENCY_STOP becomes PAPER (going live again takes `mode set`).

    Refused (exit 4, trading stays halted) while the ledger cannot record the resume: a resume
    is never silent. A halt held only by the halt file is recorded first."""

    ws, name, key = _open(ctx, by, yes, _resume_question, "Still halted.")
    events = resume(ws, name, key, reason)
    mode = mode_limits(ws)["mode"]
    if as_json:
        d.emit_json({"halted": halt_status(ws)["halted"], "mode": mode, "events": events})
    else:
        d.out(f"[green]Trading resumed[/] in {mode} (ledger event{'s' if len(events) > 1 else ''} #{', #'.join(map(str, events))}).")


@app.command("cancel-all")
def cancel_all_cmd(
    ctx: typer.Context,
    by: str = BY,
    yes: bool = YES,
    as_json: bool = JSON,
) -> None:
    """Cancel every open order of the configured symbols on the exchange and check none is left; reject orders awaiting approval. Works while halted."""

    ws, name, key = _open(ctx, by, yes, "Cancel every open order on the exchange and reject every order awaiting approval?",
                          "Nothing cancelled.")
    items = cancel_all(ws, by=name, key=key)
    if as_json:
        d.emit_json({"cancelled": items, "remaining": []})
    else:
        _report_cancelled(items)


@app.command("rollback")
def rollback_cmd(
    ctx: typer.Context,
    reason: str = typer.Option("rollback", "--reason", metavar="REASON", help="Why (kept with every step in the ledger)."),
    by: str = BY,
    yes: bool = YES,
    as_json: bool = JSON,
) -> None:
    """Roll back: halt, cancel every open order, return to PAPER — each step recorded; the halt stays on until `livegate resume`."""

    ws, name, key = _open(ctx, by, yes, "Roll back: halt trading, cancel every open order and return to PAPER?", "Nothing changed.")
    try:
        summary = rollback(ws, name, reason, key=key)
    except HaltNotEngaged as exc:
        raise _not_engaged(exc, as_json) from None
    if as_json:
        d.emit_json({**summary, "mode": "PAPER", "halted": True})
        return
    d.out(f"[bold red]Halted[/] ({'ledger event #' + str(summary['halt_event']) if summary['halt_event'] else 'already halted'}).")
    _report_cancelled(summary["cancelled"])
    d.out(f"Mode: [bold]PAPER[/] (was {summary['from_mode']}). Rollback recorded as ledger event #{summary['rollback_event']}; "
          "`livegate resume` lifts the halt.")


@app.command("reduce-only")
def reduce_only_cmd(
    ctx: typer.Context,
    reason: str = typer.Option(..., "--reason", metavar="REASON", help="Why (kept in the ledger and shown to every refused order)."),
    by: str = BY,
    yes: bool = YES,
    as_json: bool = JSON,
) -> None:
    """Reduce only: from the next order on, in every running process, only orders that reduce an open position pass (a sell no larger than the position); `livegate resume` lifts it.

    Needs no operator key (it closes, like a halt). A halt still wins over it."""

    ws, name, key = _open(ctx, by, yes, "Let only orders that reduce an open position pass from now on?", "Nothing changed.")
    before = reduce_state(ws)
    event = reduce_only(ws, reason, name, key)
    state = reduce_state(ws) or {}
    if as_json:
        d.emit_json({"reducing": True, "event": event, "already": before is not None, "reason": state.get("reason"),
                     "by": state.get("by"), "at": state.get("at"), "detail": state.get("detail")})
    elif before is not None:
        d.out(f"Already reducing only: {_escaped(before['detail'] or '')}")
    else:
        d.out(f"[bold yellow]Reducing only[/] (ledger event #{event}): only orders that reduce an open position pass. "
              "`livegate resume` lifts it.")


@app.command("flatten")
def flatten_cmd(
    ctx: typer.Context,
    by: str = BY,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask (only together with --i-understand-real-money)."),
    real_money: bool = typer.Option(False, "--i-understand-real-money", help="With --yes: sell without typing the phrase."),
    as_json: bool = JSON,
) -> None:
    """Close every open position at market, in sizes the exchange accepts, and record the dust left; what the account held at the env sign-off is never sold.

    Each sell goes through the order gateway and is journaled; it passes a halt and reduce-only
    because it only reduces. The operator types REAL MONEY, or passes --yes with
    --i-understand-real-money. Exit 8 when a position could not be closed (beyond recorded dust)."""

    ws = workspace_from(ctx).require()
    name, key = operator_name(ws, by), try_load_private()
    if not confirm_real_money("flatten", "flatten", "Sell every open position at market: orders will trade real money.", yes, real_money):
        d.out("Nothing sold.")
        raise typer.Exit(0)
    outcome = flatten(ws, name, key)
    flat = not outcome["errors"] and not outcome["left"]
    if as_json:
        d.emit_json({**outcome, "flat": flat})
    else:
        _report_flatten(outcome, flat)
    if not flat:
        raise typer.Exit(EXIT_NOT_FLAT)


def _report_flatten(outcome: dict, flat: bool) -> None:
    sold = [o for o in outcome["sold"] if o["filled"]]
    if sold:
        d.table("Sold at market", ["Symbol", "Order id", "Amount", "Filled"],
                [[o["symbol"], o["client_id"], d.fmt_value(o["amount"]), d.fmt_value(o["filled"])] for o in sold])
    if outcome["dust"]:
        d.table("Dust kept (too small to sell)", ["Asset", "Amount", "Why"],
                [[x["asset"], d.fmt_value(x["amount"]), x["reason"]] for x in outcome["dust"]])
    kept = ", ".join(f"{number(v, 8)} {a}" for a, v in outcome["baseline"].items())
    if kept:
        d.out(f"Left alone (held at the env sign-off): {kept}.")
    for error in outcome["errors"]:
        d.error(_escaped(error))
    if flat:
        d.out(f"[green]Flat[/]: no open position left{' except the dust above' if outcome['dust'] else ''} (run {outcome['run']}).")
    else:
        left = ", ".join(f"{number(v, 8)} {a}" for a, v in outcome["left"].items())
        d.out(f"[bold red]NOT flat[/]{': still held ' + left if left else ''} (run {outcome['run']}); run `livegate flatten` again.")
