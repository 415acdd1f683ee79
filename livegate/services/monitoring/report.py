"""`livegate report`: the run's performance and the protocol's audit trail as one document
(seed 004 "comprehensive performance reporting", "trade-by-trade analysis", "multi-format
export"), rendered as self-contained HTML, JSON or CSV — the same data in each.

Sections: `meta` (workspace, ledger verification), `run`, `summary` (SPEC §10 metrics of the
run's trades), `flags` (seed 002), `equity` (one point per closed trade: E_k and drawdown),
`symbols`, `results` and `criteria` (the latest phase result per step and kind, each
criterion with its verdict, measurement and threshold; looser-than-default thresholds
marked; a result obtained on the local sandbox, a test network or synthetic data marked as a
`rehearsal`, and `meta.rehearsal_steps` naming the steps whose result is one), `breakers` (trips and re-arms of every run), `breaker_summary` (one row per breaker:
how many trips, the first and the last), `modes` (mode history), `kill_switch`,
`signoffs`, `trades`; and the trader's sections (`services.monitoring.trader`): `runs` (the
signed-off paper run, the latest micro-live stage and each result's run), `comparison` (paper
and live side by side, with the kill criteria), `curves`, `slippage_bins`, `holding_bins`,
`monthly`, `exposure` (per run) and `timeline`. Every section is a row or a list of flat rows, so the CSV is
`section,row,field,value`. Text is redacted; the HTML escapes everything."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

from livegate.core.errors import KeyMissing
from livegate.core.metrics import compute_metrics
from livegate.core.redact import redact
from livegate.core.timeparse import ms_to_iso
from livegate.core.trades import TradeLog
from livegate.ledger import queries
from livegate.ledger.keys import load_public
from livegate.ledger.verify import verify_at
from livegate.services import signers
from livegate.services.monitoring.runs import RunData, latest_run
from livegate.services.monitoring.snapshot import closed_in_order, equity_curve, mode_info, summarize, trade_row
from livegate.services.monitoring.trader import signing_names, trader_sections
from livegate.services.monitoring.views import BREAKER_KINDS, collapse_breakers

STEP_ORDER = ("env", "paper", "testnet", "4.1a", "4.1b", "4.1c", "4.1d", "production")
SUMMARY_KEYS = ("total_trades", "win_rate_pct", "profit_factor", "expectancy", "net_pnl", "gross_pnl", "fees", "total_return_pct",
                "fee_drag_pct", "worst_trade_pct", "max_consecutive_losses", "max_drawdown_pct", "sharpe", "sortino",
                "daily_pnl_variance", "trading_days", "final_equity", "ruined")


def run_metrics(data: RunData | None) -> dict[str, Any]:
    """SPEC §10 metrics of the run's trades (`reasons` says why a value is missing)."""
    if data is None:
        return {"reasons": {"all": "no run in the ledger"}}
    if data.capital <= 0:
        return {"reasons": {"all": f"the run's capital is {data.capital:g}: no return can be measured"}}

    trades = data.trades
    log = TradeLog.from_arrays([int(t["closed_ms"]) for t in trades], [float(t["gross"]) for t in trades],
                               [float(t["fee"]) for t in trades], data.capital, symbol=[str(t.get("symbol")) for t in trades])
    metrics = compute_metrics(log)
    return {**{k: metrics.get(k) for k in SUMMARY_KEYS}, "reasons": metrics["reasons"]}


