"""The authors' pre-trained convnet (Keras 1.2.2 / Theano / Kapre a3bde3e) in PyTorch.

Choi et al. released the weights of their tagger as ``weights_theano.hdf5``. This module
imports them into :class:`musictransfer.model.ConvNet` (the same five blocks and dense
head as our own networks) after swapping two kinds of modules whose semantics differ:

- the front end becomes :class:`KapreMelgram`, which reproduces the old Kapre
  ``Melspectrogram`` exactly: the *stored* DFT kernels applied as a Theano true
  convolution (so the kernels are flipped in time, which delays every frame by one
  sample against a textbook STFT), Theano's 'half' padding of 256 samples at each end
  and the crop to ``ceil(n / 256)`` frames, ``re^2 + im^2``, the stored mel filterbank,
  ``10 log10(max(x, 1e-10))``, minus the maximum over the *whole batch tensor*, floored
  at -80 dB;
- every BatchNorm becomes :class:`Keras1BatchNorm`, Keras 1 ``BatchNormalization``
  ``mode=2``: normalised with the mean and (biased) variance of the *current batch*
  over batch, frequency and time, epsilon 1e-3, even at inference. The stored running
  statistics are 0 and 1 and never used.

The 3x3 conv kernels are flipped on both spatial axes, because Theano convolves and
PyTorch cross-correlates.

Batch statistics make a clip's features depend on the other clips of its batch (and a
batch of one clip collapses: every channel is normalised over that clip alone). Three
statistics modes are offered (:data:`BN_MODES`):

``batch``
    Faithful: statistics of each batch of ``batch_size`` consecutive clips (the
    authors extracted with batches of 256 in dataset order).
``dataset``
    Consistent within a set: the statistics of the whole set being extracted, taken
    as if it were one batch (computed in a first pass, layer by layer), then frozen.
``reference``
    Consistent everywhere: statistics frozen from a reference set and shipped with the
    package (``data/choi2017_reference_stats.json``: the 15 recordings of librosa's
    example data, which anyone can download with ``librosa.example``). A single file
    gets sensible tags; this is the default of ``musictransfer extract`` and ``tag``.

Frozen statistics of a set S are exactly mode-2 statistics of S as one batch, so
``batch`` mode over a batch S and ``dataset`` mode over S give the same features.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from musictransfer.constants import (
    AMIN,
    BN_EPSILON,
    DYNAMIC_RANGE_DB,
    HOP_LENGTH,
    MSD_TAGS,
    N_CHANNELS,
    N_FFT,
    N_LAYERS,
    N_MELS,
    POOL_SIZES,
)
from musictransfer.datasets.paper import WEIGHTS_THEANO, fetch_released, url_of
from musictransfer.errors import ConfigError, MusicTransferError
from musictransfer.fetching import file_hash
from musictransfer.model import ConvNet, ieee_float32

PathLike = str | os.PathLike[str]

BN_MODES: tuple[str, ...] = ("batch", "dataset", "reference")
"""Statistics modes of the ported network (see the module docstring)."""

DEFAULT_BATCH_SIZE = 256
"""Clips per batch in ``batch`` mode: the authors' ``predict_generator`` batches."""

REFERENCE_STATS_FILE = Path(__file__).parent / "data" / "choi2017_reference_stats.json"
"""Frozen statistics shipped with the package (see :func:`compute_reference_stats`)."""

MODEL_FORMAT = "musictransfer.choi2017/1"
"""Tag of an imported model file (``models/choi2017.pt``)."""


# --- the modules whose semantics differ from ours ------------------------------------------


