"""What `go-live`, `trade` and `testnet` tell a trader's own bot (`bot: external`), and how a service
manager's SIGTERM ends a session cleanly."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator

from livegate.cli import display as d


def stop_on_signal(ctrl_c: bool = False):
    """SIGTERM (a service manager stopping livegate) ends the bot's session at the loop's next
    turn — its resting orders cancelled — instead of killing it mid-step. With `ctrl_c`, the
    first Ctrl-C does the same (a second one interrupts at once). Returns the loop's question:
    was a stop asked for?"""
    import signal

    asked: list[int] = []

    def on_ctrl_c(signum, frame):
        if asked:
            raise KeyboardInterrupt
        asked.append(signum)
        d.console(stderr=True).print("[yellow]Stopping at the next turn of the loop[/] (resting orders cancelled); "
                                     "Ctrl-C again to interrupt at once.")

    with contextlib.suppress(ValueError):  # not the main thread: nothing to install
        signal.signal(signal.SIGTERM, lambda signum, frame: asked.append(signum))
        if ctrl_c:
            signal.signal(signal.SIGINT, on_ctrl_c)
    return lambda: bool(asked)


@contextlib.contextmanager
def stopping_on_signals(ctrl_c: bool = False) -> Iterator[Callable[[], bool]]:
    """`stop_on_signal` for the block, then the signal handlers as they were."""
    import signal

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop_on_signal(ctrl_c)
    finally:
        with contextlib.suppress(ValueError, TypeError):  # not the main thread, or a handler set outside Python
            for sig, handler in saved.items():
                signal.signal(sig, handler)


def gateway_json(info: dict) -> None:
    """The first stdout line under --json: how the bot reaches the gateway (as `sandbox serve --json`)."""
    sys.stdout.write(json.dumps(info, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def gateway_text(info: dict) -> None:
    err = d.console(stderr=True)
    err.print(f"Gateway for your bot: [bold]{info['gateway_url']}[/] → {info['venue']} ({', '.join(info['symbols'])}), step {info['step']}")
    err.print("  Point your bot's Binance REST URL there and sign with the key of `livegate gateway key`.", highlight=False)
