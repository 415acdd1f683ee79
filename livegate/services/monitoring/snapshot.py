"""What `livegate monitor` shows: one dict computed from the ledger and the risk limits.

`snapshot(ws)` only reads. The run watched is the latest micro-live stage, else the latest
paper run (`run.why` says which). Realized P&L, win rate, drawdown and streaks come from the
run's `trade` events (SPEC §10 definitions: trades in close order, E_0 = the run's capital,
E_k = E_0 + cumulative net; one trade per reducing order, all its fills); positions, dust
(holdings too small to sell), unrealized P&L and mark-to-market drawdown from its latest
checkpoint; breaker states from its trips and re-arms; latency from what the ledger timed (see
`latency`). Percentages (`*_pct`) are in percent: 3.5 means 3.5 %."""

from __future__ import annotations

import time
from typing import Any

from livegate.core.breakers import BREAKERS
from livegate.core.redact import redact
from livegate.core.timeparse import ms_to_iso
from livegate.ledger import queries
from livegate.services import modes
from livegate.services.alerts.thresholds import websocket_status
from livegate.services.monitoring.flags import evaluate_flags
from livegate.services.monitoring.runs import LIVE, RunData, latest_run, ts_seconds
from livegate.services.monitoring.views import BREAKER_KINDS, collapse_breakers, marked_equity, positions_of

DAY_MS = 86_400_000
RECENT_TRADES = 10
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)


# -- trades ------------------------------------------------------------------------------------

def closed_in_order(trades: list[dict]) -> list[dict]:
    """Trades sorted by close time; ties keep ledger order (a stable sort)."""
    return sorted(trades, key=lambda t: int(t["closed_ms"]))


def equity_curve(trades: list[dict], capital: float) -> list[dict[str, Any]]:
    """E_0 = capital at the first trade's opening, then one point per closed trade:
    {at_ms, equity, drawdown_pct} with drawdown_pct = 100·(E_k / max_{j≤k} E_j − 1) (≤ 0)."""
    ordered = closed_in_order(trades)
    if not ordered:
        return []
    points = [{"at_ms": int(ordered[0].get("opened_ms") or ordered[0]["closed_ms"]), "equity": capital, "drawdown_pct": 0.0}]
    equity = peak = capital
    for t in ordered:
        equity += float(t["net"])
        peak = max(peak, equity)
        points.append({"at_ms": int(t["closed_ms"]), "equity": equity,
                       "drawdown_pct": 100.0 * (equity / peak - 1.0) if peak > 0 else 0.0})
    return points


def trade_stats(trades: list[dict], capital: float) -> dict[str, Any]:
    ordered = closed_in_order(trades)
    nets = [float(t["net"]) for t in ordered]
    n = len(nets)
    wins = sum(1 for x in nets if x > 0)
    gains, losses = sum(x for x in nets if x > 0), -sum(x for x in nets if x < 0)
    curve = equity_curve(ordered, capital)
    longest = streak = 0
    for x in nets:
        streak = streak + 1 if x < 0 else 0
        longest = max(longest, streak)
    return {
        "trades": n,
        "wins": wins,
        "win_rate_pct": 100.0 * wins / n if n else None,
        "realized_pnl": sum(nets),
        "gross_pnl": sum(float(t["gross"]) for t in ordered),
        "fees": sum(float(t["fee"]) for t in ordered),
        "profit_factor": gains / losses if losses > 0 else None,
        "expectancy": sum(nets) / n if n else None,
        "return_pct": 100.0 * sum(nets) / capital if capital > 0 else None,
        "max_drawdown_pct": -min((p["drawdown_pct"] for p in curve), default=0.0) + 0.0,
        "current_drawdown_pct": -curve[-1]["drawdown_pct"] + 0.0 if curve else 0.0,
        "max_consecutive_losses": longest,
        "current_losing_streak": streak,
        "worst_day_loss_pct": worst_day_loss_pct(ordered, capital),
    }


def worst_day_loss_pct(ordered: list[dict], capital: float) -> float | None:
    """The largest realized loss of one UTC day as a percentage of that day's opening equity
    (0 when no day lost; None without trades or after the equity reached zero)."""
    if not ordered:
        return None
    by_day: dict[int, float] = {}
    for t in ordered:
        day = int(t["closed_ms"]) // DAY_MS
        by_day[day] = by_day.get(day, 0.0) + float(t["net"])
    worst, opening = 0.0, capital
    for day in sorted(by_day):
        if opening <= 0:
            return None
        worst = max(worst, -100.0 * by_day[day] / opening)
        opening += by_day[day]
    return worst


def trade_row(t: dict) -> dict[str, Any]:
    return {"closed_at": ms_to_iso(int(t["closed_ms"])), "symbol": t.get("symbol"), "side": t.get("side"),
            "amount": t.get("amount"), "entry_price": t.get("entry_price"), "exit_price": t.get("exit_price"),
            "gross": t.get("gross"), "fee": t.get("fee"), "net": t.get("net")}


