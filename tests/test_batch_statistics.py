"""The authors' network under several BatchNorm statistics modes, on audio extracted here.

Extractors 'choi2017-<mode>', the extraction order (``choi2017.batch_order``), the
batch-boundary test per extractor and the paired comparison between extractors: the parts
of the ``batch_statistics`` experiment, each checked against a plain computation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from musictransfer.batch_context import COLUMNS, batch_boundary_tables
from musictransfer.choi2017.api import extract, extract_prepared, extraction_order, load_pretrained
from musictransfer.cli import main
from musictransfer.config import (
    EXTRACTOR_PATTERN,
    choi2017_bn_mode,
    is_choi2017,
    load_config,
    resolve_experiment,
)
from musictransfer.datasets.store import PreparedDataset, prepare_audio
from musictransfer.errors import ConfigError, ManifestError
from musictransfer.featurefile import load_features, save_features
from musictransfer.figures import plot_batch_boundary
from musictransfer.protocols_report import paired_comparisons, summarise_batch_boundary

REPO = Path(__file__).resolve().parents[1]


# --- configuration ---------------------------------------------------------------------------


def _config(extractors: dict, **preset) -> dict:
    config = load_config(REPO / "config.yaml")
    config["experiment"] = "batch_statistics"
    config["experiments"]["batch_statistics"]["extractors"] = extractors
    config["experiments"]["batch_statistics"].update(preset)
    return config


def test_extractor_names_give_the_statistics_mode():
    assert [choi2017_bn_mode(e) for e in ("choi2017", "choi2017-dataset", "random")] == [
        None,
        "dataset",
        None,
    ]
    assert is_choi2017("choi2017-reference") and not is_choi2017("tagger-choi2017")
    import re

    pattern = re.compile(rf"^(?:{EXTRACTOR_PATTERN})$")
    assert pattern.match("choi2017-batch") and not pattern.match("choi2017-running")


def test_the_preset_resolves_to_three_modes_of_one_network():
    exp = resolve_experiment(load_config(REPO / "config.yaml"), "batch_statistics")
    assert list(exp.extractors) == ["choi2017-dataset", "choi2017", "choi2017-reference"]
    modes = [exp.choi2017.bn_mode_of(e) for e in exp.extractors]
    assert modes == ["dataset", "batch", "reference"]
    assert exp.choi2017.batch_size == 32 and exp.choi2017.batch_order == "label"


@pytest.mark.fault(
    item=7,
    case="extractors 'choi2017' and 'choi2017-batch' while choi2017.bn_mode is batch",
    outcome="exit 2: '...lists both 'choi2017' and 'choi2017-batch', the same extraction' "
    "-> 'keep one of them'; was the same features computed and reported twice",
)
def test_one_extraction_under_two_names_is_refused():
    config = _config({"choi2017": ["1"], "choi2017-batch": ["1"]})
    with pytest.raises(ConfigError, match="both 'choi2017' and 'choi2017-batch'"):
        resolve_experiment(config)
    # With the block's mode set to dataset, choi2017 and choi2017-batch differ: allowed.
    config = _config(
        {"choi2017": ["1"], "choi2017-batch": ["1"]},
        choi2017={"bn_mode": "dataset", "batch_size": 32},
    )
    assert set(resolve_experiment(config).extractors) == {"choi2017", "choi2017-batch"}


@pytest.mark.fault(
    item=7,
    case="extractor 'choi2017-dataset' in an experiment that reads the released features",
    outcome="exit 2: '...names 'choi2017-dataset', but the experiment reads the released "
    "features (the authors' own extraction, batch statistics)'",
)
def test_a_named_mode_cannot_come_from_the_released_features():
    config = load_config(REPO / "config.yaml")
    config["experiment"] = "paper_features"
    config["experiments"]["paper_features"]["extractors"] = {"choi2017-dataset": ["1"]}
    with pytest.raises(ConfigError, match="reads the released features"):
        resolve_experiment(config)


def test_an_unknown_mode_is_refused_with_the_names_that_exist():
    config = _config({"choi2017-running": ["1"]})
    with pytest.raises(ConfigError, match=r"choi2017-<batch\|dataset\|reference>"):
        resolve_experiment(config)


# --- the extraction order ---------------------------------------------------------------------


def test_extraction_order_is_a_stable_sort_of_the_column():
    manifest = pd.DataFrame({"id": list("abcdef"), "label": ["y", "x", "y", "x", "z", "x"]})
    assert extraction_order(manifest, None).tolist() == [0, 1, 2, 3, 4, 5]
    assert extraction_order(manifest, "label").tolist() == [1, 3, 5, 0, 2, 4]
    with pytest.raises(ManifestError, match=r"m\.csv has no column 'genre'.*columns: id, label"):
        extraction_order(manifest, "genre", "m.csv")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six short clips of two classes, listed alternately (a, b, a, b, ...)."""
    root = tmp_path_factory.mktemp("bn_store")
    rng = np.random.default_rng(3)
    sr = 12_000
    t = np.arange(sr) / sr
    rows = []
    for i in range(6):
        label = "ab"[i % 2]
        freq = 220.0 * (1 + i) * (2 if label == "b" else 1)
        y = 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)
        sf.write(root / f"c{i}.wav", y.astype(np.float32), sr)
        rows.append({"id": f"c{i}", "path": f"c{i}.wav", "label": label})
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    prepare_audio(root / "manifest.csv", root / "prepared", progress=False)
    return root / "prepared"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory, shared_paper: Path) -> Path:
    from musictransfer.choi2017.weights import import_paper_weights

    out = tmp_path_factory.mktemp("bn_model") / "choi2017.pt"
    return import_paper_weights(out, mirror=shared_paper)


