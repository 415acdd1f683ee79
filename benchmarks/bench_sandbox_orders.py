"""Sandbox throughput: signed LIMIT orders per second against the local Binance emulator.

The emulator runs in its own process; `--clients` processes send HMAC-signed
POST /api/v3/order requests (LIMIT BUY far below the market, so every order rests and the book
grows) over keep-alive aiohttp connections, `--concurrency` in flight each. Prints orders/s on
the wall clock (target >= 2,000), the emulator's CPU cost per order (so its capacity on one
core, independent of how busy the machine is) and latency percentiles.

    python benchmarks/bench_sandbox_orders.py [--seconds 5] [--clients 2] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import multiprocessing
import os
import resource
import statistics
import time
from urllib.parse import urlencode

TARGET = 2000
KEY, SECRET = "bench-key", "bench-secret"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _serve(out, go, stop) -> None:
    from livegate.adapters.sandbox.exchange import SandboxExchange

    with SandboxExchange(default_keys=False) as sandbox:
        sandbox.add_key(KEY, SECRET, balances={"USDT": 1e15, "BTC": 1e6})
        account = sandbox.venue.engine.accounts[KEY]
        out.put((sandbox.url, sandbox.price("BTC/USDT")))
        go.wait()
        cpu, orders = _cpu(), len(account.orders)
        stop.wait()
        out.put((len(account.orders) - orders, _cpu() - cpu))


def _client(url: str, price: float, seconds: float, concurrency: int, ready, go, out) -> None:
    try:
        import uvloop
    except ImportError:
        uvloop = None
    runner = uvloop.run if uvloop else asyncio.run
    out.put(runner(_orders(url, price, seconds, concurrency, ready, go)))


async def _orders(url: str, price: float, seconds: float, concurrency: int, ready, go) -> tuple[int, int, list[float]]:
    import aiohttp

    mac = hmac.new(SECRET.encode(), digestmod=hashlib.sha256)
    prefix = urlencode({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                        "quantity": "0.001", "price": f"{price * 0.5:.2f}", "newOrderRespType": "ACK"}) + "&timestamp="
    headers = {"X-MBX-APIKEY": KEY, "Content-Type": "application/x-www-form-urlencoded"}
    order_url = url + "/api/v3/order"
    counts = [0, 0]
    latencies: list[float] = []
    deadline = 0.0

    async def worker(session: aiohttp.ClientSession) -> None:
        while time.perf_counter() < deadline:
            body = (prefix + str(int(time.time() * 1000))).encode()
            signer = mac.copy()
            signer.update(body)
            start = time.perf_counter()
            async with session.post(order_url, data=body + b"&signature=" + signer.hexdigest().encode(),
                                    headers=headers) as response:
                await response.read()
                counts[response.status != 200] += 1
            latencies.append(time.perf_counter() - start)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        deadline = time.perf_counter() + 0.3  # warm-up: connections open, code paths hot
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        counts[:], latencies[:] = [0, 0], []
        ready.put(True)
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return counts[0], counts[1], latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight per client")
    args = parser.parse_args()

    ctx = multiprocessing.get_context("spawn")
    server_out, ready, client_out = ctx.Queue(), ctx.Queue(), ctx.Queue()
    go, stop = ctx.Event(), ctx.Event()
    server = ctx.Process(target=_serve, args=(server_out, go, stop), daemon=True)
    server.start()
    clients = []
    try:
        url, price = server_out.get(timeout=60)
        clients = [ctx.Process(target=_client, args=(url, price, args.seconds, args.concurrency, ready, go, client_out),
                               daemon=True) for _ in range(args.clients)]
        for process in clients:
            process.start()
        for _ in clients:
            ready.get(timeout=60)
        go.set()
        results = [client_out.get(timeout=args.seconds + 60) for _ in clients]
        stop.set()
        served, server_cpu = server_out.get(timeout=30)
    finally:
        stop.set()
        for process in (*clients, server):
            process.join(timeout=10)
    ok = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    latencies = [x for r in results for x in r[2]]
    rate = ok / args.seconds
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    print(f"signed LIMIT orders: {ok:,} accepted, {failed:,} refused in {args.seconds:g} s "
          f"({args.clients} client process(es) x {args.concurrency} in flight; load average {os.getloadavg()[0]:.2f})")
    print(f"throughput: {rate:,.0f} orders/s on the wall clock (target >= {TARGET:,}) -> "
          f"{'OK' if rate >= TARGET else 'BELOW TARGET'}")
    print(f"emulator: {server_cpu / max(served, 1) * 1e6:.0f} us CPU per order = {served / max(server_cpu, 1e-9):,.0f} "
          f"orders/s per core")
    print(f"latency: p50 {cuts[49] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
