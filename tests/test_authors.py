"""The authors' per-cell results: the readings of a grid, their folds, their scaler.

The leads of the comparison are checked here on the released features themselves
(../shared/paper, the `shared_paper` fixture): the reading of their script as it ran
reproduces their result files exactly on GTZAN cells, the fold weighting matters on
EmoMusic, and the fold assignment of their scikit-learn on GTZAN speech/music.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, PredefinedSplit, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from musictransfer import authors
from musictransfer.config import CVSpec, TaskSpec
from musictransfer.errors import MusicTransferError
from musictransfer.evaluation import param_grid, run_fast_grid, summarise_grid
from musictransfer.folds import LegacyStratifiedKFold, legacy_stratified_folds
from musictransfer.readings import AUTHORS_SCRIPT_READING, PAPER_READING, GridReading, read_grid
from musictransfer.scores_table import aggregate_scores
from musictransfer.svm_grid import fast_grid_search, grid_settings

# --- their scaler ---------------------------------------------------------------------


class TheirScaler(StandardScaler):
    """A scaler built as the authors' OptionalStandardScaler is: options set in __init__."""

    def __init__(self, on=False):
        self.on = on
        super().__init__(with_mean=on, with_std=on)


def test_their_scaler_never_scales_after_set_params():
    """clone + set_params (what GridSearchCV does) sets `on` but never re-runs __init__."""
    X = np.random.default_rng(0).normal(5.0, 3.0, size=(40, 4))
    pipe = Pipeline([("stdd", TheirScaler()), ("clf", SVC())])
    candidate = clone(pipe).set_params(stdd__on=True)
    assert candidate.named_steps["stdd"].on is True
    out = candidate.named_steps["stdd"].fit(X).transform(X)
    np.testing.assert_array_equal(out, X)  # the identity, although `on` is True
    # Built directly with on=True it does scale: the grid's "on" arm is what is lost.
    direct = TheirScaler(on=True).fit(X).transform(X)
    assert np.allclose(direct.mean(axis=0), 0.0) and not np.allclose(direct, X)


def test_their_grid_scores_scaled_and_unscaled_settings_alike():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 3)) * np.array([1.0, 50.0, 0.01])
    y = (X[:, 0] + X[:, 2] * 100 > 0).astype(int)
    pipe = Pipeline([("stdd", TheirScaler()), ("clf", SVC())])
    search = GridSearchCV(pipe, {"stdd__on": [True, False], "clf__C": [0.1, 8.0]}, cv=3).fit(X, y)
    scores = dict(
        zip(
            map(json.dumps, search.cv_results_["params"]),
            search.cv_results_["mean_test_score"],
            strict=True,
        )
    )
    for c in (0.1, 8.0):
        on = scores[json.dumps({"clf__C": c, "stdd__on": True})]
        off = scores[json.dumps({"clf__C": c, "stdd__on": False})]
        assert on == off


# --- readings of a grid ------------------------------------------------------------------


def synthetic_grid(scores, sizes, scale=(True, False)):
    settings = [
        {"scale": s, "kernel": "linear", "C": c, "gamma": None} for c in (1.0, 2.0) for s in scale
    ]
    return {"settings": settings, "fold_scores": scores, "fold_sizes": sizes, "ipm_fits": []}


def test_read_grid_weights_folds_and_admits_only_the_readings_settings():
    # settings: (C1, scaled), (C1, unscaled), (C2, scaled), (C2, unscaled)
    grid = synthetic_grid(
        [[0.9, 0.9], [0.6, 1.0], [0.7, 0.7], [1.0, 0.5]],
        [1, 3],
    )
    paper = read_grid(grid, PAPER_READING, 4)
    assert paper.best_index == 0 and paper.score == pytest.approx(0.9) and paper.n_settings == 4
    script = read_grid(grid, AUTHORS_SCRIPT_READING, 4)
    # unscaled only: (0.6*1 + 1.0*3)/4 = 0.9 beats (1.0*1 + 0.5*3)/4 = 0.625
    assert script.best_index == 1 and script.score == pytest.approx(0.9)
    assert script.best_params["scale"] is False and script.n_settings == 2
    plain = GridReading("plain", "", scaling=(False,), weighted=False)
    assert read_grid(grid, plain, 4).score == pytest.approx(0.8)  # C1 0.8 against C2 0.75


