"""The feature-file format, and the layer combinations taken from its rows.

Feature files are ``.npz`` archives with

``features``
    float array, one row per clip: (n, 160) for a convnet (layers 1..5, 32 values each,
    in order) or (n, 120) for MFCC.
``ids``
    the clip ids, in the same order as the rows.
``extractor``
    the extractor's name ('random', 'tagger-<source>', 'choi2017' or 'mfcc').
``provenance``
    the code that wrote it (a JSON string, :func:`musictransfer.provenance.provenance`).

Extractors may add arrays of their own (the choi2017 port adds its statistics mode and
tag probabilities). This module needs only NumPy: the evaluation
(:mod:`musictransfer.cell_files`) and the import of the authors' released features
(:mod:`musictransfer.datasets.paper`) read and write feature files without the
extraction code.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from musictransfer._typing import PathLike
from musictransfer.constants import FEATURE_DIM, MFCC_COMBOS, N_CHANNELS
from musictransfer.errors import ManifestError, MusicTransferError
from musictransfer.outputs import write_npz
from musictransfer.provenance import provenance


def save_features(
    path: PathLike,
    features: np.ndarray,
    ids: list[str],
    extractor: str,
    **extra: object,
) -> None:
    """Write a feature file (atomically), with the provenance of the code that made it.

    Never one that holds NaN or infinite values: an SVM fitted on them would fail or,
    worse, score something else. ``provenance`` is a JSON string
    (:func:`musictransfer.provenance.provenance`): a feature file outlives the code that
    wrote it, and the scores computed from it are only as citable as it is.

    Raises
    ------
    MusicTransferError
        If a clip's features are not finite, naming the clip (the first one, and how
        many more).
    """
    features = np.asarray(features)
    if features.ndim != 2 or features.shape[0] != len(ids):
        raise ValueError(f"features {features.shape} do not match {len(ids)} ids")
    bad = np.flatnonzero(~np.isfinite(features).all(axis=1))
    if bad.size:
        more = f" (and {bad.size - 1} more clip(s))" if bad.size > 1 else ""
        raise MusicTransferError(
            f"{extractor} features of clip {ids[bad[0]]} are not finite (NaN or infinite)"
            f"{more}; {path} was not written",
            "check that clip's audio and the model file",
        )
    write_npz(
        path,
        features=features,
        ids=np.asarray(ids, dtype=str),
        extractor=extractor,
        provenance=json.dumps(provenance(), sort_keys=True),
        **extra,
    )


def load_features(path: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a feature file: ``(features, ids)``."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"feature file not found: {path}", "run the extraction step first")
    redo = "delete it and rerun the extraction step that makes it"
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ManifestError(f"{path} is not a feature file (an .npz archive)", redo)
        with data:
            missing = [k for k in ("features", "ids") if k not in data.files]
            if missing:
                raise ManifestError(f"{path} is not a feature file: no {missing[0]!r} array", redo)
            return data["features"], data["ids"]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        # A truncated archive (a job killed while copying, a full disk) fails here.
        raise ManifestError(
            f"cannot read feature file {path}: damaged or truncated ({type(exc).__name__})", redo
        ) from exc


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
    "layer_columns",
    "load_features",
    "save_features",
    "select_combo",
]
