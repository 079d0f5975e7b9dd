"""One builder of a task (config and job JSON alike) and the experiment's typed settings."""

import json
from dataclasses import asdict, fields

import pytest
import yaml

from musictransfer.cli import main
from musictransfer.config import (
    SCHEMA_FILE,
    Choi2017Settings,
    DatasetOptions,
    TaskSpec,
    load_config,
    load_configs,
    merge_config,
    resolve_experiment,
    task_spec,
)
from musictransfer.errors import ConfigError
from musictransfer.published import PublishedScore


@pytest.fixture
def config(repo):
    return load_config(repo / "config.yaml")


def every_task(config, repo):
    """(experiment, TaskSpec) of every preset in config.yaml, and of the CI overlay."""
    test_config = load_configs([repo / "config.yaml", repo / ".test" / "config.yaml"])
    for cfg in (config, test_config):
        for name in cfg["experiments"]:
            exp = resolve_experiment(cfg, name)
            for spec in exp.tasks.values():
                yield name, spec


def test_task_json_is_the_format_the_rules_always_passed(config, repo):
    """to_json is a rule parameter: the string must not change (it would rerun every cell)."""
    specs = list(every_task(config, repo))
    assert len(specs) > 20
    for _, spec in specs:
        # The rules' former `json.dumps({"name": task, **asdict(spec)}, sort_keys=True)`,
        # in which the published score was called the task's reference.
        data = {"name": spec.name, **asdict(spec)}
        data["reference"] = data.pop("published_score")
        if data["cv"]["group"] is None:  # added since: in the JSON only where set
            del data["cv"]["group"]
        assert spec.to_json() == json.dumps(data, sort_keys=True)
    vocal = resolve_experiment(config).tasks["vocal"]
    assert vocal.to_json() == (
        '{"cv": {"column": "split", "n_splits": 10, "scheme": "predefined_split", "test": '
        '["test"]}, "dataset": "vocal", "name": "vocal", "reference": null, "target": '
        '"label", "type": "classification"}'
    )


def test_a_job_rebuilds_the_configs_task(config, repo):
    """The job's task (from the JSON) equals the config's: one builder for both."""
    for _, spec in every_task(config, repo):
        assert task_spec(json.loads(spec.to_json())) == spec


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.pop("dataset"), "task has no 'dataset'"),
        (lambda t: t.pop("name"), "task has no 'name'"),
        (lambda t: t.update(type="ranking"), "task.type is 'ranking'"),
        (lambda t: t.update(type="regression"), "task.cv.scheme is stratified_kfold, which"),
        (lambda t: t["cv"].update(folds=3), "task.cv has unknown key(s) 'folds'"),
        (lambda t: t["cv"].update(scheme="loo"), "task.cv.scheme is 'loo'"),
        (lambda t: t["cv"].update(n_splits="ten"), "task.cv.n_splits is 'ten'"),
        (lambda t: t.update(cv=[]), "task.cv is not a mapping"),
    ],
)
def test_a_bad_task_json_names_the_key(tmp_path, capsys, change, message):
    """The checks of a configured task apply to the JSON a job is given, key named."""
    task = {"name": "t", "dataset": "d", "type": "classification", "target": "label",
            "cv": {"scheme": "stratified_kfold", "n_splits": 3}}  # fmt: skip
    change(task)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        task_spec(task)
    (tmp_path / "m.csv").write_text("id,label\na,x\n")
    args = ["check-task", "--task", json.dumps(task), "--manifest", str(tmp_path / "m.csv")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"musictransfer check-task: error: {message}")
    assert "Traceback" not in err


def test_config_messages_still_name_the_config_key(config):
    config["experiments"]["demo"]["tasks"]["genre"]["type"] = "regression"
    with pytest.raises(ConfigError, match=r"experiments\.demo\.tasks\.genre\.cv\.scheme is"):
        resolve_experiment(config)


def demo_training_defaults():
    """The training block the schema fills in where a preset gives none."""
    return schema_defaults("$defs", "training")


