"""Prometheus metrics of the monitor's snapshot (seed 000 §4.4 `/metrics`).

The snapshot is recomputed from the ledger at every refresh, so the metrics are produced by
a custom collector from the latest snapshot (the exporter pattern) rather than counters
incremented here: a counter is the ledger's own count, exact after a restart. They live in a
registry of their own, never the process-global one. Ratios are fractions (0.05 = 5 %), as
Prometheus names them (`_ratio`); times in seconds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from livegate.core.errors import UsageError
from livegate.services.monitoring.flags import LEVELS
from livegate.services.monitoring.runs import ts_seconds

PREFIX = "livegate"
MODES = ("PAPER", "LIVE_MINIMAL", "LIVE_SCALED", "EMERGENCY_STOP")


class SnapshotCollector:
    """Yields the metric families of the latest snapshot given to `update`."""

    def __init__(self) -> None:
        self._snapshot: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def update(self, snapshot: dict[str, Any]) -> None:
        with self._lock:
            self._snapshot = snapshot

    def collect(self) -> Iterator[Any]:
        with self._lock:
            snap = self._snapshot
        if snap is not None:
            yield from families(snap)

    def describe(self) -> list:
        return []  # families depend on the snapshot; the registry need not check names up front


def families(snap: dict[str, Any]) -> Iterator[Any]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, InfoMetricFamily, StateSetMetricFamily

    mode = snap["mode"]
    yield StateSetMetricFamily(f"{PREFIX}_mode", "Trading mode, read from the ledger.", {m: m == mode["mode"] for m in MODES})
    yield _one(GaugeMetricFamily, "halted", "1 while trading is halted (kill switch or EMERGENCY_STOP).", float(mode["halted"]))
    head = snap["ledger"]
    if head.get("last_event_id") is not None:
        yield _one(GaugeMetricFamily, "ledger_last_event_id", "Id of the ledger's latest event.", float(head["last_event_id"]))
        yield _one(GaugeMetricFamily, "ledger_last_event_timestamp_seconds", "When the ledger's latest event was written (epoch seconds).",
                   ts_seconds(head["last_event_at"]))
    flags = GaugeMetricFamily(f"{PREFIX}_flag_level", "Flag per rule: 0 green, 1 yellow, 2 red (rules without data omitted).",
                              labels=["rule"])
    for rule in snap["flags"]["rules"]:
        if rule["level"] in LEVELS:
            flags.add_metric([rule["rule"]], float(LEVELS[rule["level"]]))
    yield flags
    if snap["flags"]["overall"] in LEVELS:
        yield _one(GaugeMetricFamily, "flag_overall", "Worst flag: 0 green, 1 yellow, 2 red.", float(LEVELS[snap["flags"]["overall"]]))
    run = snap["run"]
    if run is None:
        return
    labels = {"run": run["id"]}
    yield InfoMetricFamily(f"{PREFIX}_run", "The run watched.", value={"run": run["id"], "source": run["source"], "kind": str(run["kind"]),
                                                                         "status": run["status"]})
    perf, pnl, dd, orders = snap["performance"], snap["pnl"], snap["drawdown"], snap["orders"]
    yield _one(CounterMetricFamily, "trades", "Closed trades of the run.", perf["trades"], labels)
    yield _one(CounterMetricFamily, "orders", "Orders the gateway accepted and placed in the run.", orders["placed"], labels)
    yield _one(CounterMetricFamily, "orders_blocked", "Orders the gateway blocked (guardian, breakers, halt, approval).",
                   orders["blocked"], labels)
    failures = CounterMetricFamily(f"{PREFIX}_failures", "Orders that failed: refused by the venue, not sent (halt) or not placed.",
                                   labels=["run", "kind"])
    for kind in ("rejected", "not_sent", "not_placed"):
        failures.add_metric([run["id"], kind], float(orders[kind]))
    yield failures
    yield _one(GaugeMetricFamily, "realized_pnl", "Realized P&L of the run (sum of net trade P&L), quote currency.", pnl["realized"], labels)
    if pnl["unrealized"] is not None:
        yield _one(GaugeMetricFamily, "unrealized_pnl",
                   "Unrealized P&L of what is held (open positions and dust) at the latest checkpoint, quote currency.",
                   pnl["unrealized"], labels)
    yield _one(GaugeMetricFamily, "equity", "Equity of the run, quote currency.", pnl["equity"], labels)
    yield _one(GaugeMetricFamily, "open_positions", "Open positions at the latest checkpoint (dust is not one).", float(len(snap["positions"])),
               labels)
    yield _one(GaugeMetricFamily, "dust_positions", "Holdings too small to sell (below the market's minimum order) at the latest checkpoint.",
               float(len(snap["dust"]["positions"])), labels)
    yield _one(GaugeMetricFamily, "dust_value", "Value of the dust at the latest checkpoint's prices, quote currency.",
               snap["dust"]["value"], labels)
    if perf["win_rate_pct"] is not None:
        yield _one(GaugeMetricFamily, "win_rate_ratio", "Share of closed trades with net P&L > 0.", perf["win_rate_pct"] / 100, labels)
    drawdown = GaugeMetricFamily(f"{PREFIX}_drawdown_ratio", "Drawdown from peak equity: current and max, trade level or marked to market.",
                                 labels=["run", "kind"])
    for kind, key in (("current", "current_pct"), ("max", "max_pct"), ("marked_current", "marked_current_pct"), ("marked_max", "marked_max_pct")):
        if dd.get(key) is not None:
            drawdown.add_metric([run["id"], kind], dd[key] / 100)
    yield drawdown
    limit = GaugeMetricFamily(f"{PREFIX}_drawdown_limit_ratio", "Drawdown limits: the guardian halts buys, the breaker everything.",
                              labels=["limit"])
    limit.add_metric(["guardian"], dd["limits"]["guardian_drawdown_pct"] / 100)
    limit.add_metric(["breaker"], dd["limits"]["breaker_drawdown_pct"] / 100)
    yield limit
    tripped = GaugeMetricFamily(f"{PREFIX}_breaker_tripped", "1 while a circuit breaker is tripped.", labels=["breaker"])
    trips = CounterMetricFamily(f"{PREFIX}_breaker_trips", "Circuit breaker trips in the run.", labels=["run", "breaker"])
    for b in snap["breakers"]:
        tripped.add_metric([b["breaker"]], float(b["state"] == "tripped"))
        trips.add_metric([run["id"], b["breaker"]], float(b["trips"]))
    yield tripped
    yield trips
    yield from _latency(snap["latency"], run["id"], HistogramMetricFamily, GaugeMetricFamily)


def _latency(lat: dict[str, Any], run: str, histogram_family, gauge_family) -> Iterator[Any]:
    ack, venue = lat["order_ack"], lat["venue_calls"]
    if ack["measured"]:
        buckets = [(_le(le), float(n)) for le, n in ack["buckets"]] + [("+Inf", float(ack["count"]))]
        h = histogram_family(f"{PREFIX}_order_latency_seconds", "Live orders: write-ahead record to the venue's acknowledgement.",
                             labels=["run"])
        h.add_metric([run], buckets, ack["sum_s"])
        yield h
    if venue["measured"]:
        yield _one(gauge_family, "venue_latency_median_seconds", "Median latency of the venue calls in the API breaker's window.",
                     venue["median_s"], {"run": run})


def _le(value: float) -> str:
    return repr(float(value))


def _one(family, name: str, doc: str, value: float, labels: dict[str, str] | None = None):
    """A family of `PREFIX_name` with one sample."""
    labels = labels or {}
    metric = family(f"{PREFIX}_{name}", doc, labels=list(labels))
    metric.add_metric(list(labels.values()), float(value))
    return metric


def registry(collector: SnapshotCollector):
    """A registry of its own holding `collector` (never the process-global one)."""
    from prometheus_client import CollectorRegistry

    reg = CollectorRegistry(auto_describe=False)
    reg.register(collector)
    return reg


def serve(reg: Any, port: int, host: str = "127.0.0.1") -> tuple[Any, Any]:
    """Serve `/metrics` of `reg` on host:port in a daemon thread; port 0 picks a free one.
    Returns (server, thread): `server.server_port` is the port, `server.shutdown()` stops it."""
    from prometheus_client import start_http_server

    try:
        return start_http_server(port, addr=host, registry=reg)
    except OSError as exc:
        raise UsageError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from None


def exposition(reg: Any) -> str:
    """The text exposition of `reg` (what `/metrics` returns)."""
    from prometheus_client import generate_latest

    return generate_latest(reg).decode("utf-8")
