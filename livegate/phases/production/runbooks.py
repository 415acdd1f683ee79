"""The runbooks a production workspace keeps (seed 000 §5.4), written by `livegate init` into
`runbooks/` and checked by `livegate production`: each must exist, and still name the command
it is about (an emptied or unrelated file does not count)."""

from __future__ import annotations

from pathlib import Path

from livegate.config.workspace import RUNBOOKS_DIR

REQUIRED = {
    "emergency-shutdown.md": "livegate halt",
    "cancel-all.md": "livegate cancel-all",
    "rollback-to-paper.md": "livegate rollback",
    "credential-rotation.md": "livegate validate",
    "incident-response.md": "livegate halt",
}


def runbook_status(root: Path) -> dict[str, bool]:
    """{file name: present and naming its command}."""
    out = {}
    for name, command in REQUIRED.items():
        path = root / RUNBOOKS_DIR / name
        try:
            out[name] = command in path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            out[name] = False
    return out