def test_typed_settings_of_the_presets(config):
    demo = resolve_experiment(config)
    assert demo.demo.seed == 2017
    assert demo.demo.n_clips["demo_tags"] == 240 and len(demo.demo.n_clips) == 7
    assert demo.datasets == {} and not demo.released_features
    assert demo.training == {
        **demo_training_defaults(),
        **config["experiments"]["demo"]["training"],
    }
    assert demo.random_convnet_seed == 0
    assert demo.choi2017 == Choi2017Settings("batch", 256, 16, None)
    assert demo.published == {} and demo.authors_tasks == {}
    assert demo.description.startswith("A small synthetic corpus") and demo.notes == ()

    audio = resolve_experiment(config, "paper_audio")
    assert audio.demo is None
    assert audio.datasets["gtzan_genre"] == DatasetOptions(
        data_dir=None, paper_order=True, audio_dir=None, labels=None
    )
    assert len(audio.datasets) == 6 and audio.training == demo_training_defaults()
    assert audio.authors_tasks["emomusic_arousal"] == "emoMusic_a"

    features = resolve_experiment(config, "paper_features")
    assert features.released_features
    assert features.published["ballroom"] == PublishedScore(
        score=0.867, combo="123", label="paper", scores={"123": 0.867, "1": 0.738}
    )
    assert features.published["emomusic_arousal"].scores == {}
    assert len(features.notes) == 2
    # One block of tasks for every paper preset: the same names, datasets, splits and
    # published scores whether the features come from audio or the released files.
    assert features.tasks == audio.tasks and features.published == audio.published
    assert set(audio.datasets) == {t.dataset for t in audio.tasks.values()}


def test_typed_settings_take_what_the_config_says(config):
    merge_config(config, {"experiments": {"paper_audio": {
        "datasets": {"gtzan_genre": {"data_dir": "/x", "paper_order": False}, "urbansound8k": None},
        "choi2017": {"bn_mode": "dataset", "chunk_size": 4},
        "random_convnet": {"seed": 3},
        "tasks": {"ballroom": {"published_score": 0.5}},
    }, "demo": {"tasks": {"dance": {"published_score": 0.5}}}}})  # fmt: skip
    exp = resolve_experiment(config, "paper_audio")
    assert exp.datasets["gtzan_genre"] == DatasetOptions("/x", False, None, None)
    assert exp.datasets["urbansound8k"] == DatasetOptions(None, True, None, None)
    assert exp.choi2017 == Choi2017Settings("dataset", 256, 4, None)
    assert exp.random_convnet_seed == 3
    # The score given replaces the paper's; the rest of the task's published score stays.
    assert exp.published["ballroom"] == PublishedScore(
        0.5, "123", "paper", {"123": 0.867, "1": 0.738}
    )
    # No combination or label given: the schema's 'best' and 'published'.
    demo = resolve_experiment(config, "demo")
    assert demo.published == {"dance": PublishedScore(0.5, "best", "published", {})}


def test_old_task_keys_still_work_with_a_warning(config):
    """A published score was called the task's reference: the old keys are still read."""
    merge_config(config, {"experiments": {"demo": {"tasks": {"dance": {
        "reference": 0.5, "reference_combo": "12", "reference_label": "paper"}}}}})  # fmt: skip
    warnings = []
    demo = resolve_experiment(config, warn=warnings.append)
    assert demo.published == {"dance": PublishedScore(0.5, "12", "paper", {})}
    assert "experiments.demo.tasks.dance.reference is deprecated: rename it to " in warnings[0]
    assert len(warnings) == 3


def schema_defaults(*path):
    """The schema's defaults of the properties at ``path`` (through $defs references)."""
    schema = yaml.safe_load(SCHEMA_FILE.read_text())
    node = schema
    for key in path:
        node = node["properties"][key] if key in node.get("properties", {}) else node[key]
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return {k: v["default"] for k, v in node["properties"].items() if "default" in v}


def test_typed_defaults_are_the_schemas():
    """The code's defaults and the documented ones (docs/configuration.md) are the same."""
    choi2017 = schema_defaults("$defs", "experiment", "choi2017")
    assert set(choi2017) == {f.name for f in fields(Choi2017Settings)}
    options = schema_defaults("$defs", "experiment", "datasets", "additionalProperties")
    assert set(options) == {f.name for f in fields(DatasetOptions)}
    experiment = schema_defaults("$defs", "experiment")
    assert experiment["description"] == "" and experiment["notes"] == []
    assert experiment["released_features"] is False
    assert schema_defaults("$defs", "experiment", "random_convnet") == {"seed": 0}
    task = schema_defaults("$defs", "task")
    assert task["published_label"] == PublishedScore(0.0).label
    assert task["published_scores"] == dict(PublishedScore(0.0).scores)
    assert task["published_score"] is None
    assert TaskSpec.__dataclass_fields__["published_score"].default is None
