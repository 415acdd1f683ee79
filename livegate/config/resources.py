"""Where the shipped data lives: `phases/`, `configs/` and `risk_limits.yaml`.

A wheel carries them under `livegate/_data/`; a source checkout has them at the repo root.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def data_dir() -> Path:
    packaged = Path(__file__).resolve().parent.parent / "_data"
    if (packaged / "phases").is_dir():
        return packaged
    return Path(__file__).resolve().parents[2]


def phases_dir() -> Path:
    return data_dir() / "phases"


def default_risk_limits() -> Path:
    return data_dir() / "risk_limits.yaml"


def configs_dir() -> Path:
    return data_dir() / "configs"
