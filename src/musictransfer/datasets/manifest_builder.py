"""Turn a dataset's root directory into the workflow's manifest CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from musictransfer._typing import PathLike
from musictransfer.datasets.authors_tables import order_like_authors, read_authors_table
from musictransfer.datasets.download import RECEIPT, read_receipt
from musictransfer.datasets.registry import get_spec
from musictransfer.errors import ManifestError
from musictransfer.outputs import atomic_path


def dataset_root(root_or_receipt: PathLike) -> Path:
    """A dataset root, given either the root itself or a download receipt (or its folder)."""
    path = Path(root_or_receipt)
    if path.is_file() and path.suffix == ".json":
        return read_receipt(path)[1]
    if path.is_dir() and (path / RECEIPT).is_file():
        return read_receipt(path / RECEIPT)[1]
    return path


def build_manifest(
    name: str,
    root_or_receipt: PathLike,
    authors_table: PathLike | None = None,
) -> pd.DataFrame:
    """The manifest of a dataset, with absolute audio paths.

    Parameters
    ----------
    name
        Registered dataset name.
    root_or_receipt
        The dataset's root, or the receipt written by the download step.
    authors_table
        The authors' table for this dataset: rows are then put in its order, and the
        clip set, labels, folds and splits are checked against it.

    Raises
    ------
    ManifestError
        If no clip is found, ids repeat, or the authors' table disagrees.
    """
    spec = get_spec(name)
    root = dataset_root(root_or_receipt)
    spec.check(root)
    frame = spec.build_manifest(root)
    if frame.empty:
        raise ManifestError(f"{name}: no clips found under {root}", spec.manual)
    if authors_table is not None:
        frame = order_like_authors(frame, read_authors_table(authors_table), source=authors_table)
    duplicated = frame["id"][frame["id"].duplicated()].tolist()
    if duplicated:
        raise ManifestError(f"{name}: clip ids repeat: {duplicated[:5]}")
    frame = frame.copy()
    frame["path"] = [str(root / p) for p in frame["path"]]
    return frame


def write_manifest(frame: pd.DataFrame, out: PathLike) -> Path:
    """Write a manifest CSV atomically."""
    with atomic_path(out) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(out)
