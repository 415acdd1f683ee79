"""The HTTP session under livegate's synchronous ccxt clients: urllib3's connection pool, used
directly.

ccxt's sync clients send every request through a `requests.Session` (`client.session`, which
ccxt lets a caller supply). `requests` prepares, merges and re-wraps each request in ways
livegate never uses (cookies, redirects, auth hooks, environment proxies) and that cost about
as much as a round trip to a local venue. `PooledSession` is the part ccxt calls — `request`,
`headers`, `cookies.clear`, `close` — on a keep-alive urllib3 pool: the same TLS verification
(certifi's CA bundle, as requests uses), timeouts, and the exceptions ccxt already classifies
(`requests`' Timeout, ConnectionError, SSLError, HTTPError), so ccxt's error handling is
unchanged. A request it does not handle the same way (through a proxy, with files) goes to a
real `requests.Session`."""

from __future__ import annotations

from typing import Any

POOL_SIZE = 16  # connections kept open per host: one per thread that may talk to the venue at once


class _Response:
    """What ccxt reads of a response: status, reason, headers (case-insensitive), body."""

    __slots__ = ("status_code", "reason", "headers", "content", "encoding", "url")

    def __init__(self, raw: Any, url: str):
        self.status_code, self.reason, self.headers, self.content = raw.status, raw.reason, raw.headers, raw.data
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


class PooledSession:
    """A drop-in for the `requests.Session` of a sync ccxt client (see the module's docstring)."""

    def __init__(self) -> None:
        import certifi
        import urllib3

        self.headers: dict[str, str] = {}
        self.cookies = _NoCookies()
        self._verified = urllib3.PoolManager(maxsize=POOL_SIZE, retries=False, cert_reqs="CERT_REQUIRED", ca_certs=certifi.where())
        self._unverified: Any = None
        self._fallback: Any = None

    def request(self, method: str, url: str, data: Any = None, headers: dict | None = None, timeout: Any = None,
                proxies: dict | None = None, verify: bool = True, files: Any = None) -> Any:
        if proxies or files:
            return self._requests().request(method, url, data=data, headers=headers, timeout=timeout, proxies=proxies,
                                            verify=verify, files=files)
        import urllib3
        from requests import exceptions as rex
        from urllib3 import exceptions as uex

        pool = self._verified if verify else self._insecure()
        try:
            raw = pool.request(method, url, body=data, headers=headers, timeout=urllib3.Timeout(connect=timeout, read=timeout),
                               retries=False, redirect=False)
        except uex.NewConnectionError as exc:  # before ConnectTimeoutError, which it subclasses: refused, unreachable
            raise rex.ConnectionError(f"Connection aborted. ({exc})") from exc
        except uex.ConnectTimeoutError as exc:
            raise rex.ConnectTimeout(str(exc)) from exc
        except uex.ReadTimeoutError as exc:
            raise rex.ReadTimeout(f"Read timed out. ({exc})") from exc
        except uex.SSLError as exc:
            raise rex.SSLError(str(exc)) from exc
        except (uex.ProtocolError, uex.MaxRetryError, OSError) as exc:
            raise rex.ConnectionError(f"Connection aborted. ({exc})") from exc
        except uex.HTTPError as exc:
            raise rex.RequestException(str(exc)) from exc
        return _Response(raw, url)

    def _insecure(self) -> Any:
        if self._unverified is None:
            import urllib3

            self._unverified = urllib3.PoolManager(maxsize=POOL_SIZE, retries=False, cert_reqs="CERT_NONE")
        return self._unverified

    def _requests(self) -> Any:
        if self._fallback is None:
            import requests

            self._fallback = requests.Session()
            self._fallback.trust_env = False
        return self._fallback

    def close(self) -> None:
        for pool in (self._verified, self._unverified):
            if pool is not None:
                pool.clear()
        if self._fallback is not None:
            self._fallback.close()
