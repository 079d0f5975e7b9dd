"""Fault injection: wrong labels, splits, config keys and mirrors stop with one clear line.

Each test makes a bad input in tmp_path, runs the command a user would run, and checks
the outcome: exit status 2, a message naming the file or key (and the row or id), no
traceback, and no output file with a made-up number. docs/faults.md is generated from
the ``fault`` markers; where a test asserts a message, the marker's outcome is written
from the same string (:func:`exits_2`), so the table states what the test checks.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fake_cells import fake_cell
from musictransfer.cli import main
from musictransfer.config import (
    SCHEMA_FILE,
    CVSpec,
    TaskSpec,
    load_config,
    load_configs,
    resolve_experiment,
)
from musictransfer.errors import ConfigError, DownloadError, MusicTransferError

N_CLIPS = 60
SHOWN = {"manifest": "M.csv", "tmp": "DIR"}
"""How the placeholders of a message template read in docs/faults.md."""


def fill(text: str, **values: object) -> str:
    """``text`` with its placeholders ``{name}`` replaced (other braces are left as they are)."""
    for name, value in values.items():
        text = text.replace(f"{{{name}}}", str(value))
    return text


def exits_2(message: str, hint: str = "", *, when: str = "", was: str = "") -> str:
    """The outcome of a refusal in docs/faults.md, written from the message a test asserts.

    ``message`` and ``hint`` may hold the placeholders of :data:`SHOWN` (``{manifest}``,
    ``{tmp}``), which the test fills with its own paths.
    """
    text = f"exit 2{when}: '{fill(message, **SHOWN)}'"
    text += f" -> '{fill(hint, **SHOWN)}'" if hint else ""
    return text + (f"; was {was}" if was else "")


def unknown_key(key: str, where: str) -> str:
    """The message of a misspelled config key."""
    return f"unknown key {key!r} in {where} of the config"


def no_mirror(path: object, where: str) -> str:
    """The message of a mirror directory that does not exist."""
    return f"the mirror {path} ({where}) does not exist"


def invalid_yaml(path: object, line: int, column: int) -> str:
    """The start of the message of a config file that is not valid YAML."""
    return f"config file {path} is not valid YAML at line {line}, column {column}"


NO_TEST_ROW = "no row has a test value ('nosuchvalue')"


@pytest.fixture
def cell(tmp_path):
    """A valid cell: random features, labels a/b, folds 1-5, a train/test split, arousal."""
    from musictransfer.featurefile import save_features

    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_CLIPS, 160)).astype(np.float32)
    ids = [f"c{i}" for i in range(N_CLIPS)]
    save_features(tmp_path / "f.npz", X, ids, extractor="random")
    frame = pd.DataFrame({
        "id": ids,
        "path": [f"{i}.wav" for i in ids],
        "label": np.where(X[:, 0] + 0.3 * rng.normal(size=N_CLIPS) > 0, "a", "b"),
        "fold": [i % 5 + 1 for i in range(N_CLIPS)],
        "split": ["test" if i % 4 == 0 else "train" for i in range(N_CLIPS)],
        "arousal": X[:, 1] + 0.1 * rng.normal(size=N_CLIPS),
    })  # fmt: skip
    frame.to_csv(tmp_path / "ok.csv", index=False)
    return tmp_path, frame


def task_arg(target="label", type_="classification", **cv) -> str:
    """A task as the rules pass it (JSON)."""
    cv = cv or {"scheme": "stratified_kfold", "n_splits": 5}
    return json.dumps({"name": "t", "dataset": "d", "type": type_, "target": target, "cv": cv})


def evaluate(tmp_path, manifest: Path, task: str, capsys) -> tuple[int, str]:
    """`musictransfer evaluate` of cell t/random/12: exit status and stderr."""
    out = tmp_path / "out.json"
    code = main([
        "evaluate", "--task", task, "--extractor", "random", "--combo", "12",
        "--manifest", str(manifest), "--features", str(tmp_path / "f.npz"), "-o", str(out),
    ])  # fmt: skip
    err = capsys.readouterr().err
    if code != 0:
        assert not out.exists(), "a refused cell must not leave a result file"
        assert "Traceback" not in err
        assert err.startswith("musictransfer evaluate: error: ")
    return code, err


# --- items 1 and 2: manifests and tasks that cannot give a meaningful score ----------------


def changed(change=None):
    """The manifest of the cell, changed by ``change(frame)`` (unchanged: ok.csv)."""

    def manifest(tmp_path: Path, frame: pd.DataFrame) -> Path:
        if change is None:
            return tmp_path / "ok.csv"
        change(frame.copy()).to_csv(tmp_path / "bad.csv", index=False)
        return tmp_path / "bad.csv"

    return manifest


def blank(column: str, row: int, value: object = np.nan):
    """The manifest with no value (NaN, or text such as 'nan') in one row of a column."""

    def change(frame):
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame

    return changed(change)


def four_of_class_b(frame):
    """Class b cut to its first four clips."""
    return pd.concat([frame[frame["label"] == "a"], frame[frame["label"] == "b"].head(4)])


def refused(id, case, manifest, task, message, hint, *, item=2, when="", was=""):
    """A bad manifest or task that `evaluate` refuses with ``message`` and ``hint``."""
    outcome = exits_2(message, hint, when=when, was=was)
    mark = pytest.mark.fault(item=item, case=case, outcome=outcome)
    return pytest.param(manifest, task, message, hint, id=id, marks=mark)


SPLIT = {"scheme": "predefined_split", "column": "split"}
FOLDS = {"scheme": "predefined_folds"}
COLUMNS = "its columns: id, path, label, fold, split, arousal"
NO_VALUE = "manifest {{manifest}}: column {!r} (task t's {}) has no value in 1 row(s): line {}"
FILL_IN = "fill in or remove those rows in the dataset's manifest, then rerun"
LABEL = "a class label missing (empty or NaN) in one row of the manifest"
CELL_FAULTS = [
    refused("label-empty", LABEL, blank("label", 7), task_arg(),
            NO_VALUE.format("label", "target", "9 (id 'c7')"), FILL_IN,
            item=1, was="a class 'nan' and a changed accuracy"),
    refused("label-NaN", LABEL, blank("label", 7, "NaN"), task_arg(),
            NO_VALUE.format("label", "target", "9 (id 'c7')"), FILL_IN,
            item=1, was="a class 'nan' and a changed accuracy"),
    refused("fold-missing", "a fold number missing in one row (predefined_folds)",
            blank("fold", 3), task_arg(**FOLDS, column="fold"),
            NO_VALUE.format("fold", "cv.column", "5 (id 'c3')"), FILL_IN,
            item=1, was="an extra fold (5 -> 6 folds)"),
    refused("split-missing", "a split value missing ('nan') in one row (predefined_split)",
            blank("split", 5, "nan"), task_arg(**SPLIT, test=["test"]),
            NO_VALUE.format("split", "cv.column", "7 (id 'c5')"), FILL_IN,
            item=1, was="a training row"),
    refused("no-test-row", "cv.test names a value that no row of the split column has "
            "(vocal: test: [nosuchvalue])", changed(), task_arg(**SPLIT, test=["nosuchvalue"]),
            f"task t, column 'split' of {{manifest}}: {NO_TEST_ROW}; the column holds 'test', "
            "'train'", "set the task's cv.test to the values of the test rows",
            when=" before the grid search", was="score NaN, exit 0, then a traceback in plot"),
    refused("no-training-row",
            "every row is a test row of the predefined split (empty training side)",
            changed(), task_arg(**SPLIT, test=["test", "train"]),
            "every row is a test row ('test', 'train'): nothing to train on",
            "set the task's cv.test to the values of the test rows only"),
    refused("one-fold", "predefined_folds on a column with a single value (one fold)",
            changed(lambda frame: frame.assign(split="train")), task_arg(**FOLDS, column="split"),
            "task t, column 'split' of {manifest}: every row is in fold 'train'; leaving one "
            "fold out leaves nothing to train on",
            "set the task's cv.column to the column of its folds"),
    refused("class-smaller-than-folds",
            "cv.n_splits larger than the clips of a class (stratified_kfold)",
            changed(four_of_class_b), task_arg(),
            "class 'b' has 4 clip(s), fewer than the task's cv.n_splits (5)",
            "set the task's cv.n_splits to at most 4", was="a scikit-learn warning and a score"),
    refused("more-folds-than-clips", "cv.n_splits larger than the number of clips (kfold)",
            changed(), task_arg("arousal", "regression", scheme="kfold", n_splits=100),
            f"cv.n_splits is 100 but there are only {N_CLIPS} clips",
            f"set the task's cv.n_splits to at most {N_CLIPS}"),
    refused("regression-fold-of-one",
            "a regression fold of one clip (kfold with n_splits = number of clips)",
            changed(), task_arg("arousal", "regression", scheme="kfold", n_splits=N_CLIPS),
            f"the test side of fold 1 of {N_CLIPS} has 1 clip; r2 needs at least 2",
            "lower the task's cv.n_splits",
            was="r2 NaN"),
    refused("continuous-classes",
            f"a continuous target ({N_CLIPS} distinct floats) declared as classification",
            changed(), task_arg("arousal"),
            f"{N_CLIPS} distinct numbers for {N_CLIPS} clips, a continuous target, but the "
            "task's type is classification", "set the task's type to regression"),
    refused("one-class", "one class only in the target column",
            changed(lambda frame: frame.assign(label="a")), task_arg(),
            "every clip has the class 'a'; accuracy would be 1.0 whatever the features",
            "check the task's target column and the manifest: a task needs two classes",
            was="accuracy 1.0 without a word"),
    refused("no-target-column", "the task's target column is not in the manifest",
            changed(), task_arg("labl"),
            f"manifest {{manifest}} has no column 'labl' (task t's target; {COLUMNS})",
            "set the task's target to one of those columns"),
    refused("no-split-column", "the task's split column (cv.column) is not in the manifest",
            changed(), task_arg(scheme="predefined_split", column="category", test=["test"]),
            f"manifest {{manifest}} has no column 'category' (task t's cv.column; {COLUMNS})",
            "set the task's cv.column to one of those columns"),
]  # fmt: skip


@pytest.mark.parametrize(("manifest", "task", "message", "hint"), CELL_FAULTS)
def test_evaluate_refuses_the_cell(cell, capsys, manifest, task, message, hint):
    tmp_path, frame = cell
    path = manifest(tmp_path, frame)
    code, err = evaluate(tmp_path, path, task, capsys)
    assert code == 2
    assert fill(message, manifest=path) in err
    assert f"-> {hint}" in err


def test_valid_cells_still_score(cell, capsys):
    """The checks pass every scheme on valid data, and leave its score as it was."""
    from musictransfer.evaluation import evaluate_cell
    from musictransfer.featurefile import load_features, select_combo

    tmp_path, frame = cell
    specs = {
        "stratified": task_arg(),
        "folds": task_arg(scheme="predefined_folds", column="fold"),
        "split": task_arg(**SPLIT, test=["test"]),
        "regression": task_arg("arousal", "regression", scheme="kfold", n_splits=5),
    }
    conv, _ = load_features(tmp_path / "f.npz")
    X = select_combo("12", conv, None)
    for name, spec in specs.items():
        code, _ = evaluate(tmp_path, tmp_path / "ok.csv", spec, capsys)
        assert code == 0, name
        result = json.loads((tmp_path / "out.json").read_text())
        raw = json.loads(spec)
        cv = CVSpec(**{**raw["cv"], "test": tuple(raw["cv"].get("test", ()))})
        plain = TaskSpec("t", "d", raw["type"], raw["target"], cv)
        y = frame[raw["target"]].to_numpy()
        y = y.astype(str) if raw["type"] == "classification" else y.astype(float)
        groups = frame[cv.column].to_numpy() if cv.column else None
        expected = evaluate_cell(X, y, plain, "random", "12", groups=groups)
        assert result["score"] == expected.score and np.isfinite(result["score"]), name


@pytest.mark.fault(
    item=2,
    case="a wrong task checked by the workflow's check_task step, before audio and training",
    outcome="exit 2 in seconds: check-task names the manifest and column; writes no summary",
)
def test_check_task_command(cell, capsys):
    tmp_path, _ = cell
    out = tmp_path / "check.json"
    spec = task_arg(**SPLIT, test=["test"])
    assert main(["check-task", "--task", spec, "--manifest", str(tmp_path / "ok.csv"),
                 "-o", str(out)]) == 0  # fmt: skip
    summary = json.loads(out.read_text())
    assert summary["n_clips"] == N_CLIPS and summary["folds"] == [{"train": 45, "test": 15}]
    assert sum(summary["classes"].values()) == N_CLIPS
    bad = task_arg(**SPLIT, test=["nosuchvalue"])
    out.unlink()
    assert main(["check-task", "--task", bad, "--manifest", str(tmp_path / "ok.csv"),
                 "-o", str(out)]) == 2  # fmt: skip
    assert NO_TEST_ROW in capsys.readouterr().err
    assert not out.exists()


NO_FINITE_SCORE = "cell t/random/12: the grid search gave no finite accuracy"


@pytest.mark.fault(
    item=2,
    case="a grid search whose best setting has no finite score (last guard)",
    outcome=exits_2(NO_FINITE_SCORE) + "; no NaN is ever written to a cell's file",
)
def test_nan_score_is_never_summarised():
    from musictransfer.evaluation import param_grid, summarise_grid
    from musictransfer.svm_grid import GridResult, grid_settings

    settings = grid_settings(param_grid())
    scores = np.full((len(settings), 2), np.nan)
    grid = GridResult(settings, scores, np.full(scores.shape, "libsvm", dtype=object), 0)
    spec = TaskSpec("t", "d", "classification", "label", CVSpec("predefined_folds", column="f"))
    with pytest.raises(ConfigError) as info:
        summarise_grid(grid, spec, "random", "12", (10, 160), 0.0)
    assert info.value.message.startswith(NO_FINITE_SCORE)


NON_FINITE = "score cell {path} has a score of {score}, not a finite number"


@pytest.mark.fault(
    item=2,
    case="a score cell (JSON) holding NaN, a string or Infinity as its score",
    outcome=exits_2(NON_FINITE.format(path="X.json", score="nan"), when=" from aggregate")
    + " (or of inf, '0.5'); was a blank in the table",
)
def test_aggregate_refuses_a_non_finite_score(tmp_path, capsys):
    good = fake_cell("t", "random", "1", 0.5, folds=[0.5, 0.5])
    (tmp_path / "1.json").write_text(json.dumps(good))
    for name, score in (("nan", float("nan")), ("inf", float("inf")), ("text", "0.5")):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({**good, "combo": "2", "score": score}))
        out = tmp_path / "scores.csv"
        assert main(["aggregate", str(tmp_path / "1.json"), str(path), "-o", str(out)]) == 2
        assert NON_FINITE.format(path=path, score=repr(score)) in capsys.readouterr().err
        assert not out.exists()
    path = tmp_path / "fold.json"
    path.write_text(json.dumps({**good, "combo": "2", "fold_scores": [0.5, float("nan")]}))
    assert main(["aggregate", str(path), "-o", str(tmp_path / "scores.csv")]) == 2
    assert NON_FINITE.format(path=path, score="nan") in capsys.readouterr().err


# --- items 2, 7 and 8: a configuration that resolve_experiment refuses --------------------


def demo_config(repo) -> dict:
    return load_config(repo / "config.yaml")


def setting(*keys: str, value: object):
    """A change of the config: ``value`` at the key path ``keys`` ('{tmp}' is tmp_path)."""

    def change(config: dict, tmp_path: Path) -> None:
        node = config
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = fill(value, tmp=tmp_path) if isinstance(value, str) else value

    return change


def config_fault(id, change, message, hint="", *, experiment=None, mark=None, **fault):
    """A change of the demo config that resolve_experiment refuses with exactly ``message``.

    ``hint`` is the start of the error's hint. The fault mark is ``mark`` (shared by
    several cases) or one written from ``fault`` (item, case, was) and the message.
    """
    mark = mark or refused_config(message=message, hint=hint, **fault)
    return pytest.param(change, experiment, message, hint, id=id, marks=mark)


def refused_config(item, case, message, hint="", *, was=""):
    """The fault mark of a config that is refused when it is read."""
    outcome = exits_2(message, hint, when=" when the config is read", was=was)
    return pytest.mark.fault(item=item, case=case, outcome=outcome)


def misspelled(parent: tuple[str, ...], key: str, value: object, meant: str):
    """A key misspelled under the key path ``parent``, which the message names."""
    return config_fault(
        f"typo-{key}",
        setting(*parent, key, value=value),
        unknown_key(key, ".".join(parent) or "the top level"),
        f"did you mean {meant!r}?",
        mark=MISSPELLED,
    )


def mirror_is_a_file(config: dict, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    config["mirror"] = str(tmp_path / "a-file")


MISSPELLED = refused_config(
    7,
    "a misspelled key at any level of config.yaml (expriment:, tranining:, max_epoch:, "
    "n_split:, taget:, datadir:)",
    unknown_key("tranining", "experiments.demo"),
    "did you mean 'training'?",
    was="silently ignored",
)
PAPER = ("experiments", "paper_audio")
DEMO = ("experiments", "demo")
AROUSAL = (*DEMO, "tasks", "emotion_arousal")
CONFIG_FAULTS = [
    misspelled((), "expriment", "demo", "experiment"),
    misspelled(DEMO, "tranining", {"seed": 0}, "training"),
    misspelled((*DEMO, "training"), "max_epoch", 3, "max_epochs"),
    misspelled((*DEMO, "tasks", "genre", "cv"), "n_split", 3, "n_splits"),
    misspelled((*DEMO, "tasks", "genre"), "taget", "x", "target"),
    misspelled((*DEMO, "demo"), "n_clip", {}, "n_clips"),
    misspelled((*DEMO, "random_convnet"), "sed", 1, "seed"),
    misspelled((*PAPER, "datasets", "gtzan_genre"), "datadir", "x", "data_dir"),
    config_fault("choi2017-typo", setting(*PAPER, "choi2017", value={"bn_mod": "batch"}),
                 unknown_key("bn_mod", "experiments.paper_audio.choi2017"),
                 "did you mean 'bn_mode'?", experiment="paper_audio",
                 item=7, case="a misspelled key in the choi2017 block (bn_mod:)"),
    config_fault("choi2017-value", setting(*PAPER, "choi2017", value={"bn_mode": "bach"}),
                 "'bach' in experiments.paper_audio.choi2017.bn_mode is not valid: 'bach' is "
                 "not one of ['batch', 'dataset', 'reference']", experiment="paper_audio",
                 item=7, case="a bad value in the choi2017 block (bn_mode: bach)"),
    config_fault("stratified-regression",
                 setting(*AROUSAL, "cv", "scheme", value="stratified_kfold"),
                 f"{'.'.join(AROUSAL)}.cv.scheme is stratified_kfold, which needs classes, but "
                 f"{'.'.join(AROUSAL)}.type is regression",
                 "use the kfold scheme for a regression task",
                 item=2, case="a regression task with stratified_kfold in the config"),
    config_fault("mirror-missing", setting("mirror", value="{tmp}/no-such-mirror"),
                 no_mirror("{tmp}/no-such-mirror", "config key 'mirror'"),
                 item=8, case="config key mirror set to a directory that does not exist",
                 was="ignored, then a download and a hint to set mirror"),
    config_fault("mirror-a-file", mirror_is_a_file,
                 "the mirror {tmp}/a-file (config key 'mirror') is not a directory",
                 item=8, case="config key mirror set to a file"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "experiment", "message", "hint"), CONFIG_FAULTS)
def test_config_is_refused(repo, tmp_path, change, experiment, message, hint):
    config = demo_config(repo)
    change(config, tmp_path)
    with pytest.raises(ConfigError) as info:
        resolve_experiment(config, experiment)
    assert info.value.message == fill(message, tmp=tmp_path)
    assert (info.value.hint or "").startswith(hint)


def test_valid_config_blocks_resolve(repo, tmp_path):
    """The valid counterparts of CONFIG_FAULTS resolve: a choi2017 block, a mirror folder."""
    config = demo_config(repo)
    config["experiments"]["paper_audio"]["choi2017"] = {
        "bn_mode": "batch", "batch_size": 256, "chunk_size": 16,
    }  # fmt: skip
    resolve_experiment(config, "paper_audio")
    config["mirror"] = str(tmp_path)
    assert resolve_experiment(config).mirror == tmp_path


def test_config_is_unchanged_by_validation(repo):
    """Validation fills in no defaults: a config resolves to the same experiment as before."""
    config = demo_config(repo)
    before = copy.deepcopy(config)
    resolve_experiment(config)
    assert config == before


def test_every_schema_key_is_described_and_defaults_match_the_code():
    from musictransfer.constants import AUTHORS_BATCH_SIZE, N_FOLDS
    from musictransfer.training import TrainingSettings

    schema = yaml.safe_load(SCHEMA_FILE.read_text())

    def walk(node, path):
        if isinstance(node, dict):
            if node.get("type") == "object" or "properties" in node:
                assert node.get("additionalProperties") is not True, path
                if "properties" in node:
                    assert node.get("additionalProperties") is False or isinstance(
                        node.get("additionalProperties"), dict
                    ), path
            for key, sub in (node.get("properties") or {}).items():
                assert "description" in sub or "$ref" in sub, f"{path}.{key}"
            for key, sub in node.items():
                walk(sub, f"{path}.{key}")

    walk(schema, "schema")
    props = schema["$defs"]["experiment"]["properties"]
    training = props["training"]
    if "$ref" in training:  # the block's keys are defined once, under $defs
        training = schema["$defs"][training["$ref"].rsplit("/", 1)[-1]]
    defaults = {k: v["default"] for k, v in training["properties"].items()}
    assert vars(TrainingSettings.from_mapping({})) == defaults
    choi = props["choi2017"]["properties"]
    assert choi["batch_size"]["default"] == AUTHORS_BATCH_SIZE
    assert choi["bn_mode"]["default"] == "batch"
    assert schema["$defs"]["cv"]["properties"]["n_splits"]["default"] == N_FOLDS
    # The workflow's link to the schema is the package's file.
    assert (SCHEMA_FILE.parents[3] / "workflow/schemas/config.schema.yaml").resolve() == (
        SCHEMA_FILE.resolve()
    )


# --- item 7: the configuration file and the command line ----------------------------------

YAML_PROBLEM = "expected ',' or ']', but got '}'"


@pytest.mark.fault(
    item=7,
    case="a YAML syntax error in the config file",
    outcome=exits_2(f"{invalid_yaml('bad.yaml', 4, 24)}: {YAML_PROBLEM}"),
)
def test_yaml_error_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("experiment: demo\nexperiments:\n  demo:\n    training: {seed: [0}\n")
    assert main(["info", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{invalid_yaml(bad, 4, 24)}: {YAML_PROBLEM}" in err
    assert len(err.strip().splitlines()) == 2  # the message and its hint


TRAINING_TYPO = unknown_key("tranining", "experiments.demo")


@pytest.mark.fault(
    item=7,
    case="musictransfer info --config with a misspelled key, or layered overlay files",
    outcome=exits_2(TRAINING_TYPO) + "; overlays merge as Snakemake's --configfile does",
)
def test_info_checks_layered_configs(repo, tmp_path, capsys):
    base, test = str(repo / "config.yaml"), str(repo / ".test/config.yaml")
    assert main(["info", "--config", base, "--config", test]) == 0
    assert "experiment demo: 7 tasks" in capsys.readouterr().out
    merged = load_configs([base, test])
    assert merged["experiments"]["demo"]["tasks"]["genre"]["cv"]["n_splits"] == 3
    assert merged["experiments"]["demo"]["tasks"]["genre"]["target"] == "label"
    typo = tmp_path / "typo.yaml"
    typo.write_text("experiments:\n  demo:\n    tranining: {max_epochs: 1}\n")
    assert main(["info", "--config", base, "--config", str(typo)]) == 2
    assert TRAINING_TYPO in capsys.readouterr().err


def snakemake(*args, cwd) -> subprocess.CompletedProcess:
    bindir = Path(sys.executable).parent
    exe = shutil.which("snakemake", path=str(bindir)) or "snakemake"
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [exe, "--cores", "1", *args], cwd=cwd, env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip


RESULTS_TYPO = (unknown_key("reslts", "the top level"), "did you mean 'results'?")


@pytest.mark.fault(
    item=7,
    case="snakemake with a misspelled --config override (reslts=...) or config key",
    outcome="snakemake stops before any job: '{}' -> '{}'".format(*RESULTS_TYPO),
)
def test_snakemake_refuses_misspelled_override(repo, tmp_path):
    out = snakemake("-n", "--config", f"reslts={tmp_path}", cwd=repo)
    assert out.returncode != 0
    assert all(text in out.stdout + out.stderr for text in RESULTS_TYPO)


YAML_ERROR_AT_3 = f"{invalid_yaml('config.yaml', 3, 7)}: expected ',' or ']', but got ':'"


@pytest.mark.fault(
    item=7,
    case="snakemake with a YAML syntax error in config.yaml",
    outcome=f"snakemake stops: '{YAML_ERROR_AT_3}' (Snakemake's own message names neither "
    "file nor line)",
)
def test_snakemake_names_the_yaml_error_line(repo, tmp_path):
    (tmp_path / "config.yaml").write_text("experiment: demo\nresults: [x\nmirror: null\n")
    out = snakemake("-s", str(repo / "Snakefile"), "-d", str(tmp_path), "-n", cwd=tmp_path)
    assert out.returncode != 0
    assert YAML_ERROR_AT_3 in out.stdout + out.stderr


@pytest.mark.fault(
    item=2,
    case="the workflow with vocal: {cv: {scheme: predefined_split, column: split, test: "
    "[nosuchvalue]}} layered over .test/config.yaml",
    outcome="the check_task job fails as soon as vocal's manifest exists (before its audio "
    f"is prepared): '{NO_TEST_ROW}'; was score NaN, then a traceback in plot",
)
def test_workflow_checks_the_task_before_long_jobs(repo, tmp_path):
    overlay = tmp_path / "bad.yaml"
    overlay.write_text(
        "experiments:\n  demo:\n    tasks:\n      vocal:\n        cv: {scheme: "
        "predefined_split, column: split, test: [nosuchvalue]}\n"
    )
    root = tmp_path / "results" / "demo"
    out = snakemake(
        str(root / "checks/vocal.json"), "--configfile", ".test/config.yaml", str(overlay),
        "--config", f"results={tmp_path / 'results'}", cwd=repo,
    )  # fmt: skip
    assert out.returncode != 0
    log = (root / "logs/check_task/vocal.log").read_text()
    assert NO_TEST_ROW in log and "Traceback" not in log
    assert not (root / "checks/vocal.json").exists()
    assert not (root / "prepared").exists()


# --- item 8: a mirror that does not exist -------------------------------------------------

MIRROR_COMMANDS = [
    ["download", "gtzan_speech_music", "--out-dir", "{tmp}/out"],
    ["extract", "--extractor", "choi2017", "{tmp}/a.wav", "-o", "{tmp}/out/f.npz"],
    ["tag", "{tmp}/a.wav"],
    ["fetch-paper-file", "data_csv/gtzan_genre.csv", "-o", "{tmp}/out/g.csv",
     "--base-url", "http://127.0.0.1:9/"],
    ["import-paper-weights", "--out", "{tmp}/out/choi2017.pt"],
]  # fmt: skip


@pytest.mark.fault(
    item=8,
    case="--mirror naming a directory that does not exist (download, extract, tag, "
    "fetch-paper-file, import-paper-weights)",
    outcome=exits_2(no_mirror("{tmp}/no-such-mirror", "--mirror"), when=" before any download"),
)
@pytest.mark.parametrize("command", MIRROR_COMMANDS, ids=lambda command: command[0])
def test_cli_mirror_must_exist(tmp_path, capsys, command):
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    missing = tmp_path / "no-such-mirror"
    assert main([*args, "--mirror", str(missing)]) == 2
    err = capsys.readouterr().err
    assert no_mirror(missing, "--mirror") in err
    assert not (tmp_path / "out").exists()


@pytest.mark.fault(
    item=8,
    case="MUSICTRANSFER_MIRROR or a library call naming a mirror that does not exist",
    outcome="ConfigError naming the path and where it was set; nothing is downloaded",
)
def test_library_mirror_must_exist(tmp_path, monkeypatch):
    from musictransfer.datasets import paper
    from musictransfer.datasets.authors_tables import authors_table_path
    from musictransfer.datasets.download import download_dataset
    from musictransfer.datasets.paper import fetch as paper_fetch

    missing = tmp_path / "no-such-mirror"
    monkeypatch.setenv("MUSICTRANSFER_MIRROR", str(missing))
    with pytest.raises(ConfigError) as info:
        paper_fetch.fetch_released(paper.WEIGHTS_THEANO, download=False)
    assert info.value.message == no_mirror(missing, "MUSICTRANSFER_MIRROR")
    monkeypatch.delenv("MUSICTRANSFER_MIRROR")
    calls = [
        lambda: paper_fetch.fetch_released(paper.WEIGHTS_THEANO, mirror=missing),
        lambda: paper_fetch.fetch_released_file(
            "data_csv/gtzan_genre.csv",
            tmp_path / "g.csv",
            mirror=missing,
            base_url="http://127.0.0.1:9/",
        ),
        lambda: download_dataset("gtzan_speech_music", tmp_path / "d", mirror=missing),
        lambda: authors_table_path("gtzan_genre.csv", missing, tmp_path / "cache"),
    ]
    for call in calls:
        with pytest.raises(ConfigError) as info:
            call()
        assert info.value.message == no_mirror(missing, "mirror")
    assert not (tmp_path / "cache").exists() and not (tmp_path / "g.csv").exists()
    assert not (tmp_path / "d").exists()


MIRROR_COPY = "put a copy in the mirror as {tmp}/data_csv/gtzan_genre.csv"


@pytest.mark.fault(
    item=8,
    case="an existing mirror that lacks the file, and the download fails",
    outcome=exits_2("could not download ...", MIRROR_COPY)
    + " (the hint no longer says to set mirror when it is set)",
)
def test_hint_names_the_file_in_an_existing_mirror(tmp_path):
    from musictransfer.datasets.paper import fetch as paper_fetch

    with pytest.raises(DownloadError) as info:
        paper_fetch.fetch_released_file(
            "data_csv/gtzan_genre.csv", tmp_path / "g.csv", mirror=tmp_path,
            base_url="http://127.0.0.1:9/", retries=0,
        )  # fmt: skip
    assert info.value.message.startswith("could not download ")
    assert info.value.hint.startswith(fill(MIRROR_COPY, tmp=tmp_path))
    assert isinstance(info.value, MusicTransferError)
