"""Bring your own representation and dataset: labelled folders, features files, the API.

Every check a built-in dataset or extractor gets applies to the user's: ids join features
to labels (never row positions), a feature file that misses, repeats or adds a clip stops
the run naming it, and a representation's cells are the paper's protocol, number for
number (plain scikit-learn ``GridSearchCV`` is the reference).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from sklearn.model_selection import GridSearchCV, LeaveOneGroupOut, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import musictransfer
from musictransfer.cell_files import evaluate_cell_files, load_cell, merge_cell_files
from musictransfer.config import resolve_experiment, task_spec
from musictransfer.datasets.labelled_folder import folder_rows, write_folder_manifest
from musictransfer.errors import ConfigError, ManifestError, MusicTransferError
from musictransfer.featurefile import load_feature_set, save_features
from musictransfer.imported_features import import_features

TASK = {
    "type": "classification",
    "target": "kind",
    "cv": {"scheme": "predefined_folds", "column": "fold"},
}


def make_folder(root, n=16, sr=8000):
    """n short WAVs in subfolders with spaces and non-ASCII names, and their labels."""
    rng = np.random.default_rng(0)
    rows = []
    for k in range(n):
        kind = ("tone", "noise")[k % 2]
        sub = root / "audio" / ("chansons é" if k % 3 == 0 else "plain")
        sub.mkdir(parents=True, exist_ok=True)
        t = np.arange(sr) / sr
        x = (
            0.3 * np.sin(2 * np.pi * (200 + 30 * k) * t)
            if kind == "tone"
            else 0.2 * rng.standard_normal(sr)
        )
        name = f"clip {k:02d}.wav"
        sf.write(sub / name, x.astype(np.float32), sr)
        rows.append({"path": f"{sub.name}/{name}", "kind": kind, "fold": (k // 2) % 4})
    labels = root / "labels.csv"
    pd.DataFrame(rows).to_csv(labels, index=False)
    return root / "audio", labels


# --- your own dataset: an audio folder and a labels file -------------------------------------


def test_folder_manifest_ids_are_paths_without_extension(tmp_path):
    audio, labels = make_folder(tmp_path)
    frame = folder_rows(audio, labels)
    assert list(frame.columns[:2]) == ["id", "path"]
    assert frame["id"].iloc[0] == "chansons é/clip 00"
    assert frame["id"].iloc[1] == "plain/clip 01"
    assert all(p.startswith(str(audio.resolve())) for p in frame["path"])
    assert frame["kind"].tolist() == pd.read_csv(labels)["kind"].tolist()  # the file's order
    out = tmp_path / "m.csv"
    write_folder_manifest(audio, labels, out)
    assert pd.read_csv(out)["id"].tolist() == frame["id"].tolist()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            lambda f: f.rename(columns={"path": "file"}), "has no 'path' column",
            id="no-path-column",
            marks=pytest.mark.fault(item=12, case="a labels file without a `path` column",
                                    outcome="exit 2 naming the file and its columns"),
        ),
        pytest.param(
            lambda f: f.assign(id=range(len(f))), "has an 'id' column",
            id="id-column",
            marks=pytest.mark.fault(item=12, case="a labels file with its own `id` column",
                                    outcome="exit 2: ids are paths without extension; rename it"),
        ),
        pytest.param(
            lambda f: f.assign(path=f["path"].where(f.index != 3, "plain/gone.wav")),
            "line 5: audio file",
            id="missing-file",
            marks=pytest.mark.fault(item=12, case="a labels row whose audio file does not exist",
                                    outcome="exit 2 naming the labels line and the file"),
        ),
        pytest.param(
            lambda f: pd.concat([f, f.iloc[[1]].assign(path="plain/clip 01.flac")]),
            "has the id 'plain/clip 01' of line 3",
            id="two-files-one-id",
            marks=pytest.mark.fault(item=12, case="two files of one id (a.wav and a.flac)",
                                    outcome="exit 2 naming both lines"),
        ),
        pytest.param(
            lambda f: f.assign(path=f["path"].where(f.index != 0, "../labels.csv")),
            "leads outside the audio folder",
            id="outside-folder",
            marks=pytest.mark.fault(item=12, case="a labels path that leads outside the folder",
                                    outcome="exit 2 naming the line"),
        ),
    ],
)  # fmt: skip
def test_folder_manifest_refuses(tmp_path, edit, message):
    audio, labels = make_folder(tmp_path)
    edit(pd.read_csv(labels)).to_csv(labels, index=False)
    with pytest.raises(ManifestError, match=message):
        folder_rows(audio, labels)


# --- features computed elsewhere -------------------------------------------------------------


@pytest.fixture
def manifest(tmp_path):
    audio, labels = make_folder(tmp_path)
    out = tmp_path / "manifest.csv"
    write_folder_manifest(audio, labels, out)
    return out


def ids_of(manifest):
    return pd.read_csv(manifest)["id"].astype(str).tolist()


def test_import_aligns_rows_to_the_manifest_by_id(tmp_path, manifest):
    ids = ids_of(manifest)
    X = np.arange(len(ids) * 3, dtype=float).reshape(len(ids), 3)
    order = np.random.default_rng(1).permutation(len(ids))
    np.savez(tmp_path / "f.npz", ids=np.array(ids)[order], X=X[order])
    import_features(tmp_path / "f.npz", manifest, "mine", tmp_path / "out.npz")
    fs = load_feature_set(tmp_path / "out.npz")
    assert fs.ids.tolist() == ids
    np.testing.assert_array_equal(fs.scene, X)
    assert fs.extractor == "mine" and fs.layers == []
    assert len(fs.info["representation"]["sha256"]) == 64


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(
            lambda ids, X: (ids + ids[:1], np.vstack([X, X[:1]])),
            "holds clip 'chansons é/clip 00' twice",
            id="duplicate",
            marks=pytest.mark.fault(item=11, case="a features file that holds a clip twice",
                                    outcome="exit 2 naming the file and the clip (was 1.0)"),
        ),
        pytest.param(
            lambda ids, X: (ids[1:], X[1:]), "has no row for clip 'chansons é/clip 00'",
            id="missing",
            marks=pytest.mark.fault(item=11, case="a features file that misses a clip",
                                    outcome="exit 2 naming the file and the clip"),
        ),
        pytest.param(
            lambda ids, X: ([*ids, "stranger"], np.vstack([X, X[:1]])), "holds clip 'stranger'",
            id="extra",
            marks=pytest.mark.fault(item=11, case="a features file with a clip the labels lack",
                                    outcome="exit 2 naming the file and the clip"),
        ),
        pytest.param(
            lambda ids, X: (ids, np.where(np.arange(len(X))[:, None] == 2, np.nan, X)),
            "clip 'plain/clip 02' has a NaN",
            id="nan",
            marks=pytest.mark.fault(item=12, case="a NaN in a features file",
                                    outcome="exit 2 naming the file and the clip"),
        ),
    ],
)  # fmt: skip
def test_import_refuses_features_that_do_not_match(tmp_path, manifest, make, message):
    ids = ids_of(manifest)
    bad_ids, X = make(ids, np.ones((len(ids), 4)))
    np.savez(tmp_path / "f.npz", ids=np.array(bad_ids), X=X)
    with pytest.raises(ManifestError, match=message):
        import_features(tmp_path / "f.npz", manifest, "mine", tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.parametrize(("pooling", "width"), [("mean", 3), ("max", 3), ("meanstd", 6)])
def test_frames_are_pooled_as_declared(tmp_path, manifest, pooling, width):
    ids = ids_of(manifest)
    frames = np.random.default_rng(0).standard_normal((len(ids), 5, 3))
    np.savez(tmp_path / "f.npz", ids=np.array(ids), X=frames)
    import_features(tmp_path / "f.npz", manifest, "mine", tmp_path / "o.npz", pooling=pooling)
    got = load_feature_set(tmp_path / "o.npz").scene
    assert got.shape == (len(ids), width)
    want = {"mean": frames.mean(1), "max": frames.max(1),
            "meanstd": np.hstack([frames.mean(1), frames.std(1)])}[pooling]  # fmt: skip
    np.testing.assert_allclose(got, want)


def test_a_folder_of_npy_files_is_a_features_source(tmp_path, manifest):
    ids = ids_of(manifest)
    folder = tmp_path / "emb"
    for k, id_ in enumerate(ids):
        (folder / id_).parent.mkdir(parents=True, exist_ok=True)
        np.save(folder / f"{id_}.npy", np.full((4, 2), float(k)))  # frames, mean-pooled
    import_features(folder, manifest, "mine", tmp_path / "o.npz")
    np.testing.assert_array_equal(
        load_feature_set(tmp_path / "o.npz").scene[:, 0], np.arange(len(ids))
    )


@pytest.mark.fault(
    item=12,
    case="a representation's features of two datasets with different dimensions",
    outcome="exit 2 naming both files",
)
def test_import_refuses_a_dimension_that_differs_between_datasets(tmp_path, manifest):
    ids = ids_of(manifest)
    np.savez(tmp_path / "a.npz", ids=np.array(ids), X=np.ones((len(ids), 4)))
    np.savez(tmp_path / "b.npz", ids=np.array(["x"]), X=np.ones((1, 5)))
    with pytest.raises(ManifestError, match=r"dimension 4.*b\.npz.*5"):
        import_features(tmp_path / "a.npz", manifest, "m", tmp_path / "o.npz",
                        siblings=[tmp_path / "a.npz", tmp_path / "b.npz"])  # fmt: skip


# --- evaluation joins features to labels by id -------------------------------------------------


@pytest.fixture
def cell(tmp_path, manifest):
    """Features that tell the classes apart partly, as a feature file in manifest order."""
    ids = ids_of(manifest)
    kinds = pd.read_csv(manifest)["kind"].to_numpy()
    rng = np.random.default_rng(3)
    X = rng.standard_normal((len(ids), 6)) + 0.8 * (kinds == "tone")[:, None]
    save_features(tmp_path / "feat.npz", X, ids, extractor="mine", layers=np.array([], str))
    return tmp_path / "feat.npz", X, ids


@pytest.mark.fault(
    item=11,
    case="a feature file whose rows are in another order than the manifest",
    outcome="rows joined by id: the same folds and score (0.65 -> 0.717 before)",
)
def test_rows_in_another_order_give_the_same_cell(tmp_path, manifest, cell):
    path, X, ids = cell
    cv = {"scheme": "stratified_kfold", "n_splits": 4}  # folds follow the rows' order
    spec = task_spec({"dataset": "d", **TASK, "cv": cv}, "kind")
    order = np.random.default_rng(0).permutation(len(ids))
    save_features(tmp_path / "shuffled.npz", X[order], [ids[i] for i in order], extractor="mine",
                  layers=np.array([], str))  # fmt: skip
    a = evaluate_cell_files(spec, "mine", "scene", manifest, path, None, tmp_path / "a.json")
    b = evaluate_cell_files(spec, "mine", "scene", manifest, tmp_path / "shuffled.npz", None,
                            tmp_path / "b.json")  # fmt: skip
    assert a["score"] == b["score"] and a["fold_scores"] == b["fold_scores"]
    assert a["inputs"][0]["sha256"] != b["inputs"][0]["sha256"]  # recorded: different files


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (lambda n: [*range(n), 0], "holds clip 'chansons é/clip 00' twice"),
        (lambda n: range(1, n), "has no row for clip 'chansons é/clip 00'"),
    ],
)
@pytest.mark.fault(
    item=11,
    case="evaluate given a feature file that repeats or misses a clip of the manifest",
    outcome="exit 2 naming the file and the clip (scored 1.0, or on 59 of 60 clips, before)",
)
def test_evaluation_refuses_rows_that_do_not_match(tmp_path, manifest, cell, rows, message):
    _, X, ids = cell
    rows = list(rows(len(ids)))
    save_features(tmp_path / "bad.npz", X[rows], [ids[i] for i in rows], extractor="mine",
                  layers=np.array([], str))  # fmt: skip
    spec = task_spec({"dataset": "d", **TASK}, "kind")
    with pytest.raises(ManifestError, match=message):
        evaluate_cell_files(spec, "m", "scene", manifest, tmp_path / "bad.npz", None,
                            tmp_path / "c.json")  # fmt: skip
    assert not (tmp_path / "c.json").exists()


@pytest.mark.fault(
    item=11,
    case="--mfcc given a convnet feature file (160 columns)",
    outcome="exit 2: 'holds random features, not MFCC' (was scored as MFCC)",
)
def test_a_convnet_file_is_refused_as_mfcc(tmp_path, manifest):
    ids = ids_of(manifest)
    save_features(tmp_path / "conv.npz", np.ones((len(ids), 160)), ids, extractor="random")
    spec = task_spec({"dataset": "d", **TASK}, "kind")
    with pytest.raises(MusicTransferError, match="holds random features, not MFCC"):
        load_cell(spec, "random", "mfcc", manifest, None, tmp_path / "conv.npz")


@pytest.mark.fault(
    item=11,
    case="merge-folds given parts of two different cells (or of other feature files)",
    outcome="exit 2 naming the part that differs (was written as one cell, score 1.0)",
)
def test_merge_refuses_parts_of_other_cells(tmp_path, manifest, cell):
    path, _, _ = cell
    spec = task_spec({"dataset": "d", **TASK}, "kind")
    parts = []
    for k, combo in enumerate(("scene", "scene")):
        parts.append(tmp_path / f"p{k}.json")
        evaluate_cell_files(spec, "mine", combo, manifest, path, None, parts[-1], fold_part=(k, 2))
    merged = merge_cell_files(parts, spec, "mine", "scene", tmp_path / "m.json")
    assert merged["inputs"][0]["role"] == "features"
    other = json.loads(parts[1].read_text()) | {"combo": "1"}
    parts[1].write_text(json.dumps(other))
    with pytest.raises(ConfigError, match=r"p1\.json belongs to another cell: its combo is '1'"):
        merge_cell_files(parts, spec, "mine", "scene", tmp_path / "m.json")
    other = json.loads(parts[1].read_text()) | {"combo": "scene", "inputs": [{"sha256": "0"}]}
    parts[1].write_text(json.dumps(other))
    with pytest.raises(ConfigError, match="other feature files"):
        merge_cell_files(parts, spec, "mine", "scene", tmp_path / "m.json")


# --- the Python API, against plain scikit-learn -----------------------------------------------


def plain_sklearn(X, y, cv, groups=None):
    """The paper's grid written out from its text: 2 scalings x (4 C x 7 gamma + 4 C linear)."""
    gammas = [2.0**-k for k in (3, 5, 7, 9, 11, 13)] + [1.0 / X.shape[1]]
    grid = [
        {"scaler": [StandardScaler(), "passthrough"], "svm__kernel": ["rbf"],
         "svm__C": [0.1, 2.0, 8.0, 32.0], "svm__gamma": gammas},
        {"scaler": [StandardScaler(), "passthrough"], "svm__kernel": ["linear"],
         "svm__C": [0.1, 2.0, 8.0, 32.0]},
    ]  # fmt: skip
    search = GridSearchCV(Pipeline([("scaler", "passthrough"), ("svm", SVC())]), grid, cv=cv)
    return search.fit(X, y, groups=groups)


