"""Binance's error answers: `{"code": -1022, "msg": "..."}` with the HTTP status Binance uses."""

from __future__ import annotations


class ApiError(Exception):
    """An error answer of the emulated venue; `headers` go out with it (e.g. Retry-After)."""

    def __init__(self, status: int, code: int, msg: str, headers: dict[str, str] | None = None):
        super().__init__(msg)
        self.status, self.code, self.msg, self.headers = status, code, msg, headers or {}

    def body(self) -> dict:
        return {"code": self.code, "msg": self.msg}


def bad_request(code: int, msg: str) -> ApiError:
    return ApiError(400, code, msg)


def mandatory(name: str) -> ApiError:
    return bad_request(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def not_required(name: str) -> ApiError:
    return bad_request(-1106, f"Parameter '{name}' sent when not required.")


def illegal(name: str, legal: str) -> ApiError:
    return bad_request(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.")


def filter_failure(name: str) -> ApiError:
    return bad_request(-1013, f"Filter failure: {name}")


def order_rejected(msg: str) -> ApiError:
    return bad_request(-2010, msg)


INVALID_SYMBOL = (-1121, "Invalid symbol.")
INSUFFICIENT_BALANCE = "Account has insufficient balance for requested action."
DUPLICATE_ORDER = "Duplicate order sent."
NO_SUCH_ORDER = (-2013, "Order does not exist.")
UNKNOWN_ORDER = (-2011, "Unknown order sent.")
NO_LISTEN_KEY = (-1125, "This listenKey does not exist.")
REJECTED_KEY = (-2015, "Invalid API-key, IP, or permissions for action.")
BAD_KEY_FORMAT = (-2014, "API-key format invalid.")
BAD_SIGNATURE = (-1022, "Signature for this request is not valid.")
OUTSIDE_RECV_WINDOW = (-1021, "Timestamp for this request is outside of the recvWindow.")
AHEAD_OF_SERVER = (-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
TOO_MUCH_WEIGHT = (
    -1003,
    "Too much request weight used; current limit is {limit} request weight per 1 MINUTE. "
    "Please use WebSocket Streams for live updates to avoid polling the API.",
)
