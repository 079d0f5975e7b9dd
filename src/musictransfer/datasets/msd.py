"""Million Song Dataset tagging split (Choi et al. 2016): the paper's source task.

The audio (7digital 30 s previews) is not distributable: the user supplies a directory
of clips laid out as ``<a>/<b>/<7digital id>.clip.mp3``. The split lists and the label
matrices of the 50 last.fm tags come from the authors' repository
keunwoochoi/MSD_split_for_tagging; the paper used 201,680 / 12,605 / 25,940 clips.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from musictransfer.constants import MSD_TAGS, SPLITS
from musictransfer.datasets.manifest import TAG_SEPARATOR
from musictransfer.datasets.registry import DatasetSpec, Remote, require_paths
from musictransfer.errors import ManifestError

log = logging.getLogger(__name__)

NAME = "msd"
AUDIO = "audio"
AUDIO_SUFFIX = ".clip.mp3"
PAPER_SPLIT_SIZES: dict[str, int] = {"train": 201_680, "valid": 12_605, "test": 25_940}
"""Clips per split in the paper (section 3.1)."""


def check(root: Path) -> None:
    """The split lists, label matrices and the linked audio directory."""
    require_paths(
        root,
        [AUDIO, *(f"{s}_x_filename.txt" for s in SPLITS), *(f"{s}_y.npy" for s in SPLITS)],
        NAME,
    )


def audio_path(listed: str) -> str:
    """'3/6/36122424.npy' (as listed) -> 'audio/3/6/36122424.clip.mp3'."""
    return f"{AUDIO}/{listed.strip().rsplit('.', 1)[0]}{AUDIO_SUFFIX}"


def build_manifest(root: Path) -> pd.DataFrame:
    """One row per listed clip whose audio file exists and is not empty."""
    frames = []
    for split in SPLITS:
        listed = [ln for ln in (root / f"{split}_x_filename.txt").read_text().splitlines() if ln]
        labels = np.load(root / f"{split}_y.npy")
        if labels.shape != (len(listed), len(MSD_TAGS)):
            raise ManifestError(
                f"msd: {split}_y.npy has shape {labels.shape}, expected "
                f"({len(listed)}, {len(MSD_TAGS)})",
                "re-download the split files",
            )
        paths = [audio_path(x) for x in listed]
        keep = [(root / p).is_file() and (root / p).stat().st_size > 0 for p in paths]
        log.info("msd %s: %d of %d listed clips found", split, sum(keep), len(listed))
        frames.append(
            pd.DataFrame(
                {
                    "id": [Path(p).name.split(".", 1)[0] for p in paths],
                    "path": paths,
                    "tags": [
                        TAG_SEPARATOR.join(t for t, on in zip(MSD_TAGS, row, strict=True) if on)
                        for row in labels > 0
                    ],
                    "split": split,
                }
            )[keep]
        )
    frame = pd.concat(frames, ignore_index=True)
    if frame.empty:
        raise ManifestError(
            f"msd: none of the listed clips were found under {root / AUDIO}",
            "data_dir must hold <a>/<b>/<7digital id>.clip.mp3 files",
        )
    return frame


_RAW = "https://raw.githubusercontent.com/keunwoochoi/MSD_split_for_tagging/master/"
SPEC = DatasetSpec(
    name=NAME,
    title="Million Song Dataset (7digital previews, last.fm top-50 tags)",
    n_clips=sum(PAPER_SPLIT_SIZES.values()),
    remotes=tuple(
        Remote(filename=f"{s}_{kind}", url=f"{_RAW}{s}_{kind}")
        for s in SPLITS
        for kind in ("x_filename.txt", "y.npy")
    ),
    layout=(
        "user-supplied audio: <data_dir>/<a>/<b>/<7digital id>.clip.mp3; split lists "
        "<split>_x_filename.txt (one '<a>/<b>/<id>.npy' a line) and <split>_y.npy "
        "(n x 50 binary, the tags in constants.MSD_TAGS order)"
    ),
    check=check,
    build_manifest=build_manifest,
    licence=(
        "MSD metadata and last.fm tags: research use (Bertin-Mahieux et al. 2011); the "
        "7digital audio previews are copyrighted and not redistributable"
    ),
    homepage="http://millionsongdataset.com/",
    size="split lists about 15 MB; the audio (user-supplied) about 240,000 x 30 s mp3",
    manual=(
        "obtain the 7digital previews yourself (they cannot be downloaded by this tool) and "
        f"set datasets.{NAME}.data_dir to their directory"
    ),
    user_data=AUDIO,
    notes=(
        "split files are fetched from the repository's master branch; no checksum is published",
    ),
)
