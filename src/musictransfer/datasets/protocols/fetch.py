"""Fetching today's split files: a verified mirror copy, a download, or a derivation.

:func:`fetch_protocol_file` puts one file of the registry
(:data:`musictransfer.datasets.protocols.PROTOCOL_FILES`) at a given path, verified
against its SHA-256; the derived EmoMusic table is computed from its verified source.
"""

from __future__ import annotations

from pathlib import Path

import pooch

from musictransfer._typing import PathLike
from musictransfer.datasets.protocols import RAW_BASE_URL, ProtocolFile, protocol_file
from musictransfer.datasets.protocols.splits import derive_emomusic_split, write_emomusic_split
from musictransfer.errors import DownloadError
from musictransfer.fetching import (
    DOWNLOAD_RETRIES,
    check_mirror,
    fetch_verified,
    file_hash,
    place_verified,
)


def fetch_protocol_file(
    name: str,
    out: PathLike,
    mirror: PathLike | None = None,
    base_url: str = RAW_BASE_URL,
    retries: int = DOWNLOAD_RETRIES,
) -> Path:
    """Put the split file ``name`` at ``out``, verified against its SHA-256.

    The same mechanism as :func:`musictransfer.datasets.paper.fetch.fetch_released_file`: a
    copy in ``mirror`` is verified and copied; otherwise the file is downloaded into a
    private directory beside ``out`` (nothing outside ``out`` is written) and moved into
    place. A derived file (the EmoMusic table) is taken from the mirror if it holds it,
    else derived from its source, itself taken from the mirror or downloaded; the derived
    bytes are checked against the registered sum like a download. If ``out`` already
    holds the right file, nothing is fetched.

    Parameters
    ----------
    name
        Mirror path of the file, a key of :data:`PROTOCOL_FILES`.
    out
        Destination file.
    mirror
        Directory laid out like the shared ``protocols/`` (``<mirror>/<name>``, or the file
        directly in it), or None to download.
    base_url
        Where repository files are served by ``<repository>/<commit>/<path>``.
    retries
        Extra download attempts.

    Raises
    ------
    DownloadError
        If ``name`` is unknown, a mirror copy has the wrong checksum (naming it; a corrupt
        copy is never replaced by a download behind the user's back), or the download
        fails or brings a different file; nothing is left at ``out``.
    ConfigError
        If ``mirror`` is given but is not a directory.
    """
    entry = protocol_file(name)

    def fetch(staging: Path) -> Path:
        if entry.derived_from is None:
            return _download(entry, staging, base_url, retries, mirror)
        source_entry = protocol_file(entry.derived_from)
        source = _in_mirror(source_entry, mirror) or _download(
            source_entry, staging, base_url, retries, mirror
        )
        staging.mkdir(parents=True, exist_ok=True)
        derived = staging / Path(entry.path).name
        write_emomusic_split(derive_emomusic_split(source), derived)
        actual = file_hash(derived)
        if actual != entry.sha256:
            raise DownloadError(
                f"{entry.path} derived from {source} has SHA-256 {actual}, expected {entry.sha256}",
                "the source or the derivation differs from the pinned one: put the "
                f"verified {entry.path} in the mirror, or report this as a bug",
            )
        return derived

    return place_verified(out, entry.sha256, _in_mirror(entry, mirror), fetch)


def _in_mirror(entry: ProtocolFile, mirror: PathLike | None) -> Path | None:
    """The mirror's copy of ``entry`` (``<mirror>/<path>`` or flat), checked; None if absent.

    Raises
    ------
    DownloadError
        If the copy's SHA-256 is not the registry's, naming the copy.
    """
    if not mirror:
        return None
    root = check_mirror(mirror, "mirror")
    for candidate in (root / entry.path, root / Path(entry.path).name):
        if candidate.is_file():
            actual = file_hash(candidate)
            if actual != entry.sha256:
                raise DownloadError(
                    f"checksum mismatch for {candidate}: SHA-256 {actual}, expected {entry.sha256}",
                    "the mirror copy is corrupt or a different version: replace it with the "
                    + (
                        f"file derived from {entry.url()}"
                        if entry.derived_from
                        else f"file from {entry.url()}"
                    ),
                )
            return candidate
    return None


def _download(
    entry: ProtocolFile, staging: Path, base_url: str, retries: int, mirror: PathLike | None
) -> Path:
    """Download ``entry`` into ``staging`` with pooch (verified, retried); its path there."""
    fetcher = pooch.create(
        path=staging,
        base_url="",
        registry={entry.path: f"sha256:{entry.sha256}"},
        urls={entry.path: entry.url(base_url)},
        retry_if_failed=retries,
    )
    return fetch_verified(
        fetcher,
        entry.path,
        staging.parent,
        mirror,
        mirror_key="the config key 'protocols_mirror'",
        layout="gtzan_fault_filtered/, emomusic_split.csv",
    )
