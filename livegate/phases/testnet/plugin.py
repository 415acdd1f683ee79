"""Phase 3 — testnet (`phases/testnet.yaml`, seed 000 §3, seed 002 "Testnet Pass").

The checks read what `livegate.phases.testnet.runner` measured (extras `cex`, `dex`, `approvals`): a
side that is turned off is skipped with the reason, a side that failed is an error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from livegate.core.results import Verdict
from livegate.phases import Measurement, PhaseContext


def _side(name: str, flag: str, off: str, measure: Callable[[dict], Measurement]):
    def check(ctx: PhaseContext) -> Measurement:
        if not ctx.extras.get(flag, True):
            return Measurement(None, message=off, verdict=Verdict.SKIP)
        data: Any = ctx.extras.get(name)
        if data is None:
            return Measurement(None, message=f"the {name} part did not run", verdict=Verdict.ERROR)
        if "error" in data:
            return Measurement(None, message=data["error"], verdict=Verdict.ERROR)
        return measure(data)

    return check


CEX_OFF = "testnet.cex is false: no exchange orders in this protocol"
DEX_OFF = "no test swap: testnet.dex is false (or chain.enabled is false)"


def _cex(measure):
    return _side("cex", "cex_enabled", CEX_OFF, measure)


def _dex(measure):
    def guarded(data: dict) -> Measurement:
        if not data.get("executed"):
            return Measurement(None, evidence=data, message=f"the swap was not executed ({data.get('reason')})", verdict=Verdict.FAIL)
        return measure(data)

    return _side("dex", "dex_enabled", DEX_OFF, guarded)


def _steps(data: dict) -> list:
    return [{k: s[k] for k in ("name", "status", "amount", "filled", "note") if s.get(k) not in (None, "")} | (
        {"blocked": s["blocks"]} if s["blocks"] else {}) for s in data["steps"]]


check_cex_fill_rate_pct = _cex(lambda d: Measurement(d["fill_rate_pct"], evidence={"steps": _steps(d), "lookups": d["lookups"]},
                                                     message=f"{d['filled']} of {d['orders_that_should_fill']} orders filled; {d['partial_fill'] or ''}"))
check_cex_slippage_pct = _cex(lambda d: Measurement(d["worst_slippage_pct"], message="" if d["worst_slippage_pct"] is not None else "no fills")
                              if d["worst_slippage_pct"] is not None else Measurement(None, message="no fills to measure", verdict=Verdict.FAIL))
check_cex_balances_reconciled = _cex(lambda d: Measurement(
    d["reconciliation"]["ok"], evidence=d["reconciliation"],
    message="" if d["reconciliation"]["ok"] else "venue balances differ from the ledger: trading halted (EMERGENCY_STOP)"))
check_dex_tx_confirmed = _dex(lambda d: Measurement(
    bool(d.get("tx_hash")) and d.get("confirmations", 0) >= d["required_confirmations"],
    evidence={k: d.get(k) for k in ("tx_hash", "block", "confirmations", "required_confirmations")}))
check_dex_gas_used_ratio = _dex(lambda d: Measurement(d["gas_ratio"], evidence={"gas_used": d["gas_used"], "gas_estimate": d["gas_estimate"]}))
check_dex_slippage_pct = _dex(lambda d: Measurement(d["slippage_pct"], evidence={k: d.get(k) for k in ("quoted_out", "min_out", "amount_out")}))


BOT_OFF = "bot: builtin — no bot of your own trades through the gateway"


def _bot(measure: Callable[[dict], Measurement]):
    def check(ctx: PhaseContext) -> Measurement:
        if not ctx.extras.get("bot_external"):
            return Measurement(None, message=BOT_OFF, verdict=Verdict.SKIP)
        cex: Any = ctx.extras.get("cex") or {}
        if "error" in cex:
            return Measurement(None, message=cex["error"], verdict=Verdict.ERROR)
        data = cex.get("bot")
        if not data:
            return Measurement(None, message="your bot's session did not run", verdict=Verdict.ERROR)
        if not data["market_orders"]:
            return Measurement(None, evidence=data, message="your bot sent no MARKET order through the gateway", verdict=Verdict.FAIL)
        return measure(data)

    return check


check_bot_fill_rate_pct = _bot(lambda d: Measurement(d["fill_rate_pct"], evidence=d,
                                                     message=f"{d['market_filled']} of {d['market_orders']} MARKET orders filled"))
check_bot_slippage_pct = _bot(lambda d: Measurement(d["worst_slippage_pct"], evidence={"fills": d["fills"]})
                              if d["worst_slippage_pct"] is not None else Measurement(None, message="no fills to measure", verdict=Verdict.FAIL))


def check_approvals_behave(ctx: PhaseContext) -> Measurement:
    data = ctx.extras.get("approvals")
    if data is None or "error" in data:
        return Measurement(None, message=(data or {}).get("error", "the approval drill did not run"), verdict=Verdict.ERROR)
    wrong = [f"{name}: expected {c['expected']}, got {c['got']}" for name, c in data["cases"].items() if c["got"] != c["expected"].split(" (")[0]]
    return Measurement(data["ok"], evidence=data["cases"], message="; ".join(wrong))


class TestnetPhase:
    id = "testnet"
    checks = {
        "cex_fill_rate_pct": check_cex_fill_rate_pct,
        "cex_slippage_pct": check_cex_slippage_pct,
        "cex_balances_reconciled": check_cex_balances_reconciled,
        "bot_fill_rate_pct": check_bot_fill_rate_pct,
        "bot_slippage_pct": check_bot_slippage_pct,
        "dex_tx_confirmed": check_dex_tx_confirmed,
        "dex_gas_used_ratio": check_dex_gas_used_ratio,
        "dex_slippage_pct": check_dex_slippage_pct,
        "approvals_behave": check_approvals_behave,
    }


PHASE = TestnetPhase()
