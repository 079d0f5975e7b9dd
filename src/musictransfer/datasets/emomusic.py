"""EmoMusic, "1000 songs for emotional analysis of music" (Soleymani et al., 2013).

744 of the 45 s clips have static (whole-clip) arousal and valence ratings on a 1-9
scale; the authors regressed ``mean / 9`` of each and used the first 29 s of the clip
(the store keeps 29 s).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from musictransfer.datasets.registry import DatasetSpec, Remote
from musictransfer.errors import DownloadError

NAME = "emomusic"

ANNOTATIONS = "static_annotations.csv"
CLIPS = "clips_45seconds"
PREFIX = "emoMusic45s/"
SCALE = 9.0
"""The authors divided the 1-9 ratings by 9."""


def _find(root: Path, name: str) -> Path:
    """The first file or folder called ``name`` under ``root`` (archives nest differently)."""
    direct = root / name
    if direct.exists():
        return direct
    for found in sorted(root.rglob(name)):
        return found
    raise DownloadError(
        f"{NAME}: no {name} under {root}",
        "unpack both the clips and the annotations archives into the dataset folder",
    )


def check(root: Path) -> None:
    """``static_annotations.csv`` and ``clips_45seconds/`` somewhere under root."""
    _find(root, ANNOTATIONS)
    _find(root, CLIPS)


def build_manifest(root: Path) -> pd.DataFrame:
    """One row per annotated song, in the annotation file's order (the authors' order)."""
    table = pd.read_csv(_find(root, ANNOTATIONS), skipinitialspace=True)
    table.columns = [c.strip() for c in table.columns]
    clips = _find(root, CLIPS)
    ids = table["song_id"].astype(int).astype(str)
    return pd.DataFrame(
        {
            "id": ids,
            "path": [(clips / f"{i}.mp3").relative_to(root).as_posix() for i in ids],
            "filepath": [f"{PREFIX}{CLIPS}/{i}.mp3" for i in ids],
            "arousal": table["mean_arousal"].astype(float) / SCALE,
            "valence": table["mean_valence"].astype(float) / SCALE,
        }
    )


_BASE = "http://cvml.unige.ch/databases/emoMusic/"
SPEC = DatasetSpec(
    name=NAME,
    title="EmoMusic (1000 songs, 45 s clips)",
    n_clips=744,
    remotes=(
        Remote(filename="clips_45sec.tar.gz", url=f"{_BASE}clips_45sec.tar.gz", extract="tar"),
        Remote(filename="annotations.tar.gz", url=f"{_BASE}annotations.tar.gz", extract="tar"),
    ),
    layout=(
        "clips_45sec.tar.gz -> clips_45seconds/<song_id>.mp3 (1000 clips); annotations "
        "archive -> annotations/static_annotations.csv (song_id, mean_arousal, "
        "std_arousal, mean_valence, std_valence)"
    ),
    check=check,
    build_manifest=build_manifest,
    licence=(
        "audio from the Free Music Archive under the artists' Creative Commons licences; "
        "annotations free for research, cite Soleymani et al. (CrowdMM 2013)"
    ),
    homepage="http://cvml.unige.ch/databases/emoMusic/",
    size="about 1 GB (clips) + 1 MB (annotations)",
    manual=(
        "download the 45 s clips and the annotations from the dataset page (archive names "
        "there may differ from the ones assumed here), unpack both into one folder and set "
        f"datasets.{NAME}.data_dir to it"
    ),
    notes=(
        "no checksum is published; the archive URLs follow the dataset page and were not "
        "reachable from the development machine, so they are unverified",
    ),
)
