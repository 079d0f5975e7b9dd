"""The authors' released artefacts: their registry, the one place each file is pinned.

Choi et al. published, with the paper, the features they computed for the six target
datasets (per-layer convnet averages and MFCC vectors), the metadata tables that give
each row's clip, label and split, their per-cell scores and the tagger's weights, in
their GitHub repository ``keunwoochoi/transfer_learning_music``. Reproducing the paper's
tables from these files isolates the evaluation protocol from feature extraction. This
package

- pins every file by the repository commit (:data:`AUTHORS_COMMIT`) and its SHA256 (the
  registry ``data/paper_registry.txt``, kept in the package so that a run never depends
  on anything outside it; :data:`REGISTRY`), and names the six datasets' files
  (:data:`RELEASED_DATASETS`): this module;
- fetches a file, downloaded or from a local mirror, verified:
  :mod:`~musictransfer.datasets.paper.fetch`;
- reads the released metadata tables and feature matrices:
  :mod:`~musictransfer.datasets.paper.tables`;
- converts a dataset's released files into the project's formats, a convnet feature file
  (n x 160, layers 1..5), an MFCC feature file (n x 120) and a labels manifest:
  :mod:`~musictransfer.datasets.paper.convert`.

This module uses the standard library only: the Snakefile reads the registry and the
dataset list in Snakemake's own environment, where NumPy, pandas or pooch may be absent.

The mirror layout is the one of the project's shared copy: ``data_csv/``,
``data_feats/``, ``weights/`` and ``result_transfer/`` (see :data:`REMOTE_PATHS` for the
two weight files, whose place in the authors' repository differs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from musictransfer._typing import PathLike
from musictransfer.constants import N_LAYERS
from musictransfer.errors import DownloadError, ManifestError

AUTHORS_REPOSITORY = "keunwoochoi/transfer_learning_music"
AUTHORS_COMMIT = "e1f83c389ff32ce48551f916414ae869cbe7f6e6"
"""The commit of the authors' repository whose files the project uses (the only place it
is written down)."""
BASE_URL = f"https://raw.githubusercontent.com/{AUTHORS_REPOSITORY}/{AUTHORS_COMMIT}/"
"""Raw URLs at the pinned commit: the files can never change under a run."""

REGISTRY_FILE = Path(__file__).resolve().parents[2] / "data" / "paper_registry.txt"
"""The SHA256 of every released file, in pooch's registry format (package data)."""


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


def registered_hash(path: str) -> str:
    """The registry's SHA256 of the released file ``path``.

    Raises
    ------
    DownloadError
        If ``path`` is not one of the released files.
    """
    if path not in REGISTRY:
        raise DownloadError(
            f"{path!r} is not one of the authors' released files",
            f"see {REGISTRY_FILE} for the known paths",
        )
    return REGISTRY[path]
