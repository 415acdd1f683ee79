"""The synthetic stress test (seed 000 §2.5): 200+ seeded scenarios — flash crash, gap,
volatility spike, liquidity drought, trending and ranging markets — each run through the
workspace's strategy, risk guardian and breakers on the paper engine. Pass requires no
scenario's drawdown from peak equity (marked to market every bar) above the threshold."""

from __future__ import annotations

from typing import Any, Callable

SCENARIOS_PER_KIND = 29  # 7 kinds x 29 = 203 scenarios
SCENARIO_BARS = 1440


def run_stress(effective, strategy_factory: Callable[[], Any], per_kind: int = SCENARIOS_PER_KIND, bars: int = SCENARIO_BARS,
               progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    from livegate.core.gateway import NullJournal
    from livegate.marketdata.synthetic import STRESS_KINDS, stress_scenario
    from livegate.paper.feeds import merged_bars
    from livegate.paper.run import build_engine, rules_for

    symbol = effective.config.exchange.symbols[0]
    total = per_kind * len(STRESS_KINDS)
    results = []
    for k, kind in enumerate(STRESS_KINDS):
        for seed in range(per_kind):
            candles = stress_scenario(kind, seed, bars=bars, symbol=symbol)
            rules = rules_for([symbol], {symbol: float(candles.open[0])}, effective.config.exchange)
            engine = build_engine(effective, strategy_factory(), rules, NullJournal(), f"stress-{kind}-{seed}")
            _, feed = merged_bars([candles])
            on_bar = engine.on_bar
            for bar in feed:
                on_bar(bar)
            st = engine.state
            results.append({"kind": kind, "seed": seed, "max_drawdown_pct": 100 * st.max_drawdown,
                            "return_pct": 100 * (st.equity / effective.config.capital.starting - 1),
                            "trades": len(engine.gateway.trades), "breaker_trips": sorted(engine.breakers.tripped)})
            if progress:
                progress(len(results), total)
    worst = max(results, key=lambda r: r["max_drawdown_pct"])
    by_kind = {}
    for kind in STRESS_KINDS:
        rows = [r for r in results if r["kind"] == kind]
        by_kind[kind] = {"scenarios": len(rows), "max_drawdown_pct": max(r["max_drawdown_pct"] for r in rows),
                         "mean_return_pct": sum(r["return_pct"] for r in rows) / len(rows), "trades": sum(r["trades"] for r in rows)}
    return {"scenarios": len(results), "bars_each": bars, "max_drawdown_pct": worst["max_drawdown_pct"],
            "worst": {k: worst[k] for k in ("kind", "seed", "max_drawdown_pct", "return_pct")}, "by_kind": by_kind, "results": results}