class KapreMelgram(nn.Module):
    """The old Kapre ``Melspectrogram`` (commit a3bde3e) on Theano, exactly.

    Kapre computed the STFT as ``K.conv2d`` of the signal with the stored real and
    imaginary DFT kernels, stride 256, ``border_mode='same'``. Keras 1.2.2's Theano
    backend maps 'same' to Theano's 'half' padding (256 zeros at each end for a 512
    kernel), convolves (flips the kernel), and crops an even-sized kernel's output to
    ``ceil(n / hop)`` frames. The flip makes frame ``t`` the windowed DFT of samples
    ``256 t - 257 .. 256 t + 254``: one sample earlier than a centred STFT. The power
    ``re^2 + im^2`` is mapped through the stored filterbank and converted to decibels
    relative to the maximum over the *whole batch tensor* (Kapre's
    ``amplitude_to_decibel``), or to a frozen reference (:attr:`db_max`).

    Parameters
    ----------
    dft_real, dft_imag
        The stored kernels, ``(512, 1, 1, 257)`` (TensorFlow layout as Kapre kept them).
    filterbank
        The stored mel matrix, ``(257, 96)``.
    """

    def __init__(self, dft_real: Tensor, dft_imag: Tensor, filterbank: Tensor) -> None:
        super().__init__()
        # (512, 1, 1, 257) -> (257, 1, 512), flipped in time: a true convolution as
        # a cross-correlation.
        kernels = torch.cat([dft_real, dft_imag], dim=3)[:, 0, 0, :].T.flip(-1)
        self.register_buffer("kernels", kernels.unsqueeze(1).contiguous().float())
        self.register_buffer("filterbank", filterbank.float().contiguous())
        self.register_buffer("db_max", torch.tensor(float("nan")))
        self.n_fft = int(dft_real.shape[0])
        self.hop = HOP_LENGTH

    @property
    def frozen(self) -> bool:
        """Whether the dB reference is frozen (else the batch maximum is used)."""
        return not bool(torch.isnan(self.db_max))

    def decibels(self, waveform: Tensor) -> Tensor:
        """``(batch, samples)`` -> unreferenced dB mel power ``(batch, 1, 96, frames)``."""
        x = waveform.float().unsqueeze(1)
        pad = self.n_fft // 2  # Theano 'half' padding
        x = nn.functional.pad(x, (pad, pad))
        spec = nn.functional.conv1d(x, self.kernels, stride=self.hop)
        n_frames = -(-waveform.shape[-1] // self.hop)  # Keras crops to ceil(n / hop)
        spec = spec[..., :n_frames]
        n_freq = self.filterbank.shape[0]
        power = spec[:, :n_freq] ** 2 + spec[:, n_freq:] ** 2
        mel = torch.einsum("bft,fm->bmt", power, self.filterbank)
        return (10.0 * torch.log10(torch.clamp(mel, min=AMIN))).unsqueeze(1)

    def forward(self, waveform: Tensor) -> Tensor:
        """Map ``(batch, samples)`` to ``(batch, 1, 96, frames)`` dB in [-80, 0]."""
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            db = self.decibels(waveform)
            reference = self.db_max if self.frozen else db.amax()
            return torch.clamp(db - reference, min=-DYNAMIC_RANGE_DB)


class Keras1BatchNorm(nn.Module):
    """Keras 1 ``BatchNormalization(mode=2, axis=1)``, or its frozen-statistics variant.

    Mode 2 normalises every channel with the mean and biased variance of the current
    batch over (batch, frequency, time), in training *and* at inference:
    ``gamma (x - mean) / sqrt(var + eps) + beta``. When :attr:`mean` and :attr:`var`
    hold numbers (see :func:`set_statistics`) they are used instead, so that a clip's
    output no longer depends on its batch.
    """

    def __init__(self, n_channels: int, eps: float = BN_EPSILON) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n_channels))
        self.bias = nn.Parameter(torch.zeros(n_channels))
        self.register_buffer("mean", torch.full((n_channels,), float("nan")))
        self.register_buffer("var", torch.full((n_channels,), float("nan")))

    @property
    def frozen(self) -> bool:
        """Whether frozen statistics are set (else batch statistics are used)."""
        return not bool(torch.isnan(self.mean).any())

    def forward(self, x: Tensor) -> Tensor:
        """Normalise ``(batch, channels, freq, time)`` per channel."""
        if self.frozen:
            mean, var = self.mean, self.var
        else:
            var, mean = torch.var_mean(x, dim=(0, 2, 3), correction=0)
        scale = self.weight * torch.rsqrt(var + self.eps)
        shift = self.bias - mean * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]


