"""API keys and Binance's SIGNED-request rules: X-MBX-APIKEY header, HMAC-SHA256 hex signature
over the query string followed by the body, `timestamp` within `recvWindow` of the server clock;
USER_STREAM requests send the key alone."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, field

from livegate.adapters.sandbox import errors as e
from livegate.adapters.sandbox.errors import ApiError, bad_request, mandatory

DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60_000
LOOPBACK = ("127.0.0.1", "::1")


@dataclass(eq=False)
class ApiKey:
    """An API key, its secret and what Binance's API management would show for it."""

    api_key: str
    secret: str = field(repr=False)
    account: str
    can_trade: bool = True
    can_withdraw: bool = False
    enable_reading: bool = True
    internal_transfer: bool = False
    universal_transfer: bool = False
    ip_restrict: bool = True
    allowed_ips: tuple[str, ...] = LOOPBACK
    created_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    def __post_init__(self):
        self._secret = self.secret.encode()  # encoded once; hmac.digest is OpenSSL's one-shot

    def sign(self, payload: str) -> str:
        return hmac.digest(self._secret, payload.encode(), "sha256").hex()

    def restrictions(self) -> dict:
        """The body of GET /sapi/v1/account/apiRestrictions."""
        return {
            "ipRestrict": self.ip_restrict, "createTime": self.created_ms, "enableReading": self.enable_reading,
            "enableWithdrawals": self.can_withdraw, "enableInternalTransfer": self.internal_transfer,
            "permitsUniversalTransfer": self.universal_transfer, "enableSpotAndMarginTrading": self.can_trade,
            "enableMargin": False, "enableFutures": False, "enableVanillaOptions": False,
            "enablePortfolioMarginTrading": False, "enableFixApiTrade": False, "enableFixReadOnly": False,
        }


def _unsigned(raw: str) -> tuple[str, str | None]:
    """`raw` without its `signature=` pair, and the signature found there."""
    if "signature=" not in raw:
        return raw, None
    kept, found = [], None
    for pair in raw.split("&"):
        if pair.startswith("signature="):
            found = pair[10:]
        else:
            kept.append(pair)
    return "&".join(kept), found


def _int_param(params: dict, name: str, default: int | None = None) -> int:
    value = params.get(name)
    if value is None or value == "":
        if default is None:
            raise mandatory(name)
        return default
    try:
        return int(float(value)) if name == "recvWindow" else int(value)
    except ValueError:
        raise mandatory(name) from None


def verify_key(key: ApiKey | None, header_key: str | None, remote: str | None) -> ApiKey:
    """Check a USER_STREAM request (the API key header, no signature) as Binance does."""
    if not header_key:
        raise ApiError(401, *e.BAD_KEY_FORMAT)
    if key is None or (key.ip_restrict and remote not in key.allowed_ips):
        raise ApiError(401, *e.REJECTED_KEY)
    return key


def verify_signed(key: ApiKey | None, header_key: str | None, raw_query: str, raw_body: str, params: dict,
                  server_ms: int, remote: str | None, trade: bool) -> ApiKey:
    """Check a SIGNED request as Binance does; return its key or raise the Binance error."""
    if not header_key:
        raise ApiError(401, *e.BAD_KEY_FORMAT)
    if key is None:
        raise ApiError(401, *e.REJECTED_KEY)
    timestamp = _int_param(params, "timestamp")
    recv_window = _int_param(params, "recvWindow", DEFAULT_RECV_WINDOW)
    if recv_window > MAX_RECV_WINDOW or recv_window <= 0:
        raise bad_request(-1131, f"recvWindow must be less than {MAX_RECV_WINDOW}")
    query, sig_q = _unsigned(raw_query)
    body, sig_b = _unsigned(raw_body)
    signature = sig_q or sig_b
    if not signature:
        raise mandatory("signature")
    if not hmac.compare_digest(key.sign(query + body), signature.lower()):
        raise bad_request(*e.BAD_SIGNATURE)
    if timestamp >= server_ms + 1000:
        raise bad_request(*e.AHEAD_OF_SERVER)
    if server_ms - timestamp > recv_window:
        raise bad_request(*e.OUTSIDE_RECV_WINDOW)
    if key.ip_restrict and remote not in key.allowed_ips:
        raise ApiError(401, *e.REJECTED_KEY)
    if not (key.can_trade if trade else key.enable_reading):
        raise ApiError(401, *e.REJECTED_KEY)
    return key
