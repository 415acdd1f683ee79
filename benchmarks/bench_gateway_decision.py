"""Issue "Phase 4" speed targets:

1. One order-gateway decision — halt read from the ledger, circuit breakers, sizing and
   exchange filters, risk guardian, stage cap and MAX_TRADE_AMOUNT — p99 < 200 µs over
   100,000 intents (the executor accepts without doing I/O, so the figure is the gateway's).
2. A halt written by another process → a running go-live loop stopped: < 1 s (the loop on the
   local exchange at 600x, `livegate halt` run as a separate process).

    python benchmarks/bench_gateway_decision.py"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

INTENTS = 100_000
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def decisions(root: Path) -> list[int]:
    import os

    from livegate.config.workspace import Workspace
    from livegate.core.fills import default_rules
    from livegate.core.gateway import NullJournal
    from livegate.core.guardian import RiskState
    from livegate.core.orders import BUY, SELL, OrderIntent
    from livegate.core.portfolio import Portfolio
    from livegate.services import trading
    from tests.benchmarks_helpers import AcceptAll

    os.environ["MAX_TRADE_AMOUNT"] = "10"
    ws = Workspace(root)
    eff = ws.effective
    limits = eff.risk.live_trading.model_copy(update={"max_trades_per_day": 10**9, "max_trades_per_hour": 10**9,
                                                      "min_seconds_between_trades": 0.0})
    account = Portfolio(cash=10_000.0)
    account.last_price["BTC/USDT"] = 60_000.0
    # The venue gateway as testnet assembles it (halt rule read for every order, MAX_TRADE_AMOUNT,
    # a stage cap), with an executor that accepts at once and approvals that pass.
    gateway = trading.assemble_gateway(trading.TESTNET, risk=eff.risk, executor=AcceptAll(), account=account,
                                       state=RiskState(peak_equity=10_000.0, equity=10_000.0),
                                       rules={"BTC/USDT": default_rules("BTC/USDT", 60_000.0)}, journal=NullJournal(),
                                       id_prefix="b", ws=ws, approve=lambda order: None, stage_cap=10.0, limits=limits)
    intents = [OrderIntent("BTC/USDT", BUY, quote_amount=8.0 + (i % 5)) if i % 3 else OrderIntent("BTC/USDT", SELL, amount=0.0001)
               for i in range(INTENTS)]
    times = []
    now = 1_700_000_000_000
    clock = time.perf_counter_ns
    for i, intent in enumerate(intents):
        t0 = clock()
        gateway.submit(intent, now + i)
        times.append(clock() - t0)
    return times


def halt_to_stop(root: Path) -> tuple[float, float]:
    """Seconds until the live loop stopped: from starting `livegate halt` (another process, its
    Python start-up included), and from that command having returned."""
    from livegate.adapters.sandbox.configure import set_env_values, write_workspace
    from livegate.adapters.sandbox.exchange import SandboxExchange
    from livegate.adapters.sandbox.local import THIN_BOOK, describe
    from livegate.config.workspace import Workspace
    from livegate.ledger.keys import init_key
    from livegate.phases.microlive.runner import LiveOptions, LiveRunner
    from livegate.services import mode_switch
    from tests.protocol_helpers import sign_off

    key = init_key(Path(os.environ["LIVEGATE_KEY_DIR"]))
    with SandboxExchange(speed=600, history_bars=600, seed=9, book=THIN_BOOK) as sandbox:
        pair = sandbox.add_key("bench-live", "bench-live-secret", balances={"USDT": 5_000})
        ws = Workspace(root)
        write_workspace(ws, describe(sandbox))
        env = (root / ".env").read_text()
        (root / ".env").write_text(set_env_values(env, {"EXCHANGE_API_KEY": pair.api_key, "EXCHANGE_API_SECRET": pair.secret,
                                                        "PAPER_MODE": "false", "LIVE_TRADING_ENABLED": "true",
                                                        "TRADING_HALTED": "false", "EXECUTION_APPROVAL_MODE": "auto"}))
        sign_off(root, key, "env", "paper", "testnet")
        mode_switch.set_mode(ws, "LIVE_MINIMAL", "benchmark", by="bench", key=key)
        market_ms = sandbox.venue.clock.market_ms
        options = LiveOptions(ask=lambda a: True, clock=lambda: market_ms() / 1000, market_clock=market_ms,
                              sleep=lambda s: time.sleep(min(s / 600, 0.05)), poll_s=1.0, max_seconds=10**6)
        done = {}
        thread = threading.Thread(target=lambda: done.update(outcome=LiveRunner(ws, "4.1a", key, options).run()), daemon=True)
        thread.start()
        time.sleep(1.0)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "livegate", "-w", str(root), "halt", "--reason", "benchmark"], check=True,
                       capture_output=True)
        returned = time.perf_counter()
        thread.join(timeout=10)
        stopped = time.perf_counter()
        if not (done.get("outcome") and done["outcome"].status == "halted"):
            return float("inf"), float("inf")
        return stopped - started, stopped - returned


def main() -> int:
    from livegate.config.workspace import scaffold

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LIVEGATE_KEY_DIR"] = str(Path(tmp) / "keys")
        root = Path(tmp) / "ws"
        scaffold(root)
        times = decisions(root)
        cuts = statistics.quantiles(times, n=100)
        p99 = cuts[98] / 1000
        print(f"gateway decisions: {INTENTS:,} intents; median {cuts[49] / 1000:.1f} µs, p99 {p99:.1f} µs "
              f"(target < 200 µs) -> {'OK' if p99 < 200 else 'MISSED'}; load average {os.getloadavg()[0]:.2f}")
        live = Path(tmp) / "live"
        scaffold(live)
        whole, after = halt_to_stop(live)
        print(f"halt from another process -> go-live loop stopped: {whole:.2f} s from starting `livegate halt` "
              f"(its start-up included), {after:.2f} s after it returned (target < 1 s) -> {'OK' if whole < 1 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
