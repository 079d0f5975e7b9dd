"""The authors' released artefacts: download (or mirror), verify, and convert.

Choi et al. published, with the paper, the features they computed for the six target
datasets (per-layer convnet averages and MFCC vectors), the metadata tables that give
each row's clip, label and split, and the tagger's weights, in their GitHub repository
``keunwoochoi/transfer_learning_music``. Reproducing the paper's tables from these files
isolates the evaluation protocol from feature extraction, so this module

- pins every file by the repository commit and its SHA256 (:data:`REGISTRY`, data kept
  in the package so that a run never depends on anything outside it);
- fetches a file with pooch (verified, retried, cached), or copies it from a local
  mirror directory (config key ``mirror``) after the same verification;
- converts a dataset's released files into the project's formats: a convnet feature file
  (n x 160, layers 1..5), an MFCC feature file (n x 120) and a labels manifest.

NumPy, pandas and pooch are imported where used: the Snakefile reads the registry and
the dataset list in Snakemake's own environment.

The mirror layout is the one of the project's shared copy: ``data_csv/``,
``data_feats/`` and ``weights/`` (see :data:`REMOTE_PATHS` for the two weight files,
whose place in the authors' repository differs).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from musictransfer.config import check_mirror
from musictransfer.constants import MFCC_DIM, N_CHANNELS, N_LAYERS
from musictransfer.errors import DownloadError, ManifestError

if TYPE_CHECKING:  # the workflow imports this module where NumPy may be absent
    import numpy as np
    import pandas as pd

PathLike = str | os.PathLike[str]

AUTHORS_REPOSITORY = "keunwoochoi/transfer_learning_music"
AUTHORS_COMMIT = "e1f83c389ff32ce48551f916414ae869cbe7f6e6"
BASE_URL = f"https://raw.githubusercontent.com/{AUTHORS_REPOSITORY}/{AUTHORS_COMMIT}/"
"""Raw URLs at the pinned commit: the files can never change under a run."""

DOWNLOAD_RETRIES = 3
"""Extra attempts after a failed download (network errors, truncated transfers)."""

REGISTRY: dict[str, str] = {
    "data_csv/ballroom_extended.csv": (
        "a8961f6db281afa34e73d18926ef7e2feb5aea36fb394975ff930f17ed810b5c"
    ),
    "data_csv/emoMusic.csv": "c14b73403377b666a50bb849b557078b81df271cc091f6dc357a78773978aa16",
    "data_csv/gtzan_genre.csv": (
        "fe4f54451f5b2f1341b396bdd34986420d53229feff881b0dec2e82e6e3f7314"
    ),
    "data_csv/gtzan_speechmusic.csv": (
        "2fced0e24eeff2607552c369e1b0c991963c73ff1fff6bd382431e822a7c0c83"
    ),
    "data_csv/jamendo_vd.csv": "4ae120135e1a20b95a4a2b19760174e2f53987e9ece1aa3faec0c8e4527e81d5",
    "data_csv/urbansound.csv": "c76f78eeb25984444b001e9df438573fc7aa564e1d6e852ecb8febf68da0ff6b",
    "data_feats/ballroom_extended_layer_0.npy": (
        "1130d41b4956fefe1d937560e3912a963ba55c7f5cec3d4aab15765f0d4302ef"
    ),
    "data_feats/ballroom_extended_layer_1.npy": (
        "b050010e5008868522798cce67ff9b259db69407cd4d1b446dcb104a3f1155c6"
    ),
    "data_feats/ballroom_extended_layer_2.npy": (
        "7892d2ad7d456d4271b21ca065e775e0bfa0e62784b2fe615a19c1fc09936ae7"
    ),
    "data_feats/ballroom_extended_layer_3.npy": (
        "4dabfa6e4345efa0a7ff256523fbb7bea4159fb193bf95d6aa4b37c2cb7d6895"
    ),
    "data_feats/ballroom_extended_layer_4.npy": (
        "dade71e1d00f5d9b2927cefcea6f61a86532178344832f4a5b26aa36ffe920dc"
    ),
    "data_feats/ballroom_extended_mfcc.npy": (
        "241e92222ec6ddd8d975c4bfb2328405095abe9bab688e30509619e75e27b291"
    ),
    "data_feats/emoMusic_layer_0.npy": (
        "07ad7655e9e04eaacc83e727c42a4095b4332d2bae0ea6c3d1021f1832cbbe0c"
    ),
    "data_feats/emoMusic_layer_1.npy": (
        "31e1c6a8fbce876ed2e92175467aadf02471da046be3aceb565c7849245c2b0f"
    ),
    "data_feats/emoMusic_layer_2.npy": (
        "1d914bca15297920f65b91699ebc2faf1c83fe0bf12a2e869a6c70af5868e2e2"
    ),
    "data_feats/emoMusic_layer_3.npy": (
        "83058790f7b618b27d5ef096281ff83d866b440a26d49a3c6d006f9d7590059b"
    ),
    "data_feats/emoMusic_layer_4.npy": (
        "e460212dca36e8d3e4771ead8f5a9ebd0e185510ce97e2c23485ba413498cdf8"
    ),
    "data_feats/emoMusic_mfcc.npy": (
        "b900ab765e875803389ee94dc14caba924a376d55bfb019504239d445f20619a"
    ),
    "data_feats/gtzan_genre_layer_0.npy": (
        "7a3edcd74ace9db3c963b982ca118a258d35b754af861fc6785584d174cd9215"
    ),
    "data_feats/gtzan_genre_layer_1.npy": (
        "cb54b8b12559b6129188081c25396ab8b9eb65d2d5a2b3195e4b7ac314434c5b"
    ),
    "data_feats/gtzan_genre_layer_2.npy": (
        "0b29377d6b2aedd941fc5b5b8f6a204ec2d0d98d3d357dee172f894bf98bccc7"
    ),
    "data_feats/gtzan_genre_layer_3.npy": (
        "e44d40e3a2f4de91138749a48175b4ddd5a6ddc16936357f2909a5c3c0be30a3"
    ),
    "data_feats/gtzan_genre_layer_4.npy": (
        "6fbd7ee903e4f186c20ead54c3f95aa8c7767f79dfa3629ad56b09b0691c42cf"
    ),
    "data_feats/gtzan_genre_mfcc.npy": (
        "96d5f6cab544b7e161fdaf694d94b810002db1d2e6e4435556e8b65d74befd7b"
    ),
    "data_feats/gtzan_speechmusic_layer_0.npy": (
        "4aa8366b547038a9b6cceeb860744a16362f5dffbfcb8397c2ad7aad5b83fe7a"
    ),
    "data_feats/gtzan_speechmusic_layer_1.npy": (
        "dcce3277b930a8c01d44988a89a79eb53b8864ecf200135638ff39dffc66524c"
    ),
    "data_feats/gtzan_speechmusic_layer_2.npy": (
        "32c9fd1d679f67722806aba8806dda73f50051d1d346d8ac596248be592c4e68"
    ),
    "data_feats/gtzan_speechmusic_layer_3.npy": (
        "5cf50a8080705fb84d7b62460d982748ea5969e55fc3d68783be59975ee8fd81"
    ),
    "data_feats/gtzan_speechmusic_layer_4.npy": (
        "d1e92c59dd0296ae3513b64fa27ed1b9a04dbae4ab31b3e737d1acaa0b8659be"
    ),
    "data_feats/gtzan_speechmusic_mfcc.npy": (
        "d09c7845dc77d9b3eb2c0965f6cfc8d905ceaf77bad458d12db03271f41f6f4d"
    ),
    "data_feats/jamendo_vd_layer_0.npy": (
        "2c7ef7a522964520ccb4dd57d2e4d997c848f5426c5794b76538849a7b1a5bc0"
    ),
    "data_feats/jamendo_vd_layer_1.npy": (
        "d63048e32d284e8df8b6469aa83cf8f4d142067bd3d495424818c9ba1a3a5f7a"
    ),
    "data_feats/jamendo_vd_layer_2.npy": (
        "76381ec7fe77e81fbf74a7d597bd3d9ed9c0dc1c062514843839aea11f6665be"
    ),
    "data_feats/jamendo_vd_layer_3.npy": (
        "c1af1e7fd993b3200e6b5fb4fd9055b5d41482f2455ee50c570fa5a30465a081"
    ),
    "data_feats/jamendo_vd_layer_4.npy": (
        "5f5b38758575ed932f6705bd6d2c179f970292fd238b590b1614d98f78fde8b7"
    ),
    "data_feats/jamendo_vd_mfcc.npy": (
        "6e013ee811763d10ffc101fb5abb65d9394153fdd2c83012065501299e0dded9"
    ),
    "data_feats/urbansound_layer_0.npy": (
        "ee119d6db14207b548d6e089f4b38900c118e0c4e67d9e4bfbf4c9b33b8b51c7"
    ),
    "data_feats/urbansound_layer_1.npy": (
        "833c015293b549fc6326715ee728c4996c98205f8ced39cbcf39c20399cda228"
    ),
    "data_feats/urbansound_layer_2.npy": (
        "f9acd85effd5ee33ede05a30d1ce3df023a0c5a04d28c8046765cff41614bfa3"
    ),
    "data_feats/urbansound_layer_3.npy": (
        "b56566ba9b689271eb65953b2e86611b41a64bcdc590065b160c218d6c95994f"
    ),
    "data_feats/urbansound_layer_4.npy": (
        "00f76f0319b80f472333d1151a3b0c875c587081e8481411e4edc50d09565280"
    ),
    "weights/keras2_model_best.hdf5": (
        "b5042bd44de1fdd9d757b764d9246e6934f47c8bdc5c15bf13566495f3439d48"
    ),
    "weights/weights_theano.hdf5": (
        "caf89f811415691fbb245be7eef394b9cebd787d7e3f78e29695972141cf2a08"
    ),
}
"""SHA256 of every released file, by its path in the mirror layout."""

REMOTE_PATHS: dict[str, str] = {
    "weights/weights_theano.hdf5": "weights_transfer/weights_theano.hdf5",
    "weights/keras2_model_best.hdf5": "keras2_model/model_best.hdf5",
}
"""Mirror paths whose path in the authors' repository differs (all others are equal)."""


