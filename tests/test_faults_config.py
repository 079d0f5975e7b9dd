"""Fault injection: wrong labels, splits, config keys and mirrors stop with one clear line.

Each test makes a bad input in tmp_path, runs the command a user would run, and checks
the outcome: exit status 2, a message naming the file or key (and the row or id), no
traceback, and no output file with a made-up number. docs/faults.md is generated from
the ``fault`` markers.
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


def write_variant(tmp_path, frame, name, column, row, value) -> Path:
    bad = frame.copy()
    bad[column] = bad[column].astype(object)
    bad.loc[row, column] = value
    bad.to_csv(tmp_path / name, index=False)
    return tmp_path / name


# --- item 1: missing values ---------------------------------------------------------------


@pytest.mark.fault(
    item=1,
    case="a class label missing (empty or NaN) in one row of the manifest",
    outcome="exit 2: 'manifest M.csv: column 'label' (task t's target) has no value in 1 "
    "row(s): line 9 (id 'c7')'; was a class 'nan' and a changed accuracy",
)
def test_missing_label_is_refused(cell, capsys):
    tmp_path, frame = cell
    for value, name in ((np.nan, "empty.csv"), ("NaN", "nan.csv")):
        manifest = write_variant(tmp_path, frame, name, "label", 7, value)
        code, err = evaluate(tmp_path, manifest, task_arg(), capsys)
        assert code == 2
        assert f"manifest {manifest}: column 'label'" in err
        assert "line 9 (id 'c7')" in err and "-> fill in or remove those rows" in err


@pytest.mark.fault(
    item=1,
    case="a fold number missing in one row (predefined_folds)",
    outcome="exit 2: 'column 'fold' (task t's cv.column) has no value in 1 row(s): line 5 "
    "(id 'c3')'; was an extra fold (5 -> 6 folds)",
)
def test_missing_fold_is_refused(cell, capsys):
    tmp_path, frame = cell
    manifest = write_variant(tmp_path, frame, "fold.csv", "fold", 3, np.nan)
    code, err = evaluate(
        tmp_path, manifest, task_arg(scheme="predefined_folds", column="fold"), capsys
    )
    assert code == 2
    assert "column 'fold' (task t's cv.column)" in err and "line 5 (id 'c3')" in err


@pytest.mark.fault(
    item=1,
    case="a split value missing ('nan') in one row (predefined_split)",
    outcome="exit 2: 'column 'split' (task t's cv.column) has no value in 1 row(s): "
    "line 7 (id 'c5')'; the row used to go to training",
)
def test_missing_split_is_refused(cell, capsys):
    tmp_path, frame = cell
    manifest = write_variant(tmp_path, frame, "split.csv", "split", 5, "nan")
    spec = task_arg(scheme="predefined_split", column="split", test=["test"])
    code, err = evaluate(tmp_path, manifest, spec, capsys)
    assert code == 2
    assert "column 'split' (task t's cv.column)" in err and "line 7 (id 'c5')" in err


def test_valid_cells_still_score(cell, capsys):
    """The checks pass every scheme on valid data, and leave its score as it was."""
    from musictransfer.evaluation import evaluate_cell
    from musictransfer.featurefile import load_features, select_combo

    tmp_path, frame = cell
    specs = {
        "stratified": task_arg(),
        "folds": task_arg(scheme="predefined_folds", column="fold"),
        "split": task_arg(scheme="predefined_split", column="split", test=["test"]),
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


# --- item 2: targets and splits that cannot give a meaningful score -----------------------


@pytest.mark.fault(
    item=2,
    case="cv.test names a value that no row of the split column has (vocal: test: [nosuchvalue])",
    outcome="exit 2 before the grid search: 'task t, column 'split' of M: no row has a "
    "test value ('nosuchvalue'); the column holds 'test', 'train''; was score NaN, exit 0, "
    "then a traceback in plot",
)
def test_test_value_matching_no_row(cell, capsys):
    tmp_path, _ = cell
    spec = task_arg(scheme="predefined_split", column="split", test=["nosuchvalue"])
    code, err = evaluate(tmp_path, tmp_path / "ok.csv", spec, capsys)
    assert code == 2
    assert "no row has a test value ('nosuchvalue')" in err and "'test', 'train'" in err
    assert "-> set the task's cv.test" in err


@pytest.mark.fault(
    item=2,
    case="every row is a test row of the predefined split (empty training side)",
    outcome="exit 2: 'every row is a test row ('test', 'train'): nothing to train on'",
)
def test_empty_training_side(cell, capsys):
    tmp_path, _ = cell
    spec = task_arg(scheme="predefined_split", column="split", test=["test", "train"])
    code, err = evaluate(tmp_path, tmp_path / "ok.csv", spec, capsys)
    assert code == 2 and "nothing to train on" in err


@pytest.mark.fault(
    item=2,
    case="predefined_folds on a column with a single value (one fold)",
    outcome="exit 2: 'every row is in fold 'train'; leaving one fold out leaves nothing "
    "to train on'",
)
def test_single_fold(cell, capsys):
    tmp_path, frame = cell
    one = frame.assign(split="train")
    one.to_csv(tmp_path / "one.csv", index=False)
    spec = task_arg(scheme="predefined_folds", column="split")
    code, err = evaluate(tmp_path, tmp_path / "one.csv", spec, capsys)
    assert code == 2 and "every row is in fold 'train'" in err


@pytest.mark.fault(
    item=2,
    case="cv.n_splits larger than the clips of a class (stratified_kfold)",
    outcome="exit 2: 'class 'b' has 4 clip(s), fewer than the task's cv.n_splits (5)'; "
    "was a scikit-learn warning and a score",
)
def test_more_folds_than_clips_of_a_class(cell, capsys):
    tmp_path, frame = cell
    few = pd.concat([frame[frame["label"] == "a"], frame[frame["label"] == "b"].head(4)])
    few.to_csv(tmp_path / "few.csv", index=False)
    code, err = evaluate(tmp_path, tmp_path / "few.csv", task_arg(), capsys)
    assert code == 2
    assert "class 'b' has 4 clip(s), fewer than the task's cv.n_splits (5)" in err
    assert "-> set the task's cv.n_splits to at most 4" in err


@pytest.mark.fault(
    item=2,
    case="cv.n_splits larger than the number of clips (kfold)",
    outcome="exit 2: 'cv.n_splits is 100 but there are only 60 clips'",
)
def test_more_folds_than_clips(cell, capsys):
    tmp_path, _ = cell
    spec = task_arg("arousal", "regression", scheme="kfold", n_splits=100)
    code, err = evaluate(tmp_path, tmp_path / "ok.csv", spec, capsys)
    assert code == 2 and "cv.n_splits is 100 but there are only 60 clips" in err


@pytest.mark.fault(
    item=2,
    case="a regression fold of one clip (kfold with n_splits = number of clips)",
    outcome="exit 2: 'a test fold has 1 clip; r2 needs at least 2'; was r2 NaN",
)
def test_regression_fold_of_one_clip(cell, capsys):
    tmp_path, _ = cell
    spec = task_arg("arousal", "regression", scheme="kfold", n_splits=N_CLIPS)
    code, err = evaluate(tmp_path, tmp_path / "ok.csv", spec, capsys)
    assert code == 2 and "a test fold has 1 clip; r2 needs at least 2" in err


@pytest.mark.fault(
    item=2,
    case="a continuous target (60 distinct floats) declared as classification",
    outcome="exit 2: '60 distinct numbers for 60 clips, a continuous target, but the "
    "task's type is classification' -> 'set the task's type to regression'",
)
def test_continuous_target_declared_classification(cell, capsys):
    tmp_path, _ = cell
    code, err = evaluate(tmp_path, tmp_path / "ok.csv", task_arg("arousal"), capsys)
    assert code == 2
    assert "60 distinct numbers for 60 clips, a continuous target" in err
    assert "-> set the task's type to regression" in err


@pytest.mark.fault(
    item=2,
    case="one class only in the target column",
    outcome="exit 2: 'every clip has the class 'a'; accuracy would be 1.0 whatever the "
    "features'; was accuracy 1.0 without a word",
)
def test_one_class_only(cell, capsys):
    tmp_path, frame = cell
    frame.assign(label="a").to_csv(tmp_path / "one.csv", index=False)
    code, err = evaluate(tmp_path, tmp_path / "one.csv", task_arg(), capsys)
    assert code == 2 and "every clip has the class 'a'" in err


@pytest.mark.fault(
    item=2,
    case="the task's target or split column is not in the manifest",
    outcome="exit 2: 'manifest M has no column 'labl' (task t's target; its columns: id, "
    "path, label, ...)' -> 'set the task's target to one of those columns'",
)
def test_missing_target_or_split_column(cell, capsys):
    tmp_path, _ = cell
    code, err = evaluate(tmp_path, tmp_path / "ok.csv", task_arg("labl"), capsys)
    assert code == 2 and "has no column 'labl' (task t's target; its columns: id," in err
    spec = task_arg(scheme="predefined_split", column="category", test=["test"])
    code, err = evaluate(tmp_path, tmp_path / "ok.csv", spec, capsys)
    assert code == 2 and "has no column 'category' (task t's cv.column" in err


@pytest.mark.fault(
    item=2,
    case="a regression task with stratified_kfold in the config",
    outcome="exit 2 when the config is read: '...cv.scheme is stratified_kfold, which "
    "needs classes, but ...type is regression'",
)
def test_stratified_regression_is_a_config_error(repo):
    config = load_config(repo / "config.yaml")
    config["experiments"]["demo"]["tasks"]["emotion_arousal"]["cv"]["scheme"] = "stratified_kfold"
    with pytest.raises(ConfigError, match=r"emotion_arousal\.cv\.scheme is stratified_kfold"):
        resolve_experiment(config)


@pytest.mark.fault(
    item=2,
    case="a wrong task checked by the workflow's check_task step, before audio and training",
    outcome="exit 2 in seconds: check-task names the manifest and column; writes no summary",
)
def test_check_task_command(cell, capsys):
    tmp_path, _ = cell
    out = tmp_path / "check.json"
    spec = task_arg(scheme="predefined_split", column="split", test=["test"])
    assert main(["check-task", "--task", spec, "--manifest", str(tmp_path / "ok.csv"),
                 "-o", str(out)]) == 0  # fmt: skip
    summary = json.loads(out.read_text())
    assert summary["n_clips"] == N_CLIPS and summary["folds"] == [{"train": 45, "test": 15}]
    assert sum(summary["classes"].values()) == N_CLIPS
    bad = task_arg(scheme="predefined_split", column="split", test=["nosuchvalue"])
    out.unlink()
    assert main(["check-task", "--task", bad, "--manifest", str(tmp_path / "ok.csv"),
                 "-o", str(out)]) == 2  # fmt: skip
    assert "no row has a test value ('nosuchvalue')" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.fault(
    item=2,
    case="a grid search whose best setting has no finite score (last guard)",
    outcome="exit 2: 'cell t/random/12: the grid search gave no finite accuracy'; no NaN "
    "is ever written to a cell's file",
)
def test_nan_score_is_never_summarised():
    from musictransfer.evaluation import param_grid, summarise_grid
    from musictransfer.svm_grid import GridResult, grid_settings

    settings = grid_settings(param_grid())
    scores = np.full((len(settings), 2), np.nan)
    grid = GridResult(settings, scores, np.full(scores.shape, "libsvm", dtype=object), 0)
    spec = TaskSpec("t", "d", "classification", "label", CVSpec("predefined_folds", column="f"))
    with pytest.raises(ConfigError, match=r"t/random/12: the grid search gave no finite"):
        summarise_grid(grid, spec, "random", "12", (10, 160), 0.0)


@pytest.mark.fault(
    item=2,
    case="a score cell (JSON) holding NaN, a string or Infinity as its score",
    outcome="exit 2 from aggregate: 'score cell X.json has a score of nan, not a finite "
    "number'; was a blank in the table",
)
def test_aggregate_refuses_a_non_finite_score(tmp_path, capsys):
    good = {"task": "t", "extractor": "random", "combo": "1", "metric": "accuracy",
            "score": 0.5, "fold_scores": [0.5, 0.5]}  # fmt: skip
    (tmp_path / "1.json").write_text(json.dumps(good))
    for name, score in (("nan", float("nan")), ("inf", float("inf")), ("text", "0.5")):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({**good, "combo": "2", "score": score}))
        out = tmp_path / "scores.csv"
        assert main(["aggregate", str(tmp_path / "1.json"), str(path), "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"score cell {path} has a score of" in err and "not a finite number" in err
        assert not out.exists()
    path = tmp_path / "fold.json"
    path.write_text(json.dumps({**good, "combo": "2", "fold_scores": [0.5, float("nan")]}))
    assert main(["aggregate", str(path), "-o", str(tmp_path / "scores.csv")]) == 2


# --- item 7: the configuration ----------------------------------------------------------


def demo_config(repo) -> dict:
    return load_config(repo / "config.yaml")


MISSPELLED = [
    ((), "expriment", "demo", "the top level", "experiment"),
    (("experiments", "demo"), "tranining", {"seed": 0}, "experiments.demo", "training"),
    (("experiments", "demo", "training"), "max_epoch", 3, "experiments.demo.training",
     "max_epochs"),
    (("experiments", "demo", "tasks", "genre", "cv"), "n_split", 3,
     "experiments.demo.tasks.genre.cv", "n_splits"),
    (("experiments", "demo", "tasks", "genre"), "taget", "x", "experiments.demo.tasks.genre",
     "target"),
    (("experiments", "demo", "demo"), "n_clip", {}, "experiments.demo.demo", "n_clips"),
    (("experiments", "demo", "random_convnet"), "sed", 1, "experiments.demo.random_convnet",
     "seed"),
    (("experiments", "paper_audio", "datasets", "gtzan_genre"), "datadir", "x",
     "experiments.paper_audio.datasets.gtzan_genre", "data_dir"),
]  # fmt: skip


@pytest.mark.fault(
    item=7,
    case="a misspelled key at any level of config.yaml (expriment:, tranining:, "
    "max_epoch:, n_split:, taget:, datadir:)",
    outcome="exit 2: 'unknown key 'tranining' in experiments.demo of the config' -> "
    "'did you mean 'training'? the keys there are: ...'; was silently ignored",
)
@pytest.mark.parametrize(("parent", "key", "value", "where", "meant"), MISSPELLED)
def test_misspelled_key_is_named(repo, parent, key, value, where, meant):
    config = demo_config(repo)
    node = config
    for part in parent:
        node = node[part]
    node[key] = value
    with pytest.raises(ConfigError) as info:
        resolve_experiment(config)
    assert info.value.message == f"unknown key {key!r} in {where} of the config"
    assert info.value.hint.startswith(f"did you mean {meant!r}?")


@pytest.mark.fault(
    item=7,
    case="a misspelled key in the choi2017 block (bn_mod:) or a bad value (bn_mode: bach)",
    outcome="exit 2: 'unknown key 'bn_mod' in experiments.paper_audio.choi2017' / "
    "''bach' in experiments.paper_audio.choi2017.bn_mode is not valid'",
)
def test_choi2017_block_is_checked(repo):
    config = demo_config(repo)
    block = config["experiments"]["paper_audio"]
    block["choi2017"] = {"bn_mode": "batch", "batch_size": 256, "chunk_size": 16}
    resolve_experiment(config, "paper_audio")  # the block is known
    block["choi2017"] = {"bn_mod": "batch"}
    with pytest.raises(ConfigError, match=r"unknown key 'bn_mod' in experiments\.paper_audio"):
        resolve_experiment(config, "paper_audio")
    block["choi2017"] = {"bn_mode": "bach"}
    with pytest.raises(ConfigError, match=r"'bach' in experiments\.paper_audio\.choi2017"):
        resolve_experiment(config, "paper_audio")


def test_every_schema_key_is_described_and_defaults_match_the_code():
    from musictransfer.choi2017.api import DEFAULT_BATCH_SIZE
    from musictransfer.constants import N_FOLDS
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
    training = props["training"]["properties"]
    assert {k: v["default"] for k, v in training.items()} == vars(TrainingSettings())
    choi = props["choi2017"]["properties"]
    assert choi["batch_size"]["default"] == DEFAULT_BATCH_SIZE
    assert choi["bn_mode"]["default"] == "batch"
    assert schema["$defs"]["cv"]["properties"]["n_splits"]["default"] == N_FOLDS
    # The workflow's link to the schema is the package's file.
    assert (SCHEMA_FILE.parents[3] / "workflow/schemas/config.schema.yaml").resolve() == (
        SCHEMA_FILE.resolve()
    )


@pytest.mark.fault(
    item=7,
    case="a YAML syntax error in the config file",
    outcome="exit 2: 'config file bad.yaml is not valid YAML at line 4, column 24: "
    "expected ',' or ']', but got '}''",
)
def test_yaml_error_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("experiment: demo\nexperiments:\n  demo:\n    training: {seed: [0}\n")
    assert main(["info", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"config file {bad} is not valid YAML at line 4, column 24" in err
    assert len(err.strip().splitlines()) == 2  # the message and its hint


@pytest.mark.fault(
    item=7,
    case="musictransfer info --config with a misspelled key, or layered overlay files",
    outcome="exit 2: 'unknown key 'tranining' in experiments.demo of the config'; "
    "overlays merge as Snakemake's --configfile does",
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
    assert "unknown key 'tranining' in experiments.demo" in capsys.readouterr().err


def snakemake(*args, cwd) -> subprocess.CompletedProcess:
    bindir = Path(sys.executable).parent
    exe = shutil.which("snakemake", path=str(bindir)) or "snakemake"
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [exe, "--cores", "1", *args], cwd=cwd, env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip


@pytest.mark.fault(
    item=7,
    case="snakemake with a misspelled --config override (reslts=...) or config key",
    outcome="snakemake stops before any job: 'unknown key 'reslts' in the top level of the "
    "config' -> 'did you mean 'results'?'",
)
def test_snakemake_refuses_misspelled_override(repo, tmp_path):
    out = snakemake("-n", "--config", f"reslts={tmp_path}", cwd=repo)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "unknown key 'reslts' in the top level of the config" in text
    assert "did you mean 'results'?" in text


@pytest.mark.fault(
    item=7,
    case="snakemake with a YAML syntax error in config.yaml",
    outcome="snakemake stops: 'config file config.yaml is not valid YAML at line 3, "
    "column 1: ...' (Snakemake's own message names neither file nor line)",
)
def test_snakemake_names_the_yaml_error_line(repo, tmp_path):
    (tmp_path / "config.yaml").write_text("experiment: demo\nresults: [x\nmirror: null\n")
    out = snakemake("-s", str(repo / "Snakefile"), "-d", str(tmp_path), "-n", cwd=tmp_path)
    assert out.returncode != 0
    assert "config file config.yaml is not valid YAML at line 3" in out.stdout + out.stderr


# --- item 8: a mirror that does not exist -------------------------------------------------


@pytest.mark.fault(
    item=8,
    case="config key mirror set to a directory that does not exist",
    outcome="exit 2 when the config is read: 'the mirror X (config key 'mirror') does not "
    "exist'; was ignored, then a download and a hint to set mirror",
)
def test_config_mirror_must_exist(repo, tmp_path):
    config = demo_config(repo)
    config["mirror"] = str(tmp_path / "no-such-mirror")
    with pytest.raises(ConfigError, match=r"no-such-mirror \(config key 'mirror'\) does not"):
        resolve_experiment(config)
    (tmp_path / "a-file").write_text("x")
    config["mirror"] = str(tmp_path / "a-file")
    with pytest.raises(ConfigError, match=r"a-file \(config key 'mirror'\) is not a directory"):
        resolve_experiment(config)
    config["mirror"] = str(tmp_path)
    assert resolve_experiment(config).mirror == tmp_path


@pytest.mark.fault(
    item=8,
    case="--mirror naming a directory that does not exist (download, extract, tag, "
    "fetch-paper-file, import-paper-weights)",
    outcome="exit 2 before any download: 'the mirror X (--mirror) does not exist'",
)
@pytest.mark.parametrize(
    "command",
    [
        ["download", "gtzan_speech_music", "--out-dir", "{tmp}/out"],
        ["extract", "--extractor", "choi2017", "{tmp}/a.wav", "-o", "{tmp}/out/f.npz"],
        ["tag", "{tmp}/a.wav"],
        [
            "fetch-paper-file",
            "data_csv/gtzan_genre.csv",
            "-o",
            "{tmp}/out/g.csv",
            "--base-url",
            "http://127.0.0.1:9/",
        ],
        ["import-paper-weights", "--out", "{tmp}/out/choi2017.pt"],
    ],
)
def test_cli_mirror_must_exist(tmp_path, capsys, command):
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    missing = tmp_path / "no-such-mirror"
    assert main([*args, "--mirror", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"the mirror {missing} (--mirror) does not exist" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.fault(
    item=8,
    case="MUSICTRANSFER_MIRROR or a library call naming a mirror that does not exist",
    outcome="ConfigError naming the path and where it was set; nothing is downloaded",
)
def test_library_mirror_must_exist(tmp_path, monkeypatch):
    from musictransfer.datasets import paper
    from musictransfer.datasets.download import download_dataset
    from musictransfer.datasets.reference import reference_path

    missing = tmp_path / "no-such-mirror"
    monkeypatch.setenv("MUSICTRANSFER_MIRROR", str(missing))
    with pytest.raises(ConfigError, match=r"no-such-mirror \(MUSICTRANSFER_MIRROR\)"):
        paper.fetch_released(paper.WEIGHTS_THEANO, download=False)
    monkeypatch.delenv("MUSICTRANSFER_MIRROR")
    calls = [
        lambda: paper.fetch_released(paper.WEIGHTS_THEANO, mirror=missing),
        lambda: paper.fetch_released_file(
            "data_csv/gtzan_genre.csv",
            tmp_path / "g.csv",
            mirror=missing,
            base_url="http://127.0.0.1:9/",
        ),
        lambda: download_dataset("gtzan_speech_music", tmp_path / "d", mirror=missing),
        lambda: reference_path("gtzan_genre.csv", missing, tmp_path / "cache"),
    ]
    for call in calls:
        with pytest.raises(ConfigError, match=r"no-such-mirror \(mirror\) does not exist"):
            call()
    assert not (tmp_path / "cache").exists() and not (tmp_path / "g.csv").exists()
    assert not (tmp_path / "d").exists()


@pytest.mark.fault(
    item=8,
    case="an existing mirror that lacks the file, and the download fails",
    outcome="exit 2: 'could not download ...' -> 'put a copy in the mirror as "
    "<mirror>/data_csv/...' (the hint no longer says to set mirror when it is set)",
)
def test_hint_names_the_file_in_an_existing_mirror(tmp_path):
    from musictransfer.datasets import paper

    with pytest.raises(DownloadError) as info:
        paper.fetch_released_file(
            "data_csv/gtzan_genre.csv", tmp_path / "g.csv", mirror=tmp_path,
            base_url="http://127.0.0.1:9/", retries=0,
        )  # fmt: skip
    assert info.value.hint.startswith(
        f"put a copy in the mirror as {tmp_path / 'data_csv/gtzan_genre.csv'}"
    )
    assert isinstance(info.value, MusicTransferError)


def test_config_is_unchanged_by_validation(repo):
    """Validation fills in no defaults: a config resolves to the same experiment as before."""
    config = demo_config(repo)
    before = copy.deepcopy(config)
    resolve_experiment(config)
    assert config == before


@pytest.mark.fault(
    item=2,
    case="the workflow with vocal: {cv: {scheme: predefined_split, column: split, test: "
    "[nosuchvalue]}} layered over .test/config.yaml",
    outcome="the check_task job fails as soon as vocal's manifest exists (before its audio "
    "is prepared): 'no row has a test value ('nosuchvalue')'; was score NaN, then a "
    "traceback in plot",
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
    assert "no row has a test value ('nosuchvalue')" in log and "Traceback" not in log
    assert not (root / "checks/vocal.json").exists()
    assert not (root / "prepared").exists()
