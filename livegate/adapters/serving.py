"""An asyncio HTTP server (the local sandbox, the bot gateway) on its own event loop in a
background thread, so the synchronous rest of livegate can start it, use it and stop it."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from typing import Any, Protocol

JSON = "application/json;charset=UTF-8"


class AsyncServer(Protocol):
    async def start(self) -> str: ...

    async def stop(self) -> None: ...


async def listen(handler: Any, host: str, port: int) -> tuple[Any, int]:
    """aiohttp's low-level server (no router or middleware on the hot path) for `handler` on
    `host:port` (0: a free port); returns its runner (to `cleanup()`) and the port."""
    from aiohttp import web

    runner = web.ServerRunner(web.Server(handler, access_log=None), shutdown_timeout=1.0)
    await runner.setup()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    await web.SockSite(runner, sock).start()
    return runner, sock.getsockname()[1]


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Any:
    """An aiohttp response with `body` as compact JSON, Binance's content type. aiohttp is
    loaded when a server starts, not when livegate is imported (a backtest never serves)."""
    from aiohttp import web

    return web.Response(status=status, body=json.dumps(body, separators=(",", ":")).encode(),
                        headers={"Content-Type": JSON, **(headers or {})})


def text_response(status: int, text: str, content_type: str = "text/plain") -> Any:
    """An aiohttp response with a text body (a 404, a proxy's HTML error page)."""
    from aiohttp import web

    return web.Response(status=status, text=text, content_type=content_type)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when it is installed (ccxt depends on it), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class ServerThread:
    """`start()` runs `server.start()` on a new loop in a daemon thread and returns its URL (an
    error starting it is raised here); `stop()` stops the loop, then `server.stop()`, and joins."""

    def __init__(self, server: AsyncServer, name: str):
        self.server, self.name = server, name
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> str:
        outcome: dict[str, Any] = {}
        started = threading.Event()

        def run() -> None:
            loop = new_event_loop()
            asyncio.set_event_loop(loop)
            self.loop = loop
            try:
                outcome["url"] = loop.run_until_complete(self.server.start())
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                outcome["error"] = exc
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self.server.stop())
            loop.close()

        self.thread = threading.Thread(target=run, name=self.name, daemon=True)
        self.thread.start()
        started.wait()
        if "error" in outcome:
            self.thread, self.loop = None, None
            raise outcome["error"]
        return str(outcome["url"])

    def stop(self) -> None:
        if self.thread is None or self.loop is None:
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.thread, self.loop = None, None
