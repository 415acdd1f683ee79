"""`livegate go-live` as a command: a short run paused by --max-hours, the report, and a second
live process refused while one holds the workspace."""

from __future__ import annotations

import json

from livegate.config.workspace import Workspace
from livegate.services import controls


def test_a_short_run_pauses_and_reports(run_cli, live_ws):
    result = run_cli("-w", live_ws, "go-live", "--stage", "4.1a", "--yes", "--max-hours", "0", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "paused" and report["stage"] == "4.1a" and report["verdict"] is None
    assert report["measures"]["limits_enforced"] is True


def test_a_second_live_process_is_refused(run_cli, live_ws):
    with controls.live_lock(Workspace(live_ws)):
        result = run_cli("-w", live_ws, "go-live", "--stage", "4.1a", "--yes", "--max-hours", "0")
    assert result.exit_code == 2 and "live" in result.output.lower()
