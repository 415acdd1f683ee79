"""The configuration reference: generated from the models, current in the README, printed by
`livegate config reference`, rewritten by `python -m livegate.config.reference --write`."""

from __future__ import annotations

from pathlib import Path
from typing import get_args, get_origin

import pytest
from pydantic import BaseModel

from livegate.config.models import RiskLimitsFile, WorkspaceConfig
from livegate.config.reference import END, START, main, readme_block, reference_markdown, replace_block

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_reference_is_current():
    block = readme_block(README.read_text(encoding="utf-8"))
    assert block is not None, f"README.md has no {START} … {END} lines"
    assert block == reference_markdown(), (
        "README.md's configuration reference is out of date with livegate/config/models.py: "
        "run `python -m livegate.config.reference --write README.md`"
    )


def _keys(model: type[BaseModel], path: str = ""):
    """(section path, key) of every key, sections included, as the reference names them."""
    for name, info in model.model_fields.items():
        yield path, name
        is_list = get_origin(info.annotation) is list
        inner = get_args(info.annotation)[0] if is_list else info.annotation
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            yield from _keys(inner, ".".join(filter(None, (path, name + ("[]" if is_list else "")))))


@pytest.mark.parametrize("model", [WorkspaceConfig, RiskLimitsFile])
def test_every_key_has_a_row_under_its_section(model):
    text = reference_markdown()
    for path, name in _keys(model):
        section = text.split(f"#### `{path}`\n", 1)[1] if path else text
        table = section.split("\n\n#", 1)[0] if path else section
        assert f"| `{name}` |" in table, f"{path or '(top)'}.{name} has no row"


@pytest.mark.parametrize("row", [
    "| `profile` | string | `default` | `default`, `strict` |",
    "| `starting` | number | `10000` | > 0 |",
    "| `symbols` | list of strings | `[BTC/USDT]` | at least 1 item |",
    "| `rate_limit_per_minute` | integer or null | `1200` | > 0 |",
    "| `maker_fee` | number or null | `null` | 0 ≤ x < 0.05 |",
    "| `confirmations` | integer | `1` | 1 ≤ x ≤ 64 |",
    "| `router` | string or null | `null` | matches `^0x[0-9a-fA-F]{40}$` |",
    "| `name` | string or null | `null` | 1 to 60 characters; matches `^[^\\n\\r]+$` |",
    "| `destinations` | list of sections | `[]` |  |",
    "| `thresholds` | mapping string → (mapping string → any) | `{}` |  |",
    "| `live_trading` | section | required |  |",
    "| `max_position_pct` | number | required | 0 < x ≤ 0.2 |",
    "| `max_leverage` | number | required | 1 ≤ x ≤ 3 |",
    "| `falling_knife_sentiment` | number | `-0.5` | -1 ≤ x ≤ 0 |",
    "| `operator` | string | `\"\"` |  |",
])
def test_types_defaults_and_constraints(row):
    assert row in reference_markdown()


def test_sections_in_file_order():
    text = reference_markdown()
    order = ["### `livegate.yaml`", "#### `workspace`", "#### `exchange`", "#### `alerts.destinations[]`",
             "#### `testnet`", "### `risk_limits.yaml`", "#### `live_trading`", "#### `guardian`", "#### `circuit_breakers`"]
    positions = [text.index(heading + "\n") for heading in order]
    assert positions == sorted(positions)


def test_cli_prints_the_reference(run_cli):
    result = run_cli("config", "reference")
    assert result.exit_code == 0, result.output
    assert result.stdout == reference_markdown()


def test_replace_block_keeps_the_rest():
    text = f"# Title\n\nbefore\n\n{START}\nold\n{END}\n\nafter\n"
    assert replace_block(text, "new\n") == f"# Title\n\nbefore\n\n{START}\nnew\n{END}\n\nafter\n"
    with pytest.raises(ValueError, match="config-reference:start"):
        replace_block("no markers\n", "new\n")


def test_main_writes_the_block(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nstale\n{END}\noutro\n", encoding="utf-8")
    assert main(["--write", str(readme)]) == 0
    assert readme_block(readme.read_text(encoding="utf-8")) == reference_markdown()
    assert main(["--write", str(readme)]) == 0
    assert "is current" in capsys.readouterr().out
    (tmp_path / "other.md").write_text("no markers\n", encoding="utf-8")
    assert main(["--write", str(tmp_path / "other.md")]) == 2