def test_read_grid_ties_keep_the_first_setting():
    grid = synthetic_grid([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5], [0.5, 0.5]], [2, 2])
    assert read_grid(grid, PAPER_READING, 4).best_index == 0
    assert read_grid(grid, AUTHORS_SCRIPT_READING, 4).best_index == 1


def test_read_grid_refuses_a_cell_without_grid_or_with_nan():
    with pytest.raises(MusicTransferError, match="no full grid"):
        read_grid({}, PAPER_READING, 4)
    with pytest.raises(MusicTransferError, match="malformed"):
        read_grid(synthetic_grid([[np.nan, 1], [1, 1], [1, 1], [1, 1]], [1, 1]), PAPER_READING, 4)


def gtzan_task():
    return TaskSpec(
        name="gtzan_genre",
        dataset="gtzan_genre",
        type="classification",
        target="label",
        cv=CVSpec(scheme="stratified_kfold_legacy", n_splits=10),
    )


def test_cell_file_keeps_the_grid_and_paper_reading_is_its_score(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 4))
    y = np.repeat(["a", "b", "c"], 20)
    X[y == "b"] += 1.0
    task = TaskSpec(
        name="toy",
        dataset="toy",
        type="classification",
        target="label",
        cv=CVSpec(scheme="stratified_kfold", n_splits=3),
    )
    cell = summarise_grid(run_fast_grid(X, y, task), task, "choi2017", "1", X.shape, 0.0)
    data = cell.to_dict()
    assert len(data["grid"]["settings"]) == 64 and data["grid"]["fold_sizes"] == [20, 20, 20]
    assert read_grid(data["grid"], PAPER_READING, 4).score == data["score"]
    assert data["provenance"]["musictransfer"] and "scikit-learn" in data["provenance"]["libraries"]
    path = tmp_path / "1.json"
    path.write_text(json.dumps(data))
    table = aggregate_scores([path])
    assert list(table["reading"]) == [PAPER_READING, AUTHORS_SCRIPT_READING]
    assert table["code"].iloc[0] == data["provenance"]["code"]
    # A stored score that is not its own grid's best is refused, naming the file.
    data["score"] = data["score"] - 0.1
    path.write_text(json.dumps(data))
    with pytest.raises(MusicTransferError, match=r"1\.json.*not its grid's best"):
        aggregate_scores([path])


# --- their folds ---------------------------------------------------------------------------


def test_legacy_folds_cut_every_class_by_kfold_in_row_order():
    y = np.array(["b"] * 23 + ["a"] * 11 + ["c"] * 4 + ["b"] * 2)
    folds = legacy_stratified_folds(y, 5)
    for label in ("a", "b", "c"):
        rows = np.flatnonzero(y == label)
        padded = np.zeros(max(len(rows), 5))
        for fold, (_, test) in enumerate(KFold(5).split(padded)):
            np.testing.assert_array_equal(
                np.flatnonzero(folds[rows] == fold), test[test < len(rows)]
            )
    # The first count % 5 folds of each class get the extra clip: 'b' (25) none, 'a' (11) one.
    assert np.bincount(folds[y == "a"]).tolist() == [3, 2, 2, 2, 2]


def test_legacy_folds_equal_todays_for_equal_classes_and_differ_otherwise():
    balanced = np.repeat(np.arange(10), 100)
    today = np.zeros(1000, int)
    for fold, (_, test) in enumerate(StratifiedKFold(10).split(balanced, balanced)):
        today[test] = fold
    np.testing.assert_array_equal(legacy_stratified_folds(balanced, 10), today)
    two = np.repeat([0, 1], 64)  # GTZAN speech/music: 64 + 64 clips
    sizes = np.bincount(legacy_stratified_folds(two, 10)).tolist()
    assert sizes == [14, 14, 14, 14, 12, 12, 12, 12, 12, 12]
    splitter = LegacyStratifiedKFold(10)
    assert splitter.get_n_splits() == 10
    assert [len(t) for _, t in splitter.split(np.zeros((128, 1)), two)] == sizes


