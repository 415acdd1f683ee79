"""The protocol's phase registry (`PHASE_ORDER`) is the one order: the YAML files, the phase
plug-ins, the loader, the gate's ladder and the demo all follow it, and disagree nowhere."""

from __future__ import annotations

import shutil

import pytest

from livegate import demo
from livegate.config.loader import load_phase_specs
from livegate.config.resources import phases_dir
from livegate.core.errors import ConfigError
from livegate.core.protocol import PHASE_ORDER
from livegate.core.steps import ladder
from livegate.phases import registry


def test_every_yaml_phase_has_a_registered_plug_in_and_the_reverse():
    on_disk = {path.stem for path in phases_dir().glob("*.yaml")}
    assert on_disk == set(PHASE_ORDER)
    assert list(registry.PLUGINS) == list(PHASE_ORDER)
    for phase_id, plugin in registry.PLUGINS.items():
        assert plugin.id == phase_id


def test_the_loader_the_yaml_numbers_and_the_ladder_follow_the_registry():
    specs = load_phase_specs()
    assert [s.id for s in specs] == list(PHASE_ORDER)
    assert [s.number for s in specs] == list(range(1, len(PHASE_ORDER) + 1))
    phases_in_ladder = list(dict.fromkeys(step.phase for step in ladder(specs)))
    assert phases_in_ladder == list(PHASE_ORDER)
    assert [p.id for p in registry.ordered()] == list(PHASE_ORDER)


def test_every_criterion_of_a_phase_has_a_check_in_its_plug_in():
    for spec in load_phase_specs():
        checks = registry.plugin(spec.id).checks
        ids = {c.id for c in spec.criteria} | {c.id for stage in spec.stages for c in stage.criteria}
        assert ids <= set(checks), (spec.id, sorted(ids - set(checks)))


def test_the_demo_rehearses_every_registered_phase():
    assert list(demo.STEPS) == list(PHASE_ORDER)


def _copy(tmp_path):
    target = tmp_path / "phases"
    shutil.copytree(phases_dir(), target)
    return target


def test_a_phase_file_the_registry_does_not_know_is_refused(tmp_path):
    target = _copy(tmp_path)
    shutil.copy(target / "testnet.yaml", target / "staging.yaml")
    with pytest.raises(ConfigError, match="unknown: staging.yaml"):
        load_phase_specs(target)


def test_a_missing_phase_file_is_refused(tmp_path):
    target = _copy(tmp_path)
    (target / "production.yaml").unlink()
    with pytest.raises(ConfigError, match="missing: production.yaml"):
        load_phase_specs(target)


def test_a_number_out_of_step_with_the_registry_is_refused(tmp_path):
    target = _copy(tmp_path)
    text = (target / "testnet.yaml").read_text()
    (target / "testnet.yaml").write_text(text.replace("number: 3", "number: 4", 1))
    with pytest.raises(ConfigError, match=r"phases/testnet.yaml: number: must be 3"):
        load_phase_specs(target)
