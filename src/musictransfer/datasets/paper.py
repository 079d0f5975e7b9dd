"""The authors' released artefacts: download (or mirror), verify, and convert.

Choi et al. published, with the paper, the features they computed for the six target
datasets (per-layer convnet averages and MFCC vectors), the metadata tables that give
each row's clip, label and split, their per-cell scores and the tagger's weights, in
their GitHub repository ``keunwoochoi/transfer_learning_music``. Reproducing the paper's
tables from these files isolates the evaluation protocol from feature extraction, so
this module

- pins every file by the repository commit (:data:`AUTHORS_COMMIT`) and its SHA256 (the
  registry ``data/paper_registry.txt``, kept in the package so that a run never depends
  on anything outside it; :data:`REGISTRY`);
- fetches a file with the one pooch of :func:`released_files` (verified, retried,
  cached), or reads it from a local mirror directory (config key ``mirror``) after the
  same verification: :func:`fetch_released` (a path in place, for the library and the
  pre-trained weights) and :func:`fetch_released_file` (a copy at a given path, for the
  workflow);
- converts a dataset's released files into the project's formats: a convnet feature file
  (n x 160, layers 1..5), an MFCC feature file (n x 120) and a labels manifest.

NumPy, pandas and pooch are imported where used: the Snakefile reads the registry and
the dataset list in Snakemake's own environment.

The mirror layout is the one of the project's shared copy: ``data_csv/``,
``data_feats/``, ``weights/`` and ``result_transfer/`` (see :data:`REMOTE_PATHS` for the
two weight files, whose place in the authors' repository differs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from musictransfer.constants import MFCC_DIM, N_CHANNELS, N_LAYERS
from musictransfer.errors import DownloadError, ManifestError
from musictransfer.fetching import (
    DOWNLOAD_RETRIES,
    check_mirror,
    fetch_verified,
    file_hash,
    place_verified,
)

if TYPE_CHECKING:  # the workflow imports this module where NumPy or pooch may be absent
    import numpy as np
    import pandas as pd
    import pooch

PathLike = str | os.PathLike[str]

AUTHORS_REPOSITORY = "keunwoochoi/transfer_learning_music"
AUTHORS_COMMIT = "e1f83c389ff32ce48551f916414ae869cbe7f6e6"
"""The commit of the authors' repository whose files the project uses (the only place it
is written down)."""
BASE_URL = f"https://raw.githubusercontent.com/{AUTHORS_REPOSITORY}/{AUTHORS_COMMIT}/"
"""Raw URLs at the pinned commit: the files can never change under a run."""

REGISTRY_FILE = Path(__file__).resolve().parents[1] / "data" / "paper_registry.txt"
"""The SHA256 of every released file, in pooch's registry format (package data)."""

DATA_DIR_ENV = "MUSICTRANSFER_DATA_DIR"
"""Environment variable that moves the download cache (like librosa's LIBROSA_DATA_DIR)."""

MIRROR_ENV = "MUSICTRANSFER_MIRROR"
"""Environment variable naming a mirror directory where no ``mirror`` is given."""


def read_registry(path: PathLike = REGISTRY_FILE) -> dict[str, str]:
    """Mirror path -> SHA256 hex digest, from a pooch registry file.

    Read here rather than with ``pooch.Pooch.load_registry`` because the Snakefile needs
    the registry in Snakemake's own environment, where pooch may be absent.
    """
    registry: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, digest = line.split()
        digest = digest.lower().removeprefix("sha256:")
        if len(digest) != 64 or name in registry:
            raise ValueError(f"{path}, line {number}: not a new '<path> <sha256>' entry")
        registry[name] = digest
    return registry


REGISTRY: dict[str, str] = read_registry()
"""SHA256 of every released file, by its path in the mirror layout."""

REMOTE_PATHS: dict[str, str] = {
    "weights/weights_theano.hdf5": "weights_transfer/weights_theano.hdf5",
    "weights/keras2_model_best.hdf5": "keras2_model/model_best.hdf5",
}
"""Mirror paths whose path in the authors' repository differs (all others are equal): the
one place where the mirror layout and the repository's part."""

WEIGHTS_THEANO = "weights/weights_theano.hdf5"
"""The tagger's Keras 1 / Theano weights (:mod:`musictransfer.choi2017` imports them)."""


