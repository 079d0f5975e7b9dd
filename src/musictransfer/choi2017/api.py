"""The authors' pre-trained convnet as a user meets it: loading, extraction, tagging.

:func:`load_pretrained` gives the network with its weights and a statistics mode;
:func:`extract` computes features and tag probabilities of clips under one of
:data:`~musictransfer.constants.BN_MODES`; the functions after it are the command-line
commands ``extract --extractor choi2017``, ``extract-choi2017``, ``tag`` and
``choi2017-stats``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from musictransfer._typing import PathLike
from musictransfer.audio import load_audio, tile_to_length
from musictransfer.choi2017.stats import (
    Statistics,
    compute_statistics,
    restore_statistics,
    set_statistics,
    snapshot_statistics,
)
from musictransfer.choi2017.weights import load_keras1_weights
from musictransfer.constants import AUTHORS_BATCH_SIZE, BN_MODES, MSD_TAGS
from musictransfer.datasets.paper import WEIGHTS_THEANO, url_of
from musictransfer.datasets.paper.fetch import fetch_released
from musictransfer.errors import ConfigError, ManifestError, MusicTransferError
from musictransfer.featurefile import save_features
from musictransfer.model import ConvNet, device_batch, ieee_float32
from musictransfer.modelfile import ARCH_CHOI2017, build_model, check_format_version, load_payload

if TYPE_CHECKING:
    import pandas as pd


def load_pretrained(
    name: str = "choi2017",
    weights: PathLike | None = None,
    mirror: PathLike | None = None,
    bn_mode: str = "reference",
    device: str | torch.device | None = None,
    download: bool = True,
) -> ConvNet:
    """The authors' pre-trained convnet, ready for feature extraction or tagging.

    Parameters
    ----------
    name
        Only ``"choi2017"`` (the paper's Keras 1 / Theano tagger).
    weights
        ``weights_theano.hdf5`` or a ``choi2017.pt`` from
        :func:`~musictransfer.choi2017.weights.import_paper_weights` (a model file of
        architecture ``musictransfer.choi2017``, or one of the legacy format).
        Default: the mirror (argument, or ``MUSICTRANSFER_MIRROR``), else the pooch
        cache (``MUSICTRANSFER_DATA_DIR``, or the user's cache directory), else a download
        from the authors' repository at the pinned commit
        (:func:`musictransfer.datasets.paper.fetch_released`).
    bn_mode
        ``"reference"`` (default): statistics frozen from the shipped reference set, so
        ``model(x)`` does not depend on the batch; ``"batch"``: Keras 1 mode 2 (batch
        statistics, faithful); ``"dataset"`` needs the set: call
        :func:`~musictransfer.choi2017.stats.compute_statistics` and
        :func:`~musictransfer.choi2017.stats.set_statistics` yourself.
    device
        Where to put the model (default: CUDA if available, else CPU).
    download
        Whether a download may be attempted.

    Use ``model.layer_features(x)`` for the (batch, 160) feature, ``model(x).sigmoid()``
    for the 50 tag probabilities (order: ``constants.MSD_TAGS``), ``x`` a
    ``(batch, 348000)`` waveform at 12 kHz.
    """
    if name != "choi2017":
        raise ConfigError(f"unknown pre-trained model {name!r}", "the only one is 'choi2017'")
    if bn_mode not in ("batch", "reference"):
        raise ConfigError(f"bn_mode {bn_mode!r} for load_pretrained", "use 'reference' or 'batch'")
    path = (
        Path(weights)
        if weights is not None
        else fetch_released(WEIGHTS_THEANO, mirror, download=download)
    )
    if not path.is_file():
        raise MusicTransferError(
            f"weights file not found: {path}", f"download {url_of(WEIGHTS_THEANO)}"
        )
    if path.suffix == ".pt":
        hint = "give weights_theano.hdf5 or the choi2017.pt that import-paper-weights makes"
        try:
            payload = load_payload(path)
        except Exception as exc:  # torch raises many types for a damaged or foreign file
            reason = (str(exc).splitlines() or [""])[0]
            raise MusicTransferError(
                f"cannot read {path} as a choi2017 model file: {type(exc).__name__}: {reason}",
                hint,
            ) from exc
        if payload is None or payload["architecture"] != ARCH_CHOI2017:
            raise MusicTransferError(f"{path} is not a choi2017 model file", hint)
        check_format_version(payload, path)
        try:
            model = build_model(payload)
        except (KeyError, RuntimeError, TypeError) as exc:
            raise MusicTransferError(
                f"{path} does not hold the choi2017 network's weights: {type(exc).__name__}",
                "rerun import-paper-weights to make the file again",
            ) from exc
    else:
        model = load_keras1_weights(path)
    set_statistics(model, Statistics.load() if bn_mode == "reference" else None)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval()


# --- extraction ------------------------------------------------------------------------------


@torch.no_grad()
def _forward(model: ConvNet, wave: Tensor) -> tuple[Tensor, Tensor]:
    """(features (b, 160), tag probabilities (b, 50)) in one pass."""
    outputs = model.block_outputs(wave)
    feats = torch.cat([o.mean(dim=(-2, -1)) for o in outputs], dim=1)
    probs = torch.sigmoid(model.head(outputs[-1].mean(dim=(-2, -1))))
    return feats, probs


@ieee_float32()
def extract(
    model: ConvNet,
    load: Callable[[int], np.ndarray],
    n: int,
    bn_mode: str,
    batch_size: int = AUTHORS_BATCH_SIZE,
    chunk_size: int = 16,
    stats: Statistics | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, Statistics | None]:
    """Features and tag probabilities of ``n`` clips under a statistics mode.

    Parameters
    ----------
    model
        A :func:`~musictransfer.choi2017_network.build_choi2017` network (weights
        loaded); its statistics are restored.
    load
        ``load(i)`` returns clip ``i`` as a 1-D float waveform (tiled to 29 s).
    n
        Number of clips, in order.
    bn_mode
        ``batch``: each group of ``batch_size`` consecutive clips is normalised with its
        own statistics (exactly as one Keras batch; groups larger than ``chunk_size``
        are processed in chunks with the same result); ``dataset``: statistics of all
        ``n`` clips; ``reference``: ``stats`` or the shipped reference statistics.
    chunk_size
        Clips in memory at once (about 40 MB each on CPU in the first block).

    Returns
    -------
    features : numpy.ndarray
        ``(n, 160)`` float32, layers 1..5 in order.
    probabilities : numpy.ndarray
        ``(n, 50)`` float32, in the order of ``constants.MSD_TAGS``.
    statistics : Statistics or None
        The frozen statistics used (``dataset`` and ``reference``), else None.
    """
    if bn_mode not in BN_MODES:
        raise ConfigError(f"unknown bn mode {bn_mode!r}", f"use one of {', '.join(BN_MODES)}")
    device = next(model.parameters()).device
    saved = snapshot_statistics(model)

    def chunks(indices: Sequence[int]) -> Callable[[], Iterator[Tensor]]:
        def gen() -> Iterator[Tensor]:
            for start in range(0, len(indices), chunk_size):
                batch = [np.asarray(load(i)) for i in indices[start : start + chunk_size]]
                yield device_batch(np.stack(batch), device)

        return gen

    def run(indices: Sequence[int]) -> tuple[list[Tensor], list[Tensor]]:
        feats, probs = [], []
        for wave in chunks(indices)():
            f, p = _forward(model, wave)
            feats.append(f.cpu())
            probs.append(p.cpu())
        return feats, probs

    feats: list[Tensor] = []
    probs: list[Tensor] = []
    used: Statistics | None = None
    try:
        if bn_mode == "batch":
            groups = [list(range(s, min(s + batch_size, n))) for s in range(0, n, batch_size)]
            for group in tqdm(groups, desc="choi2017 batches", disable=not progress):
                if len(group) <= chunk_size:  # one Keras batch in memory: plain mode 2
                    set_statistics(model, None)
                else:
                    set_statistics(model, compute_statistics(model, chunks(group)))
                f, p = run(group)
                feats += f
                probs += p
        else:
            if bn_mode == "dataset":
                used = compute_statistics(
                    model, chunks(list(range(n))), source=f"{n} clips extracted"
                )
            else:
                used = stats if stats is not None else Statistics.load()
            set_statistics(model, used)
            feats, probs = run(list(range(n)))
    finally:
        restore_statistics(model, saved)
    return torch.cat(feats).numpy(), torch.cat(probs).numpy(), used


# --- user-facing commands ----------------------------------------------------------------------


def _file_loader(paths: Sequence[Path], silence: str = "warn") -> Callable[[int], np.ndarray]:
    return lambda i: tile_to_length(load_audio(paths[i], silence=silence))


def _model_from(weights: PathLike | None, mirror: PathLike | None) -> ConvNet:
    model = load_pretrained("choi2017", weights=weights, mirror=mirror, bn_mode="batch")
    return model


def extract_files_choi2017(
    paths: Sequence[PathLike],
    out: PathLike,
    bn_mode: str = "reference",
    weights: PathLike | None = None,
    mirror: PathLike | None = None,
    batch_size: int = AUTHORS_BATCH_SIZE,
    stats_path: PathLike | None = None,
) -> np.ndarray:
    """``musictransfer extract --extractor choi2017``: features of audio files to .npz.

    Writes ``features`` (n x 160), ``ids`` (the paths as given), ``extractor``
    ('choi2017'), ``bn_mode``, ``batch_size`` and ``tag_probabilities`` (n x 50).
    """
    paths = [Path(p) for p in paths]
    model = _model_from(weights, mirror)
    stats = Statistics.load(stats_path) if stats_path is not None else None
    feats, probs, _ = extract(
        model, _file_loader(paths), len(paths), bn_mode, batch_size, stats=stats, progress=True
    )
    save_features(
        out,
        feats,
        [str(p) for p in paths],
        extractor="choi2017",
        bn_mode=bn_mode,
        batch_size=batch_size,
        tag_probabilities=probs,
    )
    return feats


def extract_prepared(
    model_path: PathLike,
    dataset_dir: PathLike,
    out: PathLike,
    bn_mode: str = "batch",
    batch_size: int = AUTHORS_BATCH_SIZE,
    chunk_size: int = 16,
    batch_order: str | None = None,
) -> None:
    """Features of a prepared dataset (the workflow's ``extract_convnet`` for choi2017).

    Parameters
    ----------
    batch_order
        None to extract the clips in the manifest's order, or a manifest column to
        extract them sorted by (stable). Under batch statistics the order decides which
        clips share a batch: the authors' tables were sorted by label, so sorting by the
        label reproduces how their batches correlated with the class. The feature file's
        rows are in extraction order (its ``ids`` say which clip each row is; evaluation
        aligns by id), so a reader of the file sees the batches as they were.
    """
    # lazy: pandas, 0.2-0.4 s (15 % of importing this package), for prepared stores only;
    # musictransfer.load_pretrained, extract and tag do not read one
    from musictransfer.datasets.store import MANIFEST_FILE, PreparedDataset

    data = PreparedDataset(dataset_dir)
    order = extraction_order(data.manifest, batch_order, data.root / MANIFEST_FILE)
    model = load_pretrained("choi2017", weights=model_path, bn_mode="batch")
    feats, _, _ = extract(
        model,
        lambda i: data.stored_input(int(order[i])),
        len(data),
        bn_mode,
        batch_size,
        chunk_size,
        progress=True,
    )
    save_features(
        out,
        feats,
        [data.ids[i] for i in order],
        extractor="choi2017",
        bn_mode=bn_mode,
        batch_size=batch_size,
        batch_order=batch_order or "",
    )


def extraction_order(
    manifest: pd.DataFrame, column: str | None, where: PathLike = "manifest"
) -> np.ndarray:
    """Row indices of ``manifest`` in extraction order: as listed, or stably sorted by ``column``.

    Raises
    ------
    ManifestError
        If ``column`` is not a column of the manifest (named with ``where``).
    """
    if column is None:
        return np.arange(len(manifest))
    if column not in manifest.columns:
        raise ManifestError(
            f"{where} has no column {column!r} to order the extraction by "
            f"(columns: {', '.join(map(str, manifest.columns))})",
            "set choi2017.batch_order to one of them, or to null",
        )
    return np.argsort(manifest[column].astype(str).to_numpy(), kind="stable")


def tag_files(
    paths: Sequence[PathLike],
    top: int = 5,
    bn_mode: str = "reference",
    weights: PathLike | None = None,
    mirror: PathLike | None = None,
    batch_size: int = AUTHORS_BATCH_SIZE,
) -> list[list[tuple[str, float]]]:
    """Top tags with probabilities of each file (the authors' 50 MSD tags).

    A silent file is an error here (its tags would be confident and meaningless), and
    so is a non-finite probability, naming the file.
    """
    paths = [Path(p) for p in paths]
    model = _model_from(weights, mirror)
    loader = _file_loader(paths, silence="error")
    _, probs, _ = extract(model, loader, len(paths), bn_mode, batch_size)
    bad = np.flatnonzero(~np.isfinite(probs).all(axis=1))
    if bad.size:
        raise MusicTransferError(
            f"tag probabilities of {paths[bad[0]]} are not finite (NaN or infinite)"
            + (f", and of {bad.size - 1} more file(s)" if bad.size > 1 else ""),
            "check that file and the weights file",
        )
    return [top_tags(row, top) for row in probs]


def top_tags(probabilities: np.ndarray, top: int = 5) -> list[tuple[str, float]]:
    """The ``top`` most probable tags of one clip, best first."""
    order = np.argsort(-np.asarray(probabilities), kind="stable")[:top]
    return [(MSD_TAGS[i], float(probabilities[i])) for i in order]


def reference_statistics(
    paths: Sequence[PathLike],
    out: PathLike,
    weights: PathLike | None = None,
    mirror: PathLike | None = None,
    source: str = "",
) -> Statistics:
    """Compute frozen statistics over audio files (how the shipped reference was made)."""
    paths = [Path(p) for p in paths]
    model = _model_from(weights, mirror)
    load = _file_loader(paths)
    device = next(model.parameters()).device

    def chunks() -> Iterator[Tensor]:
        for start in range(0, len(paths), 8):
            batch = [load(i) for i in range(start, min(start + 8, len(paths)))]
            yield device_batch(np.stack(batch), device)

    stats = compute_statistics(model, chunks, source=source or ", ".join(p.name for p in paths))
    stats.save(out)
    return stats
