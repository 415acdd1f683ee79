"""Ledger exports (CSV / JSON) and one-line summaries of events."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from livegate.core.canonical import canonical_json
from livegate.core.redact import redact
from livegate.ledger.queries import export_rows, reading

COLUMNS = ("id", "ts", "kind", "actor", "payload", "prev_hash", "hash")


def export_events(path: Path, fmt: str, kinds: tuple[str, ...] = ()) -> str:
    with reading(path) as conn:
        rows = export_rows(conn, COLUMNS, kinds)
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
