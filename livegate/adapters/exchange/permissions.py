"""What an API key may do, read from the exchange itself (seed 000 §1.2: read yes, trade yes,
**withdraw no**, IP whitelist on). ccxt has no unified call for this, so each exchange's own
endpoint is called through ccxt's implicit API and its answer parsed here. Any right to move
funds out — withdrawals, internal transfers, universal transfers — counts as withdrawal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class KeyPermissions:
    """`None` means the exchange does not report that right."""

    read: bool | None
    trade: bool | None
    withdraw: bool | None
    ip_restricted: bool | None
    source: str
    withdraw_rights: tuple[str, ...] = ()
    flags: dict[str, Any] = field(default_factory=dict)

    def evidence(self) -> dict:
        return {"source": self.source, "flags": self.flags, "withdraw_rights": list(self.withdraw_rights)}


def from_binance(body: dict) -> KeyPermissions:
    """GET /sapi/v1/account/apiRestrictions."""
    rights = tuple(k for k in ("enableWithdrawals", "enableInternalTransfer", "permitsUniversalTransfer") if body.get(k))
    flags = {k: body.get(k) for k in ("enableReading", "enableSpotAndMarginTrading", "enableWithdrawals",
                                       "enableInternalTransfer", "permitsUniversalTransfer", "ipRestrict")}
    return KeyPermissions(read=bool(body.get("enableReading")), trade=bool(body.get("enableSpotAndMarginTrading")),
                          withdraw=bool(rights), ip_restricted=bool(body.get("ipRestrict")),
                          source="GET /sapi/v1/account/apiRestrictions", withdraw_rights=rights, flags=flags)


def from_bybit(body: dict) -> KeyPermissions:
    """GET /v5/user/query-api: `readOnly` 0/1, `permissions` per area, `ips` (`*` = any)."""
    result = body.get("result", body)
    perms = result.get("permissions") or {}
    wallet = [str(p) for p in perms.get("Wallet") or []]
    rights = tuple(p for p in wallet if p in ("Withdraw", "AccountTransfer", "SubMemberTransfer"))
    trade_areas = ("Spot", "ContractTrade", "Derivatives", "Options")
    trade = str(result.get("readOnly")) == "0" and any(perms.get(area) for area in trade_areas)
    ips = [str(ip) for ip in result.get("ips") or []]
    return KeyPermissions(read=True, trade=trade, withdraw=bool(rights), ip_restricted=bool(ips) and "*" not in ips,
                          source="GET /v5/user/query-api", withdraw_rights=rights,
                          flags={"readOnly": result.get("readOnly"), "permissions": perms, "ip_restricted": bool(ips) and "*" not in ips})


def from_okx(body: dict) -> KeyPermissions:
    """GET /api/v5/account/config: `perm` is `read_only,trade,withdraw` (comma-separated), `ip` the whitelist."""
    data = (body.get("data") or [{}])[0]
    perm = {p.strip() for p in str(data.get("perm", "")).split(",") if p.strip()}
    rights = tuple(p for p in ("withdraw",) if p in perm)
    return KeyPermissions(read="read_only" in perm or "trade" in perm, trade="trade" in perm, withdraw=bool(rights),
                          ip_restricted=bool(str(data.get("ip", "")).strip()), source="GET /api/v5/account/config",
                          withdraw_rights=rights, flags={"perm": sorted(perm), "ip_restricted": bool(str(data.get("ip", "")).strip())})


def from_coinbase(body: dict) -> KeyPermissions:
    """GET /api/v3/brokerage/key_permissions: `can_view`, `can_trade`, `can_transfer` (no IP field)."""
    rights = ("can_transfer",) if body.get("can_transfer") else ()
    return KeyPermissions(read=bool(body.get("can_view")), trade=bool(body.get("can_trade")), withdraw=bool(rights),
                          ip_restricted=None, source="GET /api/v3/brokerage/key_permissions", withdraw_rights=rights,
                          flags={k: body.get(k) for k in ("can_view", "can_trade", "can_transfer")})


# exchange id → (ccxt implicit method, parser)
READERS: dict[str, tuple[str, Callable[[dict], KeyPermissions]]] = {
    "binance": ("sapiGetAccountApiRestrictions", from_binance),
    "bybit": ("privateGetV5UserQueryApi", from_bybit),
    "okx": ("privateGetAccountConfig", from_okx),
    "coinbase": ("v3PrivateGetBrokerageKeyPermissions", from_coinbase),
}


def can_read_permissions(exchange_id: str) -> bool:
    return exchange_id in READERS


def read_permissions(client: Any, call: Callable[[Callable[[], Any]], Any] = lambda fn: fn()) -> KeyPermissions:
    """Ask the exchange behind `client` what its key may do; `call` wraps the request (retries).
    Raises KeyError for an exchange livegate cannot ask (see `can_read_permissions`)."""
    method, parse = READERS[client.id]
    body = call(lambda: getattr(client, method)())
    if not isinstance(body, dict):
        raise ValueError(f"{client.id} answered {method} with {type(body).__name__}, not an object")
    return parse(body)
