"""What livegate's bot gateway costs an order: the same signed MARKET orders sent straight to the
local sandbox exchange and sent through the gateway (HMAC check, the order gateway — halt,
breakers, risk guardian, caps — the ledger journal written before the order leaves, the
ccxt executor, the venue's fills recorded), one at a time for the added latency (p50/p99,
target p99 <= 2 ms added) and with several bots at once for the throughput (target >= 500
orders/s on this 2-core machine). Printed side by side with the targets, in one run.

Three processes, as in use: the venue (the local sandbox exchange), livegate with its gateway
(this process) and the bots (aiohttp clients signing their own requests). The venue is asked
without a rate limit, so that the figures are the gateway's own. The operator key is loaded,
as when a trader runs a stage: every ledger write signs the head and moves the anchor.

    python benchmarks/bench_bot_gateway.py [--orders 300] [--bots 8] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

TARGET_P99_ADDED_MS, TARGET_RATE = 2.0, 500.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _signed(secret: str, params: dict) -> str:
    query = urlencode({**params, "timestamp": int(time.time() * 1000)})
    return query + "&signature=" + hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()


async def _one_by_one(url: str, key: str, secret: str, qty: str, n: int) -> list[float]:
    import aiohttp

    out = []
    async with aiohttp.ClientSession(headers={"X-MBX-APIKEY": key}) as session:
        for i in range(n):
            side = "BUY" if i % 2 == 0 else "SELL"
            t0 = time.perf_counter()
            async with session.post(f"{url}/api/v3/order?{_signed(secret, {'symbol': 'BTCUSDT', 'side': side, 'type': 'MARKET', 'quantity': qty})}") as r:
                body = await r.json()
            out.append(time.perf_counter() - t0)
            if r.status != 200:
                raise SystemExit(f"order {i} refused: {body}")
    return out


async def _many(url: str, key: str, secret: str, qty: str, bots: int, seconds: float) -> int:
    import aiohttp

    done = 0
    deadline = time.perf_counter() + seconds

    async def bot(b: int) -> None:
        nonlocal done
        async with aiohttp.ClientSession(headers={"X-MBX-APIKEY": key}) as session:
            i = b
            while time.perf_counter() < deadline:
                side = "BUY" if i % 2 == 0 else "SELL"
                async with session.post(f"{url}/api/v3/order?{_signed(secret, {'symbol': 'BTCUSDT', 'side': side, 'type': 'MARKET', 'quantity': qty})}") as r:
                    await r.read()
                    done += r.status == 200
                i += 1

    await asyncio.gather(*(bot(b) for b in range(bots)))
    return done


def _venue() -> None:
    """The venue's process: a sandbox exchange with two funded keys; its facts on stdout, then
    serving until stdin closes."""
    from livegate.adapters.sandbox.exchange import SandboxExchange

    with SandboxExchange(speed=1.0) as sandbox:
        keys = {name: sandbox.add_key(f"bench-{name}", f"bench-{name}-secret", balances={"USDT": 1e9, "BTC": 1e3})
                for name in ("direct", "gated")}
        from livegate.adapters.sandbox.local import describe

        print(json.dumps({"describe": describe(sandbox), "price": sandbox.price("BTC/USDT"),
                          **{name: [k.api_key, k.secret] for name, k in keys.items()}}), flush=True)
        sys.stdin.read()


def _bots(args: argparse.Namespace) -> None:
    """The bots' process: one run of orders against `--url`; the figures on stdout as JSON."""
    if args.mode == "latency":
        out: object = asyncio.run(_one_by_one(args.url, args.key, args.secret, args.qty, args.orders))
    else:
        out = asyncio.run(_many(args.url, args.key, args.secret, args.qty, args.bots, args.seconds)) / args.seconds
    print(json.dumps(out))


