"""`.env` and git (seed 000 §1.1: "`.env` file exists and is NOT committed to git"): is it
ignored, is it tracked, was it ever committed? Git itself is asked; nothing is guessed."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
from pathlib import Path


class GitError(RuntimeError):
    """git could not answer (not installed, a broken repository)."""


def git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    exe = shutil.which("git")
    if exe is None:
        raise GitError("git is not installed, so livegate cannot tell whether .env was ever committed")
    proc = subprocess.run([exe, "-C", str(root), *args], capture_output=True, text=True, errors="replace",
                          env={"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "PATH": _path()})
    if check and proc.returncode != 0:
        raise GitError(f"git {' '.join(args[:2])} failed: {proc.stderr.strip()[:200]}")
    return proc


def _path() -> str:
    import os

    return os.environ.get("PATH", "/usr/bin:/bin")


def repo_root(root: Path) -> Path | None:
    """The enclosing git work tree, or None when `root` is not inside one."""
    if shutil.which("git") is None:
        for parent in (root, *root.resolve().parents):
            if (parent / ".git").exists():
                raise GitError(f"{parent} is a git repository but git is not installed")
        return None
    proc = git(root, "rev-parse", "--show-toplevel", check=False)
    return Path(proc.stdout.strip()) if proc.returncode == 0 else None


def gitignore_covers(root: Path, name: str = ".env") -> bool:
    """Outside a repository: whether the workspace's own .gitignore lists `name`."""
    path = root / ".gitignore"
    if not path.is_file():
        return False
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        pattern = line.strip().lstrip("/")
        if pattern and not pattern.startswith(("#", "!")) and fnmatch.fnmatch(name, pattern):
            return True
    return False


def env_file_status(root: Path, name: str = ".env") -> dict:
    """Where `.env` stands with git: `repository`, `ignored`, `tracked`, and `commits` (short
    hashes of every commit on any ref that added, changed or deleted it)."""
    top = repo_root(root)
    if top is None:
        return {"repository": None, "ignored": gitignore_covers(root, name), "tracked": False, "commits": []}
    ignored = git(root, "check-ignore", "-q", "--no-index", "--", name, check=False).returncode == 0
    tracked = git(root, "ls-files", "--error-unmatch", "--", name, check=False).returncode == 0
    log = git(root, "log", "--all", "--format=%h", "--", name, check=False)
    if log.returncode != 0 and "does not have any commits" not in log.stderr:
        raise GitError(f"git log failed: {log.stderr.strip()[:200]}")
    commits = log.stdout.split() if log.returncode == 0 else []
    return {"repository": str(top), "ignored": ignored, "tracked": tracked, "commits": commits}


def env_file_safe(status: dict) -> tuple[bool, str]:
    """Whether `.env` is ignored, untracked and absent from history; and what is wrong."""
    problems = []
    if status["commits"]:
        shown = ", ".join(status["commits"][:5]) + (" …" if len(status["commits"]) > 5 else "")
        problems.append(f".env is in the git history ({len(status['commits'])} commit(s): {shown}): every secret in "
                        "it must be treated as leaked — rotate the keys, then remove it from the history")
    if status["tracked"]:
        problems.append(".env is tracked by git: `git rm --cached .env`")
    if not status["ignored"]:
        problems.append(".env is not git-ignored: add `.env` to .gitignore")
    return not problems, "; ".join(problems)