# --- statistics ----------------------------------------------------------------------------


@dataclass
class Statistics:
    """Frozen normalisation statistics: the dB reference and each layer's BN moments.

    Attributes
    ----------
    db_max
        The reference subtracted from the dB mel spectrogram (the set's maximum).
    mean, var
        ``(n_layers, n_channels)`` per-channel mean and biased variance of each conv
        layer's output, as mode 2 would compute them over the set as one batch.
    n_clips
        Size of the set they come from.
    source
        What the set was (for the record).
    """

    db_max: float
    mean: np.ndarray
    var: np.ndarray
    n_clips: int
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "format": "musictransfer.choi2017.statistics/1",
            "source": self.source,
            "n_clips": self.n_clips,
            "db_max": float(self.db_max),
            "mean": np.asarray(self.mean, dtype=np.float64).tolist(),
            "var": np.asarray(self.var, dtype=np.float64).tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Statistics:
        """Inverse of :meth:`to_dict`."""
        return cls(
            db_max=float(data["db_max"]),
            mean=np.asarray(data["mean"], dtype=np.float64),
            var=np.asarray(data["var"], dtype=np.float64),
            n_clips=int(data["n_clips"]),
            source=str(data.get("source", "")),
        )

    @classmethod
    def load(cls, path: PathLike = REFERENCE_STATS_FILE) -> Statistics:
        """Read statistics from a JSON file (default: the shipped reference)."""
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError) as exc:
            raise MusicTransferError(
                f"cannot read normalisation statistics {path}: {exc}",
                "recompute them with `musictransfer choi2017-stats FILES -o stats.json`",
            ) from exc

    def save(self, path: PathLike) -> None:
        """Write as JSON, atomically."""
        from musictransfer.files import write_json

        write_json(path, self.to_dict())


def set_statistics(model: ConvNet, stats: Statistics | None) -> ConvNet:
    """Freeze ``model``'s normalisation to ``stats``, or return to batch statistics (None)."""
    frontend = _frontend(model)
    nan = float("nan")
    frontend.db_max.fill_(nan if stats is None else stats.db_max)
    for k, block in enumerate(model.blocks):
        bn = block.bn
        if stats is None:
            bn.mean.fill_(nan)
            bn.var.fill_(nan)
        else:
            bn.mean.copy_(torch.as_tensor(stats.mean[k], dtype=bn.mean.dtype))
            bn.var.copy_(torch.as_tensor(stats.var[k], dtype=bn.var.dtype))
    return model


def _frontend(model: ConvNet) -> KapreMelgram:
    if not isinstance(model.frontend, KapreMelgram):
        raise TypeError("not a choi2017 model: build it with build_choi2017()")
    return model.frontend


class _Moments:
    """Per-channel mean and biased variance merged over chunks (Chan et al.), float64."""

    def __init__(self) -> None:
        self.n = 0
        self.mean: Tensor | None = None
        self.m2: Tensor | None = None

    def update(self, x: Tensor) -> None:
        x = x.double()
        n = x.numel() // x.shape[1]
        var, mean = torch.var_mean(x, dim=(0, 2, 3), correction=0)
        if self.mean is None or self.m2 is None:
            self.n, self.mean, self.m2 = n, mean, var * n
            return
        total = self.n + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + var * n + delta**2 * (self.n * n / total)
        self.n = total

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        assert self.mean is not None and self.m2 is not None
        return self.mean.cpu().numpy(), (self.m2 / self.n).cpu().numpy()


