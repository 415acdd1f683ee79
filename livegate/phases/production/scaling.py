"""Capital scaling after production (seed 001 §5.1, seed 002 "Capital Increase Rules"): up by at
most +50 % per step, only after the minimum time at the current level with the level's live
results meeting the rules (positive P&L, Sharpe, drawdown, win rate); down at once, always.
Every step is signed with the operator's key and kept in the ledger.

The minimum time at a level is counted on the ledger's clock (`livegate.core.ledger_clock`):
from the event the level began with (production's sign-off, or the latest capital step) to
the ledger's latest time — a wall clock set forward adds nothing, and a wall clock behind the
ledger refuses the step up (exit 3)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from livegate.config.environment import load_env
from livegate.core.errors import GateClosed, UsageError
from livegate.core.ledger_clock import LedgerSpan
from livegate.core.metrics import compute_metrics
from livegate.core.timeparse import iso_to_ms
from livegate.core.trades import TradeLog
from livegate.ledger import queries
from livegate.ledger.store import Ledger
from livegate.services import gate, ledger_clock


@dataclass(frozen=True)
class Level:
    amount: float
    since_ms: int
    event: int | None  # the `capital_scaled` event, None for the level production started at
    start_event: int  # the event its time counts from: that capital step, or production's sign-off


@dataclass(frozen=True)
class Tier:
    """A production level (Micro, Small, Medium, Standard): the capital it starts at and the cap
    on each order and position while trading at it."""

    name: str
    capital_from: float
    position_cap: float


TIERS = (("micro", "Micro"), ("small", "Small"), ("medium", "Medium"), ("standard", "Standard"))


def tiers(effective: Any) -> list[Tier]:
    rules = _rules(effective)
    return [Tier(name, float(rules[f"level_{key}_capital"]), float(rules[f"level_{key}_position_cap"])) for key, name in TIERS]


def tier_for(effective: Any, amount: float) -> Tier:
    """The largest production level the capital `amount` reaches; UsageError below the smallest."""
    reached = [t for t in tiers(effective) if amount >= t.capital_from - 1e-9]
    if not reached:
        smallest = tiers(effective)[0]
        raise UsageError(f"the capital level {amount:,.2f} is below the smallest production level ({smallest.name}, from "
                         f"{smallest.capital_from:,.2f}): production does not trade it")
    return max(reached, key=lambda t: t.capital_from)


def _rules(effective: Any) -> dict[str, float]:
    spec = next(s for s in effective.specs if s.id == "production")
    return {c.id: c.threshold for c in spec.limits}


def production_signoff(ws: Any) -> tuple[int, int]:
    """(when, event id): production's sign-off under the current configuration (the first
    capital level starts then)."""

    snap = gate.snapshot(ws)
    record = snap.state.records.get("production")
    if record is None or record.signed_at is None:
        raise GateClosed("capital scaling", ["production is not signed off: run `livegate production` and sign it off"])
    if record.signoff_config != snap.effective.fingerprint:
        raise GateClosed("capital scaling", ["the configuration changed since production was signed off: run it again"])
    with queries.reading(ws.ledger_path) as conn:
        event = queries.latest_with(conn, "signoff", {"step": "production", "result_event": record.result_event})
    if event is None:
        raise GateClosed("capital scaling", ["production's sign-off is not in the ledger: run `livegate ledger verify`"])
    return iso_to_ms(record.signed_at), event["id"]


def current_level(ws: Any, effective: Any) -> Level:
    with queries.reading(ws.ledger_path) as conn:
        last = queries.latest_event(conn, ("capital_scaled",))
    signed_ms, signed_event = production_signoff(ws)  # scaling needs production signed off, under this configuration
    if last is not None:
        return Level(float(last["payload"]["to"]), iso_to_ms(last["ts"]), last["id"], last["id"])
    return Level(float(effective.config.capital.starting), signed_ms, None, signed_event)


def level_results(ws: Any, level: Level, now_ms: int) -> dict[str, Any]:
    """SPEC §10 metrics of the live trades closed since the level began (capital = the level)."""

    with queries.reading(ws.ledger_path) as conn:
        trades = queries.live_trades_closed_between(conn, level.since_ms, now_ms)
    log = TradeLog.from_arrays([t["closed_ms"] for t in trades], [t["gross"] for t in trades], [t["fee"] for t in trades],
                               level.amount, symbol=[t["symbol"] for t in trades])
    m = compute_metrics(log)
    return {"trades": m["total_trades"], "net_pnl": m["net_pnl"], "sharpe": m["sharpe"],
            "max_drawdown_pct": m["max_drawdown_pct"], "win_rate_pct": m["win_rate_pct"]}


def scale_up_refusals(level: Level, to: float, results: dict[str, Any], rules: dict[str, float], span: LedgerSpan) -> list[str]:
    """Every reason a step up to `to` is refused (empty: allowed). `span`: the level's time on
    the ledger's clock."""
    out = []
    most = level.amount * (1 + rules["scale_max_step_pct"] / 100)
    if to > most + 1e-9:
        out.append(f"{to:,.2f} is more than +{rules['scale_max_step_pct']:g} % of the current {level.amount:,.2f} (at most {most:,.2f})")
    if span.days < rules["scale_min_days_per_level"]:
        out.append(f"{span.days:.1f} days at the current level on the ledger's clock ({span.describe()}), "
                   f"the minimum is {rules['scale_min_days_per_level']:g}")
    if not results["trades"]:
        out.append("no live trades closed at this level")
        return out
    if (results["net_pnl"] or 0) <= 0:
        out.append(f"the level's P&L is {results['net_pnl']:+,.2f}: not profitable")
    for key, op, rule in (("sharpe", ">", "scale_min_sharpe"), ("win_rate_pct", ">=", "scale_min_win_rate_pct"),
                          ("max_drawdown_pct", "<", "scale_max_drawdown_pct")):
        value, limit = results[key], rules[rule]
        ok = value is not None and (value > limit if op == ">" else value >= limit if op == ">=" else value < limit)
        if not ok:
            out.append(f"{key} {'undefined' if value is None else f'{value:.2f}'} does not meet {op} {limit:g}")
    return out


