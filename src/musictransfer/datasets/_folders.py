"""Helpers shared by the dataset modules: class-per-folder layouts and listings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from musictransfer.datasets.registry import require_paths


def audio_files(folder: Path, extensions: tuple[str, ...]) -> list[Path]:
    """Audio files of a folder, sorted by name (macOS '._' resource files skipped)."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file()
        and p.suffix.lower().lstrip(".") in extensions
        and not p.name.startswith("._")
    )


def class_folder_rows(
    root: Path,
    base: str,
    folders: tuple[str, ...],
    extensions: tuple[str, ...],
    prefix: str,
    names: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """One row per file of ``root/base/<folder>``, labelled by the folder's index.

    The label code is the folder's position in ``folders`` (the authors' order, which
    is what their CSV's ``label`` column holds); ``label_name`` is readable. Within a
    folder, files are sorted by name (the authors' own order is restored from their
    CSV by :func:`~musictransfer.datasets.authors_tables.order_like_authors`).
    """
    rows = []
    for code, folder in enumerate(folders):
        for path in audio_files(root / base / folder, extensions):
            rel = path.relative_to(root).as_posix()
            rows.append(
                {
                    "id": path.name.rsplit(".", 1)[0],
                    "path": rel,
                    "filepath": f"{prefix}{rel}",
                    "label": code,
                    "label_name": (names or folders)[code],
                }
            )
    return pd.DataFrame(rows)


def check_class_folders(root: Path, base: str, folders: tuple[str, ...], dataset: str) -> None:
    """Every class folder must exist."""
    require_paths(root, [str(Path(base) / f) for f in folders], dataset)
