"""The approval drill of `livegate testnet` (seed 000 §3.3): a pending approval that is approved
lets its order through, a rejected one is blocked, one left undecided expires, is blocked,
is cleaned up (recorded expired) and can no longer be approved. Drill orders never reach the
venue: the gate's answer is what is measured."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from livegate.core.errors import UsageError
from livegate.core.orders import BUY, LIMIT, Order
from livegate.services import approvals

DRILL_EXPIRY_S = 1.0


def run_drill(ws: Any, symbol: str, price: float, by: str, sleep: Callable[[float], None] = time.sleep) -> dict:
    def order() -> Order:
        return Order("", symbol, BUY, LIMIT, 0.001, price, int(time.time() * 1000), origin="approval-drill")

    cases: dict[str, dict] = {}
    approved = approvals.approval_gate(ws, mode="approve_each", expiry_s=60, ask=lambda a: True,
                                       context="testnet approval drill (approve)")(order())
    cases["approve"] = {"expected": "let through", "got": "let through" if approved is None else approved.message}
    rejected = approvals.approval_gate(ws, mode="approve_each", expiry_s=60, ask=lambda a: False,
                                       context="testnet approval drill (reject)")(order())
    cases["reject"] = {"expected": "blocked", "got": "blocked" if rejected is not None else "let through",
                       "message": rejected.message if rejected else ""}
    expired = approvals.approval_gate(ws, mode="approve_each", expiry_s=DRILL_EXPIRY_S, ask=None, sleep=sleep, poll_s=0.2,
                                      context="testnet approval drill (expiry)")(order())
    cases["expire"] = {"expected": "blocked", "got": "blocked" if expired is not None else "let through",
                       "message": expired.message if expired else ""}
    last = approvals.list_all(ws, limit=1)[0]
    try:
        approvals.decide(ws, last.id, "approved", by)
        late = "approved (wrong)"
    except UsageError as exc:
        late = f"refused: {exc}"
    cases["approve after expiry"] = {"expected": "refused", "got": late.split(":")[0], "message": late,
                                     "state": last.state(time.time())}
    ok = (cases["approve"]["got"] == "let through" and cases["reject"]["got"] == "blocked"
          and cases["expire"]["got"] == "blocked" and late.startswith("refused") and last.state(time.time()) == "expired")
    return {"ok": ok, "cases": cases}