# -- breakers, orders, latency, slippage ----------------------------------------------------------

def breaker_states(data: RunData, names: tuple[str, ...]) -> list[dict[str, Any]]:
    """Each breaker of the run (`collapse_breakers`)."""
    return collapse_breakers(data.of(*BREAKER_KINDS), names)


def order_counts(data: RunData) -> dict[str, Any]:
    c = data.counts
    failed = {e["payload"].get("client_id") for kind in ("order_rejected", "order_not_sent", "order_not_placed") for e in data.of(kind)}
    fills = data.of("venue_fill" if data.source == LIVE else "fill")
    placed = int(c.get("order_placed", 0))
    return {
        "placed": placed,
        "filled": len({f["payload"].get("order_id") for f in fills}),
        "blocked": int(c.get("order_blocked", 0)),
        "rejected": int(c.get("order_rejected", 0)),
        "not_sent": int(c.get("order_not_sent", 0)),
        "not_placed": int(c.get("order_not_placed", 0)),
        "canceled": int(c.get("order_canceled", 0)),
        "failures": len(failed),
        "failure_rate_pct": 100.0 * len(failed) / placed if placed else None,
    }


def _quantile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    pos = q * (len(sorted_values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def order_latencies(data: RunData) -> list[float]:
    """Seconds from each live order's write-ahead record (`order_sending`) to the record of the
    venue's answer (`order_acknowledged`) — both written as they happened. Answers found only
    by a lookup after a restart are left out (that time is downtime, not latency)."""
    sent = {e["payload"].get("client_id"): e["ts"] for e in data.of("order_sending")}
    out = []
    for e in data.of("order_acknowledged"):
        p = e["payload"]
        if p.get("recovered") or p.get("client_id") not in sent:
            continue
        out.append(max(0.0, ts_seconds(e["ts"]) - ts_seconds(sent[p["client_id"]])))
    return out


def latency(data: RunData) -> dict[str, Any]:
    """What the ledger timed: live orders' acknowledgement latency, and the venue calls of the
    latest checkpoint's API breaker window (the last `api_window` calls of a forward run)."""
    values = sorted(order_latencies(data))
    if values:
        buckets = [[le, sum(1 for v in values if v <= le)] for le in LATENCY_BUCKETS]
        order_ack = {"measured": True, "count": len(values), "p50_s": _quantile(values, 0.5), "p95_s": _quantile(values, 0.95),
                     "max_s": values[-1], "sum_s": sum(values), "buckets": buckets, "reason": None}
    else:
        reason = ("no live order sent yet" if data.source == LIVE
                  else "paper fills are simulated: no order is sent to a venue, so none is timed")
        order_ack = {"measured": False, "count": 0, "reason": reason}
    window = ((data.checkpoint or {}).get("breakers") or {}).get("api") or []
    if window:
        times = sorted(float(seconds) for _, seconds in window)
        venue = {"measured": True, "count": len(window), "errors": sum(1 for ok, _ in window if not ok),
                 "median_s": _quantile(times, 0.5), "max_s": times[-1], "reason": None}
        venue["error_rate_pct"] = 100.0 * venue["errors"] / venue["count"]
    else:
        backtest = (data.start["payload"].get("plan") or {}).get("kind") == "backtest"
        venue = {"measured": False, "count": 0, "reason": "a backtest calls no venue" if backtest
                 else "no venue call in the latest checkpoint's API breaker window"}
    return {"order_ack": order_ack, "venue_calls": venue, "websocket": websocket_status()}


def slippage(data: RunData) -> dict[str, Any]:
    """Fill price against the price the decision saw, in basis points (positive = worse)."""
    bps = [float(f["payload"]["slippage_bps"]) for f in data.of("venue_fill" if data.source == LIVE else "fill")
           if f["payload"].get("slippage_bps") is not None]
    return {"fills": len(bps), "mean_bps": sum(bps) / len(bps) if bps else None, "worst_bps": max(bps) if bps else None}


def run_status(data: RunData) -> str:
    """completed, running, or stopped / killed with the reason — from the run's last marker."""
    marks = data.of("paper_run_completed", "paper_run_stopped", "live_started", "live_stopped", "alert")
    marks = [m for m in marks if m["kind"] != "alert" or m["payload"].get("severity") == "critical"]
    if not marks:
        return "running"
    last = marks[-1]
    if last["kind"] == "alert":
        return f"killed: {last['payload'].get('message')}"
    return {"paper_run_completed": "completed", "live_started": "running"}.get(last["kind"], f"stopped: {last['payload'].get('reason')}")


def run_info(data: RunData) -> dict[str, Any]:
    p = data.start["payload"]
    info = {"id": data.run, "source": data.source, "why": data.why, "started_at": data.start["ts"], "capital": data.capital,
            "status": run_status(data), "checkpoint_at": data.checkpoint_ts}
    if data.source == LIVE:
        kind = f"production trading ({p['level']} level)" if p.get("stage") == "production" and p.get("level") else f"stage {p.get('stage')}"
        info.update(kind=kind, stage=p.get("stage"), symbols=p.get("symbols") or [], cap=p.get("cap"))
    else:
        plan = p.get("plan") or {}
        strategy = p.get("strategy") or {}
        info.update(kind=plan.get("kind"), quote=p.get("quote"), symbols=(p.get("data") or {}).get("symbols") or plan.get("symbols") or [],
                    strategy=strategy.get("class") or strategy.get("ref"), synthetic=(p.get("data") or {}).get("synthetic"))
    return info


# -- the snapshot --------------------------------------------------------------------------------

def summarize(data: RunData | None, risk: Any, mode: dict[str, Any], head: dict[str, Any], now_s: float) -> dict[str, Any]:
    """The snapshot of `data` (None: the ledger has no run yet) under the limits `risk`."""

    lim, guard = risk.live_trading, risk.guardian
    limits = {"breaker_drawdown_pct": 100.0 * lim.drawdown_halt_pct, "guardian_drawdown_pct": 100.0 * guard.drawdown_halt_buys_pct,
              "breaker_daily_loss_pct": 100.0 * risk.circuit_breakers.daily_loss_pct,
              "guardian_daily_loss_pct": 100.0 * guard.daily_loss_halt_buys_pct, "consecutive_losses_halt": lim.consecutive_losses_halt}
    out: dict[str, Any] = {"generated_at": ms_to_iso(int(now_s * 1000)), "mode": mode, "ledger": dict(head)}
    if head.get("last_event_at"):
        out["ledger"]["last_event_age_s"] = max(0.0, now_s - ts_seconds(head["last_event_at"]))
    if data is None:
        out.update(run=None, pnl=None, drawdown={"limits": limits}, performance=None, breakers=[], positions=[], dust=None,
                   recent_trades=[], orders=None, latency=None, slippage=None, alerts=None)
        out["flags"] = evaluate_flags(out, risk)
        return out
    stats = trade_stats(data.trades, data.capital)
    positions = positions_of(data.checkpoint)
    dust = positions_of(data.checkpoint, "dust")
    equity = marked_equity(data.checkpoint)
    risk_state = (data.checkpoint or {}).get("risk") or {}
    peak = float(risk_state.get("peak_equity") or 0.0)
    m2m_now = 100.0 * max(0.0, 1.0 - equity / peak) if equity is not None and peak > 0 else None
    m2m_max = 100.0 * float(risk_state["max_drawdown"]) if "max_drawdown" in risk_state else None
    alerts = data.of("alert")
    out.update(
        run=run_info(data),
        pnl={"realized": stats["realized_pnl"],
             "unrealized": sum((p["unrealized"] for p in positions + dust), 0.0) if data.checkpoint else None,
             "equity": equity if equity is not None else data.capital + stats["realized_pnl"],
             "equity_source": "checkpoint (marked to market)" if equity is not None else "capital + realized P&L (no checkpoint yet)",
             "fees": stats["fees"], "return_pct": stats["return_pct"], "capital": data.capital},
        drawdown={"current_pct": stats["current_drawdown_pct"], "max_pct": stats["max_drawdown_pct"],
                  "marked_current_pct": m2m_now, "marked_max_pct": m2m_max, "limits": limits},
        performance={k: stats[k] for k in ("trades", "wins", "win_rate_pct", "profit_factor", "expectancy", "max_consecutive_losses",
                                           "current_losing_streak", "worst_day_loss_pct")},
        breakers=breaker_states(data, BREAKERS),
        positions=positions,
        dust={"positions": dust, "value": sum((p["value"] for p in dust), 0.0), "events": int(data.counts.get("dust", 0))},
        recent_trades=[trade_row(t) for t in closed_in_order(data.trades)[-RECENT_TRADES:][::-1]],
        orders=order_counts(data),
        latency=latency(data),
        slippage=slippage(data),
        alerts={"count": len(alerts), "critical": sum(1 for a in alerts if a["payload"].get("severity") == "critical"),
                "latest": [{"at": a["ts"], "severity": a["payload"].get("severity"), "message": a["payload"].get("message")}
                           for a in alerts[-5:][::-1]]},
    )
    out["flags"] = evaluate_flags(out, risk)
    return out


def mode_info(ws: Any) -> dict[str, Any]:
    limits = modes.mode_limits(ws)
    reason = modes.halted_reason(ws)
    return {**limits, "label": modes.mode_label(limits["mode"], limits["level"]), "halted": reason is not None, "halt_reason": reason,
            "kill_switch": modes.halt_state(ws)}


def snapshot(ws: Any, run: str | None = None, now: float | None = None) -> dict[str, Any]:
    """Everything the monitor shows, read from the ledger and the workspace's risk limits."""

    risk = ws.effective.risk
    with queries.reading(ws.ledger_path) as conn:
        data = latest_run(conn, run)
        head = queries.head(conn)
    snap = summarize(data, risk, mode_info(ws), head, time.time() if now is None else now)
    snap["workspace"] = str(ws.root.resolve())
    return redact(snap)
