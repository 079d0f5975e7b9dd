"""Whether convnet features carry the extraction batch they were normalised in.

The authors extracted their features with Keras 1's BatchNorm "mode 2", which normalises
with the statistics of the batch at hand even at inference, over runs of consecutive
clips (:data:`~musictransfer.constants.AUTHORS_BATCH_SIZE`), and their tables are sorted
by label. A clip's features therefore depend on which other clips shared its batch, and
the batch correlates with the class: a split that separates a class's rows along a batch
boundary can be told apart by the batch alone, and scores on such features can owe
something to it.

The same test runs on features extracted here (experiment ``batch_statistics``): the
authors' network on one set of clips, batched in label order, under batch statistics and
under frozen ones, where the "boundaries" are only positions and serve as the control.

:func:`batch_boundary_test` measures this with a question a classifier can answer: cut
one class's rows in two, and ask how well a standardised logistic regression separates
the two halves (cross-validated). Where the cut lies on a batch boundary the halves were
normalised in different batches; where it lies inside one batch they were normalised
together and only the music differs. Much higher separability at the boundaries than
inside batches is the batch's fingerprint. :func:`musictransfer.figures.plot_batch_boundary`
draws the two groups of cuts per dataset.

Accuracy alone misleads for uneven cuts (12 rows against 88 score 0.88 by always naming
the larger side), so every cut also reports the balanced accuracy and the majority share.

:func:`batch_boundary_files` is the rule ``batch_boundary``: the test of each feature
file's rows, in the order they were extracted. The report summarises its table
(:func:`musictransfer.protocols_report.summarise_batch_boundary`).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from musictransfer._typing import PathLike
from musictransfer.constants import AUTHORS_BATCH_SIZE
from musictransfer.datasets.manifest import align_rows, read_manifest
from musictransfer.errors import ManifestError
from musictransfer.featurefile import load_features
from musictransfer.outputs import atomic_path

COLUMNS = ["class", "cut_row", "at_boundary", "batch", "n_before", "n_after", "accuracy",
           "balanced_accuracy", "majority"]  # fmt: skip
"""The columns of :func:`batch_boundary_test`'s table."""


def batch_boundary_test(
    X: np.ndarray,
    labels: Sequence[Hashable] | np.ndarray | pd.Series,
    batch_size: int = AUTHORS_BATCH_SIZE,
    cv: int = 5,
    seed: int = 0,
    min_side: int = 10,
    offsets: Sequence[int] = (),
) -> pd.DataFrame:
    """Separability of a class's rows before vs after a cut, at and away from batch edges.

    Two kinds of cut, each cutting the rows of one class (in table order) in two:

    - *boundary* cuts: for every batch boundary ``b`` (a multiple of ``batch_size``) with
      rows of the class on both sides, the class's rows before ``b`` against those from
      ``b`` on;
    - *within-batch* cuts, for comparison: for every batch holding enough rows of the
      class, those rows cut at their median, and at each position in ``offsets`` (for
      cuts the same size as a boundary's: a class of 100 rows cut at a boundary 12 rows
      in is best compared with cuts 12 rows in).

    Each is scored by the cross-validated accuracy of a standardised logistic regression
    (StratifiedKFold with ``cv`` folds, shuffled with ``seed``) telling the two sides
    apart. A side with fewer than ``min_side`` rows is not cut (the score would be noise).

    Parameters
    ----------
    X
        Features, one row per clip in the order of extraction (the released table's).
    labels
        Class of each row.
    batch_size
        Rows per extraction batch.
    cv, seed
        Folds and the seed of their shuffling.
    min_side
        Fewest rows on either side of a cut (at least ``cv``).
    offsets
        Extra within-batch cut positions, counted in rows of the class inside the batch.

    Returns
    -------
    DataFrame
        One row per cut, columns :data:`COLUMNS`: the class, ``cut_row`` (the table row
        of the first clip after the cut), ``at_boundary``, ``batch`` (the batch a boundary
        opens, or the one a within-batch cut lies in), the two sides' sizes, accuracy,
        balanced accuracy and the majority share (the accuracy of always naming the
        larger side). Boundary cuts first, then by class and row.

    Raises
    ------
    ManifestError
        If ``X`` and ``labels`` differ in length, or ``min_side < cv``.
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    if X.ndim != 2 or len(X) != len(labels):
        raise ManifestError(
            f"features of shape {X.shape} and {len(labels)} labels do not match",
            "pass one label per feature row, in the same order",
        )
    if min_side < cv or batch_size < 1:
        raise ManifestError(
            f"min_side={min_side} must be at least cv={cv} (and batch_size >= 1)",
            "each side of a cut needs a row in every fold",
        )
    rows = np.arange(len(X))
    cuts: list[tuple[Hashable, np.ndarray, int, bool, int]] = []
    for label in pd.unique(labels):
        members = rows[labels == label]
        batches = members // batch_size
        for batch in np.unique(batches)[1:]:
            boundary = int(batch) * batch_size
            n_before = int((members < boundary).sum())
            if min(n_before, len(members) - n_before) >= min_side:
                cuts.append((label, members, n_before, True, int(batch)))
        for batch in np.unique(batches):
            inside = members[batches == batch]
            positions = {len(inside) // 2, *offsets}
            for position in sorted(positions):
                if min(position, len(inside) - position) >= min_side:
                    cuts.append((label, inside, position, False, int(batch)))
    with threadpool_limits(1):  # fits this small only lose time to BLAS threads
        records = [_separability(X, label, part, position, at_boundary, batch, cv, seed)
                   for label, part, position, at_boundary, batch in cuts]  # fmt: skip
    table = pd.DataFrame(records, columns=COLUMNS)
    return table.sort_values(["at_boundary", "class", "cut_row"], ascending=[False, True, True],
                             kind="stable", ignore_index=True)  # fmt: skip


def _separability(
    X: np.ndarray,
    label: Hashable,
    part: np.ndarray,
    position: int,
    at_boundary: bool,
    batch: int,
    cv: int,
    seed: int,
) -> tuple[Any, ...]:
    """One cut's row of the table: rows ``part[:position]`` against ``part[position:]``."""
    side = (np.arange(len(part)) >= position).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    scores = cross_validate(model, X[part], side, cv=folds,
                            scoring=("accuracy", "balanced_accuracy"))  # fmt: skip
    n_after = len(part) - position
    return (label, int(part[position]), at_boundary, batch, position, n_after,
            float(np.mean(scores["test_accuracy"])),
            float(np.mean(scores["test_balanced_accuracy"])),
            max(position, n_after) / len(part))  # fmt: skip


