"""Configuration: the schema, experiment resolution and clear errors."""

import copy

import pytest

from musictransfer.config import expand_combos, load_config, resolve_experiment
from musictransfer.constants import ALL_COMBOS, PAPER_COMBOS
from musictransfer.errors import ConfigError


@pytest.fixture
def config(repo):
    return load_config(repo / "config.yaml")


def test_default_experiment_is_demo(config):
    exp = resolve_experiment(config)
    assert exp.name == "demo"
    assert str(exp.root) == "results/demo"
    assert set(exp.tasks) == {
        "dance", "genre", "speech_music", "emotion_arousal", "emotion_valence", "vocal",
        "sound_events",
    }  # fmt: skip
    assert exp.extractors["tagger-demo_tags"] == (*ALL_COMBOS, "mfcc", "mfcc+12345")
    assert exp.extractors["random"] == ALL_COMBOS
    assert len(exp.cells()) == 7 * (31 + 33)
    assert exp.tasks["emotion_arousal"].metric == "r2"
    assert exp.tasks["genre"].metric == "accuracy"


def test_config_validates_against_schema(config, repo):
    from snakemake.utils import validate

    validate(copy.deepcopy(config), str(repo / "workflow/schemas/config.schema.yaml"))


def test_schema_rejects_bad_combo(config, repo):
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    bad = copy.deepcopy(config)
    bad["experiments"]["demo"]["extractors"]["random"] = ["321"]
    with pytest.raises(WorkflowError):
        validate(bad, str(repo / "workflow/schemas/config.schema.yaml"))


def test_unknown_experiment_names_choices(config):
    with pytest.raises(ConfigError, match=r"'nope' is not defined.*") as info:
        resolve_experiment(config, "nope")
    assert "demo" in str(info.value)


def test_unknown_combo_names_the_key(config):
    bad = copy.deepcopy(config)
    bad["experiments"]["demo"]["extractors"]["random"] = ["all", "16"]
    with pytest.raises(ConfigError, match=r"'16' in experiments\.demo\.extractors\.random"):
        resolve_experiment(bad)


def test_unknown_extractor_and_missing_source(config):
    bad = copy.deepcopy(config)
    bad["experiments"]["demo"]["extractors"]["vggish"] = ["all"]
    with pytest.raises(ConfigError, match=r"unknown extractor 'vggish'"):
        resolve_experiment(bad)
    bad = copy.deepcopy(config)
    bad["experiments"]["demo"]["sources"] = []
    with pytest.raises(ConfigError, match=r"'demo_tags' is not in experiments.demo.sources"):
        resolve_experiment(bad)


def test_bad_cv_scheme_names_the_key(config):
    bad = copy.deepcopy(config)
    bad["experiments"]["demo"]["tasks"]["vocal"]["cv"] = {"scheme": "predefined_split"}
    with pytest.raises(ConfigError, match=r"experiments\.demo\.tasks\.vocal\.cv\.column"):
        resolve_experiment(bad)


def test_expand_combos():
    assert expand_combos(["paper"]) == PAPER_COMBOS
    assert expand_combos(["12", "mfcc", "12"]) == ("12", "mfcc")
    with pytest.raises(ConfigError):
        expand_combos(["21"])


def test_load_config_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"not found"):
        load_config(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("experiment: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml is not valid YAML"):
        load_config(bad)


def test_batch_cells_from_the_experiment_or_the_top_level_key(config):
    assert resolve_experiment(config).batch_cells is True  # the demo batches its cells
    assert resolve_experiment(config, "paper_features").batch_cells is False
    assert resolve_experiment({**config, "batch_cells": False}).batch_cells is False
    assert resolve_experiment({**config, "batch_cells": True}, "paper_features").batch_cells
    with pytest.raises(ConfigError, match="fold_jobs=4 cannot be combined"):
        resolve_experiment({**config, "fold_jobs": 4})
    assert not resolve_experiment({**config, "fold_jobs": 4, "batch_cells": False}).batch_cells
