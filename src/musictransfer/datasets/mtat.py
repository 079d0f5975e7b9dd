"""MagnaTagATune (Law et al., 2009): 25,863 clips of 29 s with 188 binary tags.

The usual tagging benchmark keeps the 50 most frequent tags and splits by the first
character of the clip's folder (16 folders '0'..'f'): '0'-'b' train, 'c' validation,
'd'-'f' test (Dieleman and Schrauwen 2014; Choi et al. 2016).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from musictransfer.datasets.manifest import TAG_SEPARATOR
from musictransfer.datasets.registry import DatasetSpec, Remote, require_paths

log = logging.getLogger(__name__)

NAME = "mtat"
ANNOTATIONS = "annotations_final.csv"
FOLDERS: tuple[str, ...] = tuple("0123456789abcdef")
N_TAGS = 50
SPLIT_OF_FOLDER: dict[str, str] = {
    **{f: "train" for f in "0123456789ab"},
    "c": "valid",
    **{f: "test" for f in "def"},
}


def check(root: Path) -> None:
    """The annotation table and the 16 audio folders."""
    require_paths(root, [ANNOTATIONS, *FOLDERS], NAME)


def top_tags(table: pd.DataFrame, n: int = N_TAGS) -> list[str]:
    """The ``n`` most frequent tags over all clips (ties: the table's column order)."""
    tags = table.drop(columns=["clip_id", "mp3_path"])
    counts = tags.astype(int).sum(axis=0)
    return counts.sort_values(ascending=False, kind="stable").index[:n].tolist()


def build_manifest(root: Path) -> pd.DataFrame:
    """One row per clip whose mp3 exists and is not empty, with its top-50 tags.

    A few clips of the official archive are zero-byte files; they are left out (the
    count appears in the workflow's log).
    """
    table = pd.read_csv(root / ANNOTATIONS, sep="\t")
    tags = top_tags(table)
    flags = table[tags].astype(int).to_numpy() > 0
    rows = []
    for clip_id, rel, row in zip(table["clip_id"], table["mp3_path"], flags, strict=True):
        path = root / rel
        if not path.is_file() or path.stat().st_size == 0:
            continue
        rows.append(
            {
                "id": str(clip_id),
                "path": rel,
                "tags": TAG_SEPARATOR.join(t for t, on in zip(tags, row, strict=True) if on),
                "split": SPLIT_OF_FOLDER[rel.split("/", 1)[0]],
            }
        )
    skipped = len(table) - len(rows)
    if skipped:
        log.warning("mtat: %d clips without a readable mp3 left out", skipped)
    return pd.DataFrame(rows)


_BASE = "https://mirg.city.ac.uk/datasets/magnatagatune/"
_OLD = "http://mi.soi.city.ac.uk/datasets/magnatagatune/"
_MD5 = {
    "mp3.zip.001": "179c91c8c2a6e9b3da3d4e69d306fd3b",
    "mp3.zip.002": "acf8265ff2e35c6ff22210e46457a824",
    "mp3.zip.003": "582dc649cabb8cd991f09e14b99349a5",
    ANNOTATIONS: "f04fa01752a8cc64f6e1ca142a0fef1d",
}
SPEC = DatasetSpec(
    name=NAME,
    title="MagnaTagATune",
    n_clips=None,
    remotes=tuple(
        Remote(
            filename=name,
            url=f"{_BASE}{name}",
            mirrors=(f"{_OLD}{name}",),
            checksum=f"md5:{md5}",
            checksum_source="kapre's dataset loader (K. Choi), load_magnatagatune",
            extract=None if name == ANNOTATIONS else "zip-part",
        )
        for name, md5 in _MD5.items()
    ),
    layout=(
        "mp3.zip.001-003 (one zip split in three; concatenated, then unzipped) -> "
        "<0-f>/<artist>-<album>-<track>-<start>-<end>.mp3; annotations_final.csv "
        "(tab-separated: clip_id, 188 tag columns of 0/1, mp3_path)"
    ),
    check=check,
    build_manifest=build_manifest,
    licence="CC BY-NC-SA 1.0 (Magnatune audio); annotations from the TagATune game",
    homepage="https://mirg.city.ac.uk/codeapps/the-magnatagatune-dataset",
    size="2.9 GB (three zip parts) + 8 MB annotations",
    manual=(
        "download mp3.zip.001-003 and annotations_final.csv from the MagnaTagATune page into "
        "the mirror directory (mirror/mtat/), or unzip the joined archive into a folder, copy "
        f"annotations_final.csv beside the 16 folders and set datasets.{NAME}.data_dir to it"
    ),
)