def scale(ws: Any, *, to: float | None, down: bool, by: str, key: Any, reason: str = "",
          now: Callable[[], float] = lambda: time.time()) -> dict:
    """Record a new capital level (signed). Up: every rule must hold, the days at the level
    counted on the ledger's clock (ClockWentBackwards, a GateClosed, when `now` reads earlier
    than the ledger). Down: at once."""

    effective = ws.effective
    level = current_level(ws, effective)
    now_ms = int(now() * 1000)
    rules = _rules(effective)
    if down:
        target = to if to is not None else level.amount / 2
        if not 0 < target < level.amount:
            raise UsageError(f"--down needs a level below the current {level.amount:,.2f} (got {target:,.2f})")
        results, refusals = None, []
    else:
        if to is None or not to > level.amount:
            raise UsageError(f"--to must be above the current level {level.amount:,.2f} (use --down to reduce)")
        load_env(ws.root).require_valid()  # more capital under a .env value livegate cannot use: exit 2 (down: never held up)
        target = to
        span = ledger_clock.span_since(ws.ledger_path, level.start_event, "capital scaling", now)
        results = level_results(ws, level, now_ms)
        refusals = scale_up_refusals(level, target, results, rules, span)
        if refusals:
            raise UsageError("capital stays at {:,.2f}: {}".format(level.amount, "; ".join(refusals)))
    payload = {"from": level.amount, "to": target, "direction": "down" if down else "up", "reason": reason,
               "level_since_ms": level.since_ms, "results": results, "rules": rules}
    if not down:
        payload["ledger_days_at_level"] = round(span.days, 4)
    with Ledger.open(ws.ledger_path, key=key) as ledger:
        event = ledger.append("capital_scaled", payload, actor=by, sign=True)
    return {"event": event.id, **payload}
