"""Features: the convnet feature, the MFCC baseline, and layer-combination selection.

Feature files are ``.npz`` archives with

``features``
    float array, one row per clip: (n, 160) for a convnet (layers 1..5, 32 values each,
    in order) or (n, 120) for MFCC.
``ids``
    the clip ids, in the same order as the rows.
``extractor``
    the extractor's name ('random', 'tagger-<source>', 'choi2017' or 'mfcc').
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from musictransfer.constants import (
    FEATURE_DIM,
    MFCC_COMBOS,
    MFCC_DIM,
    MFCC_MIN_SAMPLES,
    N_CHANNELS,
    N_MFCC,
    SAMPLE_RATE,
)
from musictransfer.errors import ManifestError
from musictransfer.files import write_npz


def mfcc_vector(signal: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The paper's MFCC baseline vector (120 values) of one unpadded clip.

    20 MFCCs (librosa defaults at 12 kHz), their first and second differences taken as
    plain frame differences (``m[:, 1:] - m[:, :-1]``, as the authors' code; not
    librosa's delta filter), then the mean and standard deviation over time of each,
    ordered mean(mfcc), std(mfcc), mean(d), std(d), mean(dd), std(dd). A signal shorter
    than 1,024 samples is zero-padded to that length, as the authors did.

    Parameters
    ----------
    signal
        1-D float signal at ``sr`` Hz, not tiled.
    sr
        Sampling rate in Hz.
    """
    import librosa

    y = np.asarray(signal, dtype=np.float32)
    if y.size < MFCC_MIN_SAMPLES:
        y = np.pad(y, (0, MFCC_MIN_SAMPLES - y.size))
    with warnings.catch_warnings():
        # Clips under 2,048 samples (librosa's n_fft) get a shorter-than-window STFT,
        # exactly as in the authors' code; the warning would only add noise to logs.
        warnings.filterwarnings("ignore", message="n_fft=.* is too large", category=UserWarning)
        mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=N_MFCC)
    d1 = np.diff(mfcc, axis=1)
    d2 = np.diff(d1, axis=1)
    parts = []
    for m in (mfcc, d1, d2):
        parts.append(m.mean(axis=1) if m.shape[1] else np.zeros(N_MFCC))
        parts.append(m.std(axis=1) if m.shape[1] else np.zeros(N_MFCC))
    return np.concatenate(parts).astype(np.float64)


def extract_mfcc(
    dataset_dir: str | os.PathLike[str], out: str | os.PathLike[str], progress: bool = True
) -> None:
    """Compute the MFCC vector of every clip of a prepared dataset into a feature file."""
    from tqdm import tqdm

    from musictransfer.datasets.store import PreparedDataset

    data = PreparedDataset(dataset_dir)
    rows = [
        mfcc_vector(data.signal(i))
        for i in tqdm(range(len(data)), desc="mfcc", disable=not progress)
    ]
    save_features(out, np.stack(rows), data.ids, extractor="mfcc")


def save_features(
    path: str | os.PathLike[str],
    features: np.ndarray,
    ids: list[str],
    extractor: str,
    **extra: object,
) -> None:
    """Write a feature file (atomically)."""
    features = np.asarray(features)
    if features.ndim != 2 or features.shape[0] != len(ids):
        raise ValueError(f"features {features.shape} do not match {len(ids)} ids")
    if not np.all(np.isfinite(features)):
        raise ValueError(f"non-finite features for {path}")
    write_npz(path, features=features, ids=np.asarray(ids, dtype=str), extractor=extractor, **extra)


def load_features(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read a feature file: ``(features, ids)``."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"feature file not found: {path}", "run the extraction step first")
    with np.load(path, allow_pickle=False) as data:
        return data["features"], data["ids"]


def layer_columns(combo: str, n_channels: int = N_CHANNELS) -> np.ndarray:
    """Column indices of a convnet feature for a layer combination such as '135'."""
    return np.concatenate(
        [np.arange((int(d) - 1) * n_channels, int(d) * n_channels) for d in combo]
    )


def select_combo(combo: str, convnet: np.ndarray | None, mfcc: np.ndarray | None) -> np.ndarray:
    """The feature matrix of one layer combination.

    Parameters
    ----------
    combo
        '1'...'12345' (convnet layers), 'mfcc', or 'mfcc+12345' (the MFCC vector
        concatenated *before* the five layers, as the authors did).
    convnet
        (n, 160) convnet features, or None when only MFCC is needed.
    mfcc
        (n, 120) MFCC vectors, or None when not needed.
    """
    if combo in MFCC_COMBOS:
        if mfcc is None:
            raise ValueError(f"combination {combo!r} needs MFCC features")
        if combo == "mfcc":
            return np.asarray(mfcc, dtype=np.float64)
        convnet_part = select_combo("12345", convnet, None)
        return np.hstack([np.asarray(mfcc, dtype=np.float64), convnet_part])
    if convnet is None:
        raise ValueError(f"combination {combo!r} needs convnet features")
    if convnet.shape[1] != FEATURE_DIM:
        raise ValueError(
            f"convnet features have {convnet.shape[1]} columns, expected {FEATURE_DIM}"
        )
    return np.asarray(convnet[:, layer_columns(combo)], dtype=np.float64)


__all__ = [
    "FEATURE_DIM",
    "MFCC_DIM",
    "extract_mfcc",
    "layer_columns",
    "load_features",
    "mfcc_vector",
    "save_features",
    "select_combo",
]
