"""Today's evaluation splits for GTZAN genre and EmoMusic, mapped onto the authors' rows.

The paper evaluates GTZAN genre and EmoMusic with random splits, which put excerpts of
one artist (and GTZAN's repeated excerpts) on both sides. Later work uses two fixed
protocols instead, and reporting the released features on them puts the paper's numbers
beside today's:

- GTZAN's *fault-filtered* split (Kereliuk, Sturm and Larsen 2015): 443 train, 197 valid
  and 290 test clips (930 of the 1,000; repeated, distorted and mislabelled excerpts
  removed, artists kept apart), three lists in repository ``coreyker/dnn-mgr``;
- EmoMusic's MediaEval 2013 split as JukeMIR (Castellon et al. 2021) uses it: the
  evaluation set (125 songs) is the test split and the development set is divided into
  train (504) and valid (115) with no artist in both. The test set is MediaEval's own and
  is *not* artist-separated from the development set; :func:`~.splits.artist_overlap` reports by
  how much rather than hiding it.

Nothing of these files is committed. Each is pinned by repository, commit and SHA-256
in :data:`PROTOCOL_FILES` (the only place they are written down; this module) and
fetched by :func:`~musictransfer.datasets.protocols.fetch.fetch_protocol_file`: a copy in
a mirror laid out like the project's shared ``protocols/`` directory is verified and
copied, else the file is downloaded (pooch,
:data:`~musictransfer.fetching.DOWNLOAD_RETRIES` retries) from its pinned raw URL. The
EmoMusic table has no URL of its own: it is derived by
:func:`~musictransfer.datasets.protocols.splits.derive_emomusic_split` from JukeMIR's
``metadata/emomusic.json.gz``, and the derived bytes must match the registered sum, so a
change in the derivation cannot pass unnoticed. The splits themselves, each row of the
authors' tables assigned to train, valid or test, are derived from these files by
:mod:`~musictransfer.datasets.protocols.splits`.

This module uses the standard library only: the Snakefile reads the registry in
Snakemake's own environment, where NumPy, pandas or pooch may be absent.
"""

from __future__ import annotations

from dataclasses import dataclass

from musictransfer.constants import SPLITS
from musictransfer.errors import DownloadError

RAW_BASE_URL = "https://raw.githubusercontent.com"
"""Where GitHub serves a repository's files by commit (tests pass a local server)."""

GTZAN_REPOSITORY = "coreyker/dnn-mgr"
GTZAN_COMMIT = "bdad579ea6cb37b665ea6019fe1026a6ce20cbc7"
JUKEMIR_REPOSITORY = "p-lambda/jukemir"
JUKEMIR_COMMIT = "241555645682d18fb909775c54014edfc3a03163"


@dataclass(frozen=True)
class ProtocolFile:
    """One split file: where it lies in a mirror, where it comes from, and its SHA-256.

    Parameters
    ----------
    path
        Path in a mirror laid out like the project's shared ``protocols/`` directory.
    sha256
        Hex digest of the file (for a derived file: of the derived bytes).
    repository, commit, source
        The GitHub repository, the pinned commit and the file's path there.
    derived_from
        For a file computed rather than downloaded, the :data:`PROTOCOL_FILES` entry it is
        computed from (``source`` is then that entry's); None for a downloaded file.
    """

    path: str
    sha256: str
    repository: str
    commit: str
    source: str
    derived_from: str | None = None

    def url(self, base_url: str = RAW_BASE_URL) -> str:
        """The raw URL of the file (or of what it is derived from) at the pinned commit."""
        return f"{base_url.rstrip('/')}/{self.repository}/{self.commit}/{self.source}"


GTZAN_LISTS: dict[str, str] = {s: f"gtzan_fault_filtered/{s}_filtered.txt" for s in SPLITS}
"""Split name -> mirror path of the fault-filtered GTZAN list."""

EMOMUSIC_SPLIT = "emomusic_split.csv"
"""Mirror path of the derived EmoMusic table (song_id, artist, mediaeval2013_set, split)."""

EMOMUSIC_SOURCE = "emomusic.json.gz"
"""Mirror path of JukeMIR's EmoMusic metadata, which the table is derived from."""

PROTOCOL_FILES: dict[str, ProtocolFile] = {
    f.path: f
    for f in (
        ProtocolFile(
            GTZAN_LISTS["train"],
            "2b04966cef1486f1a7767b74271533fa23e220388db804a1937835e1fc4fa3fa",
            GTZAN_REPOSITORY,
            GTZAN_COMMIT,
            "gtzan/train_filtered.txt",
        ),
        ProtocolFile(
            GTZAN_LISTS["valid"],
            "f8fbee7c52397a0e0f3a91dc54fedecb2e27f5bdc9a9daeab8cb10d077e26956",
            GTZAN_REPOSITORY,
            GTZAN_COMMIT,
            "gtzan/valid_filtered.txt",
        ),
        ProtocolFile(
            GTZAN_LISTS["test"],
            "09cafa6a89ce0a27f30ed250d56ecb4d03c22fffb5a693f96c7ae655ee02ac72",
            GTZAN_REPOSITORY,
            GTZAN_COMMIT,
            "gtzan/test_filtered.txt",
        ),
        ProtocolFile(
            EMOMUSIC_SOURCE,
            "4a3e5e1fb94f7f08d4dc8fb14ca323596ac0d4a1ce503d595102f50165966fa0",
            JUKEMIR_REPOSITORY,
            JUKEMIR_COMMIT,
            "metadata/emomusic.json.gz",
        ),
        ProtocolFile(
            EMOMUSIC_SPLIT,
            "eb88dcb9ce28816a06766aee652a70b5459cb39e8348ccb35633d3f502f71099",
            JUKEMIR_REPOSITORY,
            JUKEMIR_COMMIT,
            "metadata/emomusic.json.gz",
            derived_from=EMOMUSIC_SOURCE,
        ),
    )
}
"""Every split file, by mirror path: the one registry of the protocols' sources."""


def protocol_file(name: str) -> ProtocolFile:
    """The registry entry called ``name``, with a clear error if unknown.

    Raises
    ------
    DownloadError
        If ``name`` is not in :data:`PROTOCOL_FILES`.
    """
    try:
        return PROTOCOL_FILES[name]
    except KeyError:
        raise DownloadError(
            f"{name!r} is not one of the protocol split files",
            f"the known files are: {', '.join(PROTOCOL_FILES)}",
        ) from None


def split_files(split: str) -> list[str]:
    """Mirror paths of the files a fixed split of this kind needs (none for ``column``).

    ``split`` is a ``protocols.tasks`` entry's ``split``. The order is the one
    :func:`musictransfer.protocols.split_table` expects them in (GTZAN: train, valid, test).
    """
    if split == "gtzan_fault_filtered":
        return [GTZAN_LISTS[s] for s in SPLITS]
    if split == "emomusic_mediaeval":
        return [EMOMUSIC_SPLIT]
    return []
