"""testnet (phase 3)."""

from __future__ import annotations

import sys

import typer

from livegate.cli import EXIT_CRITERIA, EXIT_OK, workspace_from
from livegate.cli import display as d
from livegate.cli.bot_output import gateway_json, gateway_text, stop_on_signal
from livegate.cli.prompts import ask_in_terminal
from livegate.core.errors import UsageError
from livegate.ledger.keys import try_load_private
from livegate.phases.testnet.runner import TestnetOptions, run_testnet

app = typer.Typer()  # this module's commands: livegate.cli.COMMANDS lists them and imports the module on demand


@app.command()
def testnet(
    ctx: typer.Context,
    yes: bool = typer.Option(False, "--yes", "-y", help="Approve the script's own orders without asking (recorded as approved by you)."),
    by: str = typer.Option(None, "--by", metavar="NAME", help="Who approves (default: workspace.operator, else your user name).", show_default=False),
    hours: float = typer.Option(None, "--hours", metavar="H", min=0.0, help="bot: external — after the script, your bot trades on the exchange's sandbox "
                                                             "through livegate's gateway for this many hours; its fill rate and slippage are measured.",
                                show_default=False),
    gateway_port: int = typer.Option(0, "--gateway-port", metavar="PORT", min=0, max=65535, help="bot: external — the port your bot connects to (0: a free one, printed)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (bot: external — first, one line with the gateway's URL and key)."),
    check: bool = typer.Option(False, "--check", help="Run and judge everything the same way but record nothing: the orders are journaled in a "
                                                      "throw-away ledger, approvals are asked here (or --yes), the gate stays as it is."),
) -> None:
    """Phase 3 — real orders on the exchange's sandbox and a swap on the test chain.

    CEX: market, limit, a cancel and a partial fill through the order gateway and ccxt, measuring
    fill rate and slippage against the quoted price, then the venue's balances reconciled with
    the ledger (a mismatch halts trading). DEX: a swap through the configured router: quote,
    minimum output, gas estimate, receipt and confirmations. The approval flow is drilled
    (approve, reject, expiry). Under EXECUTION_APPROVAL_MODE=approve_each each order waits for
    approval: asked here, or from another terminal with `livegate approvals approve ID`.
    Needs the paper phase signed off. Exit 0 when every criterion passes, 1 otherwise.

    A recorded passing re-run keeps a signed testnet signed (same configuration); a failing one
    ends the sign-off and closes the go-live stages. While a go-live stage runs, nothing is
    recorded (exit 3): `--check` still measures."""

    ws = workspace_from(ctx).require()
    external = ws.effective.config.bot == "external"
    if external and not hours:
        raise UsageError("bot: external — give your bot its session on the exchange's sandbox: `livegate testnet --hours H`")
    if hours and not external:
        raise UsageError("--hours is your own bot's session through the gateway: set `bot: external` in livegate.yaml")
    ask = (lambda approval: True) if yes else ask_in_terminal
    options = TestnetOptions(ask=ask, by=by, progress=(lambda text: None) if as_json else _progress, bot_hours=hours or 0.0,
                             gateway_port=gateway_port, on_gateway=gateway_json if as_json else gateway_text,
                             stop_requested=stop_on_signal(), check=check)
    result, extras = run_testnet(ws, try_load_private(), options)
    report = {"step": "testnet", "counts_as_phase_result": not check, "recorded": not check, "gate_notice": extras.get("gate_notice"),
              **result.to_dict(),
              "cex": extras.get("cex"), "dex": extras.get("dex"), "approvals": extras.get("approvals"),
              "run": extras.get("run"), "resumed": extras.get("resumed")}
    if as_json:
        d.emit_json(report)
    else:
        show(report)
    raise typer.Exit(EXIT_OK if result.passed else EXIT_CRITERIA)


def _progress(text: str) -> None:
    d.console(stderr=True).print(f"[dim]→ {text}[/]", highlight=False)


def show(report: dict) -> None:
    cex = report.get("cex")
    if cex and "steps" in cex:
        rows = [[s["name"], s["client_id"] or "—", f"{d.number(s['filled'], 6)} / {d.number(s['amount'], 6)}", s["status"] or "blocked",
                 ", ".join(f"{b:+.1f}" for b in s["slippage_bps"]) or "—", "; ".join(s["blocks"]) or s["note"]]
                for s in cex["steps"]]
        d.table(f"Exchange orders ({cex['exchange']} {cex['symbol']})", ["Step", "Client order id", "Filled", "Status",
                                                                         "Slippage bps", "Note"], rows)
    dex = report.get("dex")
    if dex and dex.get("executed"):
        d.table("Test swap", ["", ""], [["tx", dex["tx_hash"]], ["block / confirmations", f"{dex['block']} / {dex['confirmations']}"],
                                        [f"paid {dex['paid']}: quoted / minimum / received",
                                         " / ".join(d.number(dex['out_amounts'][k], 6) for k in ("quoted_out", "min_out", "amount_out")) + f" {dex['bought']}"],
                                        ["gas estimate / used", f"{dex['gas_estimate']} / {dex['gas_used']}"]], show_header=False)
    d.criteria_table("Testnet criteria (phases/testnet.yaml)", report["checks"])
    d.out(d.verdict_line(report))
    if report["gate_notice"]:
        d.out(report["gate_notice"])
    elif report["verdict"] == "pass" and report["recorded"]:
        d.out("Next: `livegate signoff testnet --by NAME`.")
    sys.stdout.flush()