def test_label_order_batches_the_sorted_clips_and_keeps_that_order(store, model_file, tmp_path):
    """Rows in extraction order; each batch holds the label-sorted clips, as a plain run."""
    extract_prepared(model_file, store, tmp_path / "f.npz", "batch", batch_size=2,
                     batch_order="label")  # fmt: skip
    feats, ids = load_features(tmp_path / "f.npz")
    assert ids.tolist() == ["c0", "c2", "c4", "c1", "c3", "c5"]
    with np.load(tmp_path / "f.npz") as data:
        assert str(data["batch_order"]) == "label" and str(data["bn_mode"]) == "batch"
    data = PreparedDataset(store)
    model = load_pretrained(weights=model_file, bn_mode="batch", device="cpu")
    sorted_rows = [0, 2, 4, 1, 3, 5]
    plain, _, _ = extract(model, lambda i: data.convnet_input(sorted_rows[i]), 6, "batch", 2)
    np.testing.assert_array_equal(feats, plain)
    # The manifest's order batches other clips together: other features.
    extract_prepared(model_file, store, tmp_path / "m.npz", "batch", batch_size=2)
    listed, listed_ids = load_features(tmp_path / "m.npz")
    assert listed_ids.tolist() == [f"c{i}" for i in range(6)]
    assert np.abs(listed[sorted_rows] - feats).max() > 1e-3


@pytest.mark.slow  # four extractions with the authors' network
def test_frozen_statistics_do_not_depend_on_the_order(store, model_file, tmp_path):
    for mode in ("dataset", "reference"):
        extract_prepared(model_file, store, tmp_path / "a.npz", mode, batch_size=2,
                         batch_order="label")  # fmt: skip
        extract_prepared(model_file, store, tmp_path / "b.npz", mode, batch_size=2)
        a, a_ids = load_features(tmp_path / "a.npz")
        b, b_ids = load_features(tmp_path / "b.npz")
        by_id = {k: i for i, k in enumerate(b_ids)}
        np.testing.assert_allclose(a, b[[by_id[k] for k in a_ids]], rtol=1e-4, atol=1e-5)


