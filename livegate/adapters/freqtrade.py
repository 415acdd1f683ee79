"""Reading a Freqtrade dry-run database (SQLite): the `trades` table's rows, read-only."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from livegate.core.errors import UsageError


def read_trades_table(path: Path, name: str, required: tuple[str, ...], optional: tuple[str, ...]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """(the columns read, the rows of `trades` in id order): every `required` column and those
    of `optional` the table has. A file that is not such a database is a UsageError naming it."""
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise UsageError(f"{name}: cannot open the SQLite database ({e})") from None
    try:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        if "trades" not in tables:
            listed = ", ".join(tables) if tables else "none"
            raise UsageError(f"{name}: no `trades` table, so not a Freqtrade database (tables: {listed})")
        columns = [row[1] for row in conn.execute("PRAGMA table_info(trades)")]
        missing = [c for c in required if c not in columns]
        if missing:
            raise UsageError(f"{name}: table trades has no column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                             "not a Freqtrade trades table this importer knows")
        wanted = list(required) + [c for c in optional if c in columns]
        return wanted, conn.execute(f"SELECT {', '.join(wanted)} FROM trades ORDER BY id").fetchall()
    except sqlite3.DatabaseError as e:
        raise UsageError(f"{name}: not a readable SQLite database ({e})") from None
    finally:
        conn.close()