def _run_bots(mode: str, url: str, key: list[str], qty: str, args: argparse.Namespace) -> object:
    cmd = [sys.executable, __file__, "--role", "bots", "--mode", mode, "--url", url, "--key", key[0], "--secret", key[1],
           "--qty", qty, "--orders", str(args.orders), "--bots", str(args.bots), "--seconds", str(args.seconds)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the bots failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--bots", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    for hidden in ("--role", "--mode", "--url", "--key", "--secret", "--qty"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "venue":
        return _venue()
    if args.role == "bots":
        return _bots(args)

    from livegate.adapters.exchange.client import workspace_exchange
    from livegate.adapters.gateway.server import GatewayServer, GatewayThread
    from livegate.adapters.sandbox.configure import set_env_values, write_workspace
    from livegate.config.environment import load_env
    from livegate.config.workspace import Workspace, scaffold
    from livegate.ledger.journal import WriteThroughJournal
    from livegate.ledger.store import Ledger
    from livegate.services.bot_gateway import BotDesk, issue_bot_key, symbol_ids
    from livegate.services.trading import TESTNET, venue_gateway

    venue_proc = subprocess.Popen([sys.executable, __file__, "--role", "venue"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        facts = json.loads(venue_proc.stdout.readline())
        with tempfile.TemporaryDirectory() as tmp:
            import os

            from livegate.ledger.keys import init_key

            os.environ["LIVEGATE_KEY_DIR"] = str(Path(tmp) / "keys")  # as a trader runs it: the operator key loaded
            key = init_key(Path(tmp) / "keys")  # (every append's head signed, the ledger anchored beside the key)
            root = Path(tmp) / "ws"
            scaffold(root, bot="external")
            ws = Workspace(root)
            write_workspace(ws, facts["describe"])
            direct, gated = facts["direct"], facts["gated"]
            env_text = ws.env_path.read_text()
            ws.env_path.write_text(set_env_values(env_text, {"EXCHANGE_API_KEY": gated[0], "EXCHANGE_API_SECRET": gated[1],
                                                             "EXECUTION_APPROVAL_MODE": "auto", "MAX_TRADE_AMOUNT": "1000"}))
            import yaml

            risk = yaml.safe_load(ws.risk_path.read_text())  # every round trip pays two fees: no loss breaker in a benchmark
            risk["live_trading"].update({"consecutive_losses_halt": 10**9, "max_daily_loss": 1e9, "max_weekly_loss": 1e9})
            risk["circuit_breakers"].update({"min_win_rate": 0.0, "daily_loss_pct": 1.0, "weekly_loss_pct": 1.0})
            ws.risk_path.write_text(yaml.safe_dump(risk, sort_keys=False))
            qty = f"{12.0 / facts['price']:.5f}"  # about 12 USDT: above the minimum notional, well inside every cap
            venue_url = facts["describe"]["exchange_url"]
            bot = issue_bot_key(ws.state_dir)
            effective, env = ws.effective, load_env(root)
            client = workspace_exchange(effective.config.exchange, env, rate_limit_ms=0)
            with Ledger.open(ws.ledger_path, key=key) as ledger:
                ledger.checkpoint_in_background()  # as serve_bot does
                venue = venue_gateway(TESTNET, ws, effective, env, WriteThroughJournal(ledger, "bench"), "bench", "BTC/USDT",
                                      None, client=client)
                desk = BotDesk(venue.gateway, client, symbol_ids(client.markets, ["BTC/USDT"]), time.time, threading.RLock())
                server = GatewayThread(GatewayServer(desk, {bot.api_key: bot.api_key_object(loopback_only=True)}))
                url = server.start()
                gate = [bot.api_key, bot.secret]
                try:
                    straight = _run_bots("latency", venue_url, direct, qty, args)
                    through = _run_bots("latency", url, gate, qty, args)
                    rate_direct = _run_bots("rate", venue_url, direct, qty, args)
                    rate_gated = _run_bots("rate", url, gate, qty, args)
                finally:
                    server.stop()
    finally:
        venue_proc.stdin.close()
        venue_proc.wait(timeout=30)
    ms = lambda values, q: 1000 * _percentile(values, q)  # noqa: E731
    print(f"{args.orders} MARKET orders one at a time; then {args.bots} bots for {args.seconds:g} s")
    print(f"{'':28}{'straight to the venue':>24}{'through the gateway':>22}{'added':>10}{'target':>12}")
    print(f"{'latency p50 (ms)':28}{ms(straight, 0.5):>24.2f}{ms(through, 0.5):>22.2f}{ms(through, 0.5) - ms(straight, 0.5):>10.2f}{'':>12}")
    print(f"{'latency p99 (ms)':28}{ms(straight, 0.99):>24.2f}{ms(through, 0.99):>22.2f}{ms(through, 0.99) - ms(straight, 0.99):>10.2f}"
          f"{'<= ' + format(TARGET_P99_ADDED_MS, 'g'):>12}")
    print(f"{'throughput (orders/s)':28}{rate_direct:>24.0f}{rate_gated:>22.0f}{'':>10}{'>= ' + format(TARGET_RATE, 'g'):>12}")
    print(f"mean {statistics.mean(through) * 1000:.2f} ms per gated order")


if __name__ == "__main__":
    main()
