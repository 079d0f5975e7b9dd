"""No silent wrong number, second round: the cases a hostile tester found.

The feature-file cases (rows that do not match their manifest, fold parts of other
cells, a convnet file given as MFCC) are in ``tests/test_byo.py``, beside the features
files that users bring.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fake_cells import fake_cell
from musictransfer.cli import main
from musictransfer.config import task_spec
from musictransfer.errors import ConfigError
from musictransfer.featurefile import save_features
from musictransfer.taskdata import check_task
from test_workflow import snakemake


def stratified(scheme: str, n_splits: int):
    cv = {"scheme": scheme, "n_splits": n_splits}
    return task_spec({"dataset": "d", "type": "classification", "target": "label", "cv": cv}, "t")


@pytest.mark.parametrize("scheme", ["stratified_kfold", "stratified_kfold_legacy"])
@pytest.mark.fault(
    item=2,
    case="stratified_kfold_legacy (the paper presets' scheme) with more folds than a class has",
    outcome="exit 2 naming the class, as stratified_kfold does (was a score, or a traceback)",
)
def test_every_stratified_scheme_needs_enough_clips_per_class(scheme):
    frame = pd.DataFrame({"id": [f"c{k}" for k in range(30)], "label": ["a"] * 27 + ["b"] * 3})
    with pytest.raises(ConfigError, match="class 'b' has 3 clip"):
        check_task(stratified(scheme, 5), frame, "m.csv")
    with pytest.raises(ConfigError, match="only 30 clips"):
        check_task(stratified(scheme, 40), frame, "m.csv")


def cell_files(tmp_path, X, n_classes=2):
    """A manifest and a feature file of X's rows, two classes, for evaluate's CLI."""
    ids = [f"c{k:02d}" for k in range(len(X))]
    labels = [f"k{k % n_classes}" for k in range(len(X))]
    pd.DataFrame({"id": ids, "path": [f"{i}.wav" for i in ids], "label": labels}).to_csv(
        tmp_path / "m.csv", index=False
    )
    save_features(tmp_path / "f.npz", X, ids, extractor="random")
    return tmp_path / "m.csv", tmp_path / "f.npz"


TASK_JSON = json.dumps(
    {"name": "t", "dataset": "d", "type": "classification", "target": "label",
     "cv": {"scheme": "stratified_kfold", "n_splits": 2}}
)  # fmt: skip


def evaluate(manifest, features, combo, out, *extra):
    return main(["evaluate", "--task", TASK_JSON, "--extractor", "random", "--combo", combo,
                 "--manifest", str(manifest), "--features", str(features), "-o", str(out),
                 *extra])  # fmt: skip


@pytest.mark.parametrize("scheme", ["stratified_kfold", "kfold"])
@pytest.mark.fault(
    item=6,
    case="grouped folds whose training side holds one class (every clip of the other class "
    "in one group)",
    outcome="exit 2 naming the fold and its groups, with either method (was a score from the "
    "fast grid, a traceback from scikit-learn)",
)
def test_a_fold_that_trains_on_one_class(tmp_path, capsys, scheme):
    manifest, features = cell_files(tmp_path, np.random.default_rng(0).standard_normal((20, 160)))
    frame = pd.read_csv(manifest)
    frame["label"] = ["b"] * 4 + ["a"] * 16
    frame["recording"] = ["p"] * 10 + ["q"] * 5 + ["r"] * 5
    frame.to_csv(manifest, index=False)
    task = json.loads(TASK_JSON) | {"cv": {"scheme": scheme, "n_splits": 3, "group": "recording"}}
    for method in ("fast", "sklearn"):
        out = tmp_path / f"{method}.json"
        assert main(["evaluate", "--task", json.dumps(task), "--extractor", "random",
                     "--combo", "1", "--manifest", str(manifest), "--features", str(features),
                     "-o", str(out), "--method", method]) == 2  # fmt: skip
        err = capsys.readouterr().err
        assert "of 3 (testing 'p') has one class only ('a')" in err
        assert err.count("\n") == 2 and not out.exists()


@pytest.mark.parametrize(
    ("combo", "message"),
    [
        pytest.param("6", "asks for layer 6", id="layer-6"),
        pytest.param("11", "'11' is not a layer combination", id="layer-twice"),
        pytest.param("21", "'21' is not a layer combination", id="decreasing"),
    ],
)
@pytest.mark.fault(
    item=6,
    case="evaluate --combo 6 (no such layer) or --combo 11 (a layer twice)",
    outcome="exit 2 naming the combination and the file (a traceback, or duplicated columns)",
)
def test_a_combination_the_file_cannot_give(tmp_path, capsys, combo, message):
    manifest, features = cell_files(tmp_path, np.random.default_rng(0).standard_normal((8, 160)))
    assert evaluate(manifest, features, combo, tmp_path / "c.json") == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "c.json").exists()


@pytest.mark.parametrize("method", ["fast", "sklearn"])
@pytest.mark.fault(
    item=6,
    case="feature values of 1e200 (finite, but their squared distances overflow)",
    outcome="exit 2 with either method (fast scored from a NaN kernel with exit 0 before)",
)
def test_features_too_large_for_the_kernels(tmp_path, capsys, method):
    X = np.random.default_rng(0).standard_normal((8, 160))
    X[3, 5] = 1e200
    manifest, features = cell_files(tmp_path, X)
    assert evaluate(manifest, features, "1", tmp_path / "c.json", "--method", method) == 2
    assert not (tmp_path / "c.json").exists()
    capsys.readouterr()


@pytest.mark.fault(
    item=6,
    case="a NaN in a feature file given to evaluate",
    outcome="exit 2 naming the file and the clip (was a traceback)",
)
def test_nan_in_a_feature_file(tmp_path, capsys):
    X = np.random.default_rng(0).standard_normal((8, 160))
    manifest, features = cell_files(tmp_path, X)
    with np.load(features) as data:
        arrays = dict(data)
    arrays["features"][4, 7] = np.nan
    np.savez(features, **arrays)
    assert evaluate(manifest, features, "1", tmp_path / "c.json") == 2
    assert "clip 'c04' has a NaN" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(lambda c: c.pop("grid"), "has no whole grid", id="grid-removed"),
        pytest.param(lambda c: c.update(score=0.99), "is not its grid's best", id="score"),
        pytest.param(lambda c: c.update(n_clips=19), "its grid's test folds hold 20", id="n_clips"),
        pytest.param(lambda c: c["cv"].update(n_splits=10), "its cv has 10 folds", id="cv"),
    ],
)
@pytest.mark.fault(
    item=11,
    case="a cell file with its grid removed, or its score, n_clips or cv edited by hand",
    outcome="exit 2 from aggregate naming the file (was accepted with any score)",
)
def test_a_cell_is_read_from_its_grid(tmp_path, capsys, edit, message):
    cell = fake_cell("t", "random", "1", 0.7)
    edit(cell)
    path = tmp_path / "1.json"
    path.write_text(json.dumps(cell))
    assert main(["aggregate", str(path), "-o", str(tmp_path / "scores.csv")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "scores.csv").exists()


@pytest.mark.fault(
    item=11,
    case="a `|` in a published score's label, markup in description, notes or machine",
    outcome="escaped: the table keeps its columns, the text renders as written",
)
def test_user_text_cannot_break_the_report(tmp_path):
    from musictransfer.report_markdown import write_report
    from musictransfer.scores_table import aggregate_scores

    paths = []
    for combo, score in (("1", 0.6), ("12345", 0.8)):
        paths.append(tmp_path / f"{combo}.json")
        paths[-1].write_text(json.dumps(fake_cell("genre", "tagger-x", combo, score)))
    aggregate_scores(paths, tmp_path / "scores.csv")
    published = {"genre": {"score": 0.123, "combo": "12345", "label": "paper | 0.999"}}
    extra = {"description": "**bold** <b>x</b>", "notes": ["# not a heading"], "machine": "a|b"}
    text = write_report(tmp_path / "scores.csv", tmp_path, tmp_path / "r.md", "x", extra,
                        published)  # fmt: skip
    row = next(line for line in text.splitlines() if line.startswith("| genre |"))
    header = next(line for line in text.splitlines() if line.startswith("| task |"))
    assert row.count(" | ") == header.count(" | ")
    assert r"0.123 (paper \| 0.999)" in row
    assert r"\*\*bold\*\* \<b\>x\</b\>" in text and r"- \# not a heading" in text
    assert r"machine: a\|b" in text


@pytest.mark.fault(
    item=7,
    case="`expriment: demo` in place of `experiment` (the real key absent, not beside it)",
    outcome="exit 2: \"unknown key 'expriment' ... did you mean 'experiment'?\" (was: "
    "'experiment' is a required property)",
)
def test_a_misspelled_required_key_is_named_with_the_right_one(repo, tmp_path, capsys):
    config = (repo / "config.yaml").read_text().replace("\nexperiment: demo", "\nexpriment: demo")
    assert "\nexpriment: demo" in config
    (tmp_path / "c.yaml").write_text(config)
    assert main(["info", "--config", str(tmp_path / "c.yaml")]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'expriment'" in err and "did you mean 'experiment'?" in err


@pytest.mark.fault(
    item=7,
    case="a misspelled dataset name under an experiment's datasets (gtzan_genr)",
    outcome="exit 2 from info and before Snakemake plans anything: 'no dataset of the "
    "registry has that name (did you mean ...)' (was accepted; the run failed in download)",
)
def test_an_unknown_dataset_name_fails_before_anything_runs(repo, tmp_path, capsys):
    (tmp_path / "c.yaml").write_text(
        "experiment: x\nexperiments:\n  x:\n    datasets: {gtzan_genr: {data_dir: null}}\n"
        "    extractors: {random: ['1']}\n    tasks:\n      g: {dataset: gtzan_genr, "
        "type: classification, target: label, cv: {scheme: stratified_kfold}}\n"
    )
    message = "experiments.x.datasets.gtzan_genr: no dataset of the registry has that name"
    assert main(["info", "--config", str(tmp_path / "c.yaml")]) == 2
    assert f"{message} (did you mean 'gtzan_genre'?)" in capsys.readouterr().err
    out = snakemake(repo, "-n", "--configfile", str(tmp_path / "c.yaml"), check=False)
    assert out.returncode != 0 and message in out.stdout + out.stderr
    assert "download" not in out.stdout


@pytest.mark.parametrize("cut", ["mid-page", "page-boundary"])
@pytest.mark.fault(
    item=9,
    case="an Ogg Vorbis file cut short (mid-page, or at a page boundary: no end-of-stream page)",
    outcome="exit 2: 'is truncated: its last Ogg page is not a whole end-of-stream page' "
    "(decoded as a shorter clip before: 1.01 s of 5.33 s); MP3 has no such marker",
)
def test_a_truncated_ogg_file_is_refused(shared_audio, tmp_path, cut):
    from musictransfer.audio import load_audio
    from musictransfer.errors import AudioError

    data = (shared_audio / "198-209-0000.ogg").read_bytes()
    whole = load_audio(shared_audio / "198-209-0000.ogg", duration=None)
    end = int(len(data) * 0.7)
    if cut == "page-boundary":
        end = data.rfind(b"OggS", 0, end)  # the file ends with whole pages, the last one not
    (tmp_path / "cut.ogg").write_bytes(data[:end])
    with pytest.raises(AudioError, match="is truncated: its last Ogg page"):
        load_audio(tmp_path / "cut.ogg", duration=None)
    assert len(whole) > 0


@pytest.mark.parametrize(
    ("signal", "message"),
    [
        pytest.param(lambda sr: 0.5 * np.sin(np.arange(sr // 100)), "lasts 10 ms", id="10ms"),
        pytest.param(lambda sr: np.array([0.5]), "lasts 0.0625 ms", id="one-sample"),
        pytest.param(lambda sr: np.full(sr, 0.25), "is constant (a DC offset of 0.25)", id="dc"),
        pytest.param(
            lambda sr: np.eye(1, 30 * sr, 15 * sr)[0] * 0.9, "sounds for 0.0625 ms", id="one-click"
        ),
        pytest.param(
            lambda sr: np.concatenate([np.zeros(sr), np.full(sr // 200, 0.5), np.zeros(sr)]),
            "sounds for 5 ms",
            id="burst",
        ),
    ],
)
@pytest.mark.fault(
    item=9,
    case="a clip of 10 ms or one sample, a constant (DC) file, or silence around a single "
    "click or a burst shorter than one analysis window",
    outcome="a warning naming the file (extract, prepare), exit 2 for tag (was confident "
    "tags: 'experimental 0.38')",
)
def test_clips_with_nothing_to_tag(tmp_path, caplog, signal, message):
    import soundfile as sf

    from musictransfer.audio import load_audio
    from musictransfer.errors import AudioError

    path = tmp_path / "x.wav"
    sf.write(path, signal(16000).astype(np.float32), 16000, subtype="FLOAT")
    with caplog.at_level("WARNING"):
        load_audio(path)
    assert message in caplog.text
    with pytest.raises(AudioError, match="are meaningless"):
        load_audio(path, silence="error")


@pytest.mark.fault(
    item=1,
    case="labels '1' and '01' (merged or not depending on the other labels), 'a' and 'a '",
    outcome="one rule for every column: text without surrounding blanks ('a ' is 'a'), "
    "integers only when that merges nothing; a warning whenever a value is changed or "
    "kept apart",
)
def test_one_rule_for_labels(caplog):
    from musictransfer.taskdata import class_labels

    with caplog.at_level("WARNING"):
        ints = class_labels(np.array(["1", "01", "2"]), "column 'label' of m.csv")
        mixed = class_labels(np.array(["1", "01", "a"]), "column 'label' of m.csv")
    assert list(ints) == ["1", "01", "2"] and list(mixed) == ["1", "01", "a"]  # never merged
    assert "'01' and '1' are two labels" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        blanks = class_labels(np.array(["a", "a ", "b"]), "column 'label' of m.csv")
    assert list(blanks) == ["a", "a", "b"]
    assert "read without them ('a ' as 'a')" in caplog.text
    assert list(class_labels(np.array(["10", "2", "0"]))) == [10, 2, 0]  # numeric order kept


@pytest.mark.fault(
    item=5,
    case="a truncated last.ckpt beside a run.json of the same run (every retry hit it)",
    outcome="a warning 'last.ckpt is damaged or truncated: starting afresh', and training "
    "starts afresh (was a traceback on every retry)",
)
def test_a_truncated_checkpoint_is_not_resumed(tmp_path, caplog):
    import zipfile

    from musictransfer.training.run import _resumable_checkpoint

    fingerprint = {"settings": {"seed": 0}}
    (tmp_path / "run.json").write_text(json.dumps(fingerprint))
    with zipfile.ZipFile(tmp_path / "last.ckpt", "w") as archive:
        archive.writestr("data.pkl", b"x" * 10_000)
    assert _resumable_checkpoint(tmp_path, fingerprint) == tmp_path / "last.ckpt"
    data = (tmp_path / "last.ckpt").read_bytes()
    (tmp_path / "last.ckpt").write_bytes(data[: len(data) // 2])
    with caplog.at_level("WARNING"):
        assert _resumable_checkpoint(tmp_path, fingerprint) is None
    assert "damaged or truncated: starting afresh" in caplog.text
    assert not (tmp_path / "last.ckpt").exists()


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        pytest.param(27, "raise the file size limit (ulimit -f)", id="EFBIG"),
        pytest.param(28, "free space on the output's disk", id="ENOSPC-unnamed"),
    ],
)
@pytest.mark.fault(
    item=6,
    case="OSError 'File too large' (EFBIG), or a full disk on a write that names no file "
    "(torch.save in train)",
    outcome="exit 2 naming the command's output and what to do (was a traceback, or no file)",
)
def test_write_errors_name_the_output(monkeypatch, capsys, tmp_path, code, hint):
    import errno
    import os

    from musictransfer import cli

    assert code in (errno.EFBIG, errno.ENOSPC)

    def fails(args):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(cli, "cmd_random_convnet", fails)
    out = tmp_path / "random.pt"
    assert main(["random-convnet", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{os.strerror(code)} writing {out}" in err and hint in err


@pytest.mark.fault(
    item=6,
    case="kill -9 while an output is written (prepare's store: its full size), then a rerun",
    outcome="the rerun removes the killed run's temporary file (named by host and process); "
    "the store is written once, in place (it needed twice its size on disk)",
)
def test_a_rerun_removes_what_a_killed_run_left(tmp_path, caplog):
    import subprocess
    import sys

    from musictransfer.outputs import _temporary_prefix, write_json

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    out = tmp_path / "cell.json"
    mine = _temporary_prefix(out)
    leftover = tmp_path / f"{mine.rsplit('.', 2)[0]}.{dead}.abc123.json"
    leftover.write_text("half")
    with caplog.at_level("WARNING"):
        write_json(out, {"a": 1})
    assert not leftover.exists() and "left by a killed run" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cell.json"]


@pytest.mark.fault(
    item=6,
    case="a legal output name of 250 characters",
    outcome="written (the temporary name is cut to stay legal; it failed after the work)",
)
def test_a_long_legal_output_name(tmp_path):
    from musictransfer.outputs import write_json

    out = tmp_path / ("x" * 245 + ".json")
    write_json(out, {"a": 1})
    assert json.loads(out.read_text()) == {"a": 1}


def test_an_accuracy_band_stays_within_0_and_1():
    from musictransfer.protocols_report import cv_row

    cell = fake_cell("t", "random", "1", 0.95, folds=[0.87, 1.0, 0.98])
    row = cv_row(cell)
    assert row["ci_high"] == 1.0 and row["ci_low"] > 0.87 - 0.1
    assert "cut to [0, 1]" in row["interval"]
    regression = cv_row({**fake_cell("t", "random", "1", 0.95, folds=[0.87, 1.0, 0.98]),
                         "metric": "r2"})  # fmt: skip
    assert regression["ci_high"] == 1.0 and "cut at 1" in regression["interval"]  # r2 <= 1
