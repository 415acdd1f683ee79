"""The report's trader sections, computed from the ledger: the signed-off paper run and the
latest micro-live stage side by side (equity, win rate, slippage, and the kill criteria that
go-live checks, measured by the same functions), and per run the slippage distribution,
holding times, monthly returns and exposure over time; the timeline of runs, results,
sign-offs, mode changes, halts and breaker trips.

Every section is a list of flat rows (the CSV is `section,row,field,value`), each row naming
its `run` where it belongs to one; the HTML draws its charts from these rows only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from livegate.config.environment import load_env
from livegate.core.errors import UsageError
from livegate.core.kill_criteria import Baseline, baseline_from, kill_breaches, measure, stage_spec, trade_return
from livegate.core.protocol import compare
from livegate.core.timeparse import ms_to_iso
from livegate.ledger import queries
from livegate.services import modes
from livegate.services.monitoring.runs import LIVE, RunData, find_run, load_run, ts_seconds
from livegate.services.monitoring.snapshot import closed_in_order, equity_curve

# Bins are [low, high): None is unbounded.
SLIPPAGE_BINS_BPS = (None, -20.0, -10.0, -5.0, -2.0, -0.5, 0.5, 2.0, 5.0, 10.0, 20.0, None)
HOLDING_BINS_MIN = (0.0, 1.0, 5.0, 15.0, 60.0, 240.0, 1440.0, 10080.0, None)
TIMELINE_KINDS = ("paper_run_started", "stage_started", "phase_result", "signoff", modes.MODE_CHANGED, modes.HALTED,
                  modes.RESUMED, "breaker_trip")


# -- per run -----------------------------------------------------------------------------------------

def fills_of(data: RunData) -> list[dict[str, Any]]:
    """The run's fills: the venue's for a live stage, the simulated ones for a paper run."""
    return [e["payload"] for e in data.of("venue_fill" if data.source == LIVE else "fill")]


def slippages(data: RunData) -> list[float]:
    return [float(f["slippage_bps"]) for f in fills_of(data) if f.get("slippage_bps") is not None]


def _in_bin(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value < high)


def histogram(values: list[float], edges: tuple[float | None, ...]) -> list[tuple[float | None, float | None, int]]:
    """(low, high, count) per bin [low, high) of consecutive `edges`."""
    return [(low, high, sum(1 for v in values if _in_bin(v, low, high))) for low, high in zip(edges, edges[1:], strict=False)]


def holding_minutes(trades: list[dict]) -> list[float]:
    return [(int(t["closed_ms"]) - int(t.get("opened_ms") or t["closed_ms"])) / 60_000 for t in trades]


def monthly_returns(trades: list[dict], capital: float) -> list[dict[str, Any]]:
    """Per UTC calendar month of the close: trades, net P&L and the return on the equity the
    month opened with (capital + every earlier net)."""
    months: dict[str, list[float]] = {}
    for t in closed_in_order(trades):
        month = datetime.fromtimestamp(int(t["closed_ms"]) / 1000, UTC).strftime("%Y-%m")
        months.setdefault(month, []).append(float(t["net"]))
    out, opening = [], capital
    for month, nets in months.items():
        net = sum(nets)
        out.append({"month": month, "trades": len(nets), "net": net, "opening_equity": opening,
                    "return_pct": 100.0 * net / opening if opening > 0 else None})
        opening += net
    return out


def exposure_steps(trades: list[dict]) -> list[tuple[int, float]]:
    """(epoch ms, value held) after every opening and closing: each closed trade holds its entry
    value (amount × entry price) from its opening to its close."""
    changes: dict[int, float] = {}
    for t in trades:
        value = float(t.get("amount") or 0) * float(t.get("entry_price") or 0)
        opened, closed = int(t.get("opened_ms") or t["closed_ms"]), int(t["closed_ms"])
        changes[opened] = changes.get(opened, 0.0) + value
        changes[closed] = changes.get(closed, 0.0) - value
    out, held = [], 0.0
    for at in sorted(changes):
        held += changes[at]
        out.append((at, max(0.0, held) if abs(held) > 1e-9 else 0.0))
    return out


def run_row(data: RunData, role: str) -> dict[str, Any]:
    """One run's figures for the side-by-side table."""
    trades = closed_in_order(data.trades)
    nets = [float(t["net"]) for t in trades]
    returns = [r for r in (trade_return(t) for t in trades) if r is not None]
    slip = slippages(data)
    curve = equity_curve(trades, data.capital)
    p = data.start["payload"]
    return {"run": data.run, "role": role, "source": data.source,
            "label": f"micro-live stage {p.get('stage')}" if data.source == LIVE else f"paper {(p.get('plan') or {}).get('kind') or 'run'}",
            "started_at": data.start["ts"], "capital": data.capital, "trades": len(nets), "net_pnl": sum(nets),
            "return_pct": 100.0 * sum(nets) / data.capital if data.capital > 0 else None,
            "win_rate_pct": 100.0 * sum(1 for n in nets if n > 0) / len(nets) if nets else None,
            "mean_trade_return_pct": 100.0 * sum(returns) / len(returns) if returns else None,
            "fees": sum(float(t["fee"]) for t in trades),
            "max_drawdown_pct": -min((c["drawdown_pct"] for c in curve), default=0.0) + 0.0,
            "fills": len(fills_of(data)), "mean_slippage_bps": sum(slip) / len(slip) if slip else None,
            "worst_slippage_bps": max(slip) if slip else None}