@dataclass(frozen=True)
class ReleasedDataset:
    """One target dataset as the authors released it.

    Parameters
    ----------
    name
        Our dataset name, the same for the released features and for the audio (the
        real-dataset registry, :mod:`musictransfer.datasets.registry`, takes its target
        names from here): what tasks in config.yaml refer to.
    stem
        The authors' file stem: ``data_csv/<stem>.csv``, ``data_feats/<stem>_layer_<k>.npy``
        (the only place it is written down).
    columns
        Released CSV column -> manifest column, for the labels and split columns kept.
    """

    name: str
    stem: str
    columns: dict[str, str] = field(default_factory=lambda: {"label": "label"})

    @property
    def csv(self) -> str:
        """Mirror path of the metadata table."""
        return f"data_csv/{self.stem}.csv"

    @property
    def layers(self) -> tuple[str, ...]:
        """Mirror paths of the five per-layer features, layer 1 (file ``_layer_0``) first."""
        return tuple(f"data_feats/{self.stem}_layer_{k}.npy" for k in range(N_LAYERS))

    @property
    def mfcc(self) -> str | None:
        """Mirror path of the MFCC features, or None where none was released."""
        path = f"data_feats/{self.stem}_mfcc.npy"
        return path if path in REGISTRY else None

    @property
    def files(self) -> tuple[str, ...]:
        """Every released file of the dataset."""
        return (self.csv, *self.layers, *((self.mfcc,) if self.mfcc else ()))


RELEASED_DATASETS: dict[str, ReleasedDataset] = {
    d.name: d
    for d in (
        ReleasedDataset("ballroom", "ballroom_extended"),
        ReleasedDataset("gtzan_genre", "gtzan_genre"),
        ReleasedDataset("gtzan_speech_music", "gtzan_speechmusic"),
        ReleasedDataset(
            "emomusic", "emoMusic", {"label_arousal": "arousal", "label_valence": "valence"}
        ),
        ReleasedDataset("jamendo_vocal", "jamendo_vd", {"label": "label", "category": "category"}),
        ReleasedDataset("urbansound8k", "urbansound", {"label": "label", "fold": "fold"}),
    )
}
"""The six target datasets. UrbanSound8K has no released MFCC file (the blob is not
retrievable from the authors' repository), so its MFCC cells cannot be replicated."""


def released_dataset(name: str) -> ReleasedDataset:
    """The :class:`ReleasedDataset` called ``name``, with a clear error if unknown."""
    try:
        return RELEASED_DATASETS[name]
    except KeyError:
        raise ManifestError(
            f"no released features for dataset {name!r}",
            f"the authors released: {', '.join(RELEASED_DATASETS)}",
        ) from None


def url_of(path: str, base_url: str = BASE_URL) -> str:
    """The download URL of a registry file (``base_url`` + its path in the authors' repo)."""
    return base_url.rstrip("/") + "/" + REMOTE_PATHS.get(path, path)


def _known_hash(path: str) -> str:
    if path not in REGISTRY:
        raise DownloadError(
            f"{path!r} is not one of the authors' released files",
            f"see {REGISTRY_FILE} for the known paths",
        )
    return REGISTRY[path]


def released_files(
    cache: PathLike | None = None, base_url: str = BASE_URL, retries: int = DOWNLOAD_RETRIES
) -> pooch.Pooch:
    """The pooch that fetches the released files: the registry, the pinned URLs, retries.

    Files land in ``cache`` under their mirror-layout path, so a cache directory can
    serve as a ``mirror`` too.

    Parameters
    ----------
    cache
        Download directory. Default: ``$MUSICTRANSFER_DATA_DIR`` if set (as librosa reads
        ``LIBROSA_DATA_DIR``), else the user's cache directory, one subdirectory per
        pinned commit.
    base_url
        Where the authors' repository files are served (tests use a local server).
    retries
        Extra download attempts.
    """
    import pooch

    default = Path(pooch.os_cache("musictransfer")) / AUTHORS_COMMIT[:12]
    return pooch.create(
        path=default if cache is None else Path(cache),
        env=DATA_DIR_ENV if cache is None else None,
        base_url=base_url,
        registry=dict(REGISTRY),
        urls={path: url_of(path, base_url) for path in REMOTE_PATHS},
        retry_if_failed=retries,
    )


