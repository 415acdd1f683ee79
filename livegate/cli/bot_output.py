"""What `go-live` and `testnet` tell a trader's own bot (`bot: external`), and how a service
manager's SIGTERM ends its session cleanly."""

from __future__ import annotations

import contextlib
import json
import sys

from livegate.cli import display as d


def stop_on_signal():
    """SIGTERM (a service manager stopping livegate) ends the bot's session at the loop's next
    turn — its resting orders cancelled — instead of killing it mid-step. Returns the loop's
    question: was a stop asked for?"""
    import signal

    asked = []
    with contextlib.suppress(ValueError):  # not the main thread: nothing to install
        signal.signal(signal.SIGTERM, lambda signum, frame: asked.append(signum))
    return lambda: bool(asked)


def gateway_json(info: dict) -> None:
    """The first stdout line under --json: how the bot reaches the gateway (as `sandbox serve --json`)."""
    sys.stdout.write(json.dumps(info, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def gateway_text(info: dict) -> None:
    err = d.console(stderr=True)
    err.print(f"Gateway for your bot: [bold]{info['gateway_url']}[/] → {info['venue']} ({', '.join(info['symbols'])}), step {info['step']}")
    err.print("  Point your bot's Binance REST URL there and sign with the key of `livegate gateway key`.", highlight=False)
