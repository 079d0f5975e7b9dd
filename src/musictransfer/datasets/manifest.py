"""The manifest: one CSV row per clip, the common currency of every dataset.

Columns
-------
id
    Unique clip identifier (string).
path
    Audio file, relative to the manifest's directory (or absolute).
label
    Class name, for single-label classification tasks.
tags
    Semicolon-separated tags, for the multi-label tagging sources.
split / category / fold
    Predefined split ('train', 'valid', 'test') or fold number, where the dataset has one
    (Jamendo's split column is 'category', the authors' name, in real and released data).
<other>
    Regression targets (e.g. 'arousal', 'valence') or further metadata.

Only ``id`` and ``path`` are required of every manifest; the task that uses a dataset
says which other column it needs, and :func:`require_columns` checks it up front.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from musictransfer._typing import PathLike
from musictransfer.errors import ManifestError

REQUIRED_COLUMNS = ("id", "path")
TAG_SEPARATOR = ";"


def read_manifest(path: PathLike, required: Iterable[str] = REQUIRED_COLUMNS) -> pd.DataFrame:
    """Read and validate a manifest CSV.

    Parameters
    ----------
    path
        The manifest file.
    required
        Columns that must be present (``id`` and ``path`` by default).

    Raises
    ------
    ManifestError
        If the file is missing or empty, a required column is absent, or ids repeat.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"manifest not found: {path}", "run the workflow step that makes it")
    try:
        frame = pd.read_csv(path, dtype={"id": str}, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot parse manifest {path}: {exc}") from exc
    if frame.empty:
        raise ManifestError(f"manifest {path} has no rows")
    require_columns(frame, required, path)
    duplicated = frame["id"][frame["id"].duplicated()].tolist()
    if duplicated:
        raise ManifestError(
            f"manifest {path} repeats clip ids: {', '.join(map(str, duplicated[:5]))}",
            "every clip needs a unique id",
        )
    return frame


def require_columns(frame: pd.DataFrame, columns: Iterable[str], source: object) -> None:
    """Raise a :class:`ManifestError` naming ``source`` if any of ``columns`` is missing."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ManifestError(
            f"manifest {source} lacks column(s) {', '.join(missing)} "
            f"(it has: {', '.join(map(str, frame.columns))})",
            "see musictransfer.datasets.manifest for the expected columns",
        )


def split_tags(cells: Iterable[object]) -> list[list[str]]:
    """Each ``tags`` cell as its list of tags, in order.

    Tags are separated by :data:`TAG_SEPARATOR`; blanks around a tag are dropped, and so
    are empty tags, so an empty cell has no tags.
    """
    return [[t.strip() for t in str(cell).split(TAG_SEPARATOR) if t.strip()] for cell in cells]


def resolve_paths(frame: pd.DataFrame, manifest_path: PathLike) -> list[Path]:
    """Absolute audio paths: relative entries are taken from the manifest's directory."""
    base = Path(manifest_path).parent
    return [p if (p := Path(v)).is_absolute() else base / p for v in frame["path"]]


MISSING_MARKERS = frozenset({"", "nan", "na", "n/a", "<na>", "#n/a", "null", "none"})
"""Cell texts (stripped, lower-cased) that mean "no value": what pandas would read as NaN
and what ``str()`` of a missing value gives. A manifest is read with these kept as text
(``keep_default_na=False``), so a label 'nan' would otherwise become a class of its own."""

MISSING_HINT = "fill in or remove those rows in the dataset's manifest, then rerun"


def missing_mask(values: Any) -> np.ndarray:
    """True where a manifest cell holds no value: None/NaN, empty, or a missing marker."""
    series = pd.Series(np.asarray(values, dtype=object), dtype=object)
    marker = series.map(lambda v: str(v).strip().lower() in MISSING_MARKERS)
    return (series.isna() | marker).to_numpy(bool)


def align_rows(feature_ids: np.ndarray, manifest: pd.DataFrame, source: object) -> pd.DataFrame:
    """The manifest's rows in the order of a feature file's ids (every id must exist)."""
    indexed = manifest.set_index(manifest["id"].astype(str), drop=False)
    missing = [i for i in map(str, feature_ids) if i not in indexed.index]
    if missing:
        raise ManifestError(
            f"{len(missing)} feature rows have no entry in {source} (e.g. {missing[0]!r})",
            "the features and the manifest come from different datasets: rerun extraction",
        )
    return indexed.loc[[str(i) for i in feature_ids]].reset_index(drop=True)
