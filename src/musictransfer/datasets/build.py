"""Turn a dataset's root directory into the workflow's manifest CSV."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from musictransfer.datasets.download import RECEIPT, read_receipt
from musictransfer.datasets.reference import order_like_reference, read_reference
from musictransfer.datasets.registry import get_spec
from musictransfer.errors import ManifestError
from musictransfer.files import atomic_path


def dataset_root(root_or_receipt: str | os.PathLike[str]) -> Path:
    """A dataset root, given either the root itself or a download receipt (or its folder)."""
    path = Path(root_or_receipt)
    if path.is_file() and path.suffix == ".json":
        return read_receipt(path)[1]
    if path.is_dir() and (path / RECEIPT).is_file():
        return read_receipt(path / RECEIPT)[1]
    return path


def build_manifest(
    name: str,
    root_or_receipt: str | os.PathLike[str],
    reference: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """The manifest of a dataset, with absolute audio paths.

    Parameters
    ----------
    name
        Registered dataset name.
    root_or_receipt
        The dataset's root, or the receipt written by the download step.
    reference
        The authors' table for this dataset: rows are then put in its order, and the
        clip set, labels, folds and splits are checked against it.

    Raises
    ------
    ManifestError
        If no clip is found, ids repeat, or the reference disagrees.
    """
    spec = get_spec(name)
    root = dataset_root(root_or_receipt)
    spec.check(root)
    frame = spec.build_manifest(root)
    if frame.empty:
        raise ManifestError(f"{name}: no clips found under {root}", spec.manual)
    if reference is not None:
        frame = order_like_reference(frame, read_reference(reference), source=reference)
    duplicated = frame["id"][frame["id"].duplicated()].tolist()
    if duplicated:
        raise ManifestError(f"{name}: clip ids repeat: {duplicated[:5]}")
    frame = frame.copy()
    frame["path"] = [str(root / p) for p in frame["path"]]
    return frame


def write_manifest(frame: pd.DataFrame, out: str | os.PathLike[str]) -> Path:
    """Write a manifest CSV atomically."""
    with atomic_path(out) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(out)
