"""The demo loosens a few thresholds for its rehearsal, never past a floor: its `livegate.yaml`
loads like any workspace's (the full run is tests/demo/test_demo.py)."""

from __future__ import annotations

import yaml

from livegate.config.workspace import Workspace
from livegate.demo import DEMO_THRESHOLDS


def test_the_demo_thresholds_are_within_the_floors_and_flagged_as_looser(workspace):
    path = workspace / "livegate.yaml"
    data = yaml.safe_load(path.read_text())
    data["thresholds"] = DEMO_THRESHOLDS
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    looser = Workspace(workspace).effective.looser_lines  # raises ConfigError past a floor
    assert sorted(looser) == sorted([
        "paper.total_return_pct: 0 is looser than the default > 1",
        "paper.fee_drag_pct: 50 is looser than the default < 15",
        "paper.win_rate_pct: [30, 80] is looser than the default between [45.0, 60.0]",
        "micro-live.live_vs_paper_worse_pct: 100 is looser than the default <= 50",
        "micro-live.win_rate_gap_points: 30 is looser than the default <= 5",
    ])
