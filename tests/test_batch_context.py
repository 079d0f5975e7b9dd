"""The batch-boundary test: does a class cut at an extraction-batch edge separate itself?"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from musictransfer.batch_context import COLUMNS, batch_boundary_tables, batch_boundary_test
from musictransfer.errors import ManifestError
from musictransfer.figures import plot_batch_boundary
from musictransfer.protocols_report import summarise_batch_boundary


def _batched(n_per_class: int, n_classes: int, batch_size: int, shift: float, seed: int = 0):
    """Label-sorted rows whose features are noise plus an offset per extraction batch."""
    rng = np.random.default_rng(seed)
    n = n_per_class * n_classes
    offsets = rng.normal(size=(n // batch_size + 1, 8)) * shift
    X = rng.normal(size=(n, 8)) + offsets[np.arange(n) // batch_size]
    labels = np.repeat([f"c{k}" for k in range(n_classes)], n_per_class)
    return X, labels


def test_boundary_and_within_batch_cuts_are_found():
    X, labels = _batched(60, 3, 50, shift=0.0)
    table = batch_boundary_test(X, labels, batch_size=50)
    assert list(table.columns) == COLUMNS
    boundary = table[table["at_boundary"]]
    # c0: rows 0-59 (boundary 50 leaves 10|50); c1: 60-119 (100: 40|20); c2: 120-179 (150: 30|30)
    assert boundary[["class", "cut_row", "n_before", "n_after", "batch"]].values.tolist() == [
        ["c0", 50, 50, 10, 1],
        ["c1", 100, 40, 20, 2],
        ["c2", 150, 30, 30, 3],
    ]
    inside = table[~table["at_boundary"]]
    # Median cuts of a class's rows inside one batch, where both halves keep >= 10 rows:
    # c0 in batch 0 (50 rows; its 10 in batch 1 are too few), c1 in batches 1 (40) and
    # 2 (20), c2 in batches 2 (30) and 3 (30).
    assert sorted(zip(inside["class"], inside["batch"], inside["n_before"], strict=True)) == [
        ("c0", 0, 25),
        ("c1", 1, 20),
        ("c1", 2, 10),
        ("c2", 2, 15),
        ("c2", 3, 15),
    ]
    assert (table["n_before"] >= 10).all() and (table["n_after"] >= 10).all()
    assert np.allclose(table["majority"], table[["n_before", "n_after"]].max(axis=1)
                       / (table["n_before"] + table["n_after"]))  # fmt: skip


def test_a_batch_offset_is_detected_and_its_absence_is_not():
    X, labels = _batched(100, 3, 64, shift=1.5)
    table = batch_boundary_test(X, labels, batch_size=64)
    summary = summarise_batch_boundary(table, "balanced_accuracy").set_index("at_boundary")
    assert summary.loc[True, "min"] > 0.9  # the offset gives the batch away
    assert summary.loc[False, "max"] < 0.75  # within a batch the halves are alike
    X_flat, _ = _batched(100, 3, 64, shift=0.0)
    flat = batch_boundary_test(X_flat, labels, batch_size=64)
    assert flat.loc[flat["at_boundary"], "balanced_accuracy"].max() < 0.75


def test_offsets_add_cuts_of_the_boundary_sizes_and_seed_is_repeatable():
    X, labels = _batched(100, 2, 256, shift=0.0)
    plain = batch_boundary_test(X, labels, offsets=())
    matched = batch_boundary_test(X, labels, offsets=(12, 30))
    assert len(plain) == 2 and not plain["at_boundary"].any()
    assert sorted(matched["n_before"].tolist()) == [12, 12, 30, 30, 50, 50]
    again = batch_boundary_test(X, labels, offsets=(12, 30))
    pd.testing.assert_frame_equal(matched, again)


def test_mismatched_inputs_are_refused():
    X, labels = _batched(20, 2, 16, shift=0.0)
    with pytest.raises(ManifestError, match="do not match"):
        batch_boundary_test(X, labels[:-1])
    with pytest.raises(ManifestError, match="min_side=3 must be at least cv=5"):
        batch_boundary_test(X, labels, min_side=3)


def test_plot_has_a_panel_per_dataset(tmp_path):
    X, labels = _batched(60, 3, 50, shift=1.0)
    table = batch_boundary_tables({"a": (X, labels), "b": (X[::-1], labels[::-1])}, batch_size=50)
    assert list(table.columns) == ["dataset", *COLUMNS] and set(table["dataset"]) == {"a", "b"}
    out = plot_batch_boundary(table, tmp_path / "fig" / "batch.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    single = plot_batch_boundary(table[table["dataset"] == "a"].drop(columns="dataset"),
                                 tmp_path / "one.png", metric="balanced_accuracy")  # fmt: skip
    assert single.stat().st_size > 1000


def test_released_gtzan_features_carry_their_batch(shared_paper):
    """The issue's measurement: genres cut at rows 256, 512, 768 separate almost perfectly."""
    layers = [np.load(shared_paper / f"data_feats/gtzan_genre_layer_{k}.npy") for k in range(5)]
    X = np.hstack(layers)
    genres = pd.read_csv(shared_paper / "data_csv/gtzan_genre.csv", index_col=0)["id"]
    table = batch_boundary_test(X, genres)
    boundary = table[table["at_boundary"]].set_index("class")
    assert boundary[["cut_row", "n_before"]].to_dict("index") == {
        "country": {"cut_row": 256, "n_before": 56},
        "jazz": {"cut_row": 512, "n_before": 12},
        "pop": {"cut_row": 768, "n_before": 68},
    }
    assert (boundary["accuracy"] > 0.95).all()
    assert boundary.loc["pop", "accuracy"] == pytest.approx(1.0)
    # Jazz's 12|88 cut scores 0.88 by naming the larger side: the balanced score still holds.
    assert boundary.loc["jazz", "majority"] == pytest.approx(0.88)
    assert (boundary["balanced_accuracy"] > 0.85).all()
    inside = table[~table["at_boundary"]]
    assert len(inside) >= 10
    assert inside["accuracy"].median() < 0.75
    assert inside["accuracy"].max() < boundary["accuracy"].min() - 0.1
