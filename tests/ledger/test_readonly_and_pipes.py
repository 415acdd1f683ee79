"""An auditor's read-only copy of a ledger can be checked, and a command whose reader went away
(`livegate ledger export | head`) ends quietly instead of with an internal error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

LIVEGATE = [sys.executable, "-m", "livegate"]


def _closed_pipe_run(*args: str) -> subprocess.CompletedProcess:
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will read: the first write meets a closed pipe
    try:
        return subprocess.run([*LIVEGATE, *args], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("args", [("status",), ("status", "--json"), ("ledger", "show"), ("ledger", "export", "--format", "json")])
def test_a_closed_output_pipe_ends_quietly_with_141(workspace, operator_key, args):
    done = _closed_pipe_run("-w", str(workspace), *args)
    assert done.returncode == 141 and done.stderr == ""


def test_help_into_a_closed_pipe_is_quiet_too(workspace):
    done = _closed_pipe_run("validate", "--help")
    assert done.stderr == "" and done.returncode != 70


def _read_only_mount_works() -> bool:
    if not shutil.which("unshare") or os.geteuid() != 0:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount --bind / /mnt 2>/dev/null && echo ok"], capture_output=True, text=True)
    return probe.stdout.strip() == "ok"


@pytest.mark.skipif(not _read_only_mount_works(), reason="needs root and mount namespaces for a real read-only mount")
def test_verify_status_and_show_work_on_a_read_only_mount(workspace, operator_key, run_cli):
    assert run_cli("-w", workspace, "halt", "--reason", "before the audit").exit_code == 0
    script = (
        f'mount --bind "{workspace}" "{workspace}" && mount -o remount,bind,ro "{workspace}" && '
        f'touch "{workspace}/.livegate/probe" 2>/dev/null && echo WRITABLE; '
        + " ; ".join(f'{" ".join(LIVEGATE)} -w "{workspace}" {cmd} > "/tmp/ro-{os.getpid()}-{i}.out" 2>&1; echo "rc=$?"'
                     for i, cmd in enumerate(("ledger verify", "status --json", "ledger show")))
    )
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=180, env=os.environ)
    assert "WRITABLE" not in done.stdout, "the mount was not read-only"
    assert done.stdout.split() == ["rc=0", "rc=0", "rc=0"], done.stdout + done.stderr
    outputs = []
    for i in range(3):
        path = f"/tmp/ro-{os.getpid()}-{i}.out"
        with open(path, encoding="utf-8") as f:
            outputs.append(f.read())
        os.unlink(path)
    assert "hash chain intact" in outputs[0]
    assert json.loads(outputs[1])["ledger"]["ok"] is True
    assert "trading_halted" in outputs[2]
