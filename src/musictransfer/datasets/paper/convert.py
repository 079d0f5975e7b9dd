"""Converting a dataset's released files into the project's feature files and manifest.

What the ``import_paper_features`` rule runs: the released metadata table, the five
per-layer feature files and the MFCC file (read by
:mod:`~musictransfer.datasets.paper.tables`) become a convnet feature file, an MFCC
feature file and a labels manifest, all in the released table's row order.
"""

from __future__ import annotations

import pandas as pd

from musictransfer._typing import PathLike
from musictransfer.constants import MFCC_DIM
from musictransfer.datasets.paper import released_dataset
from musictransfer.datasets.paper.tables import load_layers, load_matrix, released_manifest
from musictransfer.errors import ManifestError
from musictransfer.featurefile import save_features
from musictransfer.outputs import atomic_path


def import_released(
    dataset: str,
    csv: PathLike,
    layers: list[PathLike] | tuple[PathLike, ...] | None = None,
    mfcc: PathLike | None = None,
    features_out: PathLike | None = None,
    mfcc_out: PathLike | None = None,
    manifest_out: PathLike | None = None,
) -> pd.DataFrame:
    """Convert a dataset's released files into feature files and a labels manifest.

    Every output keeps the rows in the order of the released table, with the manifest's
    ids, so that the evaluation aligns features and labels by id as for any dataset.

    Parameters
    ----------
    dataset
        Our dataset name (a key of :data:`RELEASED_DATASETS`).
    csv
        The released metadata table.
    layers, features_out
        The five per-layer ``.npy`` files and the convnet feature file to write.
    mfcc, mfcc_out
        The released MFCC ``.npy`` and the MFCC feature file to write.
    manifest_out
        The labels manifest (CSV) to write.

    Returns
    -------
    pandas.DataFrame
        The labels manifest.
    """
    spec = released_dataset(dataset)
    manifest = released_manifest(csv, spec)
    ids = manifest["id"].tolist()
    if features_out is not None:
        if layers is None:
            raise ManifestError(f"{features_out} needs the five layer files")
        conv = load_layers(layers, len(ids))
        save_features(features_out, conv, ids, extractor="choi2017", source="released")
    if mfcc_out is not None:
        if mfcc is None:
            raise ManifestError(
                f"{features_out} needs the MFCC file", f"{dataset} has no released MFCC"
            )
        save_features(mfcc_out, load_matrix(mfcc, len(ids), MFCC_DIM), ids, extractor="mfcc")
    if manifest_out is not None:
        with atomic_path(manifest_out) as tmp:
            manifest.to_csv(tmp, index=False)
    return manifest