def run_sections(data: RunData) -> dict[str, list[dict[str, Any]]]:
    """The per-run rows: equity curve, slippage and holding-time bins, monthly returns, exposure."""
    trades = closed_in_order(data.trades)
    run = data.run
    return {
        "curves": [{"run": run, "at": ms_to_iso(p["at_ms"]), **p} for p in equity_curve(trades, data.capital)],
        "slippage_bins": [{"run": run, "low_bps": lo, "high_bps": hi, "fills": n} for lo, hi, n in histogram(slippages(data), SLIPPAGE_BINS_BPS)],
        "holding_bins": [{"run": run, "low_minutes": lo, "high_minutes": hi, "trades": n}
                         for lo, hi, n in histogram(holding_minutes(trades), HOLDING_BINS_MIN)],
        "monthly": [{"run": run, **m} for m in monthly_returns(trades, data.capital)],
        "exposure": [{"run": run, "at": ms_to_iso(at), "at_ms": at, "exposure": v} for at, v in exposure_steps(trades)],
    }


# -- which runs ---------------------------------------------------------------------------------------

def _load(conn: Any, run: str | None, why: str) -> RunData | None:
    found = find_run(conn, run) if run else None
    return load_run(conn, found[0], found[1], found[2], why) if found else None


def result_run(conn: Any, event: dict[str, Any]) -> str | None:
    """The run a phase result measured: a paper result names it; a micro-live stage's is the
    latest start of that stage before the result."""
    p = event["payload"]
    named = (p.get("summary") or {}).get("run")
    if named:
        return str(named)
    started = [e for e in queries.events(conn, kinds=("stage_started",)) if e["id"] < event["id"] and e["payload"].get("stage") == p.get("step")]
    return f"lgl{started[-1]['id']}" if started else None


def compared_runs(conn: Any) -> tuple[RunData | None, dict | None, RunData | None]:
    """(paper run, the signed-off paper result or None, latest live stage): the paper run is the
    signed-off result's, else the latest paper run."""
    signed = queries.signed_result(conn, "paper")
    paper_run = (signed.get("summary") or {}).get("run") if signed else None
    paper = _load(conn, paper_run, "the signed-off paper result's run") if paper_run else None
    if paper is None:
        latest = queries.latest_of_kind(conn, "paper_run_started")
        paper = _load(conn, f"r{latest['id']}", "the latest paper run (none signed off)") if latest else None
    latest_stage = queries.latest_of_kind(conn, "stage_started")
    live = _load(conn, f"lgl{latest_stage['id']}", "the latest micro-live stage") if latest_stage else None
    return paper, signed, live


# -- the kill-criteria comparison -----------------------------------------------------------------------

KILL_ROWS = (("win_rate_gap_points", "Win rate gap to paper (points)"),
             ("live_vs_paper_worse_pct", "Live worse than paper per trade (%)"),
             ("unexpected_loss_usd", "Unexpected loss (quote)"),
             ("limits_enforced", "Trade cap held on every order"))
FIGURES = (("trades", "Closed trades"), ("net_pnl", "Net P&L"), ("return_pct", "Return on capital (%)"), ("win_rate_pct", "Win rate (%)"),
           ("mean_trade_return_pct", "Mean return per trade (%)"), ("fees", "Fees"), ("max_drawdown_pct", "Max drawdown (%)"),
           ("mean_slippage_bps", "Mean slippage (bps)"), ("worst_slippage_bps", "Worst slippage (bps)"))