# --- on the released features ----------------------------------------------------------


def released(shared, stem, combo):
    blocks = [np.load(shared / f"data_feats/{stem}_layer_{int(k) - 1}.npy") for k in combo]
    return np.concatenate(blocks, axis=1)


def their_result(shared, task, combo, estimator="SVC"):
    name = authors.result_file(task, combo, "classification" if estimator == "SVC" else "x")
    return float(np.load(shared / "result_transfer" / name))


# A whole grid on GTZAN per combination: one stays in the quick subset, the others are slow.
@pytest.mark.parametrize(
    "combo", ["1", *(pytest.param(c, marks=pytest.mark.slow) for c in ("14", "25", "124"))]
)
def test_script_reading_reproduces_their_gtzan_cells(shared_paper, combo):
    y = pd.read_csv(shared_paper / "data_csv/gtzan_genre.csv", index_col=0)["label"].astype(str)
    X = released(shared_paper, "gtzan_genre", combo)
    task = gtzan_task()
    cell = summarise_grid(run_fast_grid(X, y.to_numpy(), task), task, "c", combo, X.shape, 0)
    grid = cell.to_dict()["grid"]
    theirs = their_result(shared_paper, "gtzan_genre", combo)
    script = read_grid(grid, AUTHORS_SCRIPT_READING, X.shape[1]).score
    assert script == pytest.approx(theirs, abs=1e-9)
    # ... and the paper's reading (their scaler working) is well above it.
    assert read_grid(grid, PAPER_READING, X.shape[1]).score > theirs + 0.01


def test_their_speech_music_cell_needs_their_folds(shared_paper):
    y = pd.read_csv(shared_paper / "data_csv/gtzan_speechmusic.csv", index_col=0)["label"]
    y = y.to_numpy()
    X = released(shared_paper, "gtzan_speechmusic", "5")
    settings = grid_settings(param_grid())
    theirs = their_result(shared_paper, "gtzan_speechmusic", "5")

    def script_score(splits):
        g = fast_grid_search(X, y, splits, settings, is_classifier=True)
        unscaled = [i for i, s in enumerate(settings) if not s.scale]
        means = np.average(g.scores[unscaled], axis=1, weights=g.fold_sizes)
        return float(means.max())

    legacy = list(PredefinedSplit(legacy_stratified_folds(y, 10)).split())
    today = list(StratifiedKFold(10).split(X, y))
    assert script_score(legacy) == pytest.approx(theirs, abs=1e-9)
    assert abs(script_score(today) - theirs) > 0.005


@pytest.mark.slow  # a whole SVR grid over EmoMusic
def test_fold_weighting_moves_emomusic_toward_their_cell(shared_paper):
    table = pd.read_csv(shared_paper / "data_csv/emoMusic.csv", index_col=0)
    y = table["label_valence"].to_numpy(float)
    X = released(shared_paper, "emoMusic", "1")
    task = TaskSpec(
        name="v",
        dataset="emoMusic",
        type="regression",
        target="valence",
        cv=CVSpec(scheme="kfold", n_splits=10),
    )
    grid = summarise_grid(run_fast_grid(X, y, task), task, "c", "1", X.shape, 0).to_dict()["grid"]
    assert grid["fold_sizes"] == [75] * 4 + [74] * 6
    theirs = float(np.load(shared_paper / "result_transfer/T_emoMusic_v_F_mine_0_CL_SVR.npy"))
    weighted = read_grid(grid, AUTHORS_SCRIPT_READING, 32).score
    plain = read_grid(grid, GridReading("p", "", scaling=(False,), weighted=False), 32).score
    assert abs(weighted - theirs) < 2e-4
    assert abs(weighted - theirs) < abs(plain - theirs)


