"""The daily performance summary and the weekly reconciliation report of live trading, written
into the workspace's `reports/` folder (JSON and Markdown), recorded in the ledger and, on
request, sent through the alert destinations.

Live trading is every run that is neither a paper run (`r12`) nor a testnet session (`lgt3`,
`lgc…`): the micro-live stages, the production drill and the production trading loop. Trades
and fills are placed in a UTC day by their own time at the venue; refusals and breaker trips by
the time they happened; alerts and halts by the time the ledger recorded them.

- `daily_report(ws, day)`: the day's closed trades (win rate, P&L and fees by symbol, the day's
  drawdown of realized equity), the fees of the day's fills, the orders refused and why, the
  alerts, breaker trips and halts of the day — all read from the ledger.
- `weekly_report(ws, week_start, client)`: the venue's own trades of the configured symbols in
  the ISO week (Monday 00:00 to Monday 00:00 UTC) against the ledger's `venue_fill` events:
  matched, missing from the ledger, unknown to the venue, fee and other differences, and P&L by
  symbol from both sides. `ok` is False on any mismatch.
- `write_and_record(ws, report, key=None)`: the two files and one ledger event holding each
  file's SHA-256 and the headline figures. `send_report(ws, report)`: the headline through the
  alert destinations."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from livegate.adapters.exchange.history import account_trades
from livegate.core.errors import UsageError
from livegate.core.redact import redact
from livegate.core.timeparse import iso_to_ms, ms_to_iso
from livegate.ledger import queries
from livegate.ledger.store import Ledger
from livegate.services.alerts.dispatch import Alerter
from livegate.services.modes import HALTED, MODE_CHANGED, RESUMED
from livegate.services.monitoring.report import breaker_history, per_symbol, to_json
from livegate.services.monitoring.snapshot import DAY_MS, trade_row, trade_stats
from livegate.services.monitoring.views import BREAKER_KINDS

REPORTS_DIR = "reports"
DAILY, WEEKLY = "daily_report", "weekly_report"
WEEK_MS = 7 * DAY_MS
TOLERANCE = 1e-9  # the venue sends 8 decimals; a recorded figure is the venue's own number
_PAPER_RUN = re.compile(r"^r\d+$")
TESTNET_RUN_PREFIXES = ("lgt", "lgc")
REFUSAL_KINDS = ("order_blocked", "order_rejected", "order_not_sent", "order_not_placed")
ALERT_KINDS = ("alert", "alert_sent", "alert_failed")
HALT_KINDS = (HALTED, RESUMED, MODE_CHANGED)


def is_live_run(run: Any) -> bool:
    """Whether events of `run` are live trading (not a paper run, not a testnet session)."""
    return isinstance(run, str) and not _PAPER_RUN.match(run) and not run.startswith(TESTNET_RUN_PREFIXES)


# -- periods ------------------------------------------------------------------------------------

def day_bounds(day: date) -> tuple[int, int]:
    """[start, end) of the UTC day in epoch milliseconds."""
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    return start, start + DAY_MS


def week_start_of(day: date) -> date:
    """The Monday of `day`'s ISO week."""
    return day - timedelta(days=day.weekday())


def parse_day(text: str, field: str = "--date") -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{field} must be a date as YYYY-MM-DD (got {text!r})") from None


def parse_week(text: str) -> date:
    """The Monday of an ISO week written `2026-W49`."""
    match = re.fullmatch(r"(\d{4})-W(\d{2})", text.strip())
    try:
        if not match:
            raise ValueError
        return date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        raise UsageError(f"--week must be an ISO week as YYYY-Www, e.g. 2026-W49 (got {text!r})") from None


def week_label(week_start: date) -> str:
    year, week, _ = week_start.isocalendar()
    return f"{year}-W{week:02d}"


def _when_ms(event: dict[str, Any]) -> int:
    """When an event happened: its own time (`at_ms`, `at` in ms) where it has one, else when the ledger recorded it."""
    p = event["payload"]
    for name in ("at_ms", "at"):
        if isinstance(p.get(name), int) and not isinstance(p.get(name), bool):
            return int(p[name])
    return iso_to_ms(event["ts"])


