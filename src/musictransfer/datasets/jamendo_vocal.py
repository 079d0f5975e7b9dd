"""Jamendo singing-voice corpus (Ramona, Richard and David, 2008): 93 songs, 4,086 segments.

The corpus is full songs (``train``/``valid``/``test`` folders of ogg and mp3 files) and
one ``.lab`` file per song listing ``start end sing|nosing`` segments. The authors cut
every annotated segment into its own file, ``<split>/<sing|nosing>/<song>_<k>.wav``, and
classified those 4,086 excerpts; :func:`cut_segments` does the same (at the file's own
sampling rate; resampling happens later, in ``prepare_audio``).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pandas as pd
import soundfile as sf

from musictransfer.constants import SPLITS
from musictransfer.datasets._folders import audio_files
from musictransfer.datasets.registry import DatasetSpec, Remote, require_paths
from musictransfer.errors import DownloadError

NAME = "jamendo_vocal"

SPLIT_ORDER: tuple[str, ...] = ("train", "test", "valid")
"""The split folders (:data:`~musictransfer.constants.SPLITS`) in the authors' processing
order, which is the order of their table's rows."""
LABELS: tuple[str, ...] = ("nosing", "sing")
"""Segment classes; the label code is the index (0 no singing, 1 singing)."""
SPLIT_COLUMN = "category"
"""The manifest column holding a segment's split: the authors' name for it (their
``jamendo_vd.csv``), so a task reads the same column from real and released data."""
LAB_DIR = "jamendo_lab"
SEGMENTS = "segments"
_SEGMENT_RE = re.compile(r"^(?P<song>.*)_(?P<k>\d+)$")


def authors_song_name(audio_name: str) -> str:
    """The song name the authors gave a file's segments, quirks included.

    Their code took ``name.replace('ogg', 'lab').replace('mp3', 'lab').rstrip('.lab')``;
    ``rstrip`` strips any trailing '.', 'l', 'a', 'b' characters, so 'Cecilia.ogg' gave
    'Cecili' and 'School.mp3' gave 'Schoo'. Reproduced so ids match their table.
    """
    return audio_name.replace("ogg", "lab").replace("mp3", "lab").rstrip(".lab")


def read_lab(path: Path) -> list[tuple[float, float, str]]:
    """Segments of one ``.lab`` file: (start s, end s, 'sing' or 'nosing')."""
    segments = []
    for line in path.read_text().splitlines():
        if line.strip():
            start, end, label = line.split()[:3]
            segments.append((float(start), float(end), label))
    return segments


def _segmented(root: Path) -> bool:
    return all((root / split / label).is_dir() for split in SPLIT_ORDER for label in LABELS)


def check(root: Path) -> None:
    """Either the raw corpus (split folders + ``jamendo_lab``) or cut segments."""
    if not _segmented(root):
        require_paths(root, [*SPLIT_ORDER, LAB_DIR], NAME)


def cut_segments(root: Path, work_dir: Path) -> Path:
    """Cut every annotated segment into ``<work_dir>/segments/<split>/<label>/<song>_<k>.wav``.

    Returns the segments root (``root`` itself when it already holds segments). Written
    to a temporary folder and renamed when complete, so an interrupted run starts over.
    """
    if _segmented(root):
        return root
    out = work_dir / SEGMENTS
    if out.is_dir():
        return out
    tmp = work_dir / f".{SEGMENTS}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for split in SPLIT_ORDER:
        for label in LABELS:
            (tmp / split / label).mkdir(parents=True, exist_ok=True)
        for audio in audio_files(root / split, ("ogg", "mp3")):
            lab = root / LAB_DIR / f"{audio.stem}.lab"
            if not lab.is_file():
                raise DownloadError(f"{NAME}: no annotation {lab} for {audio}")
            signal, sr = sf.read(audio, dtype="float32", always_2d=True)
            song = authors_song_name(audio.name)
            for k, (start, end, label) in enumerate(read_lab(lab)):
                if label not in LABELS:
                    raise DownloadError(f"{NAME}: unknown label {label!r} in {lab}")
                piece = signal[int(start * sr) : int(end * sr)]
                sf.write(tmp / split / label / f"{song}_{k}.wav", piece, sr, subtype="PCM_16")
    os.replace(tmp, out)
    return out


def build_manifest(root: Path) -> pd.DataFrame:
    """One row per segment file, by split (train, test, valid), song and segment index.

    The split is in column :data:`SPLIT_COLUMN` ('train', 'valid' or 'test').
    """
    rows = []
    for split in SPLIT_ORDER:
        for code, label in enumerate(LABELS):
            for path in audio_files(root / split / label, ("wav",)):
                match = _SEGMENT_RE.match(path.stem)
                if match is None:
                    continue
                rel = path.relative_to(root).as_posix()
                rows.append(
                    {
                        "id": path.stem,
                        "path": rel,
                        "filepath": rel,
                        "label": code,
                        "label_name": label,
                        SPLIT_COLUMN: split,
                        "_song": match["song"],
                        "_k": int(match["k"]),
                    }
                )
    frame = pd.DataFrame(rows)
    order = {s: i for i, s in enumerate(SPLIT_ORDER)}
    frame["_split"] = frame[SPLIT_COLUMN].map(order)
    frame = frame.sort_values(["_split", "_song", "_k"], kind="stable")
    return frame.drop(columns=["_split", "_song", "_k"]).reset_index(drop=True)


_BASE = "http://www.mathieuramona.com/uploads/Main/"
SPEC = DatasetSpec(
    name=NAME,
    title="Jamendo singing voice detection",
    n_clips=4086,
    remotes=(
        *(
            Remote(
                filename=f"jam_{s}_audio.tar.gz", url=f"{_BASE}jam_{s}_audio.tar.gz", extract="tar"
            )
            for s in SPLITS
        ),
        Remote(filename="jam_annote.tar.gz", url=f"{_BASE}jam_annote.tar.gz", extract="tar"),
    ),
    layout=(
        "jam_<split>_audio.tar.gz -> <split>/<song>.ogg|.mp3 (61 train, 16 valid, 16 test "
        "songs); jam_annote.tar.gz -> jamendo_lab/<song>.lab ('start end sing|nosing' lines)"
    ),
    check=check,
    build_manifest=build_manifest,
    licence=(
        "audio: Creative Commons licences of the Jamendo artists; annotations: free for "
        "research, cite Ramona, Richard and David (ICASSP 2008)"
    ),
    homepage="http://www.mathieuramona.com/wp/data/jamendo/",
    size="about 500 MB (four tar.gz)",
    manual=(
        "download the Jamendo corpus (audio of the three splits and the annotations) from "
        "the dataset page, unpack it into one folder holding train/, valid/, test/ and "
        f"jamendo_lab/, and set datasets.{NAME}.data_dir to it"
    ),
    postprocess=cut_segments,
    notes=("no checksum is published; the archives' structure is checked after unpacking",),
)
