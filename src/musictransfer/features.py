"""Features: the convnet feature and the MFCC baseline, computed from audio.

What a feature file holds, and how a layer combination is taken from it, is
:mod:`musictransfer.featurefile`'s; the functions here compute the features and write
them through it.

PyTorch and the network modules are imported by the convnet functions only: the MFCC
baseline runs in an environment without PyTorch (``envs/features.yaml``, rule
``extract_mfcc``), and importing it would cost about 4 s there anyway.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from musictransfer._typing import PathLike
from musictransfer.audio import load_audio, tile_to_length
from musictransfer.constants import AUTHORS_BATCH_SIZE, MFCC_MIN_SAMPLES, N_MFCC, SAMPLE_RATE
from musictransfer.datasets.store import PreparedDataset
from musictransfer.errors import AudioError, MusicTransferError
from musictransfer.featurefile import save_features

if TYPE_CHECKING:
    import torch

    from musictransfer.model import ConvNet

CALIBRATION_CLIPS = AUTHORS_BATCH_SIZE
"""Clips whose statistics a ``bn_statistics: calibrate`` model's BatchNorm layers take:
the first ones of the dataset, as many as the authors' first prediction batch."""

CALIBRATION_BATCH = 16
"""Batch size of the calibration pass, fixed so that the calibrated statistics do not
depend on the extraction batch size chosen on the command line."""


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
    # lazy: ties librosa to the MFCC, for tests/test_envs.py (envs/training.yaml has none)
    from musictransfer.numba_cache import import_librosa

    librosa = import_librosa()
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


def extract_mfcc(dataset_dir: PathLike, out: PathLike, progress: bool = True) -> None:
    """Compute the MFCC vector of every clip of a prepared dataset into a feature file."""
    data = PreparedDataset(dataset_dir)
    rows = [
        mfcc_vector(data.signal(i))
        for i in tqdm(range(len(data)), desc="mfcc", disable=not progress)
    ]
    save_features(out, np.stack(rows), data.ids, extractor="mfcc")


def calibrate_batchnorm(model: ConvNet, batches: Iterable[torch.Tensor]) -> ConvNet:
    """Set every BatchNorm layer's statistics from data: the random convnet's normalisation.

    Each batch goes through the network with BatchNorm in training mode (normalised by
    its own statistics, as the authors' BatchNorm ``mode=2`` did at inference), and the
    running statistics become the plain average over batches (``momentum=None``) of the
    per-batch means and variances. The network is returned in eval mode, so every clip
    is then normalised with these fixed statistics, whatever batch it comes in.

    Parameters
    ----------
    model
        The network; its BatchNorm statistics are replaced in place.
    batches
        Waveform batches ``(batch, samples)`` on the model's device.
    """
    import torch  # lazy: no PyTorch in envs/features.yaml (module docstring)
    from torch import nn  # lazy: no PyTorch in envs/features.yaml (module docstring)

    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in norms]
    model.eval()
    n = 0
    try:
        for bn in norms:
            bn.reset_running_stats()
            bn.momentum = None
            bn.train()
        with torch.no_grad():
            for batch in batches:
                model.block_outputs(batch)
                n += len(batch)
    finally:
        for bn, momentum in zip(norms, momenta, strict=True):
            bn.momentum = momentum
        model.eval()
    if n == 0:
        raise ValueError("no clips to calibrate BatchNorm on")
    return model


def _device() -> torch.device:
    import torch  # lazy: no PyTorch in envs/features.yaml (module docstring)

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _batches(
    load: Callable[[int], np.ndarray], n: int, batch_size: int, device: torch.device
) -> Iterator[torch.Tensor]:
    """Batches of ``load(i)`` for ``i < n``, stacked, as float32 tensors on ``device``.

    A prepared store's clips are loaded as stored (int16,
    :meth:`~PreparedDataset.stored_input`) and made float32 on the device
    (:func:`~musictransfer.model.device_batch`), as the training loader does.
    """
    from musictransfer.model import device_batch  # lazy: PyTorch, as in _convnet_features

    for start in range(0, n, batch_size):
        yield device_batch(
            np.stack([load(i) for i in range(start, min(n, start + batch_size))]), device
        )


