"""The MFCC baseline against the authors' recipe written out independently with librosa."""

import numpy as np
import pandas as pd

from musictransfer.datasets.store import PreparedDataset, prepare_audio
from musictransfer.featurefile import load_features
from musictransfer.features import extract_mfcc, mfcc_vector


def authors_mfcc(path):
    """The recipe of the authors' code (README of ../shared/paper), from the file."""
    import librosa

    y, sr = librosa.load(path, sr=12000, duration=29)
    if len(y) < 1024:
        y = np.concatenate([y, np.zeros(1024 - len(y), dtype=y.dtype)])
    m = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
    d = m[:, 1:] - m[:, :-1]
    dd = d[:, 1:] - d[:, :-1]
    return np.concatenate([m.mean(1), m.std(1), d.mean(1), d.std(1), dd.mean(1), dd.std(1)])


def test_mfcc_vector_matches_recipe_on_float_signal(shared_audio):
    import librosa

    path = shared_audio / "Kevin_MacLeod_-_Vibe_Ace.ogg"
    y, _ = librosa.load(path, sr=12000, duration=29)
    np.testing.assert_allclose(mfcc_vector(y), authors_mfcc(path), rtol=1e-4, atol=1e-3)


def test_mfcc_dimensions_and_order(shared_audio):
    import librosa

    y, _ = librosa.load(shared_audio / "198-209-0000.ogg", sr=12000)
    v = mfcc_vector(y)
    m = librosa.feature.mfcc(y=y, sr=12000, n_mfcc=20)
    assert v.shape == (120,)
    np.testing.assert_allclose(v[:20], m.mean(1), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(v[20:40], m.std(1), rtol=1e-5, atol=1e-4)


def test_short_clip_is_zero_padded_to_1024():
    short = np.random.default_rng(0).standard_normal(300).astype(np.float32) * 0.1
    padded = np.concatenate([short, np.zeros(724, dtype=np.float32)])
    np.testing.assert_allclose(mfcc_vector(short), mfcc_vector(padded))


def test_extract_mfcc_through_the_store(tmp_path, shared_audio):
    names = [
        "sorohanro_-_solo-trumpet-06.ogg",
        "456440__inspectorj__bird-whistling-robin-single-13.ogg",
    ]
    frame = pd.DataFrame(
        {"id": ["trumpet", "robin"], "path": [str(shared_audio / n) for n in names]}
    )
    frame.to_csv(tmp_path / "m.csv", index=False)
    prepare_audio(tmp_path / "m.csv", tmp_path / "prep", progress=False)
    extract_mfcc(tmp_path / "prep", tmp_path / "mfcc.npz", progress=False)
    feats, ids = load_features(tmp_path / "mfcc.npz")
    assert feats.shape == (2, 120)
    assert ids.tolist() == ["trumpet", "robin"]
    for row, name in zip(feats, names, strict=True):
        # int16 storage: agreement to a small fraction of each coefficient's scale.
        ref = authors_mfcc(shared_audio / name)
        np.testing.assert_allclose(row, ref, rtol=2e-2, atol=0.5)
    assert np.isfinite(feats).all()
    data = PreparedDataset(tmp_path / "prep")
    np.testing.assert_allclose(feats[0], mfcc_vector(data.signal(0)))