def batch_boundary_tables(
    datasets: Mapping[
        str | tuple[str, str], tuple[np.ndarray, Sequence[Hashable] | np.ndarray | pd.Series]
    ],
    **options: Any,
) -> pd.DataFrame:
    """:func:`batch_boundary_test` of several feature sets, with the columns naming them first.

    Parameters
    ----------
    datasets
        Dataset name, or (dataset, extractor), -> (features, labels). With (dataset,
        extractor) keys the table has an ``extractor`` column after ``dataset``: the same
        clips extracted several ways (batch statistics against frozen ones) are compared
        cut for cut.
    **options
        Passed to :func:`batch_boundary_test`.
    """
    tables = []
    by_extractor = any(isinstance(key, tuple) for key in datasets)
    for key, (X, labels) in datasets.items():
        table = batch_boundary_test(X, labels, **options)
        dataset, extractor = key if isinstance(key, tuple) else (key, "")
        if by_extractor:
            table.insert(0, "extractor", extractor)
        table.insert(0, "dataset", dataset)
        tables.append(table)
    if not tables:
        return pd.DataFrame(columns=["dataset", *(["extractor"] if by_extractor else []), *COLUMNS])
    return pd.concat(tables, ignore_index=True)


def batch_boundary_files(
    entries: Sequence[tuple[str, str, PathLike, PathLike, str]],
    out: PathLike,
    batch_size: int,
) -> pd.DataFrame:
    """Rule ``batch_boundary``: the cut table of each (dataset, extractor)'s convnet features.

    Parameters
    ----------
    entries
        (dataset, extractor, convnet feature file, labels manifest, label column) each.
        The rows are taken in the feature file's order, which is the order they were
        extracted, and so batched, in: the released tables' for the authors' features,
        the extraction order (``choi2017.batch_order``) for features extracted here.
    out
        The table (CSV) of :func:`batch_boundary_tables`, with ``dataset`` and
        ``extractor`` columns.
    batch_size
        Clips per extraction batch (for the authors' released features, theirs:
        :data:`~musictransfer.constants.AUTHORS_BATCH_SIZE`). Under frozen statistics
        (``dataset``, ``reference``) no batch is involved: the same positions are then a
        control, where the boundary cuts should look like the others.
    """
    loaded = {}
    for dataset, extractor, features, manifest, column in entries:
        X, ids = load_features(features)
        frame = read_manifest(manifest, required=("id", column))
        rows = align_rows(ids, frame, manifest)
        loaded[(dataset, extractor)] = (X, rows[column].astype(str).to_numpy())
    table = batch_boundary_tables(loaded, batch_size=batch_size)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    return table
