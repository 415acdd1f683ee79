"""The gateway's reads and cancels on the real venue: the bot's request, re-signed with the real
key by ccxt's own signing (`client.request`), its answer handed back as the venue gave it.

A venue error comes back as the venue's own Binance body and a matching status; when no answer
came (a timeout, a dropped connection, a 5xx page) the bot gets Binance's -1001 "disconnected"
with 503. Every request goes through the ccxt client, so the venue-call observer that feeds
the API breakers and the alert thresholds sees it."""

from __future__ import annotations

import json
import re
from typing import Any

from livegate.adapters.exchange.client import scrub
from livegate.adapters.sandbox.errors import ApiError

V3 = "/api/v3/"
DISCONNECTED = (-1001, "Internal error; unable to process your request. Please try again.")
_BODY = re.compile(r"\{\s*\"code\"\s*:\s*-?\d+.*\}", re.S)
_STATUS = {-1003: 429, -1015: 429, -2014: 401, -2015: 401, -1000: 500, -1001: 503, -1007: 503}


def forward(client: Any, method: str, path: str, params: dict[str, str], signed: bool) -> Any:
    """`method path` (an /api/v3/ route) on the venue behind `client` with `params`; signed
    with the client's key when `signed`. Returns the parsed JSON body, or raises ApiError."""
    if not path.startswith(V3):
        raise ApiError(404, -1100, f"livegate: {path} is not forwarded")
    try:
        return client.request(path[len(V3):], ["private" if signed else "public"], method, dict(params))
    except Exception as exc:  # noqa: BLE001 - every failure becomes the venue's answer or -1001
        raise venue_error(client, exc) from None


def venue_error(client: Any, exc: BaseException) -> ApiError:
    """The venue's Binance error body behind a ccxt exception, with Binance's status for its code;
    -1001 / 503 when the venue gave no such body."""
    body = _body(str(exc)) or _body(str(getattr(client, "last_http_response", "") or ""))
    if body is None:
        import ccxt

        if isinstance(exc, ccxt.DDoSProtection):
            return ApiError(429, -1003, "livegate: the venue is rate-limiting requests; retry later", {"Retry-After": "10"})
        return ApiError(503, *DISCONNECTED)
    code = int(body["code"])
    msg = scrub(str(body.get("msg", "")), client)
    return ApiError(_STATUS.get(code, 400), code, msg)


def _body(text: str) -> dict | None:
    match = _BODY.search(text)
    if not match:
        return None
    try:
        body = json.loads(match.group(0))
    except ValueError:
        return None
    return body if isinstance(body, dict) and isinstance(body.get("code"), int) else None
