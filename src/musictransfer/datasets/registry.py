"""The registry of real datasets: where each comes from and how its manifest is made.

Every dataset of the paper has a module in this package that declares one
:class:`DatasetSpec` named ``SPEC``: the files to fetch (:class:`Remote`: URL, mirrors,
checksum as published), how they unpack (the archive layout), a check that an unpacked
copy is complete, an optional post-processing step (joining split archives, cutting
annotated segments), the function that turns a root directory into a manifest, and the
licence. :mod:`musictransfer.datasets.download` and the ``download``/``manifest``
commands only ever talk to this common interface, so adding a dataset is adding a module
named after it and its name in :data:`NAMES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from musictransfer.datasets import SOURCE_DATASETS
from musictransfer.datasets.paper import RELEASED_DATASETS
from musictransfer.errors import ConfigError, DownloadError

NAMES: tuple[str, ...] = (*RELEASED_DATASETS, *SOURCE_DATASETS)
"""Registered datasets, each the module ``musictransfer.datasets.<name>`` (whose ``SPEC``
carries the name): the six targets are those of
:data:`musictransfer.datasets.paper.RELEASED_DATASETS`, which also maps each to the
authors' file stem, so a target dataset has one name everywhere; then the two tagging
sources."""

MODULES: dict[str, str] = {name: f"musictransfer.datasets.{name}" for name in NAMES}
"""Dataset name -> module."""


@dataclass(frozen=True)
class Remote:
    """One file to fetch.

    Attributes
    ----------
    filename
        Name of the file on disk (and in a mirror directory).
    url
        Official URL.
    checksum
        ``"md5:<hex>"`` or ``"sha256:<hex>"`` as published by the dataset's authors or a
        well-kept loader, or None where none is published (then only the archive's
        structure is checked after unpacking).
    checksum_source
        Where the checksum was published, so a reader can check it.
    mirrors
        Further URLs tried in order when the official one fails.
    extract
        'tar', 'zip' or None (a plain file). 'join' files are parts concatenated by the
        dataset's ``postprocess`` (MagnaTagATune's split zip).
    size
        Size in bytes where known (for docs/datasets.md and the error message).
    """

    filename: str
    url: str
    checksum: str | None = None
    checksum_source: str = "not published"
    mirrors: tuple[str, ...] = ()
    extract: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """Everything the workflow needs to know about one dataset.

    Attributes
    ----------
    name
        Registry name (the module's ``NAME``; the released-features name for the
        targets).
    title
        Human-readable name.
    n_clips
        Number of clips the paper used (None where it depends on the user's copy).
    remotes
        Files to fetch; empty where the data must be supplied by the user.
    layout
        The unpacked layout, as documentation.
    check
        Raises :class:`DownloadError` naming what is missing if ``root`` is incomplete.
    build_manifest
        ``root -> DataFrame`` with columns id, path (relative to root), filepath (the
        authors'-style relative path, where they published one) and the labels.
    licence
        Licence note.
    homepage
        Where the dataset is described.
    size
        Approximate download size, for docs/datasets.md.
    manual
        What to do when the automatic download fails.
    postprocess
        Optional ``(root, work_dir) -> root`` step run after unpacking (e.g. cutting the
        annotated segments of Jamendo into files under ``work_dir``); returns the
        directory the manifest is built from.
    subdir
        Folder inside the unpacked archives that is the dataset's root ('' = the top).
    user_data
        If set, the audio cannot be downloaded: the user's ``data_dir`` is required and
        is linked as ``<root>/<user_data>`` beside the downloaded metadata (the MSD).
    """

    name: str
    title: str
    n_clips: int | None
    remotes: tuple[Remote, ...]
    layout: str
    check: Callable[[Path], None]
    build_manifest: Callable[[Path], pd.DataFrame]
    licence: str
    homepage: str
    size: str
    manual: str
    postprocess: Callable[[Path, Path], Path] | None = None
    subdir: str = ""
    user_data: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def authors_csv(self) -> str | None:
        """File name of the authors' metadata table in their ``data_csv`` folder, if any.

        Read from :data:`~musictransfer.datasets.paper.RELEASED_DATASETS`, the one place
        that maps a dataset to the authors' file stem.
        """
        released = RELEASED_DATASETS.get(self.name)
        return None if released is None else Path(released.csv).name


def names() -> list[str]:
    """All registered dataset names."""
    return list(NAMES)


def get_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of a registered dataset.

    Raises
    ------
    ConfigError
        For an unknown name, listing the known ones.
    """
    if name not in MODULES:
        raise ConfigError(f"unknown dataset {name!r}", f"choose one of: {', '.join(MODULES)}")
    return importlib.import_module(MODULES[name]).SPEC


def require_paths(root: Path, relative: list[str], dataset: str) -> None:
    """Raise a :class:`DownloadError` if any of ``relative`` is missing under ``root``.

    The marker files are chosen per dataset so that an interrupted extraction (a missing
    folder, a missing annotation file) is caught before a manifest is built from it.
    """
    missing = [r for r in relative if not (root / r).exists()]
    if missing:
        raise DownloadError(
            f"{dataset}: {root} is incomplete, missing {', '.join(missing[:5])}"
            + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""),
            f"delete {root} and run `musictransfer download {dataset}` again, or point "
            f"the config's datasets.{dataset}.data_dir at a complete copy",
        )
