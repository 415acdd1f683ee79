"""The micro-live kill criteria as numbers (pure: no I/O): a stage's thresholds, the signed-off
paper baseline, every stage and kill measurement from a stage's events, and the kill criteria
broken now. Trades are the `trade` events: one per reducing order, all its fills together
(`livegate.core.portfolio`), as in the paper run they are compared with. Used by go-live while a
stage runs (`livegate.phases.microlive`) and by the report's paper-and-live comparison."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from livegate.core.errors import UsageError


@dataclass(frozen=True)
class StageSpec:
    """A stage's thresholds: trade cap (quote), minimum hours and minimum successful trades."""

    id: str
    cap: float
    min_hours: float
    min_trades: int


def stage_spec(effective: Any, stage: str) -> StageSpec:
    spec = next(s for s in effective.specs if s.id == "micro-live")
    found = next((st for st in spec.stages if st.id == stage), None)
    if found is None:
        raise UsageError(f"no micro-live stage {stage!r}; stages: {', '.join(st.id for st in spec.stages)}")
    values = {c.id: c.threshold for c in found.criteria}
    return StageSpec(stage, float(values["max_trade_value"]), float(values["min_duration_hours"]), int(values["min_successful_trades"]))


@dataclass(frozen=True)
class Baseline:
    """The signed-off paper result: its win rate and, when its trades are in the ledger, the
    mean return per trade as a share of the trade's value."""

    win_rate_pct: float | None
    mean_trade_return: float | None
    source: str


def trade_return(trade: dict[str, Any]) -> float | None:
    value = float(trade.get("amount") or 0) * float(trade.get("entry_price") or 0)
    return float(trade["net"]) / value if value > 0 else None


def baseline_from(paper_result: dict[str, Any], paper_trades: list[dict[str, Any]]) -> Baseline:
    """The paper win rate (its metrics, else its `win_rate_pct` criterion's measurement) and the
    mean return per trade of its trades."""
    metrics = (paper_result.get("summary") or {}).get("metrics") or {}
    win_rate = metrics.get("win_rate_pct")
    if win_rate is None:
        win_rate = next((c.get("measured") for c in paper_result.get("checks", []) if c.get("criterion") == "win_rate_pct"), None)
    returns = [r for r in (trade_return(t) for t in paper_trades) if r is not None]
    mean = sum(returns) / len(returns) if returns else None
    run = (paper_result.get("summary") or {}).get("run")
    return Baseline(win_rate, mean, f"paper result (run {run})" if run else "paper result (no trades in the ledger)")


def order_value(sending: dict[str, Any]) -> float:
    """An order's value in the quote currency at the price it was sent at (limit price, or the
    quote taken just before a market order)."""
    return float(sending["amount"]) * float(sending.get("price") or sending.get("reference") or 0.0)


def measure(events: list[tuple[str, dict[str, Any]]], spec: StageSpec, started_ms: int, now_ms: int, baseline: Baseline,
            limits: Any, max_trade_amount: float | None) -> dict[str, Any]:
    """Every stage and kill measurement from the stage's events ((kind, payload), ledger order).
    `min_successful_trades` is the closed trades (the trade unit), not orders or fills; `dust`
    the holdings set aside as too small to sell (the latest `dust` event per symbol)."""
    sending = [p for k, p in events if k == "order_sending"]
    fills = [p for k, p in events if k == "venue_fill"]
    trades = [p for k, p in events if k == "trade"]
    dust = {p["symbol"]: p for k, p in events if k == "dust"}
    values = [order_value(p) for p in sending]
    buys_over = [round(order_value(p), 2) for p in sending if p["side"] == "buy"
                 and order_value(p) > min(spec.cap, max_trade_amount or spec.cap) + 1e-6]
    filled_orders = {f["order_id"] for f in fills}
    nets = [float(t["net"]) for t in trades]
    wins = sum(1 for n in nets if n > 0)
    returns = [r for r in (trade_return(t) for t in trades) if r is not None]
    live_mean = sum(returns) / len(returns) if returns else None
    unexpected = sum(max(0.0, -n - limits.max_single_trade_loss) for n in nets)
    loss = -sum(nets)
    unexpected += max(0.0, loss - limits.max_daily_loss) if loss > 0 else 0.0
    win_rate = 100.0 * wins / len(nets) if nets else None
    worse = None
    if live_mean is not None and baseline.mean_trade_return is not None and baseline.mean_trade_return != 0:
        worse = max(0.0, 100.0 * (baseline.mean_trade_return - live_mean) / abs(baseline.mean_trade_return))
    gap = abs(win_rate - baseline.win_rate_pct) if win_rate is not None and baseline.win_rate_pct is not None else None
    return {
        "max_trade_value": max(values) if values else 0.0,
        "min_duration_hours": max(0.0, (now_ms - started_ms) / 3_600_000),
        "min_successful_trades": len(nets),
        "orders": len(sending), "orders_filled": len(filled_orders), "fills": len(fills), "closed_trades": len(nets),
        "net_pnl": sum(nets),
        "live_vs_paper_worse_pct": worse, "live_mean_trade_return": live_mean,
        "unexpected_loss_usd": unexpected,
        "limits_enforced": not buys_over, "orders_over_cap": buys_over,
        "win_rate_pct": win_rate, "win_rate_gap_points": gap,
        "baseline": {"win_rate_pct": baseline.win_rate_pct, "mean_trade_return": baseline.mean_trade_return,
                     "source": baseline.source},
        "dust": [{"symbol": s, "amount": p["amount"], "value": p["value"], "at": p["at"]} for s, p in dust.items()],
    }


def kill_breaches(m: dict[str, Any], thresholds: dict[str, float], min_trades: int) -> list[str]:
    """Kill criteria broken now (checked continuously): unexpected loss and unenforced limits at
    once; the comparisons with paper once the stage has its minimum of closed trades."""
    out = []
    if m["unexpected_loss_usd"] > thresholds["unexpected_loss_usd"]:
        out.append(f"unexpected loss {m['unexpected_loss_usd']:,.2f} > {thresholds['unexpected_loss_usd']:g}")
    if not m["limits_enforced"]:
        out.append(f"orders above the cap were sent: {m['orders_over_cap']}")
    if m["closed_trades"] >= min_trades:
        if m["live_vs_paper_worse_pct"] is not None and m["live_vs_paper_worse_pct"] > thresholds["live_vs_paper_worse_pct"]:
            out.append(f"live is {m['live_vs_paper_worse_pct']:.0f} % worse than paper per trade")
        if m["win_rate_gap_points"] is not None and m["win_rate_gap_points"] > thresholds["win_rate_gap_points"]:
            out.append(f"win rate {m['win_rate_pct']:.0f} % is {m['win_rate_gap_points']:.0f} points from paper's")
    return out