def _live(conn, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    return [e for e in queries.events(conn, kinds) if is_live_run(e["payload"].get("run"))]


def _in(ms: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= ms < bounds[1]


# -- the daily summary ------------------------------------------------------------------------------

def daily_report(ws: Any, day: date) -> dict[str, Any]:
    """The UTC day's performance summary of live trading, read from the ledger (secrets masked)."""
    bounds = day_bounds(day)
    with queries.reading(ws.ledger_path) as conn:
        trades = [e["payload"] for e in _live(conn, ("trade",))]
        fills = [e["payload"] for e in _live(conn, ("venue_fill",)) if _in(int(e["payload"].get("ts") or 0), bounds)]
        refusals = [e for e in _live(conn, REFUSAL_KINDS) if _in(_when_ms(e), bounds)]
        trips = [e for e in _live(conn, BREAKER_KINDS) if e["kind"] == "breaker_trip" and _in(_when_ms(e), bounds)]
        alerts = [e for e in queries.events(conn, ALERT_KINDS) if _in(iso_to_ms(e["ts"]), bounds)]
        halts = [e for e in queries.events(conn, HALT_KINDS) if _in(iso_to_ms(e["ts"]), bounds)]
        stages = [e for e in queries.events(conn, ("stage_started",)) if iso_to_ms(e["ts"]) < bounds[1]]
    today = [t for t in trades if _in(int(t["closed_ms"]), bounds)]
    opening = opening_equity(stages[-1] if stages else None, trades, bounds[0])
    stats = trade_stats(today, opening or 0.0)
    alert_list = alert_rows(alerts)
    report = {
        "kind": DAILY, "period": day.isoformat(), "from": ms_to_iso(bounds[0]), "until": ms_to_iso(bounds[1]),
        "generated_at": ms_to_iso(int(datetime.now(UTC).timestamp() * 1000)), "workspace": str(ws.root.resolve()),
        "summary": {"trades": stats["trades"], "wins": stats["wins"], "win_rate_pct": stats["win_rate_pct"],
                    "gross_pnl": stats["gross_pnl"], "fees": stats["fees"], "net_pnl": stats["realized_pnl"],
                    "fills": len(fills), "fill_fees": sum(float(f["fee"]) for f in fills),
                    "opening_equity": opening, **day_drawdown(today, opening),
                    "refused": len(refusals), "alerts": len(alert_list),
                    "breaker_trips": len(trips), "halts": sum(1 for h in halts if h["kind"] == HALTED)},
        "symbols": _with_fill_fees(per_symbol(today), fills),
        "refusals": refusal_rows(refusals),
        "alerts": alert_list,
        "breaker_trips": breaker_history(trips),
        "halts": [{"at": h["ts"], "what": h["kind"], "reason": h["payload"].get("reason"), "by": h["payload"].get("by") or h["actor"],
                   "to": h["payload"].get("to")} for h in halts],
        "trades": [trade_row(t) for t in sorted(today, key=lambda t: int(t["closed_ms"]))],
    }
    report["headline"] = {k: report["summary"][k] for k in ("trades", "win_rate_pct", "net_pnl", "fees", "max_drawdown",
                                                             "max_drawdown_pct", "refused", "alerts", "breaker_trips", "halts")}
    return redact(report)


def opening_equity(stage: dict[str, Any] | None, trades: list[dict], day_start_ms: int) -> float | None:
    """The capital of the stage trading that day plus the net P&L of its trades closed before the
    day began; None without a live stage (no capital to measure against)."""
    capital = float(stage["payload"].get("capital") or 0.0) if stage else 0.0
    if capital <= 0 or stage is None:
        return None
    run = f"lgl{stage['id']}"
    return capital + sum(float(t["net"]) for t in trades if t.get("run") == run and int(t["closed_ms"]) < day_start_ms)


def day_drawdown(trades: list[dict], opening: float | None) -> dict[str, Any]:
    """The day's largest fall of realized equity from its high (the day opens at its high):
    in money, and in percent of that high when the opening equity is known."""
    equity = peak = opening or 0.0
    worst, worst_pct = 0.0, 0.0
    for t in sorted(trades, key=lambda t: int(t["closed_ms"])):
        equity += float(t["net"])
        peak = max(peak, equity)
        worst = max(worst, peak - equity)
        if opening and peak > 0:
            worst_pct = max(worst_pct, 100.0 * (peak - equity) / peak)
    return {"max_drawdown": worst, "max_drawdown_pct": worst_pct if opening else None}


def _with_fill_fees(rows: list[dict], fills: list[dict]) -> list[dict]:
    """Per-symbol trade rows plus the fees the day's fills paid (a position opened today and
    not closed pays fees no closed trade shows yet)."""
    out = {r["symbol"]: dict(r) for r in rows}
    for f in fills:
        r = out.setdefault(str(f["symbol"]), {"symbol": str(f["symbol"]), "trades": 0})
        r["fills"] = r.get("fills", 0) + 1
        r["fill_fees"] = r.get("fill_fees", 0.0) + float(f["fee"])
    return sorted(({**r, "fills": r.get("fills", 0), "fill_fees": r.get("fill_fees", 0.0)} for r in out.values()), key=lambda r: r["symbol"])


def refusal_rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per reason an order was refused: the rule, how many, the last message."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for e in events:
        p = e["payload"]
        if e["kind"] == "order_blocked":
            blocks = p.get("blocks") or [["no_order", "the order sized to nothing"]]
            rule, message = str(blocks[0][0]), str(blocks[0][1])
        else:
            rule, message = str(p.get("rule") or e["kind"].removeprefix("order_")), str(p.get("message") or p.get("reason") or "")
        row = rows.setdefault((e["kind"], rule), {"what": e["kind"].removeprefix("order_").replace("_", " "), "rule": rule, "count": 0})
        row["count"] += 1
        row["last_message"] = message
        row["last_at"] = ms_to_iso(_when_ms(e))
    return sorted(rows.values(), key=lambda r: (-r["count"], r["rule"]))


def alert_rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per alert: raised by a run (`alert`) or sent (`alert_sent` / `alert_failed`, one
    event per destination, grouped by the alert's id)."""
    rows: dict[Any, dict[str, Any]] = {}
    for e in events:
        p = e["payload"]
        if e["kind"] == "alert":
            rows[e["id"]] = {"at": e["ts"], "severity": p.get("severity"), "title": p.get("message"), "delivered_to": [], "failed_to": []}
            continue
        row = rows.setdefault(p.get("alert_id"), {"at": e["ts"], "severity": p.get("severity"), "title": p.get("title"),
                                                  "delivered_to": [], "failed_to": []})
        row["delivered_to" if e["kind"] == "alert_sent" else "failed_to"].append(p.get("destination"))
    return list(rows.values())


# -- the weekly reconciliation --------------------------------------------------------------------

def weekly_report(ws: Any, week_start: date, client: Any, symbols: list[str] | None = None) -> dict[str, Any]:
    """The ISO week beginning `week_start` (a Monday): the venue's own trades (through `client`,
    of `symbols`, default the workspace's `exchange.symbols`) against the ledger's fills."""
    if week_start.weekday() != 0:
        raise UsageError(f"a week starts on a Monday ({week_start.isoformat()} is a {week_start.strftime('%A')})")
    start = day_bounds(week_start)[0]
    bounds = (start, start + WEEK_MS)
    symbols = list(symbols or ws.effective.config.exchange.symbols)
    venue = account_trades(client, symbols, *bounds)
    with queries.reading(ws.ledger_path) as conn:
        fills = [e["payload"] for e in _live(conn, ("venue_fill",))]
        trades = [e["payload"] for e in _live(conn, ("trade",)) if _in(int(e["payload"]["closed_ms"]), bounds)]
    rec = reconcile(venue, [f for f in fills if f.get("symbol") in symbols], bounds)
    ok = not (rec["missing_from_ledger"] or rec["unknown_to_venue"] or rec["fee_differences"] or rec["other_differences"])
    report = {
        "kind": WEEKLY, "period": week_label(week_start), "from": ms_to_iso(bounds[0]), "until": ms_to_iso(bounds[1]),
        "generated_at": ms_to_iso(int(datetime.now(UTC).timestamp() * 1000)), "workspace": str(ws.root.resolve()),
        "exchange": getattr(client, "id", None), "symbols": symbols, "ok": ok,
        "summary": {"venue_trades": len(venue), "ledger_fills": rec["ledger_fills"], "matched": len(rec["matched"]),
                    "missing_from_ledger": len(rec["missing_from_ledger"]), "unknown_to_venue": len(rec["unknown_to_venue"]),
                    "fee_differences": len(rec["fee_differences"]), "other_differences": len(rec["other_differences"])},
        "verdict": verdict(ok, rec),
        "pnl_by_symbol": pnl_by_symbol(venue, trades, symbols),
        **{k: rec[k] for k in ("missing_from_ledger", "unknown_to_venue", "fee_differences", "other_differences", "matched")},
    }
    report["headline"] = {"ok": ok, **report["summary"], "venue_cash_flow": sum(r["venue_cash_flow"] for r in report["pnl_by_symbol"]),
                          "ledger_net_pnl": sum(r["ledger_net_pnl"] for r in report["pnl_by_symbol"])}
    return redact(report)


def reconcile(venue: list[dict], fills: list[dict], bounds: tuple[int, int]) -> dict[str, Any]:
    """The venue's trades of the week against the ledger's fills, trade by trade (by symbol and
    the venue's trade id): a venue trade matches the fill recorded for it (from any time, so a
    trade at the week's edge is not missed); a fill of the week the venue does not list is
    unknown to it."""
    recorded = {(str(f["symbol"]), str(f.get("venue_trade"))): f for f in fills}
    matched, missing, fees, other = [], [], [], []
    for t in venue:
        f = recorded.pop((t["symbol"], t["id"]), None)
        row = {"symbol": t["symbol"], "venue_trade": t["id"], "at": ms_to_iso(t["timestamp"]), "side": t["side"], "amount": t["amount"],
               "price": t["price"], "fee_cost": t["fee_cost"], "fee_currency": t["fee_currency"]}
        if f is None:
            missing.append(row)
            continue
        differs = [name for name, mine, theirs in (("side", f["side"], t["side"]),) if mine != theirs]
        differs += [name for name, mine, theirs in (("amount", f["amount"], t["amount"]), ("price", f["price"], t["price"]))
                    if abs(float(mine) - theirs) > TOLERANCE * max(1.0, abs(theirs))]
        if differs:
            other.append({**row, "ledger": {k: f.get(k) for k in ("side", "amount", "price")}, "fields": differs})
        elif abs(float(f.get("fee_cost") or 0.0) - t["fee_cost"]) > TOLERANCE or (t["fee_currency"] and f.get("fee_currency") != t["fee_currency"]):
            fees.append({**row, "ledger_fee_cost": f.get("fee_cost"), "ledger_fee_currency": f.get("fee_currency"),
                         "difference": float(f.get("fee_cost") or 0.0) - t["fee_cost"]})
        else:
            matched.append({**row, "order": f.get("order_id"), "run": f.get("run")})
    in_week = [f for f in fills if _in(int(f.get("ts") or 0), bounds)]
    unknown = [{"symbol": f["symbol"], "venue_trade": str(f.get("venue_trade")), "at": ms_to_iso(int(f.get("ts") or 0)), "side": f["side"],
                "amount": f["amount"], "price": f["price"], "order": f.get("order_id"), "run": f.get("run")}
               for f in in_week if (str(f["symbol"]), str(f.get("venue_trade"))) in recorded]
    return {"matched": matched, "missing_from_ledger": missing, "unknown_to_venue": unknown, "fee_differences": fees,
            "other_differences": other, "ledger_fills": len(in_week)}


def verdict(ok: bool, rec: dict[str, Any]) -> str:
    if ok:
        return f"the exchange's trades and the ledger agree: {len(rec['matched'])} trades matched"
    parts = [f"{len(rec[k])} {words}" for k, words in (
        ("missing_from_ledger", "exchange trades missing from the ledger"), ("unknown_to_venue", "ledger fills the exchange does not know"),
        ("fee_differences", "fees that differ"), ("other_differences", "trades whose side, amount or price differ")) if rec[k]]
    return "MISMATCH: " + ", ".join(parts)


def pnl_by_symbol(venue: list[dict], trades: list[dict], symbols: list[str]) -> list[dict[str, Any]]:
    """Per symbol, from the venue's trades: bought and sold (base), spent and received (quote),
    the fees as charged (`fees_quote`, `fees_base`, `fees_other` by currency) and in the quote at
    the trade's price (`fees`), the cash flow (received − spent − fees charged in the quote) and
    the change of the position (bought − sold − fees charged in the base): with no position
    change the cash flow is the week's realized P&L. From the ledger: the net P&L, fees and
    count of the trades closed in the week."""
    ledger = {r["symbol"]: r for r in per_symbol(trades)}
    rows = []
    for symbol in symbols:
        base, _, rest = symbol.partition("/")
        quote = rest.split(":")[0]
        mine = [t for t in venue if t["symbol"] == symbol]
        row = {"symbol": symbol, "venue_trades": len(mine), "bought": 0.0, "sold": 0.0, "spent": 0.0, "received": 0.0, "fees_quote": 0.0,
               "fees_base": 0.0, "fees_other": {}, "fees": 0.0}
        for t in mine:
            buy = t["side"] == "buy"
            row["bought" if buy else "sold"] += t["amount"]
            row["spent" if buy else "received"] += t["amount"] * t["price"]
            currency = t["fee_currency"] or quote
            if currency == quote:
                row["fees_quote"] += t["fee_cost"]
                row["fees"] += t["fee_cost"]
            elif currency == base:
                row["fees_base"] += t["fee_cost"]
                row["fees"] += t["fee_cost"] * t["price"]
            else:
                row["fees_other"][currency] = row["fees_other"].get(currency, 0.0) + t["fee_cost"]
        row["venue_cash_flow"] = row["received"] - row["spent"] - row["fees_quote"]
        row["position_change"] = round(row["bought"] - row["sold"] - row["fees_base"], 12)  # no float dust: 0 means flat
        theirs = ledger.get(symbol) or {}
        row.update(ledger_trades=theirs.get("trades", 0), ledger_net_pnl=theirs.get("net", 0.0), ledger_fees=theirs.get("fees", 0.0))
        rows.append(row)
    return rows


# -- files, ledger, alerts -----------------------------------------------------------------------------

def report_name(report: dict[str, Any]) -> str:
    return f"{'daily' if report['kind'] == DAILY else 'weekly'}-{report['period']}"


def to_markdown(report: dict[str, Any]) -> str:
    """The report as a readable Markdown page: headline, then a table per section."""
    daily = report["kind"] == DAILY
    title = f"livegate {'daily summary' if daily else 'weekly reconciliation'} — {report['period']}"
    lines = [f"# {title}", "", f"From {report['from']} until {report['until']} (UTC) · generated {report['generated_at']}", ""]
    if not daily:
        lines += [f"**{report['verdict']}**", ""]
    lines += ["| | |", "|---|---|", *(f"| {_label(k)} | {_cell(v)} |" for k, v in report["summary"].items()), ""]
    sections = (("By symbol", "symbols"), ("Orders refused", "refusals"), ("Alerts", "alerts"), ("Breaker trips", "breaker_trips"),
                ("Halts and mode changes", "halts"), ("Trades", "trades")) if daily else (
        ("P&L by symbol", "pnl_by_symbol"), ("Missing from the ledger", "missing_from_ledger"), ("Unknown to the exchange", "unknown_to_venue"),
        ("Fee differences", "fee_differences"), ("Other differences", "other_differences"), ("Matched", "matched"))
    for heading, key in sections:
        rows = report.get(key) or []
        lines += [f"## {heading}", ""]
        if not rows:
            lines += ["None.", ""]
            continue
        fields = list(dict.fromkeys(f for r in rows for f in r))
        lines += ["| " + " | ".join(_label(f) for f in fields) + " |", "|" + "---|" * len(fields)]
        lines += ["| " + " | ".join(_cell(r.get(f)) for f in fields) + " |" for r in rows]
        lines.append("")
    return "\n".join(lines)


def _label(key: str) -> str:
    return key.replace("_", " ").replace("venue", "exchange").replace(" pct", " %").replace("pnl", "P&L")


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.8g}"
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    return str(value).replace("|", "\\|").replace("\n", " ")


def write_and_record(ws: Any, report: dict[str, Any], *, key: Any = None) -> dict[str, Any]:
    """Write `reports/<daily-DAY|weekly-WEEK>.json` and `.md` into the workspace (each whole or
    not at all) and record one `daily_report` / `weekly_report` event with each file's SHA-256
    and the headline figures. Returns {files: {json, md}, sha256: {json, md}, event}."""
    folder = Path(ws.root) / REPORTS_DIR
    name = report_name(report)
    texts = {"json": to_json(report), "md": to_markdown(report)}
    written = {fmt: folder / f"{name}.{fmt}" for fmt in texts}
    partial = {fmt: path.with_name(path.name + ".partial") for fmt, path in written.items()}
    try:  # both files whole, or neither replaced
        folder.mkdir(exist_ok=True)
        for fmt, text in texts.items():
            partial[fmt].write_text(text, encoding="utf-8")
        for fmt, path in written.items():
            partial[fmt].replace(path)
    except OSError as exc:
        raise UsageError(f"{folder}: the report cannot be written ({exc.strerror})") from None
    finally:
        for tmp in partial.values():
            tmp.unlink(missing_ok=True)
    digests = {fmt: hashlib.sha256(text.encode("utf-8")).hexdigest() for fmt, text in texts.items()}
    payload = {"period": report["period"], "from": report["from"], "until": report["until"],
               "files": {fmt: str(path.relative_to(ws.root)) for fmt, path in written.items()}, "sha256": digests,
               "headline": report["headline"]}
    with Ledger.open(ws.ledger_path, key=key) as ledger:
        event = ledger.append(report["kind"], payload)
    return {"files": {fmt: str(path) for fmt, path in written.items()}, "sha256": digests, "event": event.id}


def recorded(ws: Any, kind: str, period: str) -> bool:
    """Whether a `kind` report (DAILY, WEEKLY) of `period` (2026-03-02, 2026-W10) is in the ledger."""
    with queries.reading(ws.ledger_path) as conn:
        return queries.latest_with(conn, kind, {"period": period}) is not None


def send_report(ws: Any, report: dict[str, Any], *, alerter: Alerter | None = None) -> list[dict]:
    """The headline through the configured alert destinations: severity info; a weekly report
    that found a mismatch goes as a warning. One result per destination tried (never raises)."""
    alerter = alerter or Alerter(ws)
    daily = report["kind"] == DAILY
    severity = "info" if daily or report["ok"] else "warning"
    title = (f"daily summary {report['period']}: {report['summary']['trades']} trades, net P&L {report['summary']['net_pnl']:.2f}"
             if daily else f"weekly reconciliation {report['period']}: {report['verdict']}")
    body = "\n".join(f"{_label(k)}: {_cell(v)}" for k, v in report["headline"].items())
    return alerter.emit(report["kind"], severity, title, body)