PAPER_COMPARED = ("win_rate_gap_points", "live_vs_paper_worse_pct")  # compared once the stage has its minimum of trades


def _pct(share: float | None) -> float | None:
    return None if share is None else 100.0 * share


def comparison(ws: Any, paper: RunData | None, signed: dict | None, live: RunData | None) -> list[dict[str, Any]]:
    """The side-by-side table: each run's figures, then the kill criteria go-live checks
    continuously, measured by the stage's own `measure` against the signed-off paper baseline
    (`kill_breaches` is the last row: what go-live would stop on now)."""
    p_row = run_row(paper, "paper") if paper else {}
    l_row = run_row(live, "live") if live else {}
    blank = {"measured": None, "op": None, "threshold": None, "verdict": None, "note": ""}
    rows = [{"measure": label, "key": key, "paper": p_row.get(key), "live": l_row.get(key), **blank} for key, label in FIGURES]
    effective = ws.effective
    criteria = {c.id: c for c in next(s for s in effective.specs if s.id == "micro-live").criteria}
    thresholds = {key: c.threshold for key, c in criteria.items()}
    def unmeasured(why: str) -> list[dict[str, Any]]:
        return rows + [{"measure": label, "key": key, "paper": None, "live": None, **blank, "op": criteria[key].op,
                        "threshold": thresholds[key], "verdict": "n/a", "note": why} for key, label in KILL_ROWS]

    if live is None or signed is None:
        return unmeasured("no micro-live stage yet" if live is None else "no signed-off paper result to compare with")
    signed_run = (signed.get("summary") or {}).get("run")
    baseline: Baseline = baseline_from(signed, paper.trades if paper and paper.run == signed_run else [])
    try:
        spec = stage_spec(effective, str(live.start["payload"].get("stage")))
    except UsageError as exc:  # the stage is no longer in the configuration: its thresholds are unknown
        return unmeasured(str(exc))
    started_ms = int(live.start["payload"].get("started_ms") or 0)
    m = measure([(e["kind"], e["payload"]) for e in live.of("order_sending", "venue_fill", "trade")], spec, started_ms, started_ms,
                baseline, effective.risk.live_trading, load_env(ws.root).max_trade_amount())
    min_trades = max(spec.min_trades, 10)
    sides = {"win_rate_gap_points": (baseline.win_rate_pct, m["win_rate_pct"], "win rate (%)"),
             "live_vs_paper_worse_pct": (_pct(baseline.mean_trade_return), _pct(m["live_mean_trade_return"]), "mean return per trade (%)")}
    for key, label in KILL_ROWS:
        value, c = m[key], criteria[key]
        paper_value, live_value, what = sides.get(key, (None, value, ""))
        if key in PAPER_COMPARED and m["closed_trades"] < min_trades:
            verdict, note = "waiting", f"compared once the stage has {min_trades} closed trades ({m['closed_trades']} so far)"
        elif value is None:
            verdict, note = "n/a", "not measurable yet"
        else:
            verdict, note = ("pass" if compare(c.op, value, c.threshold) else "fail"), ""
        if what:
            note = "; ".join(filter(None, [f"paper and live columns: {what}", note]))
        rows.append({"measure": label, "key": key, "paper": paper_value, "live": live_value, "measured": value, "op": c.op,
                     "threshold": c.threshold, "verdict": verdict, "note": note})
    breaches = kill_breaches(m, thresholds, min_trades)
    rows.append({"measure": "Kill criteria broken now", "key": "kill_breaches", "paper": None, "live": "; ".join(breaches) or "none",
                 **blank, "verdict": "fail" if breaches else "pass", "note": f"baseline: {baseline.source}"})
    return rows


# -- the timeline -----------------------------------------------------------------------------------------

