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
  is *not* artist-separated from the development set; :func:`artist_overlap` reports by
  how much rather than hiding it.

Nothing of these files is committed. Each is pinned by repository, commit and SHA-256
in :data:`PROTOCOL_FILES` (the only place they are written down) and fetched by
:func:`fetch_protocol_file`: a copy in a mirror laid out like the project's shared
``protocols/`` directory is verified and copied, else the file is downloaded (pooch,
:data:`~musictransfer.fetching.DOWNLOAD_RETRIES` retries) from its pinned raw URL. The
EmoMusic table has no URL of its own: it is derived by :func:`derive_emomusic_split`
from JukeMIR's ``metadata/emomusic.json.gz``, and the derived bytes must match the
registered sum, so a change in the derivation cannot pass unnoticed.

NumPy, pandas and pooch are imported where used: the Snakefile reads the registry in
Snakemake's own environment.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from musictransfer.errors import DownloadError, ManifestError
from musictransfer.fetching import (
    DOWNLOAD_RETRIES,
    check_mirror,
    fetch_verified,
    file_hash,
    place_verified,
)

if TYPE_CHECKING:
    import pandas as pd

PathLike = str | os.PathLike[str]

RAW_BASE_URL = "https://raw.githubusercontent.com"
"""Where GitHub serves a repository's files by commit (tests pass a local server)."""

GTZAN_REPOSITORY = "coreyker/dnn-mgr"
GTZAN_COMMIT = "bdad579ea6cb37b665ea6019fe1026a6ce20cbc7"
JUKEMIR_REPOSITORY = "p-lambda/jukemir"
JUKEMIR_COMMIT = "241555645682d18fb909775c54014edfc3a03163"

SPLITS = ("train", "valid", "test")


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


# --- fetching ------------------------------------------------------------------------------


