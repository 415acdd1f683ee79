"""Secret scan of a workspace and its git history (seed 000 §1.4, "secret scanning passes").

Two detectors: detect-secrets' plugins (keys, tokens, high-entropy strings; a line marked
`# pragma: allowlist secret` is skipped, as detect-secrets documents), and an exact search for
the secret values configured in `.env` / the environment — a key copied into a script or a
note is found even when it looks like plain text. Findings name file, line (and commit) and
the detector; never the value. `.env` itself, `.livegate/` and `.git/` are not scanned (the
git status of `.env` is its own check)."""

from __future__ import annotations

import os
from pathlib import Path

from livegate.adapters.envcheck.gitrepo import git, repo_root

SKIP_DIRS = {".git", ".livegate", "node_modules", ".venv", "venv", "__pycache__", ".mypy_cache", ".pytest_cache", ".hypothesis"}
SKIP_FILES = {".env"}
MAX_BYTES = 2_000_000
MIN_SECRET_LEN = 8


def workspace_files(root: Path) -> list[Path]:
    """Files that are, or could be, committed: git's tracked and untracked-but-not-ignored files
    inside a repository; every file otherwise (skipping SKIP_DIRS)."""
    if repo_root(root) is not None:
        listed = git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", ".").stdout
        paths = [root / p for p in listed.split("\0") if p]
    else:
        paths = []
        for base, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            paths += [Path(base) / f for f in sorted(files)]
    return [p for p in paths if _scannable(p, root)]


def _scannable(path: Path, root: Path) -> bool:
    rel = path.relative_to(root)
    if rel.name in SKIP_FILES or any(part in SKIP_DIRS for part in rel.parts[:-1]):
        return False
    try:
        return path.is_file() and path.stat().st_size <= MAX_BYTES
    except OSError:
        return False


def scan(root: Path, known: dict[str, str]) -> dict:
    """Scan `root`'s files and its git history. `known` maps secret names to their values.
    Returns counts and `findings` ({file, line, detector[, commit]})."""
    from detect_secrets.core.scan import get_filters, scan_diff, scan_file
    from detect_secrets.settings import default_settings, get_settings

    values = {name: v for name, v in known.items() if v and len(v) >= MIN_SECRET_LEN}
    findings: list[dict] = []
    files = workspace_files(root)
    with default_settings():
        for path in files:
            rel = str(path.relative_to(root))
            findings += [{"file": rel, "line": s.line_number, "detector": s.type} for s in scan_file(str(path))]
            findings += _known_in_file(path, rel, values)
        commits = 0
        # History holds files that no longer exist: don't let detect-secrets drop them as invalid.
        get_settings().disable_filters("detect_secrets.filters.common.is_invalid_file")
        get_filters.cache_clear()
        if repo_root(root) is not None:
            for sha, diff in _history(root):
                commits += 1
                findings += [{"file": s.filename, "line": s.line_number, "detector": s.type, "commit": sha[:10]}
                             for s in scan_diff(diff)]
                findings += _known_in_diff(diff, sha, values)
    unique = {tuple(sorted(f.items())): f for f in findings}
    return {"files_scanned": len(files), "commits_scanned": commits, "known_values": sorted(values),
            "findings": sorted(unique.values(), key=lambda f: (f.get("commit", ""), f["file"], f["line"]))}


def _known_in_file(path: Path, rel: str, values: dict[str, str]) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [{"file": rel, "line": number, "detector": f"value of {name}"}
            for number, line in enumerate(text.splitlines(), start=1)
            for name, value in values.items() if value in line]


def _history(root: Path):
    """(commit, patch) for every commit on any ref that touched the workspace."""
    log = git(root, "log", "--all", "-p", "--no-color", "--no-ext-diff", "--no-renames", "--format=%x00%H", "--", ".", check=False)
    if log.returncode != 0:
        return
    for chunk in log.stdout.split("\0")[1:]:
        sha, _, diff = chunk.partition("\n")
        if diff.strip():
            yield sha.strip(), diff


def _known_in_diff(diff: str, sha: str, values: dict[str, str]) -> list[dict]:
    """Known secret values on added lines of a patch, with the new file's line numbers."""
    out, path, number = [], "", 0
    for line in diff.splitlines():
        if line.startswith("+++ "):
            path = line[6:] if line.startswith("+++ b/") else line[4:]
        elif line.startswith("@@"):
            number = int(line.split("+", 1)[1].split(",", 1)[0].split(" ", 1)[0]) - 1
        elif line.startswith("+"):
            number += 1
            out += [{"file": path, "line": number, "detector": f"value of {name}", "commit": sha[:10]}
                    for name, value in values.items() if value in line]
        elif not line.startswith("-"):
            number += 1
    return out