@torch.no_grad()
@ieee_float32()
def compute_statistics(
    model: ConvNet,
    chunks: Callable[[], Iterator[Tensor]],
    source: str = "",
) -> Statistics:
    """Mode-2 statistics of a whole set, as if it were one batch, in bounded memory.

    Layer k's statistics depend on the normalisation of layers before it, so the set is
    streamed once for the dB maximum and once per layer (each pass runs the blocks
    already frozen): about four forward passes in all, with memory for one chunk.

    Parameters
    ----------
    model
        A :func:`build_choi2017` network (its statistics mode is restored afterwards).
    chunks
        Called once per pass; yields ``(clips, samples)`` waveforms on the model's device.
    source
        Description of the set, kept in the result.
    """
    frontend = _frontend(model)
    saved = _current_statistics(model)
    try:
        set_statistics(model, None)
        db_max = -math.inf
        n_clips = 0
        for wave in chunks():
            db_max = max(db_max, float(frontend.decibels(wave).amax()))
            n_clips += wave.shape[0]
        frontend.db_max.fill_(db_max)
        means, variances = [], []
        for k, block in enumerate(model.blocks):
            moments = _Moments()
            for wave in chunks():
                x = frontend(wave)
                for earlier in model.blocks[:k]:
                    x = earlier(x)
                moments.update(block.conv(x))
            mean, var = moments.result()
            block.bn.mean.copy_(torch.as_tensor(mean))
            block.bn.var.copy_(torch.as_tensor(var))
            means.append(mean)
            variances.append(var)
        return Statistics(db_max, np.stack(means), np.stack(variances), n_clips, source)
    finally:
        _restore_statistics(model, saved)


def _current_statistics(model: ConvNet) -> list[Tensor]:
    buffers = [_frontend(model).db_max]
    for block in model.blocks:
        buffers += [block.bn.mean, block.bn.var]
    return [b.clone() for b in buffers]


def _restore_statistics(model: ConvNet, saved: list[Tensor]) -> None:
    buffers = [_frontend(model).db_max]
    for block in model.blocks:
        buffers += [block.bn.mean, block.bn.var]
    for buffer, value in zip(buffers, saved, strict=True):
        buffer.copy_(value)


# --- building and importing ----------------------------------------------------------------


def build_choi2017() -> ConvNet:
    """An un-initialised ConvNet with the Kapre front end and Keras 1 BatchNorm.

    The five blocks, pool sizes and the dense head are :class:`~musictransfer.model.ConvNet`'s;
    only the front end and the normalisation modules are swapped.
    """
    model = ConvNet(n_tags=len(MSD_TAGS), n_channels=N_CHANNELS, pool_sizes=POOL_SIZES)
    n_freq = N_FFT // 2 + 1
    zeros = torch.zeros(N_FFT, 1, 1, n_freq)
    model.frontend = KapreMelgram(zeros, zeros, torch.zeros(n_freq, N_MELS))
    for block in model.blocks:
        block.bn = Keras1BatchNorm(block.conv.out_channels)
    return model.eval()


def read_keras1_weights(path: PathLike) -> dict[str, np.ndarray]:
    """Every weight array of ``weights_theano.hdf5``, by ``group/name``.

    Raises
    ------
    MusicTransferError
        If the file cannot be read as HDF5 or lacks a layer the port needs.
    """
    import h5py

    path = Path(path)
    out: dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as f:
            for group in ("melgram", "ConvBNEluDr", "dense_1"):
                for name, item in f[group].items():
                    out[f"{group}/{name}"] = np.asarray(item)
    except (OSError, KeyError) as exc:
        raise MusicTransferError(
            f"{path} is not the authors' Keras 1 weight file: {exc}",
            f"use {url_of(WEIGHTS_THEANO)}",
        ) from exc
    return out


