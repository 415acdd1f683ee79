"""Seed 002's green / yellow / red flags, measured on a monitor snapshot.

Green: continue. Yellow: monitor closely. Red: stop (seed 002 "Key Monitoring Indicators").
A rule without enough data is `n/a` and does not count; the overall flag is the worst of the
others. Thresholds come from risk_limits.yaml's `flags` (their defaults are the seed's), capped
by the workspace's own limits (a drawdown or daily loss is red before the guardian or a breaker
would act)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from livegate.core.formats import money, pct

GREEN, YELLOW, RED, NA = "green", "yellow", "red", "n/a"
LEVELS = {GREEN: 0, YELLOW: 1, RED: 2}
MIN_TRADES_FOR_WIN_RATE = 10


def _flag(rule: str, level: str, value: Any, detail: str) -> dict[str, Any]:
    return {"rule": rule, "level": level, "value": value, "detail": detail}


def _banded(value: float, yellow_at: float, red_at: float) -> str:
    """green below `yellow_at`, yellow below `red_at`, red from `red_at` on."""
    return RED if value >= red_at else YELLOW if value >= yellow_at else GREEN


def win_rate(s: dict, risk: Any) -> dict:
    perf = s["performance"] or {}
    n, rate = perf.get("trades", 0), perf.get("win_rate_pct")
    if n < MIN_TRADES_FOR_WIN_RATE:
        return _flag("win_rate", NA, rate, f"{n} closed trade(s): the win rate is judged from {MIN_TRADES_FOR_WIN_RATE}")
    f = risk.flags
    level = GREEN if rate >= f.win_rate_yellow_pct else YELLOW if rate >= f.win_rate_red_pct else RED
    return _flag("win_rate", level, rate, f"{pct(rate, 1)} of {n} trades won (green ≥ {f.win_rate_yellow_pct:g} %, "
                                          f"yellow {f.win_rate_red_pct:g}–{f.win_rate_yellow_pct:g} %, red < {f.win_rate_red_pct:g} %)")


def drawdown(s: dict, risk: Any) -> dict:
    dd = s["drawdown"]
    if s["run"] is None:
        return _flag("drawdown", NA, None, "no run yet")
    worst = max(dd["max_pct"], dd.get("marked_max_pct") or 0.0)
    red_at = min(risk.flags.drawdown_red_pct, dd["limits"]["guardian_drawdown_pct"], dd["limits"]["breaker_drawdown_pct"])
    yellow_at = min(risk.flags.drawdown_yellow_pct, red_at)
    level = _banded(worst, yellow_at, red_at)
    return _flag("drawdown", level, worst, f"max drawdown {pct(worst)} from peak (yellow ≥ {yellow_at:g} %, "
                                           f"red ≥ {red_at:g} %; the guardian halts buys at {dd['limits']['guardian_drawdown_pct']:g} %, "
                                           f"the breaker everything at {dd['limits']['breaker_drawdown_pct']:g} %)")


def daily_loss(s: dict, risk: Any) -> dict:
    worst = (s["performance"] or {}).get("worst_day_loss_pct")
    if worst is None:
        return _flag("daily_loss", NA, None, "no closed trade yet")
    lim = s["drawdown"]["limits"]
    red_at = min(risk.flags.daily_loss_red_pct, lim["breaker_daily_loss_pct"], lim["guardian_daily_loss_pct"])
    yellow_at = min(risk.flags.daily_loss_yellow_pct, red_at)
    level = _banded(worst, yellow_at, red_at)
    return _flag("daily_loss", level, worst, f"worst UTC day lost {pct(worst)} of its opening equity, realized "
                                             f"(yellow ≥ {yellow_at:g} %, red ≥ {red_at:g} %)")


def losing_streak(s: dict, risk: Any) -> dict:
    perf = s["performance"]
    if not perf or not perf["trades"]:
        return _flag("losing_streak", NA, None, "no closed trade yet")
    halt = s["drawdown"]["limits"]["consecutive_losses_halt"]
    red_at = min(risk.flags.losing_streak_red, halt)
    yellow_at = max(1, min(3, red_at - 1))
    streak = perf["current_losing_streak"]
    return _flag("losing_streak", _banded(streak, yellow_at, red_at), streak,
                 f"{streak} losing trade(s) in a row now (yellow ≥ {yellow_at}, red ≥ {red_at}; the consecutive-loss halt at {halt})")


def pnl(s: dict, risk: Any) -> dict:
    perf = s["performance"]
    if not perf or not perf["trades"]:
        return _flag("pnl", NA, None, "no closed trade yet")
    realized = s["pnl"]["realized"]
    return _flag("pnl", GREEN if realized > 0 else YELLOW, realized,
                 f"realized P&L {money(realized)} (green when positive: profit is accumulating)")


def failures(s: dict, risk: Any) -> dict:
    orders, venue = s["orders"], (s["latency"] or {}).get("venue_calls") or {}
    if not orders or (not orders["placed"] and not venue.get("measured")):
        return _flag("failures", NA, None, "no order placed and no venue call timed yet")
    parts, level = [], GREEN
    if orders["placed"]:
        rate = orders["failure_rate_pct"]
        red_above = risk.flags.failure_red_pct
        level = RED if rate > red_above else YELLOW if orders["failures"] else GREEN
        parts.append(f"{orders['failures']} of {orders['placed']} orders failed ({pct(rate, 1)}; yellow > 0, red > {red_above:g} %)")
    if venue.get("measured"):
        limit = 100.0 * risk.circuit_breakers.api_error_rate
        api_level = RED if venue["error_rate_pct"] >= limit else YELLOW if venue["errors"] else GREEN
        level = max(level, api_level, key=LEVELS.get)
        parts.append(f"{venue['errors']} of the last {venue['count']} venue calls failed (red ≥ {limit:g} %, the breaker's)")
    value = orders["failure_rate_pct"] if orders["placed"] else venue.get("error_rate_pct")
    return _flag("failures", level, value, "; ".join(parts))


def slippage(s: dict, risk: Any) -> dict:
    slip = s["slippage"] or {}
    if not slip.get("fills"):
        return _flag("slippage", NA, None, "no fill yet")
    mean, f = slip["mean_bps"], risk.flags
    level = RED if mean > 100 * f.slippage_red_pct else YELLOW if mean > 100 * f.slippage_yellow_pct else GREEN
    return _flag("slippage", level, mean, f"mean slippage {pct(mean / 100, 3)} over {slip['fills']} fills "
                                          f"(yellow > {f.slippage_yellow_pct:g} %, red > {f.slippage_red_pct:g} %)")


def latency(s: dict, risk: Any) -> dict:
    lat = s["latency"] or {}
    limit = risk.circuit_breakers.api_latency_seconds
    keys = {"order_ack": ("p50_s", "p95_s"), "venue_calls": ("median_s", "max_s")}  # (typical, slow) of each source
    timed = [(lat[name], typical, slow) for name, (typical, slow) in keys.items() if (lat.get(name) or {}).get("measured")]
    if not timed:
        return _flag("latency", NA, None, "not measured: " + ((lat.get("order_ack") or {}).get("reason") or "no run yet"))
    medians = [v[typical] for v, typical, _ in timed]
    slowest = [v[slow] for v, _, slow in timed]
    level = RED if max(medians) >= limit else YELLOW if max(slowest) >= limit else GREEN
    return _flag("latency", level, max(medians), f"median {max(medians):.3f} s, slowest {max(slowest):.3f} s "
                                                 f"(yellow: some ≥ {limit:g} s, red: the median ≥ {limit:g} s)")


def breakers(s: dict, risk: Any) -> dict:
    if s["run"] is None:
        return _flag("breakers", NA, None, "no run yet")
    tripped = [b["breaker"] for b in s["breakers"] if b["state"] == "tripped"]
    trips = sum(b["trips"] for b in s["breakers"])
    if tripped:
        return _flag("breakers", RED, len(tripped), "tripped now: " + ", ".join(tripped))
    return _flag("breakers", YELLOW if trips else GREEN, 0, f"{trips} trip(s) in this run, all re-armed" if trips else "no trip in this run")


def alerts(s: dict, risk: Any) -> dict:
    a = s["alerts"]
    if a is None:
        return _flag("alerts", NA, None, "no run yet")
    level = RED if a["critical"] else YELLOW if a["count"] else GREEN
    return _flag("alerts", level, a["count"], f"{a['count']} alert(s) in this run, {a['critical']} critical")


RULES: tuple[Callable[[dict, Any], dict], ...] = (win_rate, drawdown, daily_loss, losing_streak, pnl, failures, slippage,
                                                  latency, breakers, alerts)


def evaluate_flags(snapshot: dict, risk: Any) -> dict[str, Any]:
    """{overall, rules: [{rule, level, value, detail}]} — overall is the worst known level."""
    rules = [rule(snapshot, risk) for rule in RULES]
    known = [r["level"] for r in rules if r["level"] in LEVELS]
    return {"overall": max(known, key=LEVELS.get) if known else NA, "rules": rules}
