"""The HTTP session under livegate's synchronous ccxt clients: keep-alive connections of the
standard library's `http.client`, used directly.

ccxt's sync clients send every request through a `requests.Session` (`client.session`, which
ccxt lets a caller supply). `requests` — and urllib3 beneath it — prepare, merge and re-wrap
each request in ways livegate never uses (cookies, redirects, auth hooks, environment proxies,
retries) and that cost more than a round trip to a local venue. `PooledSession` is the part ccxt
calls — `request`, `headers`, `cookies.clear`, `close` — on a small pool of keep-alive
connections per host: the same TLS verification (certifi's CA bundle, as requests uses, and the
host name checked), timeouts, gzip/deflate bodies, and the exceptions ccxt already classifies
(`requests`' ConnectTimeout, ReadTimeout, ConnectionError, SSLError, HTTPError), so ccxt's error
handling is unchanged. A request is written in one piece (headers and body together). Nothing is
ever sent twice here: a request that fails is an error for the caller (the order executor looks a
lost order up by its client id). A request it does not handle the same way (through a proxy,
with files) goes to a real `requests.Session`."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

POOL_SIZE = 16  # idle connections kept per host: one per thread that may talk to the venue at once
_DEFAULT_PORTS = {"http": 80, "https": 443}


class _Response:
    """What ccxt reads of a response: status, reason, headers (case-insensitive), body."""

    __slots__ = ("status_code", "reason", "headers", "content", "encoding", "url")

    def __init__(self, status: int, reason: str, headers: Any, content: bytes, url: str):
        self.status_code, self.reason, self.headers, self.content = status, reason, headers, content
        self.encoding, self.url = "utf-8", url

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding or "utf-8", "replace")

    def raise_for_status(self) -> None:
        if 400 <= self.status_code < 600:
            from requests.exceptions import HTTPError

            kind = "Client" if self.status_code < 500 else "Server"
            raise HTTPError(f"{self.status_code} {kind} Error: {self.reason} for url: {self.url}", response=self)


class _NoCookies:
    """ccxt clears the session's cookies before every request; this session keeps none."""

    def clear(self) -> None:
        return None


def _decoded(body: bytes, encoding: str | None) -> bytes:
    """A body as sent with Content-Encoding `encoding` (gzip and deflate, which ccxt asks for)."""
    if not encoding or not body:
        return body
    import zlib

    name = encoding.strip().lower()
    if name in ("gzip", "x-gzip"):
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    if name == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:  # deflate without its zlib header, as some servers send it
            return zlib.decompress(body, -zlib.MAX_WBITS)
    if name == "identity":
        return body
    raise ValueError(f"a response body in an encoding not asked for ({encoding})")


def _dropped(conn: Any) -> bool:
    """An idle keep-alive connection the server closed (or that has stray bytes): not reused."""
    sock = conn.sock
    if sock is None:
        return True
    import select

    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class PooledSession:
    """A drop-in for the `requests.Session` of a sync ccxt client (see the module's docstring)."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.cookies = _NoCookies()
        self._idle: dict[tuple[str, str, int, bool], list[Any]] = {}
        self._lock = threading.Lock()
        self._contexts: dict[bool, Any] = {}
        self._fallback: Any = None

    def request(self, method: str, url: str, data: Any = None, headers: dict | None = None, timeout: Any = None,
                proxies: dict | None = None, verify: bool = True, files: Any = None) -> Any:
        if proxies or files:
            return self._requests().request(method, url, data=data, headers=headers, timeout=timeout, proxies=proxies,
                                            verify=verify, files=files)
        import http.client
        import ssl
        from urllib.parse import urlsplit

        from requests import exceptions as rex

        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise rex.InvalidURL(f"cannot send a request to {url!r}")
        key = (scheme, parts.hostname, parts.port or _DEFAULT_PORTS[scheme], bool(verify) or scheme == "http")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        body = data.encode("utf-8") if isinstance(data, str) else data
        conn = self._take(key)
        try:
            if conn is None:
                conn = self._connect(key, timeout)
            else:
                conn.timeout = timeout
                conn.sock.settimeout(timeout)
        except TimeoutError as exc:
            raise rex.ConnectTimeout(f"Connection to {parts.hostname} timed out. (connect timeout={timeout})") from exc
        except ssl.SSLError as exc:
            raise rex.SSLError(str(exc)) from exc
        except OSError as exc:  # refused, unreachable, no such host
            raise rex.ConnectionError(f"Connection aborted. ({exc})") from exc
        try:
            conn.request(method, target, body=body, headers=headers or {})
            raw = conn.getresponse()
            content = raw.read()
            status, reason, got = raw.status, raw.reason, raw.getheaders()
            keep = not raw.will_close
        except TimeoutError as exc:
            conn.close()
            raise rex.ReadTimeout(f"Read timed out. (read timeout={timeout})") from exc
        except ssl.SSLError as exc:
            conn.close()
            raise rex.SSLError(str(exc)) from exc
        except (http.client.HTTPException, OSError) as exc:
            conn.close()
            raise rex.ConnectionError(f"Connection aborted. ({type(exc).__name__}: {exc})") from exc
        except BaseException:
            conn.close()
            raise
        from urllib3 import HTTPHeaderDict

        response_headers = HTTPHeaderDict(got)
        try:
            content = _decoded(content, response_headers.get("Content-Encoding"))
        except Exception as exc:  # noqa: BLE001 - zlib.error or an encoding not asked for: a body that does not decode
            conn.close()
            raise rex.ContentDecodingError(str(exc)) from exc
        if keep:
            self._give(key, conn)
        else:
            conn.close()
        return _Response(status, reason, response_headers, content, url)

    def _take(self, key: tuple[str, str, int, bool]) -> Any:
        """An idle connection to `key`'s host that is still open, or None."""
        while True:
            with self._lock:
                idle = self._idle.get(key)
                conn = idle.pop() if idle else None
            if conn is None or not _dropped(conn):
                return conn
            conn.close()

    def _give(self, key: tuple[str, str, int, bool], conn: Any) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < POOL_SIZE:
                idle.append(conn)
                return
        conn.close()

    def _connect(self, key: tuple[str, str, int, bool], timeout: Any) -> Any:
        import http.client

        scheme, host, port, verified = key
        if scheme == "http":
            conn: Any = http.client.HTTPConnection(host, port, timeout=timeout)
        else:
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._context(verified))
        conn.connect()
        with contextlib.suppress(OSError):  # small requests and answers, one after another: never held back for an ACK
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _context(self, verified: bool) -> Any:
        context = self._contexts.get(verified)
        if context is None:
            import ssl

            if verified:
                import certifi

                context = ssl.create_default_context(cafile=certifi.where())
            else:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._contexts[verified] = context
        return context

    def _requests(self) -> Any:
        if self._fallback is None:
            import requests

            self._fallback = requests.Session()
            self._fallback.trust_env = False
        return self._fallback

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()
        if self._fallback is not None:
            self._fallback.close()
