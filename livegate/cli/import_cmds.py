"""paper-import."""

from __future__ import annotations

import typer

from livegate.cli import EXIT_CRITERIA, EXIT_OK, workspace_from
from livegate.cli import display as d
from livegate.cli.paper_display import NEXT_LINE, show_criteria, stress_bar
from livegate.config.environment import load_env
from livegate.config.strategy import load_strategy
from livegate.core.errors import GateClosed, UsageError
from livegate.ledger.keys import try_load_private
from livegate.phases.paper.evaluate import PendingStress
from livegate.phases.paper.importers import FORMATS, import_trades, require_forward_dry_run
from livegate.phases.paper.report import evaluate_with_stress, evaluation_report
from livegate.services import gate

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand

IMPORT_LINE = ("This was an import: kept in the ledger as research evidence; it never counts as the paper phase result "
               "(--as-paper-result states that the trades come from a forward dry run on live data).")
PAPER_RESULT_LINE = "These imported trades, stated to come from a forward dry run on live market data, are recorded as the paper phase result."


@app.command("paper-import")
def paper_import(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="FILE", show_default=False,
                               help="The trade log: CSV or JSONL (at least closed_at, symbol, side, pnl_quote, fee_quote), "
                                    "a Freqtrade dry-run SQLite database or a Freqtrade backtest result (.json/.zip)."),
    capital: float = typer.Option(..., "--capital", metavar="C", help="Starting capital C in the trades' quote currency (> 0); returns, drawdowns and ruin are relative to it.", show_default=False),
    fmt: str = typer.Option(None, "--format", metavar="FORMAT", help="csv, jsonl, freqtrade or freqtrade-backtest (default: detected from the file).", show_default=False),
    pnl_is_net: bool = typer.Option(False, "--pnl-is-net", help="pnl_quote already has the fees taken off (default: it is before fees)."),
    trials: int = typer.Option(1, "--trials", metavar="N", min=1, help="Strategy variants you tried (for the deflated Sharpe ratio); the ledger's recorded backtests also count."),
    as_paper_result: bool = typer.Option(False, "--as-paper-result", help="The trades come from a forward dry run on live market data: "
                                         "record them as the paper phase result (needs the paper gate open; every trade must "
                                         "have closed after the env sign-off; never a backtest file)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (no progress bar)."),
) -> None:
    """Evaluate another bot's closed trades (CSV, JSONL, Freqtrade dry-run database, Freqtrade
    backtest result) against the paper criteria: metrics, statistics, guardian drills and the
    stress test.

    The result is kept in the ledger as research evidence (kind `import`) and never counts as
    the paper phase result, unless `--as-paper-result` states that the trades come from a
    forward dry run on live data; that needs the paper gate open (env signed off), refuses a
    backtest file and refuses the whole file when any trade closed before the env sign-off
    (exit 2, nothing recorded). The stress test needs a strategy: it runs the workspace's
    configured strategy, not the imported bot; a plain import reuses the stress result recorded
    under the same configuration, `--as-paper-result` always runs the scenarios. Exit 0 when
    every criterion passes, 1 otherwise."""
    import math
    import time
    from pathlib import Path

    if not (math.isfinite(capital) and capital > 0):
        raise UsageError(f"--capital must be a positive amount in the trades' quote currency (got {capital:g})")
    if fmt is not None:
        fmt = fmt.strip().lower()
        if fmt not in FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    ws = workspace_from(ctx).require()
    effective = ws.effective
    env_signed_at = None
    if as_paper_result:
        load_env(ws.root).require_valid()  # recorded as a phase result: the settings it ran under must be usable
        snap = gate.snapshot(ws, effective=effective)
        gate.require_open(snap, "paper")
        gate.require_recordable(ws, "paper")  # a running go-live stage: refused before the stress test, not after
        env = snap.state.records.get("env")
        env_signed_at = env.signed_at if env is not None else None
        if env_signed_at is None:  # an open paper gate has a signed env step: fail closed if not
            raise GateClosed("paper", ["env has no sign-off in the ledger"])
    cfg = effective.config
    # The stress test does not depend on the file: it starts now, alongside the reading.
    with PendingStress(ws, effective, lambda: load_strategy(cfg.strategy.ref, dict(cfg.strategy.params), ws.root),
                       reuse=not as_paper_result) as pending:  # what can count runs the scenarios itself
        log, facts = import_trades(Path(file), capital, fmt, pnl_is_net)
        if env_signed_at is not None:
            require_forward_dry_run(log, facts, env_signed_at, int(time.time() * 1000))
            facts["env_signed_off_at"] = env_signed_at
        quote = cfg.capital.quote
        if facts.get("quote_currency") and facts["quote_currency"] != quote.upper():
            facts["warnings"].append(f"the trades are in {facts['quote_currency']}, the workspace's capital in {quote}: "
                                     f"--capital {capital:g} is read as {facts['quote_currency']}")
        kind = "phase" if as_paper_result else "import"
        stress_strategy = cfg.strategy.ref
        summary = {"import": facts, "capital": capital, "stated_forward_dry_run": as_paper_result, "stress_strategy": stress_strategy}
        if not as_json:
            d.out(f"livegate paper-import — {file} ({facts['format']}, {facts['trades']} closed trades)")
        with stress_bar(not as_json) as progress:
            result, evaluation, extras = evaluate_with_stress(ws, effective, log, kind=kind, summary=summary, key=try_load_private(),
                                                              trials=trials, stress_progress=progress, pending=pending)
    report = {
        "kind": "import",
        "counts_as_phase_result": kind == "phase",
        "import": facts,
        "capital": capital,
        "stress_strategy": stress_strategy,
        **evaluation_report(result, evaluation, extras),
    }
    if as_json:
        d.emit_json(report)
    else:
        show_import_report(report)
    raise typer.Exit(EXIT_OK if report["verdict"] == "pass" else EXIT_CRITERIA)


def show_import_report(report: dict) -> None:
    f, m = report["import"], report["metrics"]
    for w in f["warnings"]:
        d.out(f"[yellow]import warning:[/] {w}")
    skipped = ", ".join(f"{why} ×{n}" for why, n in f["skipped"].items()) or "none"
    basis = "net of fees (as given)" if f["pnl_is_net"] else "before fees"
    rows = [
        ["File", f"{f['file']} ({f['format']}{', detected' if f['format_from'] == 'detected' else ''})"],
        ["SHA-256", f["sha256"]],
        ["Rows read / trades", f"{f['rows_read']} / {f['trades']}"],
        ["Skipped", skipped],
        ["Currency", f.get("quote_currency") or "not stated"],
        ["Closes", f"{f['first_close']} → {f['last_close']}"],
        ["Capital", d.money(report["capital"])],
        ["Net P&L", f"{d.money(m['net_pnl'], sign=True)} after {d.money(m['fees'])} fees (PnL in the file: {basis})"],
    ]
    if m.get("ruined"):
        rows.append(["Equity", "[bold red]reached zero[/]: the account was ruined"])
    d.table("Imported trades", ["", ""], rows, show_header=False)
    show_criteria(report)
    d.out(f"The stress test ran the workspace's strategy ({report['stress_strategy']}), not the imported bot: "
          "it tests that strategy and the risk guardian, not the bot that made these trades.")
    d.out(PAPER_RESULT_LINE if report["counts_as_phase_result"] else IMPORT_LINE)
    if report["counts_as_phase_result"] and report["verdict"] == "pass":
        d.out(NEXT_LINE)
