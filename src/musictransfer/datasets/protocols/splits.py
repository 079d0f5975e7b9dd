"""Today's splits derived from the protocol files, mapped onto the authors' rows.

- EmoMusic: the split table derived from JukeMIR's metadata
  (:func:`derive_emomusic_split`, written as the registered file by
  :func:`write_emomusic_split`), read back checked (:func:`read_emomusic_split`) and
  mapped onto the rows of the authors' ``emoMusic.csv`` (:func:`emomusic_fixed_split`),
  with the artists the splits share (:func:`artist_overlap`);
- GTZAN: the fault-filtered lists (:func:`read_gtzan_list`) mapped onto the rows of the
  authors' ``gtzan_genre.csv`` (:func:`gtzan_filtered_split`).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from musictransfer._typing import PathLike
from musictransfer.constants import SPLITS
from musictransfer.datasets.protocols import EMOMUSIC_SPLIT, GTZAN_LISTS, JUKEMIR_COMMIT
from musictransfer.errors import ManifestError

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


def emomusic_fixed_split(csv: PathLike, split_csv: PathLike) -> pd.Series:
    """The split of every row of the authors' ``emoMusic.csv``, by song id.

    The song id is the stem of the row's ``filepath`` (``emoMusic45s/clips_45seconds/
    2.mp3`` is song 2). The result is indexed like the released table's rows (which are
    the rows of its feature files).

    Raises
    ------
    ManifestError
        If a row's song is not in ``split_csv`` or its file name is not a song id.
    """
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
