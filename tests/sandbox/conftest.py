"""The local Binance emulator for these tests (the `sandbox` fixture of tests/sandbox_fixtures.py):
one for the directory, market clock at 600x (a 1m bar lasts 0.1 s), no internal error left
behind by any test, fresh funded keys on demand."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest

from livegate.adapters.sandbox.defaults import KeyPair

_key_ids = itertools.count(1)


@pytest.fixture
def sandbox_options():
    """The default markets and keys, the market clock at 600x."""
    return {"speed": 600, "history_bars": 1500, "seed": 7}


@pytest.fixture(autouse=True)
def _no_internal_errors_after(sandbox):
    """Every test leaves no internal error (a bug) behind (the fixture clears its faults)."""
    yield
    errors, sandbox.server.internal_errors[:] = list(sandbox.server.internal_errors), []
    assert errors == []


@pytest.fixture
def new_key(sandbox):
    """make(**flags) -> a new KeyPair with its own account (10,000 USDT, 1 BTC, 10 ETH unless `balances`)."""

    def make(balances: dict | None = None, **flags) -> KeyPair:
        n = next(_key_ids)
        return sandbox.add_key(f"test-key-{n}", f"test-secret-{n}",
                               balances=balances if balances is not None else {"USDT": 10_000, "BTC": 1, "ETH": 10},
                               **flags)

    return make


@pytest.fixture
def raw(sandbox):
    """raw(method, path, params, key=KeyPair|None, ...) -> (status, headers, body) over urllib,
    signing like Binance's docs: HMAC-SHA256 hex of query string + body."""

    def call(method: str, path: str, params: dict | None = None, key: KeyPair | None = None, *, sign: bool = True,
             in_body: bool = False, body_params: dict | None = None, secret: str | None = None,
             timestamp: int | None = None, signature: str | None = None, header_key: str | None = None):
        params = dict(params or {})
        if key is not None and sign and "timestamp" not in (body_params or {}):
            params.setdefault("timestamp", timestamp if timestamp is not None else int(time.time() * 1000))
        query = urlencode(params)
        body = urlencode(body_params) if body_params else ""
        if in_body:
            query, body = "", query
        if key is not None and sign:
            sig = signature or hmac.new((secret or key.secret).encode(), (query + body).encode(), hashlib.sha256).hexdigest()
            if body:
                body += "&signature=" + sig
            else:
                query += ("&" if query else "") + "signature=" + sig
        url = sandbox.url + path + ("?" + query if query else "")
        request = urllib.request.Request(url, data=body.encode() if body else None, method=method)
        if key is not None or header_key is not None:
            request.add_header("X-MBX-APIKEY", header_key if header_key is not None else key.api_key)
        if body:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                status, headers, text = response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as err:
            status, headers, text = err.code, err.headers, err.read().decode()
        try:
            return status, headers, json.loads(text)
        except ValueError:
            return status, headers, text

    return call