def test_evaluate_features_equals_plain_sklearn(manifest, cell):
    path, X, ids = cell
    frame = pd.read_csv(manifest)
    got = musictransfer.evaluate_features(X, manifest, TASK, ids=ids)
    ref = plain_sklearn(X, frame["kind"].to_numpy(), LeaveOneGroupOut(), frame["fold"].to_numpy())
    assert got["n_settings"] == 64 == len(ref.cv_results_["params"])
    assert abs(got["score"] - ref.best_score_) < 1e-6
    # The same numbers from the feature file, and from the workflow's job function.
    assert musictransfer.evaluate_features(path, manifest, TASK)["score"] == got["score"]
    task = {**TASK, "cv": {"scheme": "stratified_kfold", "n_splits": 4}}
    got = musictransfer.evaluate_features(X, manifest, task, ids=ids)
    ref = plain_sklearn(X, frame["kind"].to_numpy(), StratifiedKFold(4))
    assert abs(got["score"] - ref.best_score_) < 1e-6


def test_probe_features_gives_a_test_score_with_an_interval(manifest, cell):
    path, _, ids = cell
    frame = pd.read_csv(manifest)
    split = {
        i: ("train", "train", "valid", "test")[f] for i, f in zip(ids, frame["fold"], strict=True)
    }
    record = musictransfer.probe_features(path, manifest, TASK, split, n_boot=200)
    assert record["n_test"] == 4 and record["probe"] == "linear"
    assert record["ci"]["low"] <= record["test_score"] <= record["ci"]["high"]