def timeline(conn: Any, names: dict[int, str]) -> list[dict[str, Any]]:
    """Runs started, phase results, sign-offs, mode changes, halts and resumes, one row each in
    ledger order; a run's breaker trips one row per breaker (the first trip, and how many).
    `names`: event id → the signing name to show instead of the recorded actor."""
    out: list[dict[str, Any]] = []
    trips: dict[tuple[str, str], dict[str, Any]] = {}
    for e in queries.events(conn, kinds=TIMELINE_KINDS):
        p, kind = e["payload"], e["kind"]
        person = kind in (modes.MODE_CHANGED, modes.HALTED, modes.RESUMED, "signoff")  # runs and results are the program's
        row = {"event": e["id"], "at": e["ts"], "at_ms": int(ts_seconds(e["ts"]) * 1000), "lane": "", "what": "", "step": p.get("step"),
               "detail": "", "by": names.get(e["id"], p.get("by") or e["actor"]) if person else None}
        if kind == "paper_run_started":
            row.update(lane="runs", what="paper run started", step="paper", detail=f"run r{e['id']}, capital {p.get('capital')}")
        elif kind == "stage_started":
            row.update(lane="runs", what="micro-live stage started", step=p.get("stage"), detail=f"run lgl{e['id']}, cap {p.get('cap')}")
        elif kind == "phase_result":
            row.update(lane="results", what=f"{p.get('step')} {p.get('kind', 'phase')} result: {p.get('verdict')}", detail=f"result event #{e['id']}")
        elif kind == "signoff":
            row.update(lane="sign-offs", what="signed off", detail=f"result event #{p.get('result_event')}")
        elif kind == modes.MODE_CHANGED:
            row.update(lane="mode", what=f"mode {p.get('from')} → {p.get('to')}", detail=str(p.get("reason") or ""))
        elif kind == modes.HALTED:
            row.update(lane="mode", what="trading halted", detail=str(p.get("reason") or ""))
        elif kind == modes.RESUMED:
            row.update(lane="mode", what="trading resumed", detail=str(p.get("reason") or ""))
        else:
            key = (str(p.get("run")), str(p.get("breaker")))
            if key in trips:
                trips[key]["count"] += 1
                trips[key]["last"] = e["ts"]
                continue
            row.update(lane="breakers", what=f"breaker {p.get('breaker')} tripped", step=None, detail=f"run {p.get('run')}")
            trips[key] = {"row": row, "count": 1, "last": e["ts"]}
        out.append(row)
    for trip in trips.values():
        n = trip["count"]
        trip["row"]["detail"] += f": tripped {n} time{'s' if n != 1 else ''}" + (f", the last at {trip['last']}" if n > 1 else "")
    return out


def signing_names(signoffs: list[dict], modes_rows: list[dict]) -> dict[int, str]:
    """event id → the name the report shows for the sign-offs and mode changes."""
    names = {int(s["event"]): str(s["by"]) for s in signoffs if s.get("by")}
    names.update({int(m["id"]): str(m["by"]) for m in modes_rows if m.get("id") is not None and m.get("by")})
    return names


def trader_sections(ws: Any, conn: Any, results: list[dict], extra_runs: tuple[RunData | None, ...],
                    names: dict[int, str]) -> dict[str, list[dict[str, Any]]]:
    """Every trader section. `results` (the report's latest result rows) gain their run and
    whether the signed-off result is that one (`signed_off`)."""
    paper, signed, live = compared_runs(conn)
    signed_events = {}
    for e in queries.signoffs(conn):
        signed_events[str(e["payload"].get("step"))] = e
    loaded: dict[str, RunData] = {}
    for d in (paper, live, *extra_runs):
        if d is not None:
            loaded.setdefault(d.run, d)
    for r in results:
        event = queries.event_by_id(conn, int(r["event"]), "phase_result")
        run = result_run(conn, event) if event else None
        if run and run not in loaded:
            try:
                data = _load(conn, run, "a phase result's run")
            except UsageError:  # a result naming a run the ledger lacks: shown without its charts
                data = None
            if data is not None:
                loaded[run] = data
        sign = signed_events.get(str(r["step"]))
        r["run"] = run if run in loaded else None
        r["signed_off"] = bool(sign and sign["payload"].get("result_event") == r["event"])
        r["signed_by"] = names.get(sign["id"], sign["actor"]) if r["signed_off"] and sign else None
        r["signed_at"] = sign["ts"] if r["signed_off"] and sign else None
    runs = [run_row(d, "paper" if d is paper else "live" if d is live else "phase") for d in loaded.values()]
    sections: dict[str, list[dict[str, Any]]] = {"runs": runs, "comparison": comparison(ws, paper, signed, live)}
    for d in loaded.values():
        for name, rows in run_sections(d).items():
            sections.setdefault(name, []).extend(rows)
    sections["timeline"] = timeline(conn, names)
    return sections