def fetch_released(
    path: str,
    mirror: PathLike | None = None,
    cache: PathLike | None = None,
    download: bool = True,
    base_url: str = BASE_URL,
    retries: int = DOWNLOAD_RETRIES,
) -> Path:
    """A verified local copy of the released file ``path``: the mirror's, else the cache's.

    A mirror copy is read in place; otherwise the file is taken from the cache, downloaded
    there first if needed. Whatever the source, the SHA256 is checked against the
    registry, so a stale or corrupt copy is never used silently.

    Parameters
    ----------
    path
        Mirror-layout path, e.g. ``'weights/weights_theano.hdf5'``.
    mirror
        Directory laid out like the authors' repository (``<mirror>/<path>``, or the file
        directly in it); default ``$MUSICTRANSFER_MIRROR``.
    cache
        Download directory (default: see :func:`released_files`).
    download
        Whether a download may be attempted.
    base_url, retries
        As for :func:`released_files`.

    Raises
    ------
    DownloadError
        If ``path`` is unknown, the mirror copy has the wrong checksum, or the file is not
        cached and cannot be (or may not be) downloaded.
    """
    _known_hash(path)
    key = "mirror" if mirror else MIRROR_ENV
    mirror = mirror or os.environ.get(MIRROR_ENV) or None
    local = _in_mirror(path, mirror, key)
    if local is not None:
        return local
    fetcher = released_files(cache, base_url, retries)
    target = Path(fetcher.abspath) / path
    if not download and not target.is_file():
        raise DownloadError(
            f"{path} is neither in the mirror ({mirror}) nor in the cache ({fetcher.abspath})",
            f"download it from {url_of(path)}, or pass its path",
        )
    return _download(fetcher, path, target, mirror)


def fetch_released_file(
    path: str,
    out: PathLike,
    mirror: PathLike | None = None,
    base_url: str = BASE_URL,
    retries: int = DOWNLOAD_RETRIES,
) -> Path:
    """Put the released file ``path`` at ``out``, verified against its SHA256.

    A copy in ``mirror`` (same layout) is copied when present; otherwise the file is
    downloaded with :func:`released_files` into a private directory beside ``out`` and
    moved into place, so nothing outside ``out`` is written (a workflow output stays in
    the workflow's sight). If ``out`` already holds the right file, nothing is fetched.

    Parameters
    ----------
    path
        Mirror-layout path, e.g. ``'data_feats/gtzan_genre_layer_0.npy'``.
    out
        Destination file.
    mirror
        Directory of local copies, or None to download.
    base_url, retries
        As for :func:`released_files`.

    Raises
    ------
    DownloadError
        On a checksum mismatch (naming the file; nothing is left at ``out``) or a failed
        download (with what to do instead).
    """
    out = Path(out)
    return place_verified(
        out,
        _known_hash(path),
        _in_mirror(path, mirror),
        lambda staging: _download(released_files(staging, base_url, retries), path, out, mirror),
    )


def _in_mirror(path: str, mirror: PathLike | None, key: str = "mirror") -> Path | None:
    """The mirror's copy of ``path`` (``<mirror>/<path>`` or flat), checked; None if absent.

    Raises
    ------
    DownloadError
        If the copy's SHA256 is not the registry's.
    """
    if not mirror:
        return None
    mirror = check_mirror(mirror, key)
    expected = _known_hash(path)
    for candidate in (Path(mirror) / path, Path(mirror) / Path(path).name):
        if candidate.is_file():
            actual = file_hash(candidate)
            if actual != expected:
                raise DownloadError(
                    f"checksum mismatch for {candidate}: SHA-256 {actual}, expected {expected}",
                    "the mirror copy is corrupt or a different version: replace it with the "
                    f"file from {url_of(path)}",
                )
            return candidate
    return None


def _download(
    fetcher: pooch.Pooch, path: str, destination: Path, mirror: PathLike | None = None
) -> Path:
    """Fetch ``path`` with ``fetcher`` (:func:`musictransfer.fetching.fetch_verified`)."""
    return fetch_verified(
        fetcher,
        path,
        destination,
        mirror,
        mirror_key=f"the config key 'mirror' (or {MIRROR_ENV})",
        layout="data_csv/, data_feats/, weights/, result_transfer/",
    )


# --- conversion ---------------------------------------------------------------------------


def released_manifest(csv: PathLike, dataset: ReleasedDataset) -> pd.DataFrame:
    """The labels manifest of a released metadata table, rows in the table's order.

    The id is the clip's file name without extension (the tables' own ``id`` column is
    not unique: for GTZAN genre it is the genre name); ``path`` keeps the authors'
    relative audio path, and the label and split columns are renamed per ``dataset``.

    Raises
    ------
    ManifestError
        If a needed column is missing or the ids are not unique.
    """
    import pandas as pd

    table = pd.read_csv(csv, index_col=0, dtype={"filepath": str}, keep_default_na=False)
    missing = [c for c in ["filepath", *dataset.columns] if c not in table.columns]
    if missing:
        raise ManifestError(
            f"{csv} lacks column(s) {', '.join(missing)}",
            "the file is not the authors' metadata table for this dataset",
        )
    paths = table["filepath"].astype(str)
    ids = paths.map(lambda p: Path(p).stem)
    if not ids.is_unique:
        ids = paths.map(lambda p: str(Path(p).with_suffix("")))
    if not ids.is_unique:
        dup = ids[ids.duplicated()].iloc[0]
        raise ManifestError(f"{csv} lists the clip {dup!r} twice", "every row needs its own file")
    manifest = pd.DataFrame({"id": ids.to_numpy(), "path": paths.to_numpy()})
    for source, target in dataset.columns.items():
        manifest[target] = table[source].to_numpy()
    return manifest