# --- the configuration ------------------------------------------------------------------------


def config_with(representations, extractors, **experiment):
    return {
        "experiment": "mine",
        "representations": representations,
        "experiments": {"mine": {
            "datasets": {"my_set": {"audio_dir": "a", "labels": "l.csv"}},
            "extractors": extractors,
            "tasks": {"kind": {"dataset": "my_set", **TASK}},
            **experiment,
        }},
    }  # fmt: skip


def test_a_representation_gets_its_layer_combinations():
    reps = {"m": {"hear": "pkg.mod", "layers": ["a", "b", "c"]}, "f": {"features": "x.npz"}}
    exp = resolve_experiment(config_with(reps, {"m": ["all"], "f": ["all"], "random": ["1"]}))
    assert exp.extractors["m"] == ("scene", "1", "2", "3", "12", "13", "23", "123")
    assert exp.extractors["f"] == ("scene",)
    assert exp.datasets["my_set"].is_folder
    assert exp.extractors_of("hear") == ["m"] and exp.extractors_of("features") == ["f"]


@pytest.mark.parametrize(
    ("reps", "extractors", "message"),
    [
        ({"m": {"hear": "p.m", "layers": ["a"]}}, {"m": ["12"]}, "unknown layer combination '12'"),
        ({"m": {"hear": "p.m"}}, {"m": ["paper"]}, "unknown layer combination 'paper'"),
        ({}, {"random": ["scene"]}, "unknown layer combination 'scene'"),
        ({"random": {"hear": "p.m"}}, {"random": ["1"]}, "name of a built-in extractor"),
        ({"m": {"hear": "p.m", "features": "x"}}, {"m": ["scene"]}, "has hear and features"),
        ({"m": {"features": "x", "layers": ["a"]}}, {"m": ["scene"]}, "applies to a HEAR module"),
        ({}, {"mine": ["scene"]}, "unknown extractor 'mine'"),
    ],
)  # fmt: skip
@pytest.mark.fault(
    item=12,
    case="a representation's name, kind or combinations wrong in the config",
    outcome="exit 2 naming the key, before anything runs",
)
def test_representation_config_mistakes(reps, extractors, message):
    with pytest.raises(ConfigError, match=message):
        resolve_experiment(config_with(reps, extractors))


