"""Today's protocols in the workflow: the `modern` config block, splits, probes, the table."""

from __future__ import annotations

import copy

import pytest

from musictransfer.config import load_config, resolve_experiment
from musictransfer.errors import ConfigError


@pytest.fixture(scope="module")
def base_config(repo):
    return load_config(repo / "config.yaml")


def test_paper_features_has_the_modern_block(base_config):
    exp = resolve_experiment(copy.deepcopy(base_config), "paper_features")
    assert exp.modern is not None
    assert exp.modern.tasks["gtzan_genre"].split == "gtzan_fault_filtered"
    assert exp.modern.tasks["jamendo_vocal"].column == "category"
    assert exp.modern.probes == ("linear", "mlp")
    assert exp.modern.combos == ("1", "12345", "mfcc", "mfcc+12345")
    assert (exp.modern.n_boot, exp.modern.seed) == (1000, 0)
    assert "ballroom" not in exp.modern.tasks  # keeps the paper's CV
    assert resolve_experiment(copy.deepcopy(base_config), "demo").modern is None


def test_modern_defaults_fill_in(base_config):
    config = copy.deepcopy(base_config)
    config["experiments"]["paper_features"]["modern"] = {
        "tasks": {"gtzan_genre": {"split": "gtzan_fault_filtered"}}
    }
    modern = resolve_experiment(config, "paper_features").modern
    assert modern.probes == ("linear", "mlp")
    assert modern.combos == ("1", "12345", "mfcc", "mfcc+12345")
    assert modern.n_boot == 1000


@pytest.mark.parametrize(
    "tasks, message",
    [
        ({"nope": {"split": "gtzan_fault_filtered"}}, "modern.tasks.nope names a task"),
        ({"jamendo_vocal": {"split": "column"}}, "modern.tasks.jamendo_vocal.column is required"),
        (
            {"jamendo_vocal": {"split": "column", "column": "category", "valid": ["train"]}},
            "more than one of train, valid and test",
        ),
        ({"gtzan_genre": {"split": "random"}}, "'random' in experiments.paper_features.modern"),
    ],
)
def test_bad_modern_blocks_name_the_key(base_config, tasks, message):
    config = copy.deepcopy(base_config)
    config["experiments"]["paper_features"]["modern"] = {"tasks": tasks}
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("'", "'")):
        resolve_experiment(config, "paper_features")


def test_protocols_mirror_must_exist(base_config, tmp_path):
    config = copy.deepcopy(base_config)
    config["protocols_mirror"] = str(tmp_path / "missing")
    with pytest.raises(ConfigError, match="protocols_mirror"):
        resolve_experiment(config, "paper_features")
    config["protocols_mirror"] = str(tmp_path)
    assert resolve_experiment(config, "paper_features").protocols_mirror is not None