@pytest.mark.fault(
    item=7,
    case="choi2017.batch_order names a column the dataset's manifest does not have",
    outcome="exit 2: '.../manifest.csv has no column 'genre' to order the extraction by "
    "(columns: ...)'; no feature file written",
)
def test_cli_extract_choi2017_names_a_missing_order_column(store, model_file, tmp_path, capsys):
    code = main(["extract-choi2017", str(model_file), str(store), "-o", str(tmp_path / "x.npz"),
                 "--batch-order", "genre"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "no column 'genre'" in err and "manifest.csv" in err
    assert not (tmp_path / "x.npz").exists()


# --- the batch-boundary test per extractor ------------------------------------------------------


def _label_sorted(n_per_class: int, n_classes: int, batch: int, shift: float, seed: int = 0):
    """Label-sorted rows whose every batch is offset by ``shift`` (batch statistics' trace)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([f"k{i}" for i in range(n_classes)], n_per_class)
    X = rng.normal(size=(len(labels), 6))
    X += shift * rng.normal(size=(len(labels) // batch + 1, 6))[np.arange(len(labels)) // batch]
    return X, labels


def test_boundary_cuts_stand_out_only_for_the_batch_extractor(tmp_path):
    batch_X, labels = _label_sorted(40, 4, 32, shift=3.0)
    frozen_X, _ = _label_sorted(40, 4, 32, shift=0.0)
    table = batch_boundary_tables(
        {("set", "choi2017"): (batch_X, labels), ("set", "choi2017-dataset"): (frozen_X, labels)},
        batch_size=32,
    )
    assert list(table.columns) == ["dataset", "extractor", *COLUMNS]
    summary = summarise_batch_boundary(table).set_index(["extractor", "at_boundary"])
    assert summary.loc[("choi2017", True), "median"] > 0.9
    assert summary.loc[("choi2017-dataset", True), "median"] < 0.75
    # Same cuts for both (the positions depend on the labels and the batch size only).
    cuts = table.groupby("extractor")["cut_row"].apply(list)
    assert cuts["choi2017"] == cuts["choi2017-dataset"]
    out = plot_batch_boundary(table, tmp_path / "b.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_batch_boundary_with_extractors_and_batch_size(tmp_path):
    X, labels = _label_sorted(40, 3, 32, shift=3.0)
    ids = [f"c{i}" for i in range(len(labels))]
    save_features(tmp_path / "f.npz", X, ids, extractor="choi2017")
    pd.DataFrame({"id": ids, "label": labels}).to_csv(tmp_path / "m.csv", index=False)
    out = tmp_path / "b.csv"
    args = ["batch-boundary", "--dataset", "toy", "toy", "--extractor", "choi2017", "again",
            "--features", str(tmp_path / "f.npz"), str(tmp_path / "f.npz"), "--manifest",
            str(tmp_path / "m.csv"), str(tmp_path / "m.csv"), "--batch-size", "32", "-o",
            str(out)]  # fmt: skip
    assert main(args) == 0
    table = pd.read_csv(out)
    assert set(table["extractor"]) == {"choi2017", "again"}
    assert (table.loc[table["at_boundary"], "cut_row"] % 32 == 0).all()
    mismatched = ["batch-boundary", "--dataset", "toy", "toy", "--extractor", "choi2017",
                  "--features", str(tmp_path / "f.npz"), str(tmp_path / "f.npz"),
                  "--manifest", str(tmp_path / "m.csv"), str(tmp_path / "m.csv"), "-o",
                  str(out)]  # fmt: skip
    assert main(mismatched) == 2


# --- paired comparisons between extractors -----------------------------------------------------


def _probe(extractor: str, combo: str, pred: list[int], valid: float = 0.5) -> dict:
    y = [0, 1, 0, 1, 0, 1, 0, 1]
    return {
        "task": "vocal", "extractor": extractor, "combo": combo, "probe": "linear",
        "metric": "accuracy", "valid_score": valid, "y_test": y, "test_pred": pred,
        "test_ids": [f"c{i}" for i in range(len(y))],
    }  # fmt: skip


def test_each_extractor_is_compared_with_the_first_combination_by_combination():
    right = [0, 1, 0, 1, 0, 1, 0, 1]
    half = [0, 0, 0, 0, 0, 1, 0, 1]
    probes = [
        _probe("choi2017-dataset", "1", half),
        _probe("choi2017-dataset", "12345", right),
        _probe("choi2017", "1", right),
        _probe("choi2017", "12345", right),
        _probe("choi2017-reference", "1", half),
    ]
    table = paired_comparisons(probes, seed=0, n_boot=200)
    rows = {(r.extractor, r.best_combo): r for r in table.itertuples()}
    assert set(rows) == {("choi2017", "1"), ("choi2017", "12345"), ("choi2017-reference", "1")}
    assert set(table["baseline"]) == {"choi2017-dataset"}
    assert rows[("choi2017", "1")].effect == pytest.approx(1.0 - 0.75)
    assert rows[("choi2017", "12345")].effect == 0.0
    assert rows[("choi2017-reference", "1")].effect == 0.0
    again = paired_comparisons(probes, seed=0, n_boot=200)
    pd.testing.assert_frame_equal(table, again)


def test_comparison_between_extractors_refuses_different_test_clips():
    other = _probe("choi2017", "1", [0] * 8)
    other["test_ids"] = other["test_ids"][::-1]
    with pytest.raises(Exception, match="different test clips"):
        paired_comparisons([_probe("choi2017-dataset", "1", [0] * 8), other])


# --- the workflow -----------------------------------------------------------------------------


def test_workflow_extracts_each_mode_in_label_order(repo, shared_paper, tmp_path):
    """Dry run of the preset: one extraction per mode, the boundary test over all of them."""
    import subprocess
    import sys

    command = ["snakemake", "-n", "-p", "--cores", "1", "--config",
               "experiment=batch_statistics", f"mirror={shared_paper}",
               f"results={tmp_path / 'results'}"]  # fmt: skip
    run = subprocess.run([sys.executable, "-m", *command], cwd=repo, capture_output=True,
                         text=True, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    text = run.stdout
    for mode, name in (("batch", "choi2017"), ("dataset", "choi2017-dataset"),
                       ("reference", "choi2017-reference")):  # fmt: skip
        line = next(x for x in text.splitlines() if f"features/{name}/genre.npz " in x
                    and "extract-choi2017" in x)  # fmt: skip
        assert f"--bn-mode {mode} --batch-size 32 --batch-order label --chunk-size" in line
    boundary = next(x for x in text.splitlines() if "musictransfer batch-boundary" in x)
    assert "--batch-size 32" in boundary and boundary.count("choi2017-reference") >= 5
    for name in ("choi2017", "choi2017-dataset", "choi2017-reference"):
        assert f"probes/vocal/{name}/12345/mlp.json" in text
