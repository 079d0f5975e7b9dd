"""The authors' metadata tables: which clips the paper used, with which labels, in which order.

The authors published one CSV per target dataset (``data_csv/<name>.csv`` in
keunwoochoi/transfer_learning_music). Their row order is the order of the released
feature files and came from ``os.listdir`` on their machine, which no directory walk can
reproduce; so a manifest built from a dataset's own files is put into the authors' order
with :func:`order_like_authors`, which also checks that the two agree on the clip set
and on every label, fold and split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from musictransfer._typing import PathLike
from musictransfer.datasets.paper.fetch import fetch_released
from musictransfer.errors import ManifestError

# Reference column -> manifest column, compared exactly (as strings) or approximately.
_EXACT = {"label": "label", "category": "category", "fold": "fold"}
_APPROX = {"label_arousal": "arousal", "label_valence": "valence"}


def authors_table_path(csv_name: str, mirror: PathLike | None, cache_dir: PathLike) -> Path:
    """A verified local copy of one of the authors' tables, from the mirror or downloaded.

    Parameters
    ----------
    csv_name
        File name in the authors' ``data_csv`` folder (e.g. 'gtzan_genre.csv').
    mirror
        A directory with ``data_csv/<csv_name>`` (or ``<csv_name>``) in it, or None.
    cache_dir
        Where a downloaded copy is kept.
    """
    return fetch_released(f"data_csv/{csv_name}", mirror=mirror, cache=cache_dir)


def read_authors_table(path: PathLike) -> pd.DataFrame:
    """Read an authors' table (first column is a row index; ids kept as strings)."""
    frame = pd.read_csv(path, index_col=0, dtype={"id": str}, keep_default_na=False)
    if "filepath" not in frame.columns:
        raise ManifestError(f"{path} has no 'filepath' column", "is it one of the authors' CSVs?")
    return frame.reset_index(drop=True)


def order_like_authors(
    manifest: pd.DataFrame, authors: pd.DataFrame, source: object = "the authors' table"
) -> pd.DataFrame:
    """Reorder ``manifest`` to the authors' table's rows, checking clips and labels agree.

    Rows are matched on ``filepath`` (the authors' relative path).

    Raises
    ------
    ManifestError
        If a clip is in one table only, or a label, fold, split or regression target
        differs; the message names the first offending clips.
    """
    ours = manifest.set_index("filepath", drop=False)
    theirs = authors["filepath"].tolist()
    missing = [p for p in theirs if p not in ours.index]
    extra = sorted(set(ours.index) - set(theirs))
    if missing or extra:
        raise ManifestError(
            f"the clips found differ from {source}: {len(missing)} of its clips are missing "
            f"(e.g. {missing[:3]}), {len(extra)} are not in it (e.g. {extra[:3]})",
            "check that the dataset copy is complete and is the version the paper used",
        )
    ordered = ours.loc[theirs].reset_index(drop=True)
    for ref_col, col in _EXACT.items():
        if ref_col in authors.columns and col in ordered.columns:
            a = authors[ref_col].astype(str).to_numpy()
            b = ordered[col].astype(str).to_numpy()
            _report(a != b, ref_col, ordered, source)
    for ref_col, col in _APPROX.items():
        if ref_col in authors.columns and col in ordered.columns:
            a = authors[ref_col].to_numpy(float)
            b = ordered[col].to_numpy(float)
            _report(~np.isclose(a, b, rtol=0, atol=1e-6), ref_col, ordered, source)
    return ordered


def _report(bad: np.ndarray, column: str, ordered: pd.DataFrame, source: object) -> None:
    if bad.any():
        ids = ordered.loc[bad, "id"].tolist()
        raise ManifestError(
            f"{int(bad.sum())} clips disagree with {source} on {column!r} (e.g. {ids[:3]})",
            "the dataset's annotations differ from the version the paper used",
        )