def _convnet_features(
    model_path: PathLike,
    load: Callable[[int], np.ndarray],
    n: int,
    batch_size: int,
    progress: bool,
) -> np.ndarray:
    """``(n, 160)`` features of clips ``load(0..n-1)`` with a saved model."""
    import torch  # lazy: no PyTorch in envs/features.yaml (module docstring)

    from musictransfer.model import ieee_float32  # lazy: PyTorch, as above
    from musictransfer.modelfile import (  # lazy: PyTorch, as above
        ARCH_CONVNET,
        BN_CALIBRATE,
        build_model,
        read_model_file,
    )

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    payload = read_model_file(model_path)
    if payload["architecture"] != ARCH_CONVNET:
        # The authors' network needs its own statistics modes (musictransfer.choi2017).
        raise MusicTransferError(
            f"{model_path} holds the authors' network (import-paper-weights), "
            "not a musictransfer model",
            "extract with the choi2017 extractor: extract --extractor choi2017 for audio "
            "files, extract-choi2017 for a prepared dataset",
        )
    device = _device()
    model = build_model(payload).to(device).eval()
    rows = []
    with ieee_float32():
        if payload["bn_statistics"] == BN_CALIBRATE:
            calibrate_batchnorm(
                model, _batches(load, min(n, CALIBRATION_CLIPS), CALIBRATION_BATCH, device)
            )
        with torch.inference_mode():
            bar = tqdm(
                total=n,
                desc=f"features {Path(model_path).stem}",
                disable=not progress,
                # In a log file (no terminal) one line every 30 s rather than a stream.
                mininterval=0.1 if sys.stderr.isatty() else 30.0,
            )
            for batch in _batches(load, n, batch_size, device):
                rows.append(model.layer_features(batch).float().cpu().numpy())
                bar.update(len(batch))
            bar.close()
    return np.concatenate(rows).astype(np.float32)


def extract_convnet(
    model_path: PathLike,
    dataset_dir: PathLike,
    out: PathLike,
    batch_size: int = 16,
    threads: int = 1,
    progress: bool = True,
) -> None:
    """The convnet feature (160 values) of every clip of a prepared dataset.

    Runs in eval mode under ``torch.inference_mode`` on the GPU when there is one, in
    IEEE float32, TF32 off (extraction is cheap next to training, and features that do
    not depend on the machine are worth more; see :func:`musictransfer.model.ieee_float32`).
    A random convnet (``bn_statistics: calibrate``) first has its BatchNorm statistics
    set from the dataset's first clips (:func:`calibrate_batchnorm`).

    Parameters
    ----------
    model_path
        A model file; its stem names the extractor in the output ('random', ...).
    dataset_dir
        A prepared store.
    out
        The feature file (``.npz``), written atomically.
    batch_size
        Clips per forward pass (about 30 MB of activations per clip on the CPU).
    threads
        CPU threads for PyTorch.
    progress
        Show a progress bar.
    """
    import torch  # lazy: no PyTorch in envs/features.yaml (module docstring)

    torch.set_num_threads(max(1, int(threads)))
    data = PreparedDataset(dataset_dir)
    features = _convnet_features(model_path, data.stored_input, len(data), batch_size, progress)
    save_features(out, features, data.ids, extractor=Path(model_path).stem)


def extract_files(
    model_path: PathLike,
    paths: Sequence[PathLike],
    out: PathLike,
    batch_size: int = 8,
    progress: bool = True,
) -> None:
    """The convnet feature of arbitrary audio files (the user-facing ``extract`` command).

    Each file is decoded like the datasets (first 29 s, mono, 12 kHz) and tiled to the
    network's input; files are read batch by batch, so a long list needs little memory.
    The ids stored in the output are the paths as given.

    Raises
    ------
    AudioError
        Naming the file that could not be read.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise AudioError("no audio files given", "pass at least one audio file")

    def load(i: int) -> np.ndarray:
        try:
            return tile_to_length(load_audio(paths[i]))
        except AudioError as exc:
            raise AudioError(
                f"cannot extract features of {paths[i]}: {exc.message}", exc.hint
            ) from exc

    features = _convnet_features(model_path, load, len(paths), batch_size, progress)
    save_features(out, features, [str(p) for p in paths], extractor=Path(model_path).stem)


__all__ = [
    "CALIBRATION_BATCH",
    "CALIBRATION_CLIPS",
    "calibrate_batchnorm",
    "extract_convnet",
    "extract_files",
    "extract_mfcc",
    "mfcc_vector",
]
