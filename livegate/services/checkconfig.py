"""`livegate check-config`: validate config files offline. A checker that only collects,
results that only record, reporters chosen by name (text, json, github)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from livegate.config import loader
from livegate.core.errors import ConfigError, UsageError

KINDS = ("workspace", "risk", "phase")
# `file:LINE key.path: message`, or `file:LINE: message` for a problem with no key (YAML syntax, empty file).
_PROBLEM = re.compile(r"^(?P<file>.+?):(?P<line>\d+)(?P<nokey>:?) (?P<message>.*)$", re.S)


@dataclass
class FileResult:
    path: str
    kind: str
    problems: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def kind_of(path: Path) -> str:
    if path.name == "livegate.yaml":
        return "workspace"
    if path.name == "risk_limits.yaml":
        return "risk"
    if path.parent.name == "phases" and path.suffix in (".yaml", ".yml"):
        return "phase"
    raise UsageError(f"{path}: cannot tell what kind of config this is from its name; pass --kind {'|'.join(KINDS)}")


def check_file(path: Path, kind: str) -> FileResult:
    name = str(path)
    result = FileResult(name, kind)
    try:
        if kind == "workspace":
            loader.load_workspace_config(path, name)
        elif kind == "risk":
            loader.load_risk_limits(path, name)
        else:
            loader.load_phase_file(path, name)
    except ConfigError as exc:
        for text in exc.problems:
            m = _PROBLEM.match(text)
            if m and m.group("file") == name:
                msg = m.group("message")
                key, _, detail = ("", "", msg) if m.group("nokey") else msg.partition(": ")
                result.problems.append({"line": int(m.group("line")), "key": key if detail else "", "message": detail or msg})
            else:
                result.problems.append({"line": 1, "key": "", "message": text.removeprefix(name + ": ")})
    return result


def check_paths(paths: list[Path], kind: str | None = None) -> list[FileResult]:
    return [check_file(p, kind or kind_of(p)) for p in paths]


def report_text(results: list[FileResult]) -> str:
    lines = []
    for r in results:
        if r.ok:
            lines.append(f"{r.path} ({r.kind})....Passed")
        else:
            lines.append(f"{r.path} ({r.kind})....Failed")
            for p in r.problems:
                key = f" {p['key']}:" if p["key"] else ""
                lines.append(f"  {r.path}:{p['line']}{key} {p['message']}")
    bad = sum(not r.ok for r in results)
    lines.append(f"{len(results)} file(s) checked, {bad} with problems")
    return "\n".join(lines)


def report_json(results: list[FileResult]) -> str:
    return json.dumps({"ok": all(r.ok for r in results), "files": [
        {"path": r.path, "kind": r.kind, "ok": r.ok, "problems": r.problems} for r in results
    ]}, indent=2)


def _gh_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def report_github(results: list[FileResult]) -> str:
    lines = []
    for r in results:
        for p in r.problems:
            key = f"{p['key']}: " if p["key"] else ""
            path = r.path.replace(",", "%2C").replace(":", "%3A")
            lines.append(f"::error file={path},line={p['line']}::{_gh_escape(key + p['message'])}")
    return "\n".join(lines)


REPORTERS = {"text": report_text, "json": report_json, "github": report_github}