def test_a_hear_module_needs_audio():
    config = config_with({"m": {"hear": "p.m"}}, {"m": ["scene"]}, released_features=True)
    config["experiments"]["mine"]["tasks"]["kind"]["dataset"] = "gtzan_genre"
    with pytest.raises(ConfigError, match="reads the released features"):
        resolve_experiment(config)


@pytest.mark.parametrize("leaks", [False, True])
def test_extraction_measures_whether_a_clip_depends_on_its_batch(tmp_path, manifest, leaks):
    from musictransfer.clip_sources import clips_of
    from musictransfer.representations import extract_representation

    pytest.importorskip("torch")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))  # hear_toy
    ids, paths = clips_of(manifest)
    extract_representation("hear_toy", paths, tmp_path / "f.npz", options={"batch_stats": leaks},
                           batch_size=4, layers=False, progress=False, ids=ids)  # fmt: skip
    check = load_feature_set(tmp_path / "f.npz").info["representation"]["batch_check"]
    assert check["clips"] == 4 and check["batch_dependent"] is leaks
    assert (check["max_relative_difference"] > 1e-2) is leaks


def test_grouped_folds_keep_a_recordings_segments_together():
    """Segments of one recording in one fold: the leak a segmented dataset invites."""
    from musictransfer.folds import cv_splitter

    rng = np.random.default_rng(0)
    recordings = np.tile(np.arange(20), 6)  # 20 recordings, 6 segments each, interleaved
    y = np.where(recordings % 2 == 0, "a", "b")
    # Each recording has its own signature (shared by its segments) and no class signal.
    X = rng.standard_normal((20, 8))[recordings] + 0.01 * rng.standard_normal((120, 8))
    names = [f"r{r}" for r in recordings]
    frame = pd.DataFrame({"id": [f"s{k}" for k in range(120)], "label": y, "recording": names})
    cv = {"scheme": "stratified_kfold", "n_splits": 5}
    grouped = {"type": "classification", "target": "label", "cv": {**cv, "group": "recording"}}
    spec = task_spec({"dataset": "d", **grouped}, "t")
    splitter = cv_splitter(spec.cv, "classification", frame["recording"].to_numpy())
    for train, test in splitter.split(X, y):
        assert not set(frame["recording"][train]) & set(frame["recording"][test])
    honest = musictransfer.evaluate_features(X, frame, grouped)["score"]
    leaky = musictransfer.evaluate_features(X, frame, {**grouped, "cv": cv})["score"]
    assert leaky > 0.9 and honest < 0.75  # the same features: only the folds differ
    assert json.loads(spec.to_json())["cv"]["group"] == "recording"
    plain = task_spec({"dataset": "d", **TASK}, "t")
    assert "group" not in json.loads(plain.to_json())["cv"]  # existing cells keep their params
    with pytest.raises(ConfigError, match="does not take groups"):
        task_spec({"dataset": "d", **TASK, "cv": {**TASK["cv"], "group": "recording"}}, "t")
