"""Today's splits (fault-filtered GTZAN, EmoMusic MediaEval 2013): registry, fetch, mapping.

The counts and overlaps are checked on the shared copies (skipped where absent); the
fetch paths (mirror, download, derivation, refusals) on files made in tmp_path and
served from a local HTTP server.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import SHARED
from musictransfer.datasets import protocols
from musictransfer.datasets.protocols import fetch as protocols_fetch
from musictransfer.datasets.protocols import splits as protocols_splits
from musictransfer.errors import ConfigError, DownloadError, ManifestError, MusicTransferError
from musictransfer.fetching import file_hash

GTZAN_TRAIN = protocols.GTZAN_LISTS["train"]
EMOMUSIC_JSON_ENV = "MUSICTRANSFER_EMOMUSIC_JSON"
"""A local copy of JukeMIR's metadata/emomusic.json.gz (the derivation test needs it)."""


@pytest.fixture(scope="module")
def emomusic_json() -> Path:
    """JukeMIR's emomusic.json.gz, verified: $MUSICTRANSFER_EMOMUSIC_JSON or the shared mirror."""
    candidates = [os.environ.get(EMOMUSIC_JSON_ENV), SHARED / "protocols" / "emomusic.json.gz"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            entry = protocols.PROTOCOL_FILES[protocols.EMOMUSIC_SOURCE]
            assert file_hash(candidate) == entry.sha256, f"{candidate} is not the pinned file"
            return Path(candidate)
    pytest.skip(f"no emomusic.json.gz (set {EMOMUSIC_JSON_ENV} or add it to the shared mirror)")


def _serve(root: Path, name: str, data: bytes) -> None:
    """Put ``data`` where the served tree has the registry entry ``name``'s source."""
    entry = protocols.PROTOCOL_FILES[name]
    path = root / entry.repository / entry.commit / entry.source
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _song(song_id: int, artist: str, mediaeval: str, split: str) -> dict:
    info = {"song_id": str(song_id), "Artist": artist, "Mediaeval 2013 set": mediaeval,
            "Genre": "Rock", "file_name": f"{song_id}.mp3"}  # fmt: skip
    return {"clip": {}, "extra": {"songs_info": info}, "split": split, "y": [0.0, 0.0]}


def _json_gz(path: Path, records: dict) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump(records, f)
    return path


# --- registry -------------------------------------------------------------------------------


def test_registry_pins_every_file_by_commit_and_sum():
    for name, entry in protocols.PROTOCOL_FILES.items():
        assert entry.path == name and len(entry.sha256) == 64
        assert entry.commit in (protocols.GTZAN_COMMIT, protocols.JUKEMIR_COMMIT)
        assert len(entry.commit) == 40
        assert entry.url().startswith(f"https://raw.githubusercontent.com/{entry.repository}/")
    assert protocols.PROTOCOL_FILES[GTZAN_TRAIN].url() == (
        "https://raw.githubusercontent.com/coreyker/dnn-mgr/"
        "bdad579ea6cb37b665ea6019fe1026a6ce20cbc7/gtzan/train_filtered.txt"
    )
    derived = protocols.PROTOCOL_FILES[protocols.EMOMUSIC_SPLIT]
    assert derived.derived_from == protocols.EMOMUSIC_SOURCE
    assert derived.url() == protocols.PROTOCOL_FILES[protocols.EMOMUSIC_SOURCE].url()


def test_registry_sums_are_the_published_ones(shared_protocols):
    sums = dict(
        reversed(line.split())
        for line in (shared_protocols / "SHA256SUMS").read_text().splitlines()
    )
    registered = {n: e.sha256 for n, e in protocols.PROTOCOL_FILES.items() if n in sums}
    assert registered == sums  # every published file is registered with its sum
    for name, digest in sums.items():
        assert file_hash(shared_protocols / name) == digest


# --- fetching -------------------------------------------------------------------------------


def test_mirror_copies_are_verified_and_copied(shared_protocols, tmp_path):
    for name in [*protocols.GTZAN_LISTS.values(), protocols.EMOMUSIC_SPLIT]:
        out = protocols_fetch.fetch_protocol_file(name, tmp_path / name, mirror=shared_protocols)
        assert out.read_bytes() == (shared_protocols / name).read_bytes()


def test_corrupt_mirror_copy_is_refused_naming_it(shared_protocols, tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "gtzan_fault_filtered").mkdir(parents=True)
    bad = mirror / GTZAN_TRAIN
    bad.write_bytes((shared_protocols / GTZAN_TRAIN).read_bytes().replace(b"blues", b"bluez", 1))
    out = tmp_path / "out" / "train.txt"
    with pytest.raises(DownloadError, match=re.escape(f"checksum mismatch for {bad}")) as info:
        protocols_fetch.fetch_protocol_file(GTZAN_TRAIN, out, mirror=mirror)
    assert isinstance(info.value, MusicTransferError)  # the CLI exits 2 with this one line
    assert "dnn-mgr/bdad579" in info.value.hint
    assert not out.exists()
    # A corrupt derived table is refused too, not re-derived behind the user's back.
    (mirror / protocols.EMOMUSIC_SPLIT).write_text("song_id,artist,mediaeval2013_set,split\n")
    with pytest.raises(DownloadError, match=re.escape("emomusic_split.csv: SHA-256")):
        protocols_fetch.fetch_protocol_file(protocols.EMOMUSIC_SPLIT, out, mirror=mirror)


def test_missing_mirror_and_unknown_name_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        protocols_fetch.fetch_protocol_file(GTZAN_TRAIN, tmp_path / "x", mirror=tmp_path / "nope")
    with pytest.raises(DownloadError, match="not one of the protocol split files"):
        protocols_fetch.fetch_protocol_file("gtzan_fault_filtered/all.txt", tmp_path / "x")


def test_download_verifies_the_checksum(http_root, shared_protocols, tmp_path):
    root, url = http_root
    data = (shared_protocols / GTZAN_TRAIN).read_bytes()
    _serve(root, GTZAN_TRAIN, data)
    out = tmp_path / "dl" / "train.txt"
    assert protocols_fetch.fetch_protocol_file(GTZAN_TRAIN, out, base_url=url, retries=0) == out
    assert out.read_bytes() == data
    assert sorted(p.name for p in out.parent.iterdir()) == ["train.txt"]  # no staging left
    # Already there and right: nothing is fetched.
    shutil.rmtree(root / protocols.GTZAN_REPOSITORY)
    assert protocols_fetch.fetch_protocol_file(GTZAN_TRAIN, out, base_url=url, retries=0) == out


def test_download_of_a_different_file_leaves_nothing(http_root, tmp_path):
    root, url = http_root
    _serve(root, GTZAN_TRAIN, b"blues/blues.00000.wav\n")
    out = tmp_path / "dl" / "train.txt"
    with pytest.raises(
        DownloadError, match=re.escape(f"checksum mismatch for {GTZAN_TRAIN} downloaded")
    ):
        protocols_fetch.fetch_protocol_file(GTZAN_TRAIN, out, base_url=url, retries=0)
    assert list(out.parent.iterdir()) == []


def test_failed_download_says_what_to_do(http_root, tmp_path):
    _, url = http_root  # serves nothing: 404
    with pytest.raises(DownloadError, match="could not download") as info:
        protocols_fetch.fetch_protocol_file(
            GTZAN_TRAIN, tmp_path / "x.txt", base_url=url, retries=0
        )
    assert "mirror" in info.value.hint
    mirror = tmp_path / "empty_mirror"
    mirror.mkdir()
    with pytest.raises(DownloadError) as info:
        protocols_fetch.fetch_protocol_file(
            protocols.EMOMUSIC_SPLIT, tmp_path / "y.csv", mirror=mirror, base_url=url, retries=0
        )
    assert "emomusic.json.gz" in str(info.value) and str(mirror) in info.value.hint


def test_emomusic_source_of_another_version_is_refused(http_root, tmp_path):
    root, url = http_root
    fake = _json_gz(tmp_path / "e.json.gz", {"0002": _song(2, "A", "development", "train")})
    _serve(root, protocols.EMOMUSIC_SOURCE, fake.read_bytes())
    out = tmp_path / "dl" / protocols.EMOMUSIC_SPLIT
    with pytest.raises(DownloadError, match=re.escape("checksum mismatch for emomusic.json.gz")):
        protocols_fetch.fetch_protocol_file(protocols.EMOMUSIC_SPLIT, out, base_url=url, retries=0)
    assert list(out.parent.iterdir()) == []


# --- EmoMusic derivation --------------------------------------------------------------------


def test_derivation_reads_jukemir_fields_in_song_order(tmp_path):
    records = {
        "0010": _song(10, "B, the band", "evaluation", "test"),
        "0002": _song(2, "A", "development", "train"),
        "0004": _song(4, "C", "development", "valid"),
    }
    table = protocols_splits.derive_emomusic_split(_json_gz(tmp_path / "e.json.gz", records))
    assert list(table.columns) == list(protocols_splits.EMOMUSIC_COLUMNS)
    assert table["song_id"].tolist() == [2, 4, 10]
    assert table["split"].tolist() == ["train", "valid", "test"]
    assert table.loc[2, "mediaeval2013_set"] == "evaluation"
    out = protocols_splits.write_emomusic_split(table, tmp_path / "split.csv")
    assert out.read_bytes().startswith(b"song_id,artist,mediaeval2013_set,split\r\n2,A,")
    pd.testing.assert_frame_equal(protocols_splits.read_emomusic_split(out), table)


def test_derivation_refuses_other_files(tmp_path):
    bad = tmp_path / "bad.json.gz"
    bad.write_text("not gzip")
    with pytest.raises(ManifestError, match=re.escape("bad.json.gz is not gzipped JSON")):
        protocols_splits.derive_emomusic_split(bad)
    record = _song(2, "A", "development", "train")
    del record["extra"]["songs_info"]["Artist"]
    with pytest.raises(ManifestError, match="song '0002' lacks 'Artist'"):
        protocols_splits.derive_emomusic_split(_json_gz(tmp_path / "a.json.gz", {"0002": record}))
    odd = {"0002": _song(2, "A", "development", "holdout")}
    with pytest.raises(ManifestError, match="split 'holdout'"):
        protocols_splits.derive_emomusic_split(_json_gz(tmp_path / "b.json.gz", odd))


def test_derivation_reproduces_the_published_table(emomusic_json, shared_protocols, tmp_path):
    table = protocols_splits.derive_emomusic_split(emomusic_json)
    out = protocols_splits.write_emomusic_split(table, tmp_path / "derived.csv")
    assert out.read_bytes() == (shared_protocols / protocols.EMOMUSIC_SPLIT).read_bytes()


def test_derived_table_is_fetched_from_a_source_only_mirror_or_a_download(
    emomusic_json, http_root, shared_protocols, tmp_path
):
    expected = (shared_protocols / protocols.EMOMUSIC_SPLIT).read_bytes()
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copy(emomusic_json, mirror / protocols.EMOMUSIC_SOURCE)
    out = protocols_fetch.fetch_protocol_file(protocols.EMOMUSIC_SPLIT, tmp_path / "a.csv", mirror)
    assert out.read_bytes() == expected
    root, url = http_root
    _serve(root, protocols.EMOMUSIC_SOURCE, emomusic_json.read_bytes())
    out = tmp_path / "dl" / "b.csv"
    protocols_fetch.fetch_protocol_file(protocols.EMOMUSIC_SPLIT, out, base_url=url, retries=0)
    assert out.read_bytes() == expected
    assert [p.name for p in out.parent.iterdir()] == ["b.csv"]  # the source is not kept


# --- the splits on the released rows --------------------------------------------------------


def _gtzan_lists(shared_protocols: Path) -> dict[str, Path]:
    return {s: shared_protocols / p for s, p in protocols.GTZAN_LISTS.items()}


def test_gtzan_filtered_split_on_the_released_rows(shared_paper, shared_protocols):
    csv = shared_paper / "data_csv" / "gtzan_genre.csv"
    split = protocols_splits.gtzan_filtered_split(csv, _gtzan_lists(shared_protocols))
    assert len(split) == 1000 and split.name == "split"
    counts = protocols_splits.split_counts(split)
    assert counts == {"train": 443, "valid": 197, "test": 290, "excluded": 70}
    assert split.notna().sum() == 930
    table = pd.read_csv(csv, index_col=0)
    assert split.index.equals(table.index)
    # The lists' first clips, by the table's file paths.
    assert split.loc[table["filepath"].str.endswith("/blues.00012.au")].tolist() == ["test"]
    assert split.loc[table["filepath"].str.endswith("/blues.00000.au")].tolist() == ["valid"]
    assert split.loc[table["filepath"].str.endswith("/blues.00029.au")].tolist() == ["train"]


def test_gtzan_lists_that_do_not_fit_are_refused(shared_paper, shared_protocols, tmp_path):
    csv = shared_paper / "data_csv" / "gtzan_genre.csv"
    lists = _gtzan_lists(shared_protocols)
    stranger = tmp_path / "test.txt"
    stranger.write_text("blues/blues.00100.wav\n")
    with pytest.raises(ManifestError, match=re.escape("blues/blues.00100, which is not in")):
        protocols_splits.gtzan_filtered_split(csv, {**lists, "test": stranger})
    twice = tmp_path / "valid.txt"
    twice.write_text("blues/blues.00029.wav\n")  # a train clip
    with pytest.raises(
        ManifestError, match=re.escape("blues.00029 is in both the train and the valid")
    ):
        protocols_splits.gtzan_filtered_split(csv, {**lists, "valid": twice})
    garbled = tmp_path / "garbled.txt"
    garbled.write_text("blues.00029.wav\n")
    with pytest.raises(ManifestError, match=re.escape("garbled.txt, line 1")):
        protocols_splits.gtzan_filtered_split(csv, {**lists, "train": garbled})
    with pytest.raises(ManifestError, match="no list for split"):
        protocols_splits.gtzan_filtered_split(csv, {"train": lists["train"]})


def test_emomusic_fixed_split_on_the_released_rows(shared_paper, shared_protocols):
    csv = shared_paper / "data_csv" / "emoMusic.csv"
    split = protocols_splits.emomusic_fixed_split(csv, shared_protocols / protocols.EMOMUSIC_SPLIT)
    assert len(split) == 744
    assert protocols_splits.split_counts(split) == {"train": 504, "valid": 115, "test": 125,
                                              "excluded": 0}  # fmt: skip
    table = pd.read_csv(csv, index_col=0)
    assert split.loc[table["id"] == 3].tolist() == ["test"]
    assert split.loc[table["id"] == 5].tolist() == ["train"]


def test_emomusic_split_not_covering_the_table_is_refused(shared_paper, tmp_path):
    csv = shared_paper / "data_csv" / "emoMusic.csv"
    partial = tmp_path / "split.csv"
    partial.write_text("song_id,artist,mediaeval2013_set,split\n2,A,development,train\n")
    with pytest.raises(ManifestError, match=r"743 song\(s\) of .* are not in"):
        protocols_splits.emomusic_fixed_split(csv, partial)
    partial.write_text("song_id,artist,mediaeval2013_set,split\n2,A,development,dev\n")
    with pytest.raises(ManifestError, match=r"unknown split\(s\) 'dev'"):
        protocols_splits.emomusic_fixed_split(csv, partial)


def test_emomusic_artists_valid_apart_test_overlap_reported(shared_protocols):
    table = protocols_splits.read_emomusic_split(shared_protocols / protocols.EMOMUSIC_SPLIT)
    overlap = protocols_splits.artist_overlap(table).set_index("split")
    assert overlap.loc["valid", "shared_artists"] == 0  # no artist in both train and valid
    assert overlap.loc["valid", "songs"] == 115
    test = overlap.loc["test"]
    assert test["against"] == "train+valid"
    assert (test["artists"], test["shared_artists"]) == (112, 52)
    assert (test["songs"], test["songs_of_shared_artists"]) == (125, 65)
    assert set(table.loc[table["split"] == "test", "mediaeval2013_set"]) == {"evaluation"}
    assert set(table.loc[table["split"] != "test", "mediaeval2013_set"]) == {"development"}


def test_artist_overlap_counts_a_leak(tmp_path):
    table = pd.DataFrame({
        "song_id": [1, 2, 3, 4], "artist": ["A", "A", "B", "C"],
        "mediaeval2013_set": "development", "split": ["train", "valid", "valid", "test"],
    })  # fmt: skip
    overlap = protocols_splits.artist_overlap(table).set_index("split")
    assert overlap.loc["valid", ["artists", "shared_artists", "songs"]].tolist() == [2, 1, 2]
    assert overlap.loc["test", "shared_artists"] == 0