def keras1_state_dict(weights: dict[str, np.ndarray]) -> dict[str, Tensor]:
    """Map the Keras 1 arrays onto :func:`build_choi2017`'s state dict.

    Conv kernels are flipped on both spatial axes (Theano convolves, PyTorch
    cross-correlates); the dense kernel ``(32, 50)`` is transposed; the DFT kernels are
    handed to :class:`KapreMelgram`, which flips them in time. The stored running
    statistics (0 and 1, never used by mode 2) are checked and dropped.
    """
    t = {k: torch.from_numpy(np.ascontiguousarray(v)).float() for k, v in weights.items()}
    frontend = KapreMelgram(t["melgram/param_0"], t["melgram/param_1"], t["melgram/param_2"])
    state: dict[str, Tensor] = {
        f"frontend.{k}": v for k, v in frontend.state_dict().items() if k != "db_max"
    }
    for k in range(N_LAYERS):
        conv = f"ConvBNEluDr/convolution2d_{k + 1}"
        bn = f"ConvBNEluDr/batchnormalization_{k + 1}"
        if not (
            np.all(weights[f"{bn}_running_mean"] == 0) and np.all(weights[f"{bn}_running_std"] == 1)
        ):
            raise MusicTransferError(f"{bn} has non-trivial running statistics: not mode 2")
        state[f"blocks.{k}.conv.weight"] = t[f"{conv}_W"].flip(-1, -2).contiguous()
        state[f"blocks.{k}.conv.bias"] = t[f"{conv}_b"]
        state[f"blocks.{k}.bn.weight"] = t[f"{bn}_gamma"]
        state[f"blocks.{k}.bn.bias"] = t[f"{bn}_beta"]
    state["head.weight"] = t["dense_1/dense_1_W"].T.contiguous()
    state["head.bias"] = t["dense_1/dense_1_b"]
    return state


def load_keras1_weights(path: PathLike) -> ConvNet:
    """Build the network and load ``weights_theano.hdf5`` into it (batch statistics)."""
    model = build_choi2017()
    try:
        state = keras1_state_dict(read_keras1_weights(path))
    except KeyError as exc:  # an HDF5 file with the right groups but not all the arrays
        raise MusicTransferError(
            f"{path} lacks the array {exc} of the authors' Keras 1 weight file",
            f"use {WEIGHTS_THEANO.url}",
        ) from exc
    missing, unexpected = model.load_state_dict(state, strict=False)
    stats_buffers = {"frontend.db_max"} | {
        f"blocks.{k}.bn.{b}" for k in range(N_LAYERS) for b in ("mean", "var")
    }
    if set(missing) - stats_buffers or unexpected:
        raise MusicTransferError(
            f"{path}: weights do not match the network ({missing}, {unexpected})"
        )
    return model.eval()


def import_paper_weights(
    out: PathLike, weights: PathLike | None = None, mirror: PathLike | None = None
) -> Path:
    """Import the released Keras 1 weights into a PyTorch model file (``choi2017.pt``).

    The file holds the state dict (batch statistics: the faithful network) and where it
    came from; :func:`load_pretrained` and ``extract --model`` read it.
    """
    from musictransfer.files import atomic_path

    source = Path(weights) if weights is not None else fetch_released(WEIGHTS_THEANO, mirror)
    model = load_keras1_weights(source)
    payload = {
        "format": MODEL_FORMAT,
        "name": "choi2017",
        "source_url": url_of(WEIGHTS_THEANO),
        "source_sha256": file_hash(source),
        "tags": list(MSD_TAGS),
        "state_dict": model.state_dict(),
    }
    with atomic_path(out) as tmp:
        torch.save(payload, tmp)
    return Path(out)


def is_choi2017_file(path: PathLike) -> bool:
    """Whether ``path`` is a model file written by :func:`import_paper_weights`."""
    path = Path(path)
    if path.suffix != ".pt" or not path.is_file():
        return False
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch raises many types for what is not one of its files
        return False
    return isinstance(payload, dict) and payload.get("format") == MODEL_FORMAT


