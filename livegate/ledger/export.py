"""Ledger exports (CSV / JSON) and one-line summaries of events."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from livegate.core.canonical import canonical_json
from livegate.ledger.reader import connect_readonly
from livegate.core.redact import redact

COLUMNS = ("id", "ts", "kind", "actor", "payload", "prev_hash", "hash")


def export_events(path: Path, fmt: str, kinds: tuple[str, ...] = ()) -> str:
    conn = connect_readonly(path)
    try:
        sql = f"SELECT {', '.join(COLUMNS)} FROM events"
        params: tuple = ()
        if kinds:
            sql += f" WHERE kind IN ({','.join('?' * len(kinds))})"
            params = kinds
        rows = conn.execute(sql + " ORDER BY id", params).fetchall()
    finally:
        conn.close()
    records = []
    for row in rows:
        record = dict(zip(COLUMNS, row))
        record["payload"] = redact(json.loads(record["payload"]))
        records.append(record)
    if fmt == "json":
        return json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({**record, "payload": canonical_json(record["payload"])})
    return buffer.getvalue()


def summarize(kind: str, payload: dict) -> str:
    if kind == "phase_result":
        return f"{payload.get('step')} {payload.get('kind')}: {payload.get('verdict')}"
    if kind == "signoff":
        return f"{payload.get('step')} signed by {payload.get('by')} (key {payload.get('key_id')})"
    if kind == "mode_changed":
        return f"{payload.get('from')} → {payload.get('to')}: {payload.get('reason', '')}"
    text = canonical_json(payload)
    return text if len(text) <= 80 else text[:77] + "..."
