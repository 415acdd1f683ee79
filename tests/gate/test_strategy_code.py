"""The strategy part of the signed-off fingerprint covers the code that runs: every `.py` file
next to a file ref (helpers, subfolders), every file of a module ref's top-level package
(its `__init__.py` too), found without importing it. A change to any of them after sign-off
closes the gate and names the file; `livegate status` never imports the trader's code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from livegate.config.strategy import MAX_FILES, strategy_code
from livegate.core.errors import GateClosed
from livegate.phases import run_phase

from .test_gate import ENV_PASS, PAPER_PASS, events, status_json, step_of, ws_of

STRATEGY = '''"""A strategy whose rule lives in a helper module next to it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from helpers import signal  # noqa: E402


class Mine:
    def on_bar(self, bar, ctx):
        return signal(bar)
'''
HELPER = '''def signal(bar):
    return []
'''
PACKAGE_INIT = '''import os
from pathlib import Path

Path(os.environ["LIVEGATE_TEST_MARKER"]).write_text("imported", encoding="utf-8")
'''
PACKAGE_STRATEGY = '''class Strat:
    def on_bar(self, bar, ctx):
        return []
'''


def set_ref(root: Path, ref: str) -> None:
    path = root / "livegate.yaml"
    text = path.read_text(encoding="utf-8")
    needle = "ref: strategies/ema_cross.py:EmaCross"
    assert text.count(needle) == 1
    path.write_text(text.replace(needle, f"ref: {ref}"), encoding="utf-8")


def livegate(root: Path, *args: str) -> subprocess.CompletedProcess:
    """The real CLI in its own process (a fresh interpreter: nothing imported beforehand)."""
    return subprocess.run([sys.executable, "-m", "livegate", "-w", str(root), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def helper_ws(workspace) -> Path:
    """A workspace trading strategies/mine.py:Mine, which imports strategies/helpers.py."""
    (workspace / "strategies" / "mine.py").write_text(STRATEGY, encoding="utf-8")
    (workspace / "strategies" / "helpers.py").write_text(HELPER, encoding="utf-8")
    set_ref(workspace, "strategies/mine.py:Mine")
    return workspace


@pytest.fixture
def helper_signed(helper_ws, operator_key, run_cli) -> Path:
    assert run_phase(ENV_PASS, ws_of(helper_ws), key=operator_key).passed
    result = run_cli("-w", helper_ws, "signoff", "env", "--by", "alice", "--yes")
    assert result.exit_code == 0, result.output
    assert step_of(status_json(run_cli, helper_ws), "env")["status"] == "signed"
    return helper_ws


@pytest.fixture
def package(tmp_path, monkeypatch) -> Path:
    """A package `lgtest_pkg` on sys.path (here and for subprocesses) whose `__init__` writes a
    marker file when imported; returns the marker's path (absent until an import)."""
    lib = tmp_path / "lib"
    (lib / "lgtest_pkg").mkdir(parents=True)
    (lib / "lgtest_pkg" / "__init__.py").write_text(PACKAGE_INIT, encoding="utf-8")
    (lib / "lgtest_pkg" / "strat.py").write_text(PACKAGE_STRATEGY, encoding="utf-8")
    marker = tmp_path / "imported.marker"
    monkeypatch.setenv("LIVEGATE_TEST_MARKER", str(marker))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(lib), os.environ.get("PYTHONPATH")])))
    monkeypatch.syspath_prepend(str(lib))
    yield marker
    sys.modules.pop("lgtest_pkg.strat", None)
    sys.modules.pop("lgtest_pkg", None)


# --------------------------------------------------------------------------- file refs: the folder's .py files

def test_helper_module_change_after_signoff_closes_the_gate_naming_the_file(helper_signed, operator_key, run_cli):
    root = helper_signed
    helper = root / "strategies" / "helpers.py"
    original = helper.read_bytes()
    helper.write_text("def signal(bar):\n    return [bar]  # trades on every bar now\n", encoding="utf-8")

    env = step_of(status_json(run_cli, root), "env")
    assert env["status"] == "stale"
    assert env["signed_by"] == "alice"
    assert "config changed since env sign-off" in env["detail"]
    assert "strategy code strategies/helpers.py" in env["detail"]

    with pytest.raises(GateClosed) as info:
        run_phase(PAPER_PASS, ws_of(root), key=operator_key)
    [reason] = info.value.reasons
    assert "strategy code strategies/helpers.py" in reason
    assert [e["payload"]["step"] for e in events(root, "phase_result")] == ["env"]  # paper not recorded

    # The real command, in its own process: refused with exit 3, naming the file.
    result = livegate(root, "paper-run", "--days", "1")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "strategy code strategies/helpers.py" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr

    # The same bytes back: the same fingerprint, the sign-off holds again.
    helper.write_bytes(original)
    assert step_of(status_json(run_cli, root), "env")["status"] == "signed"


def test_a_comment_only_edit_in_a_helper_counts_as_a_change(helper_signed, run_cli):
    root = helper_signed
    before = ws_of(root).effective.fingerprint
    helper = root / "strategies" / "helpers.py"
    helper.write_text("# reviewed, nothing changed\n" + HELPER, encoding="utf-8")
    assert ws_of(root).effective.fingerprint != before  # code is code: comments count
    env = step_of(status_json(run_cli, root), "env")
    assert env["status"] == "stale"
    assert "strategy code strategies/helpers.py" in env["detail"]


def test_new_and_removed_files_in_subfolders_are_drift_but_caches_and_data_are_not(helper_signed, run_cli):
    root = helper_signed
    sub = root / "strategies" / "lib"
    sub.mkdir()
    # Not code that runs: bytecode caches, data files, hidden folders and a virtualenv.
    (root / "strategies" / "__pycache__").mkdir(exist_ok=True)
    (root / "strategies" / "__pycache__" / "helpers.cpython-311.pyc").write_bytes(b"\x00junk")
    (root / "strategies" / "notes.txt").write_text("ideas", encoding="utf-8")
    (root / "strategies" / ".cache").mkdir()
    (root / "strategies" / ".cache" / "x.py").write_text("x = 1\n", encoding="utf-8")
    (root / "strategies" / "venv" / "lib").mkdir(parents=True)
    (root / "strategies" / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n", encoding="utf-8")
    (root / "strategies" / "venv" / "lib" / "site.py").write_text("x = 1\n", encoding="utf-8")
    assert step_of(status_json(run_cli, root), "env")["status"] == "signed"

    (sub / "filters.py").write_text("def keep(x):\n    return x\n", encoding="utf-8")
    env = step_of(status_json(run_cli, root), "env")
    assert env["status"] == "stale"
    assert "strategy code strategies/lib/filters.py (unset) →" in env["detail"]

    (sub / "filters.py").unlink()
    assert step_of(status_json(run_cli, root), "env")["status"] == "signed"
    (root / "strategies" / "helpers.py").unlink()
    env = step_of(status_json(run_cli, root), "env")
    assert env["status"] == "stale"
    assert "strategy code strategies/helpers.py" in env["detail"] and "→ (unset)" in env["detail"]


def test_fingerprint_is_stable_across_runs_and_ignores_mtimes(helper_signed, tmp_path, run_cli):
    root = helper_signed
    probe = "import sys; from pathlib import Path; from livegate.config.workspace import Workspace; print(Workspace(Path(sys.argv[1])).effective.fingerprint)"

    def fingerprint_in_a_new_process(where: Path) -> str:
        out = subprocess.run([sys.executable, "-c", probe, str(where)], capture_output=True, text=True, check=True, timeout=120)
        return out.stdout.strip()

    first = fingerprint_in_a_new_process(root)
    assert first == fingerprint_in_a_new_process(root) == ws_of(root).effective.fingerprint
    for path in (root / "strategies").rglob("*.py"):
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))  # 1970: every mtime changed, no byte
    assert fingerprint_in_a_new_process(root) == first
    assert step_of(status_json(run_cli, root), "env")["status"] == "signed"

    # Where the workspace lives plays no part: the same files elsewhere give the same strategy digest.
    copy = tmp_path / "elsewhere" / "strategies"
    copy.mkdir(parents=True)
    for path in (root / "strategies").glob("*.py"):
        (copy / path.name).write_bytes(path.read_bytes())
    here = strategy_code("strategies/mine.py:Mine", root)
    there = strategy_code("strategies/mine.py:Mine", copy.parent)
    assert here is not None and there is not None
    assert (here.sha256, here.files) == (there.sha256, there.files)
    assert sorted(here.files) == ["strategies/breakout.py", "strategies/ema_cross.py", "strategies/helpers.py", "strategies/mine.py"]


def test_status_cache_notices_an_edit_that_keeps_size_and_mtime(helper_signed, run_cli):
    root = helper_signed
    cache = root / ".livegate" / "effective-cache.json"
    assert step_of(status_json(run_cli, root), "env")["status"] == "signed"
    written = cache.stat().st_mtime_ns
    assert step_of(status_json(run_cli, root), "env")["status"] == "signed"
    assert cache.stat().st_mtime_ns == written  # a hit: the cache was not rewritten

    helper = root / "strategies" / "helpers.py"
    st = helper.stat()
    edited = HELPER.replace("return []", "return ()")
    assert len(edited) == len(HELPER)
    helper.write_text(edited, encoding="utf-8")
    os.utime(helper, ns=(st.st_atime_ns, st.st_mtime_ns))  # size and mtime as before
    assert helper.stat().st_size == st.st_size and helper.stat().st_mtime_ns == st.st_mtime_ns
    env = step_of(status_json(run_cli, root), "env")
    assert env["status"] == "stale"
    assert "strategy code strategies/helpers.py" in env["detail"]


def test_a_huge_strategy_folder_is_refused_with_exit_2_and_nothing_written(helper_ws, operator_key, run_cli):
    root = helper_ws
    assert run_phase(ENV_PASS, ws_of(root), key=operator_key).passed
    ledger_before = ws_of(root).ledger_path.read_bytes()
    bulk = root / "strategies" / "bulk"
    bulk.mkdir()
    for i in range(MAX_FILES + 1):
        (bulk / f"m{i}.py").write_text("", encoding="utf-8")

    for args in (("status",), ("signoff", "env", "--by", "alice", "--yes")):
        result = livegate(root, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "livegate.yaml strategy.ref" in result.stderr
        assert f"more than {MAX_FILES} files" in result.stderr
        assert "folder of their own" in result.stderr
        assert "Traceback" not in result.stderr
    assert ws_of(root).ledger_path.read_bytes() == ledger_before
    assert events(root, "signoff") == []


def test_a_symlink_loop_in_the_strategy_folder_does_not_hang(helper_signed, run_cli):
    root = helper_signed
    (root / "strategies" / "loop").mkdir()
    (root / "strategies" / "loop" / "again").symlink_to(root / "strategies", target_is_directory=True)
    report = status_json(run_cli, root)
    assert step_of(report, "env")["status"] == "signed"  # each folder once: no new file, no hang


# --------------------------------------------------------------------------- module refs: the top-level package

def test_status_and_signoff_never_import_a_module_strategy(workspace, package, operator_key, run_cli):
    marker = package
    set_ref(workspace, "lgtest_pkg.strat:Strat")

    result = livegate(workspace, "status")
    assert result.returncode == 0, result.stdout + result.stderr
    result = livegate(workspace, "status", "--json")  # through the cache this time
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["next_step"] == "env"
    assert run_phase(ENV_PASS, ws_of(workspace), key=operator_key).passed
    assert run_cli("-w", workspace, "signoff", "env", "--by", "alice", "--yes").exit_code == 0
    assert step_of(status_json(run_cli, workspace), "env")["status"] == "signed"
    assert not marker.exists()
    assert "lgtest_pkg" not in sys.modules

    # The marker works: loading the strategy (what a phase command does) imports the package.
    load = "import sys; from pathlib import Path; from livegate.config.strategy import load_strategy; load_strategy(sys.argv[1], {}, Path(sys.argv[2]))"
    subprocess.run([sys.executable, "-c", load, "lgtest_pkg.strat:Strat", str(workspace)], check=True, timeout=120)
    assert marker.read_text(encoding="utf-8") == "imported"


def test_package_init_change_after_signoff_closes_the_gate(workspace, package, operator_key, run_cli, tmp_path):
    marker = package
    set_ref(workspace, "lgtest_pkg.strat:Strat")
    assert run_phase(ENV_PASS, ws_of(workspace), key=operator_key).passed
    assert run_cli("-w", workspace, "signoff", "env", "--by", "alice", "--yes").exit_code == 0
    snapshot = ws_of(workspace).effective.snapshot
    assert sorted(snapshot["strategy code"]) == ["lgtest_pkg/__init__.py", "lgtest_pkg/strat.py"]

    init = tmp_path / "lib" / "lgtest_pkg" / "__init__.py"
    init.write_text(PACKAGE_INIT + "\nimport builtins  # runs on every import of the strategy\n", encoding="utf-8")
    env = step_of(status_json(run_cli, workspace), "env")
    assert env["status"] == "stale"
    assert "strategy code lgtest_pkg/__init__.py" in env["detail"]
    result = livegate(workspace, "paper-run", "--days", "1")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "strategy code lgtest_pkg/__init__.py" in result.stdout + result.stderr
    assert not marker.exists()  # refused before the strategy was loaded


def test_a_file_added_to_the_package_is_drift(workspace, package, operator_key, run_cli, tmp_path):
    set_ref(workspace, "lgtest_pkg.strat:Strat")
    assert run_phase(ENV_PASS, ws_of(workspace), key=operator_key).passed
    assert run_cli("-w", workspace, "signoff", "env", "--by", "alice", "--yes").exit_code == 0
    (tmp_path / "lib" / "lgtest_pkg" / "util").mkdir()
    (tmp_path / "lib" / "lgtest_pkg" / "util" / "params.json").write_text('{"fast": 3}', encoding="utf-8")
    env = step_of(status_json(run_cli, workspace), "env")
    assert env["status"] == "stale"
    assert "strategy code lgtest_pkg/util/params.json (unset) →" in env["detail"]
    assert not package.exists()


def test_bytecode_dropped_into_pycache_never_runs(tmp_path):
    """A .pyc marked to be trusted unchecked, next to the fingerprinted source: the strategy is
    compiled from the source the fingerprint covers, never from that cache."""
    import py_compile

    from livegate.config.strategy import load_strategy

    folder = tmp_path / "strategies"
    folder.mkdir()
    source = folder / "quiet.py"
    marker = tmp_path / "PWNED"
    source.write_text("class Quiet:\n    def on_bar(self, bar, ctx):\n        return None\n")
    evil = tmp_path / "evil.py"
    evil.write_text(f"open({str(marker)!r}, 'w').close()\nclass Quiet:\n    def on_bar(self, bar, ctx):\n        return None\n")
    cache = folder / "__pycache__" / f"quiet.{sys.implementation.cache_tag}.pyc"  # where Python looks by default
    py_compile.compile(str(evil), cfile=str(cache), invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    strategy = load_strategy("strategies/quiet.py:Quiet", {}, tmp_path)
    assert callable(strategy.on_bar) and not marker.exists()
