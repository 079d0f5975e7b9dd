"""GTZAN genre collection (Tzanetakis and Cook, 2002): 1,000 clips of 30 s, 10 genres."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from musictransfer.datasets._folders import check_class_folders, class_folder_rows
from musictransfer.datasets.registry import DatasetSpec, Remote

NAME = "gtzan_genre"

GENRES: tuple[str, ...] = (
    "blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock",
)  # fmt: skip
"""Genre folders in the authors' label order (0..9)."""

PREFIX = "gtzan_genre/"


def check(root: Path) -> None:
    """``genres/<genre>/`` for the 10 genres."""
    check_class_folders(root, "genres", GENRES, NAME)


def build_manifest(root: Path) -> pd.DataFrame:
    """One row per ``genres/<genre>/<genre>.<nnnnn>.au``; id = file name without '.au'.

    The authors' CSV uses the genre name as id (not unique); ours is the file stem.
    """
    return class_folder_rows(root, "genres", GENRES, ("au", "wav"), PREFIX)


SPEC = DatasetSpec(
    name=NAME,
    title="GTZAN genre",
    n_clips=1000,
    remotes=(
        Remote(
            filename="genres.tar.gz",
            url="http://opihi.cs.uvic.ca/sound/genres.tar.gz",
            checksum="md5:5b3d6dddb579ab49814ab86dba69e7c7",
            checksum_source="mirdata's gtzan_genre loader (REMOTES['all'])",
            mirrors=(
                "https://huggingface.co/datasets/marsyas/gtzan/resolve/main/data/genres.tar.gz",
            ),
            extract="tar",
        ),
    ),
    layout="genres.tar.gz -> genres/<genre>/<genre>.00000.au ... .00099.au (+ .mf lists)",
    check=check,
    build_manifest=build_manifest,
    licence="no licence published; recordings collected from CDs and radio, research use",
    homepage="http://marsyas.info/downloads/datasets.html",
    size="1.2 GB (tar.gz)",
    manual=(
        "download genres.tar.gz (marsyas.info, or the Hugging Face mirror marsyas/gtzan), "
        f"put it in the mirror directory, or unpack it and set datasets.{NAME}.data_dir "
        "to the folder holding genres/"
    ),
    notes=(
        "kapre's loader lists md5 fe37942310e589be16b04b6d631790de for the same URL; "
        "mirdata's value is used",
    ),
)
