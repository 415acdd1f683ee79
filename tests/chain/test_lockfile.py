"""The committed package-lock.json is complete for every platform: `npm install` on Linux, macOS
or Windows finds its own anvil binary package already locked, so it leaves the lockfile (and the
checkout) unchanged. No network: the lockfile and, when `npm install` has run, the installed
packages' own manifests."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
ANVIL = "@foundry-rs/anvil"


def _optional_dependencies(lock: dict) -> dict[str, dict[str, str]]:
    """Per locked package with optional dependencies: what its own package.json declares (the
    installed copy when there is one, else the lockfile's record of it)."""
    found = {}
    for key, entry in lock["packages"].items():
        if not key.startswith("node_modules/"):
            continue
        manifest = ROOT / key / "package.json"
        declared = json.loads(manifest.read_text()).get("optionalDependencies") if manifest.is_file() else entry.get("optionalDependencies")
        if declared:
            found[key.removeprefix("node_modules/")] = declared
    return found


def test_the_lockfile_has_every_platforms_optional_package():
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"][""]["dependencies"] == package["dependencies"]
    optional = _optional_dependencies(lock)
    assert set(optional[ANVIL]) >= {f"{ANVIL}-{p}" for p in ("linux-amd64", "linux-arm64", "darwin-amd64", "darwin-arm64", "win32-amd64")}
    for name, wanted in ((n, v) for deps in optional.values() for n, v in deps.items()):
        entry = lock["packages"].get(f"node_modules/{name}")
        assert entry is not None, f"{name} is not in package-lock.json: `npm install` on its platform would add it"
        assert entry["version"] == wanted and entry["integrity"].startswith("sha512-") and entry["optional"] is True, name
    platforms = {(entry["os"][0], entry["cpu"][0]) for key, entry in lock["packages"].items() if key.startswith(f"node_modules/{ANVIL}-")}
    assert platforms == {("linux", "x64"), ("linux", "arm64"), ("darwin", "x64"), ("darwin", "arm64"), ("win32", "x64")}