def per_symbol(trades: list[dict]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for t in closed_in_order(trades):
        net = float(t["net"])
        r = rows.setdefault(str(t.get("symbol")), {"symbol": str(t.get("symbol")), "trades": 0, "wins": 0, "gross": 0.0, "fees": 0.0,
                                                   "net": 0.0, "best": net, "worst": net})
        r["trades"] += 1
        r["wins"] += net > 0
        r["gross"] += float(t["gross"])
        r["fees"] += float(t["fee"])
        r["net"] += net
        r["best"], r["worst"] = max(r["best"], net), min(r["worst"], net)
    for r in rows.values():
        r["win_rate_pct"] = 100.0 * r["wins"] / r["trades"]
        r["avg_net"] = r["net"] / r["trades"]
    return sorted(rows.values(), key=lambda r: r["symbol"])


def _looser(lines: list[str], criterion: str) -> bool:
    """Whether a result's looser-than-default lines (`scope.criterion: ...`) name `criterion`."""
    return any(line.split(":", 1)[0].endswith(f".{criterion}") for line in lines)


def phase_results(conn) -> tuple[list[dict], list[dict]]:
    """(results, criteria): the latest `phase_result` per (step, kind), in ladder order, and one
    row per criterion of each."""
    latest = queries.latest_results(conn)
    rank = {step: i for i, step in enumerate(STEP_ORDER)}
    results, criteria = [], []
    for (step, kind), e in sorted(latest.items(), key=lambda item: (rank.get(item[0][0], len(rank)), item[0][0], item[1]["id"])):
        p = e["payload"]
        checks = p.get("checks") or []
        looser = list(p.get("looser_thresholds") or [])
        results.append({"event": e["id"], "at": e["ts"], "step": step, "phase": p.get("phase"), "kind": kind, "verdict": p.get("verdict"),
                        "passed": sum(1 for c in checks if c.get("verdict") == "pass"), "criteria": len(checks),
                        "looser_thresholds": "; ".join(looser), "rehearsal": bool(p.get("rehearsal")),
                        "rehearsal_reasons": "; ".join(map(str, p.get("rehearsal_reasons") or ()))})
        for c in checks:
            criteria.append({"event": e["id"], "step": step, "kind": kind, "criterion": c.get("criterion"), "verdict": c.get("verdict"),
                             "measured": c.get("measured"), "op": c.get("op"), "threshold": c.get("threshold"),
                             "required": c.get("required"), "looser": _looser(looser, str(c.get("criterion"))),
                             "message": c.get("message") or ""})
    return results, criteria


def breaker_history(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every trip and re-arm, one row each (the JSON and CSV; the HTML shows `collapse_breakers`)."""
    out = []
    for e in events:
        p = e["payload"]
        tripped = e["kind"] == "breaker_trip"
        at = p.get("at_ms") if tripped else p.get("at")
        out.append({"event": e["id"], "run": p.get("run"), "what": "trip" if tripped else "re-armed", "breaker": p.get("breaker"),
                    "at": ms_to_iso(at) if at is not None else e["ts"], "value": p.get("value"), "threshold": p.get("threshold"),
                    "until": ms_to_iso(p["until_ms"]) if tripped and p.get("until_ms") else None, "message": p.get("message") or ""})
    return out


def signoffs(conn) -> list[dict[str, Any]]:
    return [{"event": e["id"], "at": e["ts"], "step": e["payload"].get("step"), "by": e["payload"].get("by") or e["actor"],
             "result_event": e["payload"].get("result_event"), "config_fingerprint": e["payload"].get("config_fingerprint")}
            for e in queries.signoffs(conn)]


def ledger_check(path) -> dict[str, Any]:
    """The ledger's verification, with the operator's public key when it is on this machine."""

    try:
        public = load_public()
    except KeyMissing:  # an unreadable key file: the chain is still verified, signatures are not
        public = None
    report = verify_at(path, public)
    return {"ledger_events": report.events, "ledger_verified": report.ok, "ledger_problems": "; ".join(report.problems[:5]),
            "signatures_checked": report.signatures_checked}


def report_data(ws: Any, run: str | None = None, now: float | None = None) -> dict[str, Any]:
    """Every section of the report, read from the ledger (secrets masked)."""

    risk = ws.effective.risk
    now = time.time() if now is None else now
    with queries.reading(ws.ledger_path) as conn:
        data = latest_run(conn, run)
        snap = summarize(data, risk, mode_info(ws), queries.head(conn), now)
        results, criteria = phase_results(conn)
        breaker_events = list(queries.events(conn, kinds=BREAKER_KINDS))
        report = {
            "meta": {"title": "livegate report", "workspace": str(ws.root.resolve()), "generated_at": snap["generated_at"], **ledger_check(ws.ledger_path),
                     "mode": snap["mode"]["label"], "halted": snap["mode"]["halted"],
                     "rehearsal_steps": ", ".join(dict.fromkeys(r["step"] for r in results if r["rehearsal"] and r["kind"] == "phase"))},
            "run": {k: (", ".join(v) if isinstance(v, list) else v) for k, v in (snap["run"] or {}).items()},
            "summary": run_metrics(data),
            "flags": [{"overall": snap["flags"]["overall"], **f} for f in snap["flags"]["rules"]],
            "equity": [{"at": ms_to_iso(p["at_ms"]), "at_ms": p["at_ms"], "equity": p["equity"], "drawdown_pct": p["drawdown_pct"]}
                       for p in (equity_curve(data.trades, data.capital) if data else [])],
            "symbols": per_symbol(data.trades) if data else [],
            "results": results,
            "criteria": criteria,
            "breakers": breaker_history(breaker_events),
            "breaker_summary": collapse_breakers(breaker_events),
            "modes": signers.mode_history(ws),
            "kill_switch": snap["mode"]["kill_switch"],
            "signoffs": signoffs(conn),
            "trades": [trade_row(t) for t in closed_in_order(data.trades)] if data else [],
        }
        report.update(trader_sections(ws, conn, results, (data,), signing_names(report["signoffs"], report["modes"])))
    report["summary"]["reasons"] = "; ".join(f"{k}: {v}" for k, v in sorted(report["summary"].pop("reasons").items()))
    return redact(report)


# -- formats ---------------------------------------------------------------------------------------

def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False, default=str) + "\n"


def cell(value: Any) -> str:
    """A CSV cell: empty for None, true/false, numbers as Python writes them (exact), lists as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def to_csv(report: dict[str, Any]) -> str:
    """`section,row,field,value`: one line per field of every row of every section."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["section", "row", "field", "value"])
    for section, content in report.items():
        rows = content if isinstance(content, list) else [content]
        for index, row in enumerate(rows):
            for field, value in row.items():
                writer.writerow([section, index, field, cell(value)])
    return buffer.getvalue()