@dataclass(frozen=True)
class ReleasedDataset:
    """One target dataset as the authors released it.

    Parameters
    ----------
    name
        Our dataset name (what tasks in config.yaml refer to).
    stem
        The authors' file stem: ``data_csv/<stem>.csv``, ``data_feats/<stem>_layer_<k>.npy``.
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


def sha256_of(path: PathLike) -> str:
    """The SHA256 hex digest of a file."""
    import pooch

    return pooch.file_hash(str(path), alg="sha256")


def _known_hash(path: str) -> str:
    if path not in REGISTRY:
        raise DownloadError(
            f"{path!r} is not one of the authors' released files",
            "see musictransfer.datasets.paper.REGISTRY for the known paths",
        )
    return REGISTRY[path]


def fetch_released_file(
    path: str,
    out: PathLike,
    mirror: PathLike | None = None,
    base_url: str = BASE_URL,
    retries: int = DOWNLOAD_RETRIES,
) -> Path:
    """Put the released file ``path`` at ``out``, verified against its SHA256.

    A copy in ``mirror`` (same layout) is used when present; otherwise the file is
    downloaded with pooch, which retries failed transfers, checks the hash before moving
    the file into place and skips the download if ``out`` already holds the right file.

    Parameters
    ----------
    path
        Mirror-layout path, e.g. ``'data_feats/gtzan_genre_layer_0.npy'``.
    out
        Destination file.
    mirror
        Directory of local copies, or None to download.
    base_url
        Where the authors' repository files are served (tests use a local server).
    retries
        Extra download attempts.

    Raises
    ------
    DownloadError
        On a checksum mismatch (naming the file; nothing is left at ``out``) or a failed
        download (with what to do instead).
    """
    expected = _known_hash(path)
    out = Path(out)
    if mirror is not None:
        mirror = check_mirror(mirror, "mirror")
        if (mirror / path).is_file():
            return _copy_verified(mirror / path, out, expected)
    return _download(path, out, expected, base_url, retries, mirror)


def _copy_verified(source: Path, out: Path, expected: str) -> Path:
    """Copy a mirror file to ``out`` if (and only if) its SHA256 is the expected one."""
    actual = sha256_of(source)
    if actual != expected:
        raise DownloadError(
            f"checksum mismatch for {source}: SHA256 {actual}, expected {expected}",
            "the mirror copy is corrupt or a different version: replace it with the file "
            f"from {url_of(_registry_path(source))}",
        )
    from musictransfer.files import atomic_path

    with atomic_path(out) as tmp:
        shutil.copyfile(source, tmp)
    return out


def _registry_path(source: Path) -> str:
    parts = source.parts
    return "/".join(parts[-2:])


def _download(
    path: str, out: Path, expected: str, base_url: str, retries: int, mirror: Path | None = None
) -> Path:
    """Download with pooch into ``out``'s directory (temporary file, verified, moved)."""
    import pooch

    url = url_of(path, base_url)
    fetcher = pooch.create(
        path=out.parent,
        base_url="",
        registry={out.name: f"sha256:{expected}"},
        urls={out.name: url},
        retry_if_failed=retries,
    )
    try:
        return Path(fetcher.fetch(out.name, progressbar=False))
    except ValueError as exc:
        out.unlink(missing_ok=True)
        raise DownloadError(
            f"checksum mismatch for {path} downloaded from {url}: {exc}",
            "the server sent a different file; nothing was kept. Check the URL or use a "
            "verified local copy (config key 'mirror')",
        ) from exc
    except OSError as exc:  # requests' RequestException is an OSError
        raise DownloadError(
            f"could not download {path} from {url}: {exc}",
            f"put a copy in the mirror as {mirror / path}, or download the file by hand to {out}"
            if mirror is not None
            else "set the config key 'mirror' to a directory holding a copy (layout "
            f"data_csv/, data_feats/, weights/), or download the file by hand to {out}",
        ) from exc


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

    array = np.load(path, allow_pickle=False)
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
    from musictransfer.features import save_features
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
