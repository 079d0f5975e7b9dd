"""Extended Ballroom (Marchand and Peeters, 2016): 4,180 dance-music clips, 13 styles.

The dataset is distributed as metadata only (``extendedballroom_v1.1.xml`` with one md5
per track, and a script that fetches each track's 30 s mp3 from ballroomdancers.com); no
audio archive exists to fetch, so this module does not download: get the audio with the
authors' script and point ``datasets.ballroom.data_dir`` at the folder holding the 13
style folders.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from musictransfer.datasets._folders import check_class_folders, class_folder_rows
from musictransfer.datasets.registry import DatasetSpec

NAME = "ballroom"

STYLES: tuple[str, ...] = (
    "Chacha", "Foxtrot", "Jive", "Pasodoble", "Rumba", "Salsa", "Samba", "Slowwaltz",
    "Tango", "Viennesewaltz", "Waltz", "Wcswing", "Quickstep",
)  # fmt: skip
"""Style folders in the authors' label order (0..12; note Quickstep last)."""

PREFIX = "ballroom_extended_2016/"
"""The authors' path prefix (their folder name for the dataset)."""


def check(root: Path) -> None:
    """The 13 style folders must exist."""
    check_class_folders(root, "", STYLES, NAME)


def build_manifest(root: Path) -> pd.DataFrame:
    """One row per ``<Style>/<id>.mp3``; label = style index in :data:`STYLES`."""
    return class_folder_rows(root, "", STYLES, ("mp3", "wav"), PREFIX)


SPEC = DatasetSpec(
    name=NAME,
    title="Extended Ballroom",
    n_clips=4180,
    remotes=(),
    layout="<root>/<Style>/<track id>.mp3 for the 13 styles (as the authors' script writes)",
    check=check,
    build_manifest=build_manifest,
    licence=(
        "metadata: research use, cite Marchand and Peeters (ISMIR 2016 LBD / MLSP 2016); "
        "audio: 30 s previews owned by ballroomdancers.com, not redistributable"
    ),
    homepage="http://anasynth.ircam.fr/home/media/ExtendedBallroom",
    size="about 4 GB of mp3 (4,180 x 30 s)",
    manual=(
        "download extendedballroom_v1.1.zip from http://anasynth.ircam.fr/home/media/"
        "ExtendedBallroom, run its getExtendedBallroomDataset.py (it checks each mp3 "
        "against the md5 in extendedballroom_v1.1.xml), and set "
        f"datasets.{NAME}.data_dir to the folder holding Chacha/, Foxtrot/, ..."
    ),
    notes=("no archive checksum: each track's md5 is in the XML and checked by the script",),
)