def fetch_protocol_file(
    name: str,
    out: PathLike,
    mirror: PathLike | None = None,
    base_url: str = RAW_BASE_URL,
    retries: int = DOWNLOAD_RETRIES,
) -> Path:
    """Put the split file ``name`` at ``out``, verified against its SHA-256.

    The same mechanism as :func:`musictransfer.datasets.paper.fetch_released_file`: a
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
    import pooch

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


# --- EmoMusic -------------------------------------------------------------------------------

EMOMUSIC_COLUMNS = ("song_id", "artist", "mediaeval2013_set", "split")


def derive_emomusic_split(json_gz: PathLike) -> pd.DataFrame:
    """The EmoMusic split table from JukeMIR's ``metadata/emomusic.json.gz``.

    The JSON maps a zero-padded song id to a record whose ``split`` is JukeMIR's split
    and whose ``extra.songs_info`` holds the dataset's own song table (``song_id``,
    ``Artist``, ``Mediaeval 2013 set``). One row per song, ordered by song id.

    Raises
    ------
    ManifestError
        If the file is not gzipped JSON of that shape, naming it and the song.
    """
    import pandas as pd

    try:
        with gzip.open(json_gz, "rt", encoding="utf-8") as f:
            records = json.load(f)
    except (OSError, EOFError, ValueError) as exc:
        raise ManifestError(
            f"{json_gz} is not gzipped JSON: {exc}",
            f"use JukeMIR's metadata/emomusic.json.gz at commit {JUKEMIR_COMMIT}",
        ) from exc
    if not isinstance(records, dict):
        raise ManifestError(f"{json_gz} does not map song ids to records")
    rows = []
    for key, record in records.items():
        try:
            info = record["extra"]["songs_info"]
            row = (int(info["song_id"]), str(info["Artist"]), str(info["Mediaeval 2013 set"]),
                   str(record["split"]))  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(
                f"{json_gz}: song {key!r} lacks {exc} (split, extra.songs_info.song_id, "
                "Artist or 'Mediaeval 2013 set')",
                "the file is not JukeMIR's EmoMusic metadata",
            ) from exc
        if row[0] != int(key) or row[3] not in SPLITS:
            raise ManifestError(
                f"{json_gz}: song {key!r} has song_id {row[0]} and split {row[3]!r}",
                f"expected its own id and one of {', '.join(SPLITS)}",
            )
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(EMOMUSIC_COLUMNS))
    return table.sort_values("song_id", kind="stable").reset_index(drop=True)


def write_emomusic_split(table: pd.DataFrame, out: PathLike) -> Path:
    """Write the split table as the registered file: no index, CRLF line ends.

    The line ends are those of Python's :mod:`csv` writer, with which the registered
    file was made; its SHA-256 depends on them.
    """
    table.to_csv(out, index=False, lineterminator="\r\n")
    return Path(out)


def read_emomusic_split(path: PathLike) -> pd.DataFrame:
    """The EmoMusic split table, checked (columns, unique song ids, split names).

    Raises
    ------
    ManifestError
        Naming the file and the problem.
    """
    import pandas as pd

    table = pd.read_csv(path, dtype={"artist": str}, keep_default_na=False)
    missing = [c for c in EMOMUSIC_COLUMNS if c not in table.columns]
    if missing:
        raise ManifestError(
            f"{path} lacks column(s) {', '.join(missing)}",
            f"derive it with fetch_protocol_file({EMOMUSIC_SPLIT!r}, ...)",
        )
    if not table["song_id"].is_unique:
        dup = table.loc[table["song_id"].duplicated(), "song_id"].iloc[0]
        raise ManifestError(f"{path} lists song {dup} twice", "every song needs one split")
    bad = sorted(set(table["split"]) - set(SPLITS))
    if bad:
        raise ManifestError(
            f"{path} has unknown split(s) {', '.join(map(repr, bad))}",
            f"expected {', '.join(SPLITS)}",
        )
    return table


def emomusic_modern_split(csv: PathLike, split_csv: PathLike) -> pd.Series:
    """The split of every row of the authors' ``emoMusic.csv``, by song id.

    The song id is the stem of the row's ``filepath`` (``emoMusic45s/clips_45seconds/
    2.mp3`` is song 2). The result is indexed like the released table's rows (which are
    the rows of its feature files).

    Raises
    ------
    ManifestError
        If a row's song is not in ``split_csv`` or its file name is not a song id.
    """
    import pandas as pd

    table = pd.read_csv(csv, index_col=0, dtype={"filepath": str}, keep_default_na=False)
    if "filepath" not in table.columns:
        raise ManifestError(f"{csv} lacks column filepath", "use the authors' emoMusic.csv")
    stems = table["filepath"].map(lambda p: Path(p).stem)
    if not stems.str.fullmatch(r"\d+").all():
        bad = stems[~stems.str.fullmatch(r"\d+")].iloc[0]
        raise ManifestError(f"{csv}: file name {bad!r} is not a song id")
    split = read_emomusic_split(split_csv).set_index("song_id")["split"]
    ids = stems.astype(int)
    missing = ids[~ids.isin(split.index)]
    if len(missing):
        raise ManifestError(
            f"{len(missing)} song(s) of {csv} are not in {split_csv}, e.g. {missing.iloc[0]}",
            "the split table does not belong to this dataset",
        )
    return pd.Series(split.loc[ids].to_numpy(), index=table.index, name="split", dtype="string")


def artist_overlap(split: pd.DataFrame) -> pd.DataFrame:
    """How many artists (and their songs) each split shares with the splits before it.

    Two rows: valid against train (JukeMIR keeps them apart, so 0), and test against
    train + valid (MediaEval's evaluation set is not artist-separated from its
    development set: songs of a shared artist are easier to score well, and a result on
    this split should be read with this count beside it).

    Parameters
    ----------
    split
        The table of :func:`read_emomusic_split` (song_id, artist, split).

    Returns
    -------
    DataFrame
        Columns split, against, artists, shared_artists, songs, songs_of_shared_artists.
    """
    import pandas as pd

    rows = []
    for name, against in (("valid", ("train",)), ("test", ("train", "valid"))):
        songs = split[split["split"] == name]
        earlier = set(split.loc[split["split"].isin(against), "artist"])
        shared = set(songs["artist"]) & earlier
        rows.append((name, "+".join(against), songs["artist"].nunique(), len(shared),
                     len(songs), int(songs["artist"].isin(shared).sum())))  # fmt: skip
    return pd.DataFrame(
        rows,
        columns=["split", "against", "artists", "shared_artists", "songs",
                 "songs_of_shared_artists"],
    )  # fmt: skip


# --- GTZAN ------------------------------------------------------------------------------------


def read_gtzan_list(path: PathLike) -> list[str]:
    """The clips of a fault-filtered list as ``genre/genre.NNNNN`` (no extension).

    Raises
    ------
    ManifestError
        If a line is not ``genre/genre.NNNNN.ext`` or a clip is listed twice.
    """
    clips: list[str] = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        item = Path(line)
        if len(item.parts) != 2 or not item.stem.startswith(item.parts[0] + "."):
            raise ManifestError(
                f"{path}, line {number}: {line!r} is not 'genre/genre.NNNNN.wav'",
                "use the fault-filtered lists of coreyker/dnn-mgr",
            )
        clips.append(f"{item.parts[0]}/{item.stem}")
    if len(set(clips)) != len(clips):
        dup = next(c for c in clips if clips.count(c) > 1)
        raise ManifestError(f"{path} lists {dup} twice")
    return clips


def gtzan_filtered_split(csv: PathLike, lists: Mapping[str, PathLike]) -> pd.Series:
    """The fault-filtered split of every row of the authors' ``gtzan_genre.csv``.

    A row is matched by genre folder and file stem (``.../blues/blues.00012.au`` is the
    list's ``blues/blues.00012.wav``). The 70 clips the filter removes are NA.

    Parameters
    ----------
    csv
        The authors' ``data_csv/gtzan_genre.csv``.
    lists
        Split name (train, valid, test) -> that split's list file.

    Returns
    -------
    Series
        'train', 'valid', 'test' or NA per row, indexed like the table's rows.

    Raises
    ------
    ManifestError
        If a split's list is missing, a clip is in two lists, or a listed clip is not in
        the table.
    """
    import pandas as pd

    missing = [s for s in SPLITS if s not in lists]
    if missing:
        raise ManifestError(f"no list for split(s) {', '.join(missing)}", str(GTZAN_LISTS))
    table = pd.read_csv(csv, index_col=0, dtype={"filepath": str}, keep_default_na=False)
    if "filepath" not in table.columns:
        raise ManifestError(f"{csv} lacks column filepath", "use the authors' gtzan_genre.csv")
    keys = table["filepath"].map(lambda p: f"{Path(p).parent.name}/{Path(p).stem}")
    row_of = {k: i for i, k in zip(table.index, keys, strict=True)}
    result = pd.Series(pd.NA, index=table.index, name="split", dtype="string")
    for name in SPLITS:
        for clip in read_gtzan_list(lists[name]):
            if clip not in row_of:
                raise ManifestError(
                    f"{lists[name]} lists {clip}, which is not in {csv}",
                    "the list does not belong to this table",
                )
            row = row_of[clip]
            if not pd.isna(result.loc[row]):
                raise ManifestError(
                    f"{clip} is in both the {result.loc[row]} and the {name} list",
                    "use the fault-filtered lists as published",
                )
            result.loc[row] = name
    return result


def split_counts(split: pd.Series, splits: Sequence[str] = SPLITS) -> dict[str, int]:
    """Rows per split (and 'excluded' for NA rows), for reports and checks."""
    counts = {s: int((split == s).sum()) for s in splits}
    counts["excluded"] = int(split.isna().sum())
    return counts
