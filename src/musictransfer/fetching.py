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
import os
from pathlib import Path

from musictransfer.errors import ConfigError

DOWNLOAD_RETRIES = 3
"""Extra attempts after a failed download (network errors, truncated transfers); pooch
waits 1 s, 2 s, 3 s between them."""


def file_hash(path: str | os.PathLike[str], alg: str = "sha256") -> str:
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


def check_mirror(mirror: str | os.PathLike[str], where: str) -> Path:
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
