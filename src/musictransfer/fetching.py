"""What every download shares: the retry policy and the one file-hash function.

Two kinds of files come from the network: dataset archives
(:mod:`musictransfer.datasets.download`) and the authors' released files
(:mod:`musictransfer.datasets.paper`). Both are fetched with pooch, retried the same number
of times, and checked with :func:`file_hash`, so that a checksum means the same thing
wherever it is compared. Standard library only (and the package's errors): the
Snakefile imports the modules that import this one. :func:`check_mirror` lives here, not
with the configuration, so that fetching a file needs no YAML or schema library.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from musictransfer._typing import PathLike
from musictransfer.errors import ConfigError, DownloadError

log = logging.getLogger(__name__)


DOWNLOAD_RETRIES = 3
"""Extra attempts after a failed download (network errors, truncated transfers); pooch
waits 1 s, 2 s, 3 s between them."""


def file_hash(path: PathLike, alg: str = "sha256") -> str:
    """Hex digest of a file (streamed), ``alg`` any :mod:`hashlib` name ('sha256', 'md5').

    Raises
    ------
    ValueError
        If ``alg`` is not a hash :mod:`hashlib` knows.
    """
    digest = hashlib.new(alg.lower())
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_mirror(mirror: PathLike, where: str) -> Path:
    """The mirror directory, which must exist: a wrong path is an error, not a download.

    Parameters
    ----------
    mirror
        The directory of local copies.
    where
        Where it was set (``'--mirror'``, ``"the config key 'mirror'"``...), for the message.

    Raises
    ------
    ConfigError
        If it does not exist or is not a directory, naming the path.
    """
    path = Path(mirror)
    if not path.is_dir():
        state = "is not a directory" if path.exists() else "does not exist"
        raise ConfigError(
            f"the mirror {path} ({where}) {state}",
            "correct the path, or unset the mirror to download the files instead",
        )
    return path


def fetch_verified(
    fetcher: Any,
    path: str,
    destination: PathLike,
    mirror: PathLike | None = None,
    mirror_key: str = "mirror",
    layout: str = "",
) -> Path:
    """Fetch ``path`` with a pooch ``fetcher`` (temporary file, SHA-256 verified, retried).

    Every pinned download of the package goes through here, so that a failure reads the
    same everywhere: a checksum mismatch keeps nothing, and a failed transfer says where a
    copy would go (``<mirror>/<path>`` when a mirror is set but lacks the file; otherwise
    to set ``mirror_key``, laid out as ``layout``).

    Raises
    ------
    DownloadError
        On a checksum mismatch or a failed transfer.
    """
    url = fetcher.get_url(path)
    try:
        return Path(fetcher.fetch(path, progressbar=False))
    except ValueError as exc:
        raise DownloadError(
            f"checksum mismatch for {path} downloaded from {url}: {exc}",
            "the server sent a different file; nothing was kept. Check the URL or use a "
            f"verified local copy ({mirror_key})",
        ) from exc
    except OSError as exc:  # requests' RequestException is an OSError
        raise DownloadError(
            f"could not download {path} from {url}: {exc}",
            f"put a copy in the mirror as {Path(mirror) / path}, check the network, or "
            f"download the file by hand to {destination}"
            if mirror
            else f"check the network, or set {mirror_key} to a directory holding {path}"
            + (f" (layout {layout})" if layout else "")
            + f", or download the file by hand to {destination}",
        ) from exc


def place_verified(
    out: PathLike,
    expected: str,
    local: Path | None,
    download: Callable[[Path], Path],
) -> Path:
    """Put the pinned file at ``out``: a verified mirror copy, else a download.

    ``local`` is the mirror's copy, already checked against ``expected`` (or None). A file
    already at ``out`` with the expected SHA-256 is kept as it is. Otherwise ``download``
    is called with a private staging directory beside ``out`` and returns the verified
    file it made there, which is moved into place; the staging directory is removed
    whatever happens, so nothing is written outside ``out``.
    """
    from musictransfer.outputs import atomic_path  # lazy: NumPy; the Snakefile imports this

    out = Path(out)
    if local is not None:
        with atomic_path(out) as tmp:
            shutil.copyfile(local, tmp)
        log.info("%s: copied from the mirror's %s (SHA-256 verified)", out, local)
        return out
    if out.is_file() and file_hash(out) == expected:
        log.info("%s: already there (SHA-256 verified)", out)
        return out
    staging = out.parent / f".{out.name}.download"
    try:
        os.replace(download(staging), out)
        log.info("%s: downloaded (SHA-256 verified)", out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
