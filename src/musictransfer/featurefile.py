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

A representation brought by the user (:mod:`musictransfer.representations`,
:mod:`musictransfer.imported_features`) also has

``layers``
    the names of its layers, in order (possibly none); layer ``k`` of a combination
    such as '13' is the ``k``-th name.
``layer_<name>``
    float array (n, d_name): that layer's embedding, pooled over time.
``representation``
    what made the numbers (a JSON string): the module, its version, options and model
    file's SHA-256, or the imported file's SHA-256.

Its ``features`` are the scene embedding, combination ``scene``. Extractors may add
arrays of their own (the choi2017 port adds its statistics mode and tag probabilities).
This module needs only NumPy: the evaluation (:mod:`musictransfer.cell_files`) and the
import of the authors' released features (:mod:`musictransfer.datasets.paper`) read and
write feature files without the extraction code.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    arrays = {"features": features} | {
        k: np.asarray(v) for k, v in extra.items() if k.startswith("layer_")
    }
    for name, array in arrays.items():
        if array.ndim != 2 or array.shape[0] != len(ids):
            raise ValueError(f"{name} {array.shape} do not match {len(ids)} ids")
        bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
        if bad.size:
            more = f" (and {bad.size - 1} more clip(s))" if bad.size > 1 else ""
            what = "features" if name == "features" else f"{name.removeprefix('layer_')} layer"
            raise MusicTransferError(
                f"{extractor} {what} of clip {ids[bad[0]]} are not finite (NaN or infinite)"
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


@dataclass
class FeatureSet:
    """A feature file's rows, the way evaluation takes combinations of them.

    The paper's convnets store their five layers side by side in ``features`` (32 columns
    each); a representation brought by the user stores its scene embedding there and
    each named layer in an array of its own. Both are read into one shape: ``scene``
    and the list of ``layers``, so that a combination means the same thing for any
    network (:meth:`combo`).
    """

    path: str
    ids: np.ndarray
    scene: np.ndarray
    layers: list[np.ndarray]
    layer_names: list[str]
    extractor: str
    info: dict[str, Any] = field(default_factory=dict)
    """What made the numbers: ``representation`` (a JSON object), where recorded."""

    @property
    def is_convnet(self) -> bool:
        """Whether the file is one of the paper's convnet feature files (160 columns)."""
        return "layers" not in self.info

    def combo(self, combo: str) -> np.ndarray:
        """The float64 matrix of a combination: 'scene', or layer digits such as '135'.

        Raises
        ------
        MusicTransferError
            If the combination names a layer the file does not have.
        """
        if combo == "scene":
            return self._finite(np.asarray(self.scene, dtype=np.float64), combo)
        if not combo.isdigit() or "0" in combo or list(combo) != sorted(set(combo)):
            raise MusicTransferError(
                f"{combo!r} is not a layer combination of {self.path}",
                "give layer digits in increasing order, each once (e.g. '135'), or 'scene'",
            )
        missing = [d for d in combo if int(d) > len(self.layers)]
        if missing:
            raise MusicTransferError(
                f"combination {combo!r} asks for layer {missing[0]}, but {self.path} "
                f"({self.extractor}) has {len(self.layers)} layer(s)"
                + (f": {', '.join(self.layer_names)}" if self.layer_names else ""),
                "list the representation's layers under its `layers` key, or use 'scene'",
            )
        layers = [np.asarray(self.layers[int(d) - 1], np.float64) for d in combo]
        return self._finite(np.hstack(layers), combo)

    def _finite(self, X: np.ndarray, combo: str) -> np.ndarray:
        """``X``, checked: a NaN or infinite value would fail the grid or change a score."""
        bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
        if bad.size:
            raise ManifestError(
                f"feature file {self.path}: clip {str(self.ids[bad[0]])!r} has a NaN or "
                f"infinite value in combination {combo!r} ({bad.size} clip(s) in all)",
                "recompute the feature file",
            )
        return X

    def aligned(self, manifest_ids: Sequence[str], manifest: object) -> FeatureSet:
        """The rows in the manifest's order, each clip exactly once.

        A feature file is joined to its labels by id, never by position: a file whose
        rows are in another order, repeat a clip, miss one or hold one of another
        dataset would otherwise give a score of other folds, of clips tested on
        themselves, or of fewer clips, without a word.

        Raises
        ------
        ManifestError
            Naming the file and the first id that is repeated, missing or extra.
        """
        ids = [str(i) for i in self.ids]
        position: dict[str, int] = {}
        for k, id_ in enumerate(ids):
            if id_ in position:
                raise ManifestError(
                    f"feature file {self.path} holds clip {id_!r} twice (rows {position[id_] + 1} "
                    f"and {k + 1})",
                    "rebuild the feature file with one row per clip",
                )
            position[id_] = k
        wanted = [str(i) for i in manifest_ids]
        missing = next((i for i in wanted if i not in position), None)
        if missing is not None:
            n = sum(i not in position for i in wanted)
            raise ManifestError(
                f"feature file {self.path} has no row for clip {missing!r} of {manifest} "
                f"({n} clip(s) missing)",
                "extract the features of every clip of the dataset",
            )
        if len(ids) != len(wanted):
            extra = next(i for i in ids if i not in set(wanted))
            raise ManifestError(
                f"feature file {self.path} holds clip {extra!r}, which {manifest} does not "
                f"list ({len(ids) - len(wanted)} extra row(s))",
                "the features and the labels come from different datasets: rebuild one of them",
            )
        order = np.array([position[i] for i in wanted], dtype=np.intp)
        if np.array_equal(order, np.arange(len(order))):
            return self
        return FeatureSet(
            self.path,
            self.ids[order],
            self.scene[order],
            [layer[order] for layer in self.layers],
            self.layer_names,
            self.extractor,
            self.info,
        )


def load_feature_set(path: PathLike) -> FeatureSet:
    """Read a feature file as a :class:`FeatureSet` (convnet, MFCC or a representation).

    Raises
    ------
    ManifestError
        If the file is missing, damaged or lacks an array its kind needs.
    """
    path = Path(path)
    scene, ids = load_features(path)
    with np.load(path, allow_pickle=False) as data:
        extractor = str(data["extractor"]) if "extractor" in data.files else ""
        if "layers" not in data.files:  # the paper's convnet (or MFCC): 32 columns a layer
            layers = (
                [scene[:, layer_columns(str(k))] for k in range(1, 6)]
                if scene.ndim == 2 and scene.shape[1] == FEATURE_DIM and extractor != "mfcc"
                else []
            )
            return FeatureSet(str(path), ids, scene, layers, [], extractor)
        names = [str(n) for n in np.atleast_1d(data["layers"])]
        absent = [n for n in names if f"layer_{n}" not in data.files]
        if absent:
            raise ManifestError(
                f"feature file {path} lists layer {absent[0]!r} but has no array "
                f"'layer_{absent[0]}'",
                "delete it and rerun the step that makes it",
            )
        info: dict[str, Any] = {"layers": names}
        if "representation" in data.files:
            info["representation"] = json.loads(str(data["representation"]))
        layers = [data[f"layer_{n}"] for n in names]
    return FeatureSet(str(path), ids, scene, layers, names, extractor, info)


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


def combo_matrix(combo: str, features: FeatureSet | None, mfcc: FeatureSet | None) -> np.ndarray:
    """The float64 matrix of one cell's combination, from feature sets aligned by id.

    'mfcc' is the MFCC vector; 'mfcc+12345' the MFCC vector before the convnet's five
    layers (the authors' order); any other combination is ``features.combo(combo)``.

    Raises
    ------
    MusicTransferError
        If a file needed is absent, the MFCC file is not one (a convnet file given as
        MFCC would be scored as MFCC), or the combination is not the file's.
    """
    if combo in MFCC_COMBOS:
        if mfcc is None:
            raise MusicTransferError(f"combination {combo!r} needs an MFCC feature file")
        if mfcc.extractor != "mfcc":
            raise MusicTransferError(
                f"{mfcc.path} holds {mfcc.extractor or 'unnamed'} features, not MFCC",
                "give the MFCC feature file (extract-mfcc) as --mfcc",
            )
        if combo == "mfcc":
            return mfcc.combo("scene")
        if features is None or not features.is_convnet:
            raise MusicTransferError(
                f"combination {combo!r} needs the paper's convnet features (160 columns)"
            )
        return np.hstack([mfcc.combo("scene"), features.combo("12345")])
    if features is None:
        raise MusicTransferError(f"combination {combo!r} needs a feature file")
    if features.is_convnet and len(features.layers) != 5:
        raise MusicTransferError(
            f"{features.path} has {features.scene.shape[1]} columns, not the convnet's "
            f"{FEATURE_DIM}: it is not a convnet feature file",
            "give the convnet features as --features (and MFCC as --mfcc)",
        )
    return features.combo(combo)


__all__ = [
    "FeatureSet",
    "combo_matrix",
    "layer_columns",
    "load_feature_set",
    "load_features",
    "save_features",
    "select_combo",
]
