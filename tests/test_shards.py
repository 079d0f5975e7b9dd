"""Sharded 12 kHz stores (config `shard_clips`): read as one dataset, byte for byte.

A dataset of the MSD's size is prepared by many jobs, one per shard. The shard size must
not change a single feature: the same demo dataset prepared in one file, in one shard and
in four gives identical signals, convnet features and MFCC vectors. A missing, truncated
or stale shard stops the reader with one line naming it.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from musictransfer.cli import main
from musictransfer.datasets.demo import generate_dataset
from musictransfer.datasets.store import PreparedDataset


def sharded(manifest, store, clips_per_shard):
    common = ["prepare", str(manifest), "--out-dir", str(store)]
    assert main([*common, "--plan", "--clips-per-shard", str(clips_per_shard)]) == 0
    plan = json.loads((store / "shards.json").read_text())
    for k in range(len(plan["shards"])):
        assert main([*common, "--shard", str(k), "--clips-per-shard", str(clips_per_shard)]) == 0
    assert main([*common, "--merge"]) == 0
    return plan


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    manifest = generate_dataset("genre", root / "raw", n_clips=15, seed=3)
    assert main(["prepare", str(manifest), "--out-dir", str(root / "whole")]) == 0
    plans = {n: sharded(manifest, root / f"by{n}", n) for n in (15, 4)}
    assert [len(p["shards"]) for p in plans.values()] == [1, 4]
    assert main(["random-convnet", "--out", str(root / "random.pt"), "--seed", "0"]) == 0
    return root, manifest


@pytest.mark.parametrize("store", ["by15", "by4"])
def test_the_shard_size_changes_no_signal_and_no_feature(stores, store):
    root, _ = stores
    whole, shards = PreparedDataset(root / "whole"), PreparedDataset(root / store)
    assert shards.ids == whole.ids
    for i in range(len(whole)):
        assert np.array_equal(shards.signal(i), whole.signal(i))
    for kind in ("whole", store):
        assert main(["extract-mfcc", str(root / kind), "-o", str(root / f"mfcc-{kind}.npz")]) == 0
        assert main(["extract-convnet", str(root / "random.pt"), str(root / kind),
                     "-o", str(root / f"convnet-{kind}.npz")]) == 0  # fmt: skip
    for name in ("mfcc", "convnet"):
        with np.load(root / f"{name}-whole.npz") as a, np.load(root / f"{name}-{store}.npz") as b:
            assert a["features"].tobytes() == b["features"].tobytes()
            assert list(a["ids"]) == list(b["ids"])


def copy_store(stores, tmp_path):
    root, manifest = stores
    shutil.copytree(root / "by4", tmp_path / "s")
    return tmp_path / "s", manifest


@pytest.mark.fault(
    item=13,
    case="a shard of a sharded store deleted after the merge",
    outcome="exit 2 naming the shard (extract-mfcc, extract-convnet, training read it)",
)
def test_a_missing_shard_is_named(stores, tmp_path, capsys):
    store, _ = copy_store(stores, tmp_path)
    shutil.rmtree(store / "shard-00002")
    assert main(["extract-mfcc", str(store), "-o", str(tmp_path / "m.npz")]) == 2
    assert f"shard {store / 'shard-00002'} is missing" in capsys.readouterr().err
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.fault(
    item=13,
    case="a shard's audio.npy cut short",
    outcome="exit 2 naming the shard's file as damaged or truncated",
)
def test_a_truncated_shard_is_named(stores, tmp_path, capsys):
    store, _ = copy_store(stores, tmp_path)
    audio = store / "shard-00001" / "audio.npy"
    audio.write_bytes(audio.read_bytes()[: audio.stat().st_size // 2])
    assert main(["extract-mfcc", str(store), "-o", str(tmp_path / "m.npz")]) == 2
    err = capsys.readouterr().err
    assert str(audio) in err and "truncated" in err


@pytest.mark.fault(
    item=13,
    case="a stale shard: made from another manifest, or by another version of the code",
    outcome="merge and reader refuse it, naming the shard (never read as if it were this "
    "dataset's)",
)
def test_a_stale_shard_is_refused(stores, tmp_path, capsys):
    store, manifest = copy_store(stores, tmp_path)
    other = tmp_path / "other.csv"
    frame = pd.read_csv(manifest).iloc[::-1]  # the same clips, in reverse order
    frame["path"] = [str(manifest.parent / p) for p in frame["path"]]
    frame.to_csv(other, index=False)
    assert main(["prepare", str(other), "--out-dir", str(tmp_path / "o"), "--shard", "1",
                 "--clips-per-shard", "4"]) == 0  # fmt: skip
    shutil.rmtree(store / "shard-00001")
    shutil.copytree(tmp_path / "o" / "shard-00001", store / "shard-00001")
    # The reader: the shard's clips are not the rows the store gives it.
    assert main(["extract-mfcc", str(store), "-o", str(tmp_path / "m.npz")]) == 2
    assert f"shard {store / 'shard-00001'} does not hold the rows" in capsys.readouterr().err
    # The merge: made from another manifest ...
    assert main(["prepare", str(manifest), "--out-dir", str(store), "--merge"]) == 2
    assert "was made from another manifest" in capsys.readouterr().err
    # ... or by another version of the code.
    shutil.rmtree(store / "shard-00001")
    shutil.copytree(stores[0] / "by4" / "shard-00001", store / "shard-00001")
    record = json.loads((store / "shard-00001" / "shard.json").read_text())
    (store / "shard-00001" / "shard.json").write_text(json.dumps(record | {"code": "0.0.1"}))
    assert main(["prepare", str(manifest), "--out-dir", str(store), "--merge"]) == 2
    assert "was made by musictransfer 0.0.1" in capsys.readouterr().err
