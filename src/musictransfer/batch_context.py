"""Whether convnet features carry the extraction batch they were normalised in.

The authors extracted their features with Keras 1's BatchNorm "mode 2", which normalises
with the statistics of the batch at hand even at inference, over runs of 256 consecutive
clips, and their tables are sorted by label. A clip's features therefore depend on which
other clips shared its batch, and the batch correlates with the class: a split that
separates a class's rows along a batch boundary can be told apart by the batch alone,
and scores on such features can owe something to it.

The same test runs on features extracted here (experiment ``batch_statistics``): the
authors' network on one set of clips, batched in label order, under batch statistics and
under frozen ones, where the "boundaries" are only positions and serve as the control.

:func:`batch_boundary_test` measures this with a question a classifier can answer: cut
one class's rows in two, and ask how well a standardised logistic regression separates
the two halves (cross-validated). Where the cut lies on a batch boundary the halves were
normalised in different batches; where it lies inside one batch they were normalised
together and only the music differs. Much higher separability at the boundaries than
inside batches is the batch's fingerprint. :func:`plot_batch_boundary` draws the two
groups of cuts per dataset.

Accuracy alone misleads for uneven cuts (12 rows against 88 score 0.88 by always naming
the larger side), so every cut also reports the balanced accuracy and the majority share.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from musictransfer.errors import ManifestError

if TYPE_CHECKING:
    import pandas as pd

PathLike = str | os.PathLike[str]

EXTRACTION_BATCH = 256
"""The authors' extraction batch size: rows 256, 512, ... of a released table start a new
batch (the features of a row were normalised with those of its batch)."""

COLUMNS = ["class", "cut_row", "at_boundary", "batch", "n_before", "n_after", "accuracy",
           "balanced_accuracy", "majority"]  # fmt: skip
"""The columns of :func:`batch_boundary_test`'s table."""


def batch_boundary_test(
    X: np.ndarray,
    labels: Sequence[Hashable] | np.ndarray | pd.Series,
    batch_size: int = EXTRACTION_BATCH,
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
    import pandas as pd

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
    from threadpoolctl import threadpool_limits

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
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_validate
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

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
    import pandas as pd

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


def summarise_batch_boundary(table: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Count, median, min and max per dataset and extractor (where given) and kind of cut."""
    keys = [k for k in ("dataset", "extractor") if k in table.columns] + ["at_boundary"]
    summary = table.groupby(keys, sort=False)[metric].agg(["count", "median", "min", "max"])
    return summary.reset_index()


def plot_batch_boundary(table: pd.DataFrame, out_png: PathLike, metric: str = "accuracy") -> Path:
    """Separability at boundary cuts vs within-batch cuts, one panel per dataset (and extractor).

    Each cut is a point (within-batch grey, boundary red; the boundary cuts are listed
    under the panel with their sides' sizes); for accuracy, a short line beside each group
    marks each cut's majority share, the score of a classifier that ignores the features.

    Parameters
    ----------
    table
        :func:`batch_boundary_test`'s table, or :func:`batch_boundary_tables`'s.
    out_png
        The figure (PNG), written atomically.
    metric
        'accuracy' or 'balanced_accuracy'.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import seaborn as sns

    from musictransfer.files import atomic_path

    if "dataset" not in table.columns:
        table = table.assign(dataset="")
    if "extractor" not in table.columns:
        table = table.assign(extractor="")
    names = list(dict.fromkeys(table["dataset"]))
    extractors = list(dict.fromkeys(table["extractor"])) or [""]
    ncols, nrows = max(len(names), 1), len(extractors)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols + 0.6, 4.2 * nrows),
                             sharey=True, squeeze=False)  # fmt: skip
    kinds = {False: "within one batch", True: "at a batch boundary"}
    panels = [(axes[r][c], name, extractor) for r, extractor in enumerate(extractors)
              for c, name in enumerate(names)]  # fmt: skip
    for ax, name, extractor in panels:
        rows = table[(table["dataset"] == name) & (table["extractor"] == extractor)]
        rows = rows.assign(cut=lambda t: t["at_boundary"].map(kinds))
        if rows.empty:
            ax.text(0.5, 0.5, "no cuts", ha="center", va="center", transform=ax.transAxes)
            ax.set_title(" / ".join(filter(None, (str(name), str(extractor)))), fontsize=9)
            continue
        sns.stripplot(rows, x="cut", y=metric, hue="cut", order=list(kinds.values()),
                      palette={kinds[False]: "0.55", kinds[True]: "#c0392b"}, jitter=0.15,
                      legend=False, ax=ax)  # fmt: skip
        if metric == "accuracy":
            ax.scatter(rows["at_boundary"].astype(int) + 0.3, rows["majority"], marker="_",
                       s=60, color="0.3", linewidths=1, label="majority share")  # fmt: skip
            ax.legend(loc="lower right", fontsize=6, frameon=False)
        ax.text(0.0, -0.1, _boundary_note(rows, metric), transform=ax.transAxes, fontsize=6,
                va="top", ha="left", family="monospace")  # fmt: skip
        ax.set_title(" / ".join(filter(None, (str(name), str(extractor)))), fontsize=9)
        ax.set_xlabel("")
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="y", linewidth=0.3)
    if not names:
        axes[0][0].text(0.5, 0.5, "no cuts", ha="center", va="center")
    for row in axes:
        row[0].set_ylabel(f"separability of the two halves ({metric})")
    fig.suptitle("A class cut in two: at a batch boundary vs within one batch", fontsize=9)
    fig.tight_layout()
    out = Path(out_png)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=120, format="png", bbox_inches="tight")
    plt.close(fig)
    return out


def _boundary_note(rows: pd.DataFrame, metric: str, most: int = 8) -> str:
    """The boundary cuts of one panel as text lines: class, sides' sizes, score."""
    cuts = rows[rows["at_boundary"]].sort_values(metric, ascending=False)
    lines = [f"{str(r['class'])[:14]:<14} {r['n_before']:>3}|{r['n_after']:<3} {r[metric]:.2f}"
             for _, r in cuts.head(most).iterrows()]  # fmt: skip
    if len(cuts) > most:
        lines.append(f"... {len(cuts) - most} more, lowest {cuts[metric].min():.2f}")
    return "\n".join(["boundary cuts:", *lines]) if lines else "no boundary cuts"
