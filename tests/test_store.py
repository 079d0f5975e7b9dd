"""The prepared-audio store: prepare_audio and PreparedDataset."""

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from musictransfer.audio import load_audio
from musictransfer.constants import N_SAMPLES
from musictransfer.datasets.manifest import read_manifest
from musictransfer.datasets.store import PreparedDataset, prepare_audio
from musictransfer.errors import AudioError, ManifestError


def _write_corpus(root, specs):
    """specs: list of (id, seconds, sr, channels). Returns the manifest path."""
    rng = np.random.default_rng(1)
    rows = []
    for clip_id, seconds, sr, channels in specs:
        x = 0.3 * rng.standard_normal((int(seconds * sr), channels))
        sf.write(root / f"{clip_id}.wav", x, sr)
        rows.append({"id": clip_id, "path": f"{clip_id}.wav", "label": f"c{len(rows) % 2}"})
    manifest = root / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest


def test_prepare_roundtrip(tmp_path):
    manifest = _write_corpus(
        tmp_path, [("a", 2.0, 22050, 1), ("b", 1.0, 16000, 2), ("c", 31.0, 12000, 1)]
    )
    out = tmp_path / "prepared"
    prepare_audio(manifest, out, threads=2, progress=False)
    data = PreparedDataset(out)
    assert len(data) == 3
    assert data.ids == ["a", "b", "c"]
    assert data.manifest["label"].tolist() == ["c0", "c1", "c0"]
    assert data.manifest["n_samples"].tolist() == [24000, 12000, 348000]
    np.testing.assert_allclose(data.manifest["duration"], [2.0, 1.0, 29.0])
    for i, clip in enumerate("abc"):
        ref = load_audio(tmp_path / f"{clip}.wav")
        np.testing.assert_allclose(data.signal(i), ref, atol=1.5 / 32767)
        tiled = data.convnet_input(i)
        assert tiled.shape == (N_SAMPLES,)
    # The 1 s clip is tiled: the second second repeats the first.
    b = data.convnet_input(1)
    np.testing.assert_array_equal(b[:12000], b[12000:24000])
    assert not list(out.glob(".*")), "temporary files left behind"


def test_bad_audio_leaves_nothing(tmp_path):
    manifest = _write_corpus(tmp_path, [("a", 1.0, 12000, 1)])
    (tmp_path / "broken.wav").write_bytes(b"RIFF....garbage")
    frame = pd.read_csv(manifest)
    frame.loc[1] = {"id": "broken", "path": "broken.wav", "label": "c1"}
    frame.to_csv(manifest, index=False)
    out = tmp_path / "prepared"
    with pytest.raises(AudioError, match=r"broken.wav"):
        prepare_audio(manifest, out, progress=False)
    assert list(out.iterdir()) == []


def test_manifest_errors(tmp_path):
    bad = tmp_path / "m.csv"
    bad.write_text("name,file\nx,y.wav\n")
    with pytest.raises(ManifestError, match=r"m.csv lacks column\(s\) id, path"):
        read_manifest(bad)
    dup = tmp_path / "d.csv"
    dup.write_text("id,path\nx,a.wav\nx,b.wav\n")
    with pytest.raises(ManifestError, match=r"repeats clip ids: x"):
        read_manifest(dup)
    with pytest.raises(ManifestError, match=r"not found"):
        read_manifest(tmp_path / "missing.csv")
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(ManifestError, match=r"e.csv"):
        read_manifest(empty)


def test_inconsistent_store_is_detected(tmp_path):
    manifest = _write_corpus(tmp_path, [("a", 1.0, 12000, 1)])
    out = tmp_path / "prepared"
    prepare_audio(manifest, out, progress=False)
    np.save(out / "audio.npy", np.zeros(5, dtype="<i2"))
    with pytest.raises(ManifestError, match=r"inconsistent"):
        PreparedDataset(out)
