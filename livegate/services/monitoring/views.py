"""What `status`, the monitor and the reports read off the ledger alike: the positions a
checkpoint holds, marked at its last prices, and each circuit breaker's trips collapsed to one
row. Pure and light (no breaker or alert code): `status` imports it on every call."""

from __future__ import annotations

from typing import Any

from livegate.core.timeparse import ms_to_iso

BREAKER_KINDS = ("breaker_trip", "breaker_rearmed")


def positions_of(state: dict | None, book: str = "positions") -> list[dict[str, Any]]:
    """Open positions of a checkpointed engine (`book="dust"`: its dust, holdings too small to
    sell), marked at its last prices."""
    account = (state or {}).get("account") or {}
    prices = account.get("last_price") or {}
    out = []
    for symbol, (amount, cost, entry_fees, opened_ms) in sorted((account.get(book) or {}).items()):
        if amount <= 0:
            continue
        entry = cost / amount
        last = float(prices.get(symbol, entry))
        out.append({"symbol": symbol, "amount": amount, "entry_price": entry, "last_price": last, "value": amount * last,
                    "unrealized": amount * last - cost - entry_fees, "opened_at": ms_to_iso(int(opened_ms)) if opened_ms else None})
    return out


def marked_equity(state: dict | None) -> float | None:
    """Cash plus everything held (open positions and dust) at the checkpoint's last prices."""
    account = (state or {}).get("account")
    if not account:
        return None
    return float(account["cash"]) + sum(p["value"] for p in positions_of(state) + positions_of(state, "dust"))


def collapse_breakers(events: list[dict[str, Any]], names: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """One row per breaker from its trip and re-arm events (in ledger order) — those in `names`
    first, even without a trip: tripped if its latest event is a trip, how many trips, the first
    and the last trip's time, and the last trip's value, threshold, cooldown end and message."""
    first: dict[str, str | None] = {}
    last: dict[str, dict] = {}
    trips: dict[str, int] = {}
    for e in events:
        name = e["payload"].get("breaker", "?")
        if e["kind"] == "breaker_trip":
            trips[name] = trips.get(name, 0) + 1
            last[name] = {**e["payload"], "tripped": True, "at": _trip_time(e)}
            first.setdefault(name, last[name]["at"])
        elif name in last:
            last[name] = {**last[name], "tripped": False}
    out = []
    for name in dict.fromkeys(names + tuple(last)):
        trip = last.get(name)
        out.append({"breaker": name, "state": "tripped" if trip and trip["tripped"] else "armed", "trips": trips.get(name, 0),
                    "first_trip_at": first.get(name), "last_trip_at": trip["at"] if trip else None,
                    "value": trip.get("value") if trip else None, "threshold": trip.get("threshold") if trip else None,
                    "until": ms_to_iso(trip["until_ms"]) if trip and trip["tripped"] and trip.get("until_ms") else None,
                    "message": trip.get("message") if trip else None})
    return out


def _trip_time(event: dict[str, Any]) -> str | None:
    at_ms = event["payload"].get("at_ms")
    return ms_to_iso(at_ms) if at_ms is not None else event.get("ts")
