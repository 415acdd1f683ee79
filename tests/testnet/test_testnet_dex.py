"""`livegate testnet` with the chain on: a real swap through Uniswap V2 on the local node."""

from __future__ import annotations

from tests.conftest import by_id


def test_cex_and_dex_together_pass(testnet, full_ws):
    code, report, _ = testnet(ws=full_ws)
    checks = by_id(report)
    assert code == 0, [c for c in report["checks"] if c["verdict"] not in ("pass", "skip")]
    assert all(c["verdict"] == "pass" for c in report["checks"])
    dex = report["dex"]
    assert dex["tx_hash"].startswith("0x") and dex["confirmations"] >= 1
    assert dex["amount_out"] >= dex["min_out"] and 0.5 <= checks["dex_gas_used_ratio"]["measured"] <= 1.0
