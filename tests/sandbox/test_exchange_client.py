"""build_exchange (URL rewrite, options, lazy ccxt) and translate_error (ccxt → livegate errors)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import ccxt
import pytest

from livegate.adapters.exchange.client import build_exchange, rebase, translate_error, with_exchange_errors
from livegate.core import errors

BASE = "http://127.0.0.1:8123"


def test_every_binance_url_keeps_its_path():
    client = build_exchange("binance", testnet=False, base_url=BASE)
    api = client.urls["api"]
    assert api["public"] == api["private"] == f"{BASE}/api/v3"
    assert api["sapi"] == f"{BASE}/sapi/v1" and api["sapiV2"] == f"{BASE}/sapi/v2"
    assert api["fapiPublic"] == f"{BASE}/fapi/v1" and api["dapiData"] == f"{BASE}/futures/data"
    assert all(url.startswith(BASE + "/") for url in api.values())
    assert all(url.startswith(BASE + "/") for section in ("test", "demo") for url in client.urls[section].values())
    assert client.options["fetchMarkets"]["types"] == ["spot"]
    assert client.options["fetchCurrencies"] is False and client.options["fetchMargins"] is False
    assert client.enableRateLimit is True and client.timeout == 10000


def test_testnet_then_base_url(monkeypatch):
    monkeypatch.setenv("LIVEGATE_EXCHANGE_BASE_URL", BASE + "/prefix/")
    client = build_exchange("binance", testnet=True, base_url=None, api_key="k", secret="s", timeout_ms=1234,
                            options={"recvWindow": 5000})
    assert client.isSandboxModeEnabled and "sapi" not in client.urls["api"]
    assert client.urls["api"]["public"] == f"{BASE}/prefix/api/v3"
    assert (client.apiKey, client.secret, client.timeout, client.options["recvWindow"]) == ("k", "s", 1234, 5000)


def test_without_base_url_urls_are_untouched():
    client = build_exchange("binance", testnet=False)
    assert client.urls["api"]["public"] == "https://api.binance.com/api/v3"
    assert client.options["fetchCurrencies"] is True  # ccxt's defaults stay without base_url


def test_rebase_handles_nested_and_websocket_urls():
    urls = {"rest": {"public": "https://api.example.com/v5/market?x=1"}, "ws": "wss://stream.example.com/ws", "n": 3}
    assert rebase(urls, "http://h:1") == {"rest": {"public": "http://h:1/v5/market?x=1"}, "ws": "ws://h:1/ws", "n": 3}


def test_async_client_and_unknown_exchange():
    client = build_exchange("binance", testnet=False, base_url=BASE, asynchronous=True)
    assert type(client).__module__.startswith("ccxt.async_support")
    asyncio.run(client.close())
    with pytest.raises(errors.UsageError, match="no exchange"):
        build_exchange("nosuchvenue", testnet=False)


def test_importing_the_client_module_does_not_import_ccxt():
    code = "import sys, livegate.adapters.exchange.client, livegate.adapters.sandbox; print('ccxt' in sys.modules, 'aiohttp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


SIGNED = "binance GET http://127.0.0.1:8123/api/v3/account?timestamp=1&recvWindow=10000&signature=abcdef0123 "


@pytest.mark.parametrize(
    "exc, kind",
    [
        (ccxt.AuthenticationError('binance {"code":-1022,"msg":"Signature for this request is not valid."}'), errors.ExchangeAuthError),
        (ccxt.PermissionDenied("binance You don't have permission."), errors.ExchangeAuthError),
        (ccxt.DDoSProtection('binance {"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}'), errors.ExchangeAuthError),
        (ccxt.InvalidNonce('binance {"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}'), errors.ClockSkewError),
        (ccxt.InsufficientFunds("binance Account has insufficient balance for requested action."), errors.InsufficientFundsError),
        (ccxt.OrderNotFound('binance {"code":-2013,"msg":"Order does not exist."}'), errors.OrderNotFound),
        (ccxt.InvalidOrder('binance {"code":-2010,"msg":"Duplicate order sent."}'), errors.OrderRejected),
        (ccxt.BadRequest('binance {"code":-1013,"msg":"Filter failure: MIN_NOTIONAL"}'), errors.OrderRejected),
        (ccxt.BadSymbol("binance does not have market symbol XYZ/USDT"), errors.OrderRejected),
        (ccxt.DDoSProtection('binance 429 Too Many Requests {"code":-1003,"msg":"Too much request weight used"}'), errors.RateLimited),
        (ccxt.RateLimitExceeded("binance slow down"), errors.RateLimited),
        (ccxt.RequestTimeout(SIGNED + "request timeout"), errors.VenueTimeout),
        (ccxt.ExchangeNotAvailable(SIGNED + "503 Service Unavailable <html><h1>503</h1></html>"), errors.VenueUnreachable),
        (ccxt.NetworkError("binance connection reset"), errors.VenueUnreachable),
        (ccxt.NotSupported("binance does not have a testnet/sandbox URL for sapi endpoints"), errors.VenueRefused),
        (ccxt.ExchangeError('binance {"code":-1008,"msg":"Server is currently overloaded"}'), errors.VenueUnreachable),
        (ccxt.ExchangeError('binance {"code":-9999,"msg":"Something else"}'), errors.VenueRefused),
        (ccxt.BadResponse("binance garbled"), errors.VenueUnreachable),
        (ConnectionRefusedError("[Errno 111] Connection refused"), errors.VenueUnreachable),
        (TimeoutError("timed out"), errors.VenueTimeout),
        (ValueError("odd"), errors.VenueRefused),
    ],
)
def test_translation_table(exc, kind):
    translated = translate_error(exc, venue="binance")
    assert type(translated) is kind
    assert isinstance(translated, errors.VenueUnreachable)  # exit code 5: unreachable or refused
    text = str(translated)
    assert text.startswith("binance") and "signature=" not in text and "timestamp=" not in text and "<html>" not in text


def test_codes_and_secrets_in_messages(monkeypatch):
    client = build_exchange("binance", testnet=False, api_key="my-api-key-123", secret="my-secret-456")
    exc = ccxt.AuthenticationError('binance my-api-key-123 my-secret-456 {"code":-1022,"msg":"Signature for this request is not valid."}')
    translated = translate_error(exc, exchange=client)
    assert translated.code == -1022 and translated.venue == "binance"
    assert "my-api-key-123" not in str(translated) and "my-secret-456" not in str(translated)
    assert "-1022 Signature for this request is not valid." in str(translated)
    monkeypatch.setenv("EXCHANGE_SECRET", "env-secret-789")
    assert "env-secret-789" not in str(translate_error(ccxt.ExchangeError("binance env-secret-789")))
    guessed = translate_error(ccxt.InvalidNonce('binance {"code":-1021,"msg":"Timestamp ahead"}'))
    assert isinstance(guessed, errors.ClockSkewError) and str(guessed).startswith("binance refused")
    already = errors.UsageError("mine")
    assert translate_error(already) is already


def test_with_exchange_errors_as_block_and_decorator():
    with pytest.raises(errors.RateLimited):
        with with_exchange_errors(venue="binance"):
            raise ccxt.RateLimitExceeded("binance 429")

    @with_exchange_errors(venue="binance")
    def sync_call():
        raise ccxt.AuthenticationError("binance nope")

    @with_exchange_errors(venue="binance")
    async def async_call():
        raise ccxt.InvalidNonce("binance skew")

    with pytest.raises(errors.ExchangeAuthError) as caught:
        sync_call()
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    with pytest.raises(errors.ClockSkewError):
        asyncio.run(async_call())
    with pytest.raises(KeyError):  # programming errors pass through untouched
        with with_exchange_errors(venue="binance"):
            raise KeyError("x")
