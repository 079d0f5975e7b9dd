"""Features computed elsewhere, brought in as a representation (``features:`` in the config).

A researcher with embeddings already computed gives them as

- an ``.npz`` archive with ``ids`` (strings) and ``X``: ``(n, d)``, or frames ``(n, T, d)``;
- or a folder of ``<id>.npy`` files (subfolders are part of the id), each ``(d,)`` or
  ``(T, d)``.

:func:`import_features` checks them against the dataset's manifest and writes the
project's feature file (:mod:`musictransfer.featurefile`), rows in the manifest's order,
so that everything downstream (cells, probes, report) treats them as any extractor's.
The checks are the point: a missing, repeated or extra clip, a NaN, or a dimension that
differs between a representation's files is an error naming the file and the first
offending id, before any cell is written, because each of them would otherwise give a
plausible score of the wrong thing.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from musictransfer._typing import PathLike
from musictransfer.config.representations import POOLINGS
from musictransfer.datasets.manifest import read_manifest
from musictransfer.errors import ManifestError
from musictransfer.featurefile import FeatureSet, save_features
from musictransfer.fetching import file_hash


def pool(frames: np.ndarray, pooling: str) -> np.ndarray:
    """One vector per clip from frames ``(n, T, d)``: mean, max, or mean then std."""
    if pooling == "mean":
        return frames.mean(axis=1)
    if pooling == "max":
        return frames.max(axis=1)
    if pooling == "meanstd":
        return np.concatenate([frames.mean(axis=1), frames.std(axis=1)], axis=1)
    raise ValueError(f"unknown pooling {pooling!r}; use one of {', '.join(POOLINGS)}")


def read_source(source: PathLike, pooling: str = "mean") -> tuple[list[str], np.ndarray]:
    """``(ids, X)`` of a features file or folder, frames pooled, as float64.

    Raises
    ------
    ManifestError
        If the source does not exist, lacks ``ids`` or ``X``, has arrays of the wrong
        shape or type, or (a folder) files of different dimensions, naming the file.
    """
    source = Path(source)
    if source.is_dir():
        return _read_folder(source, pooling)
    if not source.is_file():
        raise ManifestError(
            f"features {source} do not exist", "set the representation's `features` path"
        )
    try:
        with np.load(source, allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ManifestError(
                    f"{source} is one array, not an .npz with `ids` and `X`",
                    "save it with np.savez(path, ids=ids, X=X), or as a folder of <id>.npy",
                )
            missing = [k for k in ("ids", "X") if k not in data.files]
            if missing:
                raise ManifestError(
                    f"features file {source} has no array {missing[0]!r} (it has: "
                    f"{', '.join(data.files)})",
                    "save it with np.savez(path, ids=ids, X=X)",
                )
            ids, X = data["ids"], data["X"]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ManifestError(
            f"cannot read features file {source}: {type(exc).__name__}: {exc}",
            "check the file (np.savez with arrays ids and X; no pickled objects)",
        ) from exc
    if ids.ndim != 1 or ids.dtype.kind not in "US":
        raise ManifestError(
            f"features file {source}: `ids` is {ids.dtype} of shape {ids.shape}, not "
            "one string per clip",
            "save the ids as an array of strings",
        )
    if X.dtype.kind not in "fiu" or X.ndim not in (2, 3) or len(X) != len(ids):
        raise ManifestError(
            f"features file {source}: `X` is {X.dtype} of shape {X.shape}; expected real "
            f"numbers (n, d) or frames (n, T, d) with n = {len(ids)} (the ids)",
            "save one row per id",
        )
    X = np.asarray(X, dtype=np.float64)
    return [str(i) for i in ids], pool(X, pooling) if X.ndim == 3 else X


def _read_folder(folder: Path, pooling: str) -> tuple[list[str], np.ndarray]:
    files = sorted(folder.rglob("*.npy"))
    if not files:
        raise ManifestError(f"features folder {folder} holds no .npy file")
    ids, rows, first = [], [], None
    for path in files:
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise ManifestError(f"cannot read {path}: {type(exc).__name__}: {exc}") from exc
        if array.dtype.kind not in "fiu" or array.ndim not in (1, 2) or 0 in array.shape:
            raise ManifestError(
                f"{path} is {array.dtype} of shape {array.shape}: expected real numbers "
                "(d,) or frames (T, d)",
                "save one clip's embedding per file",
            )
        array = np.asarray(array, dtype=np.float64)
        row = pool(array[None], pooling)[0] if array.ndim == 2 else array
        if first is None:
            first = (path, row.shape)
        elif row.shape != first[1]:
            raise ManifestError(
                f"{path} has dimension {row.shape[0]}, {first[0]} has {first[1][0]}",
                "give every clip an embedding of the same size",
            )
        ids.append(path.relative_to(folder).with_suffix("").as_posix())
        rows.append(row)
    return ids, np.stack(rows)


def source_hash(source: PathLike) -> str:
    """SHA-256 of a features file, or of a folder's (relative name, file hash) list."""
    source = Path(source)
    if source.is_file():
        return file_hash(source)
    digest = hashlib.sha256()
    for path in sorted(source.rglob("*.npy")):
        digest.update(f"{path.relative_to(source).as_posix()}\0{file_hash(path)}\n".encode())
    return digest.hexdigest()


def import_features(
    source: PathLike,
    manifest: PathLike,
    name: str,
    out: PathLike,
    pooling: str = "mean",
    siblings: Sequence[PathLike] = (),
) -> FeatureSet:
    """Rule ``import_features``: check a features source and write it as a feature file.

    Parameters
    ----------
    source
        The ``.npz`` or folder of ``.npy`` (see the module's docstring).
    manifest
        The dataset's labels manifest: its ids are the clips the file must hold.
    name
        The representation's name (the feature file's ``extractor``).
    out
        The feature file to write, rows in the manifest's order.
    pooling
        How frames are pooled: 'mean', 'max' or 'meanstd'.
    siblings
        The representation's sources for its other datasets: each must have the same
        dimension, since one representation cannot be two sizes.

    Raises
    ------
    ManifestError
        Naming the file and the first offending id: missing, repeated or extra ids,
        non-finite values, a dimension that differs from a sibling's.
    """
    ids, X = read_source(source, pooling)
    for other in siblings:
        if Path(other) != Path(source):
            _, Y = read_source(other, pooling)
            if Y.shape[1] != X.shape[1]:
                raise ManifestError(
                    f"features {source} have dimension {X.shape[1]}, {other} (the same "
                    f"representation, another dataset) {Y.shape[1]}",
                    "give every dataset's features from the same model and pooling",
                )
    frame = read_manifest(manifest, required=("id",))
    fs = FeatureSet(str(source), np.asarray(ids), X, [], [], name, {"layers": []})
    fs = fs.aligned(frame["id"].astype(str).tolist(), manifest)
    bad = np.flatnonzero(~np.isfinite(fs.scene).all(axis=1))
    if len(bad):
        raise ManifestError(
            f"features {source}: clip {str(fs.ids[bad[0]])!r} has a NaN or infinite value "
            f"({len(bad)} clip(s) in all)",
            "recompute those clips' features",
        )
    representation = {"features": str(source), "sha256": source_hash(source), "pooling": pooling}
    save_features(
        out,
        fs.scene,
        [str(i) for i in fs.ids],
        extractor=name,
        layers=np.asarray([], dtype=str),
        representation=json.dumps(representation, sort_keys=True),
    )
    return fs


__all__ = ["POOLINGS", "import_features", "pool", "read_source", "source_hash"]
