"""UrbanSound8K (Salamon, Jacoby and Bello, 2014): 8,732 sound excerpts, 10 predefined folds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from musictransfer.datasets.registry import DatasetSpec, Remote, require_paths

NAME = "urbansound8k"
METADATA = "metadata/UrbanSound8K.csv"


def check(root: Path) -> None:
    """The metadata table and the ten ``audio/fold<k>`` folders."""
    require_paths(root, [METADATA, *(f"audio/fold{k}" for k in range(1, 11))], NAME)


def build_manifest(root: Path) -> pd.DataFrame:
    """One row per line of the metadata table, in its order (the authors' order)."""
    table = pd.read_csv(root / METADATA)
    names = table["slice_file_name"].astype(str)
    folds = table["fold"].astype(int)
    return pd.DataFrame(
        {
            "id": [n.rsplit(".", 1)[0] for n in names],
            "path": [f"audio/fold{f}/{n}" for f, n in zip(folds, names, strict=True)],
            "filepath": [f"fold{f}/{n}" for f, n in zip(folds, names, strict=True)],
            "label": table["classID"].astype(int),
            "label_name": table["class"].astype(str),
            "fold": folds,
            "duration": (table["end"] - table["start"]).astype(float),
        }
    )


SPEC = DatasetSpec(
    name=NAME,
    title="UrbanSound8K",
    n_clips=8732,
    remotes=(
        Remote(
            filename="UrbanSound8K.tar.gz",
            url="https://zenodo.org/record/1203745/files/UrbanSound8K.tar.gz",
            checksum="md5:9aa69802bbf37fb986f71ec1483a196e",
            checksum_source="soundata's urbansound8k loader (REMOTES['all'])",
            extract="tar",
        ),
    ),
    layout=(
        "UrbanSound8K.tar.gz -> UrbanSound8K/audio/fold1..fold10/<fsID>-<classID>-<occ>-"
        "<slice>.wav, UrbanSound8K/metadata/UrbanSound8K.csv"
    ),
    check=check,
    build_manifest=build_manifest,
    licence="CC BY-NC 3.0 (non-commercial), sounds from freesound.org (FREESOUNDCREDITS.txt)",
    homepage="https://urbansounddataset.weebly.com/urbansound8k.html",
    size="6.0 GB (tar.gz)",
    manual=(
        "download UrbanSound8K.tar.gz from Zenodo record 1203745, put it in the mirror "
        f"directory, or unpack it and set datasets.{NAME}.data_dir to the UrbanSound8K "
        "folder (the one holding audio/ and metadata/)"
    ),
    subdir="UrbanSound8K",
)
