"""Fault knobs of the emulated venue, set for everyone or per API key, at start or at runtime."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields, replace


@dataclass(frozen=True)
class Faults:
    """What goes wrong, and how often. Rates are probabilities per request (seeded RNG).

    latency_ms: added before every answer. clock_skew_ms: the server clock's offset from the
    wall clock (recvWindow is judged on it). error_rate / error_status: answer a 5xx with an HTML
    body, as a failing gateway does. rate_limit_rate / retry_after_s: answer 429 (-1003) with a
    Retry-After header. weight_limit: answer 429 once a minute's request weight exceeds it.
    timeout_rate / hang_s: process the request, then hold the answer `hang_s` seconds (the client
    times out; the order exists). partial_fill: fill only this share of an order per match
    (market orders then expire). reject_orders: refuse every new order (-2010). testnet: the
    real testnet's shape, no /sapi routes (server-wide only). routes: when set, the latency,
    5xx, 429 and timeout faults hit only these requests ("POST /api/v3/order", ...)."""

    latency_ms: float = 0.0
    clock_skew_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 503
    rate_limit_rate: float = 0.0
    retry_after_s: int = 1
    weight_limit: int | None = None
    timeout_rate: float = 0.0
    hang_s: float = 30.0
    partial_fill: float | None = None
    reject_orders: bool = False
    testnet: bool = False
    routes: tuple[str, ...] = ()

    @property
    def disturbs(self) -> bool:
        """Whether anything has to be drawn or waited for before answering."""
        return bool(self.latency_ms or self.error_rate or self.rate_limit_rate or self.timeout_rate)

    def hits(self, method: str, path: str) -> bool:
        """Whether the disturbing faults apply to this request."""
        return self.disturbs and (not self.routes or f"{method} {path}" in self.routes)


KNOBS = frozenset(f.name for f in fields(Faults))


def check_knobs(knobs: dict) -> None:
    unknown = set(knobs) - KNOBS
    if unknown:
        raise ValueError(f"unknown fault knob(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(KNOBS))}")


class FaultBoard:
    """The server-wide faults, per-key overrides on top of them, and the seeded RNG."""

    def __init__(self, seed: int = 0, **knobs):
        check_knobs(knobs)
        self.rng = random.Random(seed)
        self.base = Faults(**knobs)
        self._overrides: dict[str, dict] = {}
        self._effective: dict[str, Faults] = {}

    def set(self, api_key: str | None = None, **knobs) -> Faults:
        """Set knobs server-wide (`api_key=None`) or for one key; returns the effective faults."""
        check_knobs(knobs)
        if api_key is None:
            self.base = replace(self.base, **knobs)
        else:
            self._overrides.setdefault(api_key, {}).update(knobs)
        self._rebuild()
        return self.get(api_key)

    def clear(self, api_key: str | None = None) -> None:
        """Forget one key's overrides, or every fault when `api_key` is None."""
        if api_key is None:
            self.base, self._overrides = Faults(), {}
        else:
            self._overrides.pop(api_key, None)
        self._rebuild()

    def _rebuild(self) -> None:
        self._effective = {key: replace(self.base, **over) for key, over in self._overrides.items()}

    def get(self, api_key: str | None) -> Faults:
        return self._effective.get(api_key, self.base) if api_key else self.base

    def roll(self, rate: float) -> bool:
        return rate > 0 and (rate >= 1 or self.rng.random() < rate)

    def describe(self) -> dict:
        return {"server": asdict(self.base), "keys": {k: dict(v) for k, v in self._overrides.items()}}
