"""The monitor's screen: rich renderables drawn from a snapshot (no reading, no I/O)."""

from __future__ import annotations

from typing import Any

from livegate.core.formats import money, number, pct, when
from livegate.core.redact import redact_text

LEVEL_STYLE = {"green": "bold green", "yellow": "bold yellow", "red": "bold red", "n/a": "dim"}


def _table(title: str, columns: list[str], rows: list[list[Any]], empty: str):
    from rich.table import Table
    from rich.text import Text

    t = Table(title=title, title_justify="left", expand=True, show_edge=False, pad_edge=False)
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*[cell if isinstance(cell, Text) else Text(redact_text("" if cell is None else str(cell))) for cell in row])
    if not rows:
        t.add_row(Text(empty, style="dim"), *[""] * (len(columns) - 1))
    return t


def _styled(text: str, style: str):
    from rich.text import Text

    return Text(text, style=style)


def _level(level: str):
    return _styled(level.upper(), LEVEL_STYLE.get(level, ""))


def _lines(title: str, pairs: list[tuple[str, str]]):
    from rich.panel import Panel
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column(justify="right")
    for label, value in pairs:
        grid.add_row(label, redact_text(value))
    return Panel(grid, title=title, title_align="left")


def header(s: dict[str, Any]):
    from rich.panel import Panel
    from rich.text import Text

    mode, run = s["mode"], s["run"]
    text = Text()
    text.append("Mode ", style="dim").append(mode["label"], style="bold red" if mode["mode"] == "EMERGENCY_STOP" else "bold")
    text.append("   Halted ", style="dim").append("YES" if mode["halted"] else "no", style="bold red" if mode["halted"] else "green")
    text.append("   Flags ", style="dim").append_text(_level(s["flags"]["overall"]))
    text.append(f"   {s['generated_at']}", style="dim")
    if mode["halted"]:
        text.append("\n" + redact_text(mode["halt_reason"] or ""), style="red")
    if run is None:
        text.append("\nNo run in the ledger yet: start one with `livegate paper-run` or `livegate go-live`.", style="dim")
    else:
        text.append(f"\nRun {run['id']} — {run['source']} {run['kind']}, {run['status']} ({run['why']})")
    age = s["ledger"].get("last_event_age_s")
    if age is not None:
        text.append(f"\nLast ledger event #{s['ledger']['last_event_id']} {age:,.0f} s ago", style="dim")
    return Panel(text, title=f"livegate monitor — {redact_text(s.get('workspace', ''))}", title_align="left")


def _latency_text(lat: dict[str, Any]) -> tuple[str, str]:
    ack, venue = lat["order_ack"], lat["venue_calls"]
    order = f"p50 {ack['p50_s']:.3f} s · p95 {ack['p95_s']:.3f} s ({ack['count']})" if ack["measured"] else "not measured"
    calls = f"median {venue['median_s']:.3f} s, {venue['errors']} errors ({venue['count']})" if venue["measured"] else "not measured"
    return order, calls


def body(s: dict[str, Any]):
    from rich.console import Group
    from rich.table import Table

    pnl, dd, perf, orders = s["pnl"], s["drawdown"], s["performance"], s["orders"]
    lim = dd["limits"]
    order_lat, venue_lat = _latency_text(s["latency"])
    top = Table.grid(expand=True, padding=(0, 1))
    for _ in range(3):
        top.add_column(ratio=1)
    top.add_row(
        _lines("P&L", [("realized", money(pnl["realized"])), ("unrealized", money(pnl["unrealized"])), ("equity", money(pnl["equity"])),
                       ("return", pct(pnl["return_pct"], 3)), ("fees", money(pnl["fees"])),
                       ("trades / win rate", f"{perf['trades']} / {pct(perf['win_rate_pct'], 1)}")]),
        _lines("Drawdown", [("now (trades)", pct(dd["current_pct"])), ("max (trades)", pct(dd["max_pct"])),
                            ("now / max (marked)", f"{pct(dd['marked_current_pct'])} / {pct(dd['marked_max_pct'])}"),
                            ("guardian halts buys", pct(lim["guardian_drawdown_pct"], 0)),
                            ("breaker halts all", pct(lim["breaker_drawdown_pct"], 0)),
                            ("losing streak / halt", f"{perf['current_losing_streak']} / {lim['consecutive_losses_halt']}")]),
        _lines("Orders & latency", [("placed / filled", f"{orders['placed']} / {orders['filled']}"), ("blocked", str(orders["blocked"])),
                                    ("failed", f"{orders['failures']} ({pct(orders['failure_rate_pct'], 1)})"),
                                    ("order ack", order_lat), ("venue calls", venue_lat),
                                    ("websocket", s["latency"].get("websocket", {}).get("reason") or "not measured"),
                                    ("alerts", f"{s['alerts']['count']} ({s['alerts']['critical']} critical)")]),
    )
    flags = _table("Flags", ["Rule", "Flag", "Detail"],
                   [[f["rule"], _level(f["level"]), f["detail"]] for f in s["flags"]["rules"]], "")
    breakers = _table("Circuit breakers (UTC)", ["Breaker", "State", "Trips", "First trip", "Last trip"],
                      [[b["breaker"], _styled(b["state"], "bold red" if b["state"] == "tripped" else "green"), b["trips"],
                        when(b["first_trip_at"]), " — ".join(filter(None, (when(b["last_trip_at"]), b["message"])))]
                       for b in s["breakers"]], "")
    rows = [[p["symbol"], number(p["amount"], 6), money(p["entry_price"]), money(p["last_price"]), money(p["unrealized"])]
            for p in s["positions"]]
    rows += [[_styled(f"{p['symbol']} (dust)", "dim"), number(p["amount"], 6), money(p["entry_price"]), money(p["last_price"]),
              money(p["unrealized"])] for p in s["dust"]["positions"]]
    title = "Open positions" + (" · dust: too small to sell, kept out of trading" if s["dust"]["positions"] else "")
    positions = _table(title, ["Symbol", "Amount", "Entry", "Last", "Unrealized"], rows, "none")
    trades = _table(f"Recent trades (last {len(s['recent_trades'])})", ["Closed (UTC)", "Symbol", "Entry", "Exit", "Net"],
                    [[when(t["closed_at"]), t["symbol"], money(t["entry_price"]), money(t["exit_price"]), money(t["net"])]
                     for t in s["recent_trades"]], "none yet")
    middle = Table.grid(expand=True, padding=(0, 2))
    middle.add_column(ratio=3)
    middle.add_column(ratio=2)
    middle.add_row(flags, breakers)
    bottom = Table.grid(expand=True, padding=(0, 2))
    bottom.add_column(ratio=2)
    bottom.add_column(ratio=3)
    bottom.add_row(positions, trades)
    return Group(top, middle, bottom)


def render(s: dict[str, Any]):
    """The whole screen for one snapshot."""
    from rich.console import Group

    if s["run"] is None:
        return header(s)
    return Group(header(s), body(s))