def load_layers(layer_files: list[PathLike] | tuple[PathLike, ...], n_rows: int) -> np.ndarray:
    """Stack the five per-layer files into an (n, 160) matrix, layer 1 first.

    Raises
    ------
    ManifestError
        If a file does not hold an (n_rows, 32) array.
    """
    if len(layer_files) != N_LAYERS:
        raise ManifestError(f"expected {N_LAYERS} layer files, got {len(layer_files)}")
    import numpy as np

    blocks = [_load_matrix(f, n_rows, N_CHANNELS) for f in layer_files]
    return np.hstack(blocks)


def _load_matrix(path: PathLike, n_rows: int, n_cols: int) -> np.ndarray:
    import numpy as np

    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:  # truncated or not an .npy file
        raise ManifestError(
            f"cannot read {path}: damaged, truncated or not an .npy file ({type(exc).__name__})",
            "delete it and fetch it again (musictransfer fetch-paper-file)",
        ) from exc
    if array.shape != (n_rows, n_cols):
        raise ManifestError(
            f"{path} holds an array of shape {array.shape}, expected ({n_rows}, {n_cols})",
            "the feature file and the metadata table do not belong together",
        )
    return array


def load_released(
    root: PathLike, dataset: str
) -> tuple[np.ndarray, np.ndarray | None, pd.DataFrame]:
    """A dataset's released features and labels, read from a mirror-layout directory.

    For scripts and tests that evaluate the released features directly (the workflow
    converts them with :func:`import_released` instead): the same loaders, the same
    checks.

    Returns
    -------
    convnet, mfcc, manifest
        The (n, 160) layer features (layer 1 first), the (n, 120) MFCC features or None
        where none was released, and the labels manifest, all in the table's row order.
    """
    spec = released_dataset(dataset)
    root = Path(root)
    manifest = released_manifest(root / spec.csv, spec)
    convnet = load_layers([root / f for f in spec.layers], len(manifest))
    mfcc = _load_matrix(root / spec.mfcc, len(manifest), MFCC_DIM) if spec.mfcc else None
    return convnet, mfcc, manifest


def import_released(
    dataset: str,
    csv: PathLike,
    layers: list[PathLike] | tuple[PathLike, ...] | None = None,
    mfcc: PathLike | None = None,
    features_out: PathLike | None = None,
    mfcc_out: PathLike | None = None,
    manifest_out: PathLike | None = None,
) -> pd.DataFrame:
    """Convert a dataset's released files into feature files and a labels manifest.

    Every output keeps the rows in the order of the released table, with the manifest's
    ids, so that the evaluation aligns features and labels by id as for any dataset.

    Parameters
    ----------
    dataset
        Our dataset name (a key of :data:`RELEASED_DATASETS`).
    csv
        The released metadata table.
    layers, features_out
        The five per-layer ``.npy`` files and the convnet feature file to write.
    mfcc, mfcc_out
        The released MFCC ``.npy`` and the MFCC feature file to write.
    manifest_out
        The labels manifest (CSV) to write.

    Returns
    -------
    pandas.DataFrame
        The labels manifest.
    """
    from musictransfer.featurefile import save_features
    from musictransfer.files import atomic_path

    spec = released_dataset(dataset)
    manifest = released_manifest(csv, spec)
    ids = manifest["id"].tolist()
    if features_out is not None:
        if layers is None:
            raise ManifestError(f"{features_out} needs the five layer files")
        conv = load_layers(layers, len(ids))
        save_features(features_out, conv, ids, extractor="choi2017", source="released")
    if mfcc_out is not None:
        if mfcc is None:
            raise ManifestError(
                f"{features_out} needs the MFCC file", f"{dataset} has no released MFCC"
            )
        save_features(mfcc_out, _load_matrix(mfcc, len(ids), MFCC_DIM), ids, extractor="mfcc")
    if manifest_out is not None:
        with atomic_path(manifest_out) as tmp:
            manifest.to_csv(tmp, index=False)
    return manifest