def authors_weights_kind(path: PathLike) -> str | None:
    """What ``path`` is when it holds the authors' network rather than a musictransfer model.

    ``extract --model`` without ``--extractor choi2017`` reads musictransfer model files
    only; given the authors' weights it should say so, not call the file damaged.

    Returns
    -------
    str or None
        A description for messages ("the authors' Keras 1 weight file", ...), or None
        for any other file (including a missing one).
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        return None
    if h5py.is_hdf5(path):
        try:
            with h5py.File(path, "r") as f:
                keras1 = "melgram" in f and "ConvBNEluDr" in f
        except OSError:
            keras1 = False
        return "the authors' Keras 1 weight file" if keras1 else "an HDF5 (Keras) weight file"
    if is_choi2017_file(path):
        return "the authors' network imported by import-paper-weights"
    return None


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
        ``weights_theano.hdf5`` or a ``choi2017.pt`` from :func:`import_paper_weights`.
        Default: the mirror (argument, or ``MUSICTRANSFER_MIRROR``), else the pooch
        cache (``MUSICTRANSFER_DATA_DIR``, or the user's cache directory), else a download
        from the authors' repository at the pinned commit
        (:func:`musictransfer.datasets.paper.fetch_released`).
    bn_mode
        ``"reference"`` (default): statistics frozen from the shipped reference set, so
        ``model(x)`` does not depend on the batch; ``"batch"``: Keras 1 mode 2 (batch
        statistics, faithful); ``"dataset"`` needs the set: call
        :func:`compute_statistics` and :func:`set_statistics` yourself.
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
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a damaged or foreign file
            reason = (str(exc).splitlines() or [""])[0]
            raise MusicTransferError(
                f"cannot read {path} as a choi2017 model file: {type(exc).__name__}: {reason}",
                hint,
            ) from exc
        if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
            raise MusicTransferError(f"{path} is not a choi2017 model file", hint)
        model = build_choi2017()
        try:
            model.load_state_dict(payload["state_dict"])
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
    batch_size: int = DEFAULT_BATCH_SIZE,
    chunk_size: int = 16,
    stats: Statistics | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, Statistics | None]:
    """Features and tag probabilities of ``n`` clips under a statistics mode.

    Parameters
    ----------
    model
        A :func:`build_choi2017` network (weights loaded); its statistics are restored.
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
    saved = _current_statistics(model)

    def chunks(indices: Sequence[int]) -> Callable[[], Iterator[Tensor]]:
        def gen() -> Iterator[Tensor]:
            for start in range(0, len(indices), chunk_size):
                batch = [
                    np.asarray(load(i), dtype=np.float32)
                    for i in indices[start : start + chunk_size]
                ]
                yield torch.from_numpy(np.stack(batch)).to(device)

        return gen

    def run(indices: Sequence[int]) -> tuple[list[Tensor], list[Tensor]]:
        feats, probs = [], []
        for wave in chunks(indices)():
            f, p = _forward(model, wave)
            feats.append(f.cpu())
            probs.append(p.cpu())
        return feats, probs

    from tqdm import tqdm

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
        _restore_statistics(model, saved)
    return torch.cat(feats).numpy(), torch.cat(probs).numpy(), used


# --- user-facing commands ----------------------------------------------------------------------


def _file_loader(paths: Sequence[Path], silence: str = "warn") -> Callable[[int], np.ndarray]:
    from musictransfer.audio import load_audio, tile_to_length

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
    batch_size: int = DEFAULT_BATCH_SIZE,
    stats_path: PathLike | None = None,
) -> np.ndarray:
    """``musictransfer extract --extractor choi2017``: features of audio files to .npz.

    Writes ``features`` (n x 160), ``ids`` (the paths as given), ``extractor``
    ('choi2017'), ``bn_mode``, ``batch_size`` and ``tag_probabilities`` (n x 50).
    """
    from musictransfer.featurefile import save_features

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
    batch_size: int = DEFAULT_BATCH_SIZE,
    chunk_size: int = 16,
) -> None:
    """Features of a prepared dataset (the workflow's ``extract_convnet`` for choi2017)."""
    from musictransfer.datasets.store import PreparedDataset
    from musictransfer.featurefile import save_features

    data = PreparedDataset(dataset_dir)
    model = load_pretrained("choi2017", weights=model_path, bn_mode="batch")
    feats, _, _ = extract(
        model, data.convnet_input, len(data), bn_mode, batch_size, chunk_size, progress=True
    )
    save_features(
        out, feats, data.ids, extractor="choi2017", bn_mode=bn_mode, batch_size=batch_size
    )


def tag_files(
    paths: Sequence[PathLike],
    top: int = 5,
    bn_mode: str = "reference",
    weights: PathLike | None = None,
    mirror: PathLike | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
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
            yield torch.from_numpy(np.stack(batch)).to(device)

    stats = compute_statistics(model, chunks, source=source or ", ".join(p.name for p in paths))
    stats.save(out)
    return stats
