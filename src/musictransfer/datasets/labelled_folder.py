"""Your own dataset: a folder of audio files and a CSV of their labels.

``datasets: {my_set: {audio_dir: DIR, labels: CSV}}`` in an experiment, or
``musictransfer folder-manifest``: the labels file has a ``path`` column, relative to the
audio folder (subfolders, spaces and any Unicode allowed), and any columns that tasks
name as target, folds or split. A clip's id is its path without the extension, so that
ids read like the files and two formats of one recording cannot both be used. Rows keep
the file's order. The manifest written here is what the registry's datasets have (id,
path, labels), so every later check (``check-task``, missing audio, duplicate ids,
labels) applies to it unchanged.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pandas as pd

from musictransfer._typing import PathLike
from musictransfer.errors import ManifestError
from musictransfer.outputs import atomic_path

PATH_COLUMN = "path"


def clip_id(path: str) -> str:
    """A clip's id: its path (POSIX separators) without the extension."""
    return str(PurePosixPath(path.replace("\\", "/")).with_suffix(""))


def folder_rows(audio_dir: PathLike, labels: PathLike) -> pd.DataFrame:
    """The manifest of a labelled folder: id, path (absolute), then the labels' columns.

    Raises
    ------
    ManifestError
        Naming the labels file and its line: no ``path`` column, an ``id`` column (ids
        come from paths), an empty or absolute path, a path outside the folder, two paths
        with one id, or a file that does not exist.
    """
    audio_dir, labels = Path(audio_dir), Path(labels)
    if not audio_dir.is_dir():
        raise ManifestError(
            f"audio folder {audio_dir} does not exist", "set the dataset's audio_dir"
        )
    if not labels.is_file():
        raise ManifestError(f"labels file {labels} does not exist", "set the dataset's labels")
    try:
        frame = pd.read_csv(labels, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot read labels file {labels}: {exc}") from exc
    if PATH_COLUMN not in frame.columns:
        raise ManifestError(
            f"labels file {labels} has no {PATH_COLUMN!r} column (its columns: "
            f"{', '.join(map(str, frame.columns))})",
            f"add a {PATH_COLUMN!r} column with each file's path relative to the audio folder",
        )
    if "id" in frame.columns:
        raise ManifestError(
            f"labels file {labels} has an 'id' column: a clip's id is its path without "
            "the extension",
            "rename or remove that column",
        )
    if frame.empty:
        raise ManifestError(f"labels file {labels} has no rows")
    root = audio_dir.resolve()
    ids, paths, seen = [], [], {}
    for line, rel in enumerate(frame[PATH_COLUMN], start=2):
        where = f"{labels}, line {line}"
        if not rel.strip():
            raise ManifestError(f"{where}: the path is empty", "give every row its file")
        if Path(rel).is_absolute() or PurePosixPath(rel.replace("\\", "/")).is_absolute():
            raise ManifestError(
                f"{where}: path {rel!r} is absolute", "give paths relative to the audio folder"
            )
        full = (root / rel).resolve()
        if not full.is_relative_to(root):
            raise ManifestError(
                f"{where}: path {rel!r} leads outside the audio folder {audio_dir}",
                "keep every file inside the audio folder",
            )
        id_ = clip_id(rel)
        if id_ in seen:
            raise ManifestError(
                f"{where}: {rel!r} has the id {id_!r} of line {seen[id_]} (ids are paths "
                "without the extension)",
                "keep one file per recording, or rename one of them",
            )
        seen[id_] = line
        ids.append(id_)
        paths.append(str(full))
    missing = [(k, p) for k, p in enumerate(paths) if not Path(p).is_file()]
    if missing:
        k, path = missing[0]
        raise ManifestError(
            f"{labels}, line {k + 2}: audio file {path} does not exist "
            f"({len(missing)} missing in all)",
            "fix the path, or remove the row",
        )
    out = frame.drop(columns=[PATH_COLUMN])
    out.insert(0, PATH_COLUMN, paths)
    out.insert(0, "id", ids)
    return out


def write_folder_manifest(audio_dir: PathLike, labels: PathLike, out: PathLike) -> pd.DataFrame:
    """Rule ``folder_manifest``: :func:`folder_rows` written as a manifest (atomically)."""
    frame = folder_rows(audio_dir, labels)
    with atomic_path(out) as tmp:
        frame.to_csv(tmp, index=False)
    return frame


__all__ = ["PATH_COLUMN", "clip_id", "folder_rows", "write_folder_manifest"]
