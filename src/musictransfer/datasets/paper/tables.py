"""Reading the authors' released tables and feature matrices, checked.

The metadata table of a dataset (``data_csv/<stem>.csv``) becomes a labels manifest in
the table's row order (:func:`released_manifest`); the five per-layer feature files
(``data_feats/<stem>_layer_<k>.npy``) become one (n, 160) matrix (:func:`load_layers`);
each file is checked against the table's number of rows (:func:`load_matrix`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from musictransfer._typing import PathLike
from musictransfer.constants import MFCC_DIM, N_CHANNELS, N_LAYERS
from musictransfer.datasets.paper import ReleasedDataset, released_dataset
from musictransfer.errors import ManifestError


def released_manifest(csv: PathLike, dataset: ReleasedDataset) -> pd.DataFrame:
    """The labels manifest of a released metadata table, rows in the table's order.

    The id is the clip's file name without extension (the tables' own ``id`` column is
    not unique: for GTZAN genre it is the genre name); ``path`` keeps the authors'
    relative audio path, and the label and split columns are renamed per ``dataset``.

    Raises
    ------
    ManifestError
        If a needed column is missing or the ids are not unique.
    """
    table = pd.read_csv(csv, index_col=0, dtype={"filepath": str}, keep_default_na=False)
    missing = [c for c in ["filepath", *dataset.columns] if c not in table.columns]
    if missing:
        raise ManifestError(
            f"{csv} lacks column(s) {', '.join(missing)}",
            "the file is not the authors' metadata table for this dataset",
        )
    paths = table["filepath"].astype(str)
    ids = paths.map(lambda p: Path(p).stem)
    if not ids.is_unique:
        ids = paths.map(lambda p: str(Path(p).with_suffix("")))
    if not ids.is_unique:
        dup = ids[ids.duplicated()].iloc[0]
        raise ManifestError(f"{csv} lists the clip {dup!r} twice", "every row needs its own file")
    manifest = pd.DataFrame({"id": ids.to_numpy(), "path": paths.to_numpy()})
    for source, target in dataset.columns.items():
        manifest[target] = table[source].to_numpy()
    return manifest


def load_layers(layer_files: list[PathLike] | tuple[PathLike, ...], n_rows: int) -> np.ndarray:
    """Stack the five per-layer files into an (n, 160) matrix, layer 1 first.

    Raises
    ------
    ManifestError
        If a file does not hold an (n_rows, 32) array.
    """
    if len(layer_files) != N_LAYERS:
        raise ManifestError(f"expected {N_LAYERS} layer files, got {len(layer_files)}")
    blocks = [load_matrix(f, n_rows, N_CHANNELS) for f in layer_files]
    return np.hstack(blocks)


def load_matrix(path: PathLike, n_rows: int, n_cols: int) -> np.ndarray:
    """An ``(n_rows, n_cols)`` array from an ``.npy`` file, with the file named on failure.

    Raises
    ------
    ManifestError
        If the file is damaged, truncated or not an ``.npy`` file, or has another shape.
    """
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:  # truncated or not an .npy file
        raise ManifestError(
            f"cannot read {path}: damaged, truncated or not an .npy file ({type(exc).__name__})",
            "delete it and fetch it again (musictransfer fetch-paper-file)",
        ) from exc
    if array.shape != (n_rows, n_cols):
        raise ManifestError(
            f"{path} holds an array of shape {array.shape}, expected ({n_rows}, {n_cols})",
            "the feature file and the metadata table do not belong together",
        )
    return array


def load_released(
    root: PathLike, dataset: str
) -> tuple[np.ndarray, np.ndarray | None, pd.DataFrame]:
    """A dataset's released features and labels, read from a mirror-layout directory.

    For scripts and tests that evaluate the released features directly (the workflow
    converts them with :func:`~musictransfer.datasets.paper.convert.import_released`
    instead): the same loaders, the same checks.

    Returns
    -------
    convnet, mfcc, manifest
        The (n, 160) layer features (layer 1 first), the (n, 120) MFCC features or None
        where none was released, and the labels manifest, all in the table's row order.
    """
    spec = released_dataset(dataset)
    root = Path(root)
    manifest = released_manifest(root / spec.csv, spec)
    convnet = load_layers([root / f for f in spec.layers], len(manifest))
    mfcc = load_matrix(root / spec.mfcc, len(manifest), MFCC_DIM) if spec.mfcc else None
    return convnet, mfcc, manifest
