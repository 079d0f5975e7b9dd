"""Manifest builders against the authors' tables, on fabricated trees with their file names.

Each test lays out an empty-file tree that reproduces a dataset's real layout (and its
annotation files) for exactly the clips of the authors' CSV, builds the manifest from the
tree alone, and checks the clip set and every label, fold and split against the CSV; then
checks that ordering by the CSV reproduces its row order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from musictransfer.datasets import emomusic, jamendo_vocal
from musictransfer.datasets.authors_tables import authors_table_path, read_authors_table
from musictransfer.datasets.manifest_builder import build_manifest
from musictransfer.datasets.paper import REGISTRY
from musictransfer.datasets.registry import get_spec


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def _reference(shared_paper: Path, name: str) -> pd.DataFrame:
    return read_authors_table(shared_paper / "data_csv" / get_spec(name).authors_csv)


def _tree(tmp_path: Path, name: str, ref: pd.DataFrame) -> Path:
    """A root with the dataset's real layout for the files of ``ref``."""
    root = tmp_path / name
    if name in ("ballroom", "gtzan_genre", "gtzan_speech_music"):
        prefix = {"ballroom": "ballroom_extended_2016/", "gtzan_genre": "gtzan_genre/",
                  "gtzan_speech_music": "gtzan_music_speech/"}[name]  # fmt: skip
        for fp in ref["filepath"]:
            _touch(root / fp.removeprefix(prefix))
            if name == "gtzan_genre":  # the archive also holds .mf lists, to be ignored
                _touch(root / Path(fp.removeprefix(prefix)).parent / "list.mf")
    elif name == "emomusic":
        for fp in ref["filepath"]:
            _touch(root / "clips_45sec" / fp.removeprefix("emoMusic45s/"))
        # 1,000 clips exist; only the 744 annotated ones are listed
        _touch(root / "clips_45sec/clips_45seconds/1001.mp3")
        (root / "annotations").mkdir()
        pd.DataFrame({
            "song_id": ref["id"].astype(int), "mean_arousal": ref["label_arousal"] * 9,
            "std_arousal": 1.0, "mean_valence": ref["label_valence"] * 9, "std_valence": 1.0,
        }).to_csv(root / "annotations" / emomusic.ANNOTATIONS, index=False)  # fmt: skip
    elif name == "jamendo_vocal":
        for fp in ref["filepath"]:
            _touch(root / fp)
    elif name == "urbansound8k":
        classes = [f"class{k}" for k in range(10)]
        for fp in ref["filepath"]:
            _touch(root / "audio" / fp)
        (root / "metadata").mkdir()
        names = [fp.split("/")[1] for fp in ref["filepath"]]
        pd.DataFrame({
            "slice_file_name": names, "fsID": [n.split("-")[0] for n in names],
            "start": 0.0, "end": 4.0, "salience": 1, "fold": ref["fold"],
            "classID": ref["label"], "class": [classes[int(c)] for c in ref["label"]],
        }).to_csv(root / "metadata/UrbanSound8K.csv", index=False)  # fmt: skip
    return root


TARGETS = ["ballroom", "gtzan_genre", "gtzan_speech_music", "emomusic", "jamendo_vocal",
           "urbansound8k"]  # fmt: skip
LABEL_COLUMNS = {"label": "label", "category": "category", "fold": "fold"}


@pytest.mark.parametrize("name", TARGETS)
def test_manifest_matches_authors_table(shared_paper, tmp_path, name):
    ref = _reference(shared_paper, name)
    root = _tree(tmp_path, name, ref)
    ours = build_manifest(name, root)
    assert len(ours) == len(ref) == get_spec(name).n_clips
    assert ours["id"].is_unique
    # same clip set, matched on the authors' relative paths
    assert sorted(ours["filepath"]) == sorted(ref["filepath"])
    merged = ref.merge(ours, on="filepath", suffixes=("_ref", ""))
    for ref_col, col in LABEL_COLUMNS.items():
        if ref_col in ref.columns:
            # a column both tables have is suffixed on the reference's side
            ref_values = merged[f"{ref_col}_ref" if ref_col == col else ref_col].astype(str)
            np.testing.assert_array_equal(ref_values, merged[col].astype(str))
    if name == "emomusic":
        np.testing.assert_allclose(merged["arousal"], merged["label_arousal"], atol=1e-9)
        np.testing.assert_allclose(merged["valence"], merged["label_valence"], atol=1e-9)
    # ids equal the authors' where theirs are unique (GTZAN genre's are genre names)
    if ref["id"].is_unique:
        np.testing.assert_array_equal(merged["id_ref"], merged["id"])
    # every path is absolute and under the root
    assert all(Path(p).is_file() and Path(p).is_relative_to(root) for p in ours["path"])


@pytest.mark.parametrize("name", TARGETS)
def test_paper_order_reproduces_the_rows(shared_paper, tmp_path, name):
    ref = _reference(shared_paper, name)
    root = _tree(tmp_path, name, ref)
    ordered = build_manifest(
        name, root, authors_table=shared_paper / "data_csv" / get_spec(name).authors_csv
    )
    assert ordered["filepath"].tolist() == ref["filepath"].tolist()


def test_order_check_catches_a_wrong_label(shared_paper, tmp_path):
    from musictransfer.errors import ManifestError

    ref = _reference(shared_paper, "gtzan_speech_music")
    root = _tree(tmp_path, "gtzan_speech_music", ref)
    wrong = tmp_path / "wrong.csv"
    bad = ref.copy()
    bad.loc[3, "label"] = 1 - int(bad.loc[3, "label"])
    bad.to_csv(wrong)
    with pytest.raises(ManifestError, match="disagree"):
        build_manifest("gtzan_speech_music", root, authors_table=wrong)
    (root / ref.loc[0, "filepath"].removeprefix("gtzan_music_speech/")).unlink()
    with pytest.raises(ManifestError, match="1 of its clips are missing"):
        build_manifest("gtzan_speech_music", root, authors_table=shared_paper / "data_csv" /
                       "gtzan_speechmusic.csv")  # fmt: skip


def test_urbansound_metadata_order_is_the_authors_order(shared_paper, tmp_path):
    ref = _reference(shared_paper, "urbansound8k")
    ours = build_manifest("urbansound8k", _tree(tmp_path, "urbansound8k", ref))
    assert ours["filepath"].tolist() == ref["filepath"].tolist()


def test_jamendo_song_names_keep_the_authors_rstrip_quirk(shared_paper):
    ref = _reference(shared_paper, "jamendo_vocal")
    songs = {i.rsplit("_", 1)[0] for i in ref["id"]}
    for audio, expected in [("05 - Cecilia.ogg", "05 - Cecili"), ("03 - School.mp3", "03 - Schoo"),
                            ("01 - Burn.ogg", "01 - Burn")]:  # fmt: skip
        assert jamendo_vocal.authors_song_name(audio) == expected
        assert expected in songs


def test_reference_checksums_pin_the_shared_copies(shared_paper, tmp_path):
    import hashlib

    tables = {
        p.removeprefix("data_csv/"): d for p, d in REGISTRY.items() if p.startswith("data_csv/")
    }
    assert len(tables) == 6
    for name, digest in tables.items():
        assert hashlib.sha256((shared_paper / "data_csv" / name).read_bytes()).hexdigest() == digest
        # The mirror copy is read in place (verified), never downloaded.
        assert authors_table_path(name, shared_paper, tmp_path) == shared_paper / "data_csv" / name
    assert not any(tmp_path.iterdir())
