"""Fetching the authors' released files: from a mirror or downloaded, always verified.

A file is fetched with the one pooch of :func:`released_files` (verified, retried,
cached), or read from a local mirror directory (config key ``mirror``) after the same
verification against the registry (:data:`musictransfer.datasets.paper.REGISTRY`):
:func:`fetch_released` (a path in place, for the library and the pre-trained weights)
and :func:`fetch_released_file` (a copy at a given path, for the workflow).
"""

from __future__ import annotations

import os
from pathlib import Path

import pooch

from musictransfer._typing import PathLike
from musictransfer.datasets.paper import (
    AUTHORS_COMMIT,
    BASE_URL,
    REGISTRY,
    REMOTE_PATHS,
    registered_hash,
    url_of,
)
from musictransfer.errors import DownloadError
from musictransfer.fetching import (
    DOWNLOAD_RETRIES,
    check_mirror,
    fetch_verified,
    file_hash,
    place_verified,
)

DATA_DIR_ENV = "MUSICTRANSFER_DATA_DIR"
"""Environment variable that moves the download cache (like librosa's LIBROSA_DATA_DIR)."""

MIRROR_ENV = "MUSICTRANSFER_MIRROR"
"""Environment variable naming a mirror directory where no ``mirror`` is given."""


def released_files(
    cache: PathLike | None = None, base_url: str = BASE_URL, retries: int = DOWNLOAD_RETRIES
) -> pooch.Pooch:
    """The pooch that fetches the released files: the registry, the pinned URLs, retries.

    Files land in ``cache`` under their mirror-layout path, so a cache directory can
    serve as a ``mirror`` too.

    Parameters
    ----------
    cache
        Download directory. Default: ``$MUSICTRANSFER_DATA_DIR`` if set (as librosa reads
        ``LIBROSA_DATA_DIR``), else the user's cache directory, one subdirectory per
        pinned commit.
    base_url
        Where the authors' repository files are served (tests use a local server).
    retries
        Extra download attempts.
    """
    default = Path(pooch.os_cache("musictransfer")) / AUTHORS_COMMIT[:12]
    return pooch.create(
        path=default if cache is None else Path(cache),
        env=DATA_DIR_ENV if cache is None else None,
        base_url=base_url,
        registry=dict(REGISTRY),
        urls={path: url_of(path, base_url) for path in REMOTE_PATHS},
        retry_if_failed=retries,
    )


def fetch_released(
    path: str,
    mirror: PathLike | None = None,
    cache: PathLike | None = None,
    download: bool = True,
    base_url: str = BASE_URL,
    retries: int = DOWNLOAD_RETRIES,
) -> Path:
    """A verified local copy of the released file ``path``: the mirror's, else the cache's.

    A mirror copy is read in place; otherwise the file is taken from the cache, downloaded
    there first if needed. Whatever the source, the SHA256 is checked against the
    registry, so a stale or corrupt copy is never used silently.

    Parameters
    ----------
    path
        Mirror-layout path, e.g. ``'weights/weights_theano.hdf5'``.
    mirror
        Directory laid out like the authors' repository (``<mirror>/<path>``, or the file
        directly in it); default ``$MUSICTRANSFER_MIRROR``.
    cache
        Download directory (default: see :func:`released_files`).
    download
        Whether a download may be attempted.
    base_url, retries
        As for :func:`released_files`.

    Raises
    ------
    DownloadError
        If ``path`` is unknown, the mirror copy has the wrong checksum, or the file is not
        cached and cannot be (or may not be) downloaded.
    """
    registered_hash(path)
    key = "mirror" if mirror else MIRROR_ENV
    mirror = mirror or os.environ.get(MIRROR_ENV) or None
    local = _in_mirror(path, mirror, key)
    if local is not None:
        return local
    fetcher = released_files(cache, base_url, retries)
    target = Path(fetcher.abspath) / path
    if not download and not target.is_file():
        raise DownloadError(
            f"{path} is neither in the mirror ({mirror}) nor in the cache ({fetcher.abspath})",
            f"download it from {url_of(path)}, or pass its path",
        )
    return _download(fetcher, path, target, mirror)


def fetch_released_file(
    path: str,
    out: PathLike,
    mirror: PathLike | None = None,
    base_url: str = BASE_URL,
    retries: int = DOWNLOAD_RETRIES,
) -> Path:
    """Put the released file ``path`` at ``out``, verified against its SHA256.

    A copy in ``mirror`` (same layout) is copied when present; otherwise the file is
    downloaded with :func:`released_files` into a private directory beside ``out`` and
    moved into place, so nothing outside ``out`` is written (a workflow output stays in
    the workflow's sight). If ``out`` already holds the right file, nothing is fetched.

    Parameters
    ----------
    path
        Mirror-layout path, e.g. ``'data_feats/gtzan_genre_layer_0.npy'``.
    out
        Destination file.
    mirror
        Directory of local copies, or None to download.
    base_url, retries
        As for :func:`released_files`.

    Raises
    ------
    DownloadError
        On a checksum mismatch (naming the file; nothing is left at ``out``) or a failed
        download (with what to do instead).
    """
    out = Path(out)
    return place_verified(
        out,
        registered_hash(path),
        _in_mirror(path, mirror),
        lambda staging: _download(released_files(staging, base_url, retries), path, out, mirror),
    )


def _in_mirror(path: str, mirror: PathLike | None, key: str = "mirror") -> Path | None:
    """The mirror's copy of ``path`` (``<mirror>/<path>`` or flat), checked; None if absent.

    Raises
    ------
    DownloadError
        If the copy's SHA256 is not the registry's.
    """
    if not mirror:
        return None
    mirror = check_mirror(mirror, key)
    expected = registered_hash(path)
    for candidate in (Path(mirror) / path, Path(mirror) / Path(path).name):
        if candidate.is_file():
            actual = file_hash(candidate)
            if actual != expected:
                raise DownloadError(
                    f"checksum mismatch for {candidate}: SHA-256 {actual}, expected {expected}",
                    "the mirror copy is corrupt or a different version: replace it with the "
                    f"file from {url_of(path)}",
                )
            return candidate
    return None


def _download(
    fetcher: pooch.Pooch, path: str, destination: Path, mirror: PathLike | None = None
) -> Path:
    """Fetch ``path`` with ``fetcher`` (:func:`musictransfer.fetching.fetch_verified`)."""
    return fetch_verified(
        fetcher,
        path,
        destination,
        mirror,
        mirror_key=f"--mirror (the config key 'mirror'; or {MIRROR_ENV})",
        layout="data_csv/, data_feats/, weights/, result_transfer/",
    )