# --- names and the comparison ---------------------------------------------------------------


def test_result_file_names_cover_their_30_cells_per_task(shared_paper):
    from musictransfer.constants import PAPER_COMBOS

    assert authors.result_file("gtzan_genre", "135", "classification") == (
        "T_gtzan_genre_F_mine_024_CL_SVC.npy"
    )
    assert authors.result_file("emoMusic_a", "mfcc+12345", "regression") == (
        "T_emoMusic_a_F_mfcc+12345_4_CL_SVR.npy"
    )
    assert authors.result_file("gtzan_genre", "1245", "classification") is None
    combos = [*PAPER_COMBOS, "mfcc", "mfcc+12345"]
    tasks = {"a": "ballroom_extended", "b": "emoMusic_v", "c": "urbansound"}
    types = {"a": "classification", "b": "regression", "c": "classification"}
    names = authors.result_files(tasks, types, combos)
    assert len(names) == 90
    assert all((shared_paper / "result_transfer" / n).is_file() for n in names)


def test_comparison_table_summary_and_figure(tmp_path):
    rows = []
    for combo, paper, script in [("1", 0.80, 0.75), ("15", 0.90, 0.88), ("mfcc", 0.6, 0.5)]:
        for reading, score in [(PAPER_READING, paper), (AUTHORS_SCRIPT_READING, script)]:
            rows.append(
                {
                    "task": "g",
                    "extractor": "choi2017",
                    "combo": combo,
                    "metric": "accuracy",
                    "reading": reading,
                    "score": score,
                }
            )
    scores = pd.DataFrame(rows)
    files = []
    for combo, theirs in [("1", 0.75), ("15", 0.80), ("mfcc", 0.502)]:
        name = authors.result_file("gtzan_genre", combo, "classification")
        np.save(tmp_path / name, np.float64(theirs))
        files.append(tmp_path / name)
    table = authors.compare_with_authors(scores, files, {"g": "gtzan_genre"})
    assert list(table["group"]) == ["layers 1-4", "with layer 5", "mfcc"]
    np.testing.assert_allclose(table[f"diff_{AUTHORS_SCRIPT_READING}"], [0.0, 0.08, -0.002])
    summary = authors.summarise_comparison(table).set_index("group")
    assert summary.loc["all", f"within_{AUTHORS_SCRIPT_READING}"] == 2
    assert summary.loc["all", f"within_{PAPER_READING}"] == 0
    assert summary.loc["all", "largest_cell"] == "15"
    text = "\n".join(authors.comparison_markdown(table))
    assert "| g | 3 | 0 | 2 | +0.0800 (15) |" in text and "| g | 15 | with layer 5 |" in text
    authors.write_comparison(table, tmp_path / "authors.csv", tmp_path / "authors.png")
    assert (tmp_path / "authors.png").stat().st_size > 10_000
    back = authors.load_comparison(tmp_path / "authors.csv")
    assert list(back["combo"]) == ["1", "15", "mfcc"]


def test_a_corrupt_result_file_is_named(tmp_path):
    bad = tmp_path / "T_gtzan_genre_F_mine_0_CL_SVC.npy"
    bad.write_bytes(b"not numpy")
    with pytest.raises(MusicTransferError, match=r"T_gtzan_genre_F_mine_0_CL_SVC\.npy"):
        authors.read_result(bad)


def test_integer_labels_keep_their_numeric_class_order():
    """libsvm breaks one-vs-one vote ties by class order: '10' must not sort before '2'."""
    from musictransfer.taskdata import class_labels

    labels = class_labels(np.array(["10", "2", "0", "12"]))
    assert labels.dtype.kind == "i" and list(np.unique(labels)) == [0, 2, 10, 12]
    assert list(class_labels(np.array([" 3", "-1"]))) == [3, -1]
    for text in (["rock", "pop"], ["1", "a"], ["1.5", "2"]):
        assert class_labels(np.array(text)).dtype.kind == "U"
