"""The project's convnets as HEAR modules: what the three modules share.

:mod:`musictransfer.hear` documents the contract, the 16 kHz input and the timestamp
embeddings; this module is their implementation (PyTorch), imported by
:mod:`~musictransfer.hear.choi2017`, :mod:`~musictransfer.hear.random_convnet` and
:mod:`~musictransfer.hear.tagger`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from fractions import Fraction

import numpy as np
import torch
from torch import Tensor, nn

from musictransfer.audio import resample, tile_to_length
from musictransfer.constants import (
    CLIP_SECONDS,
    FEATURE_DIM,
    HOP_LENGTH,
    N_LAYERS,
    N_SAMPLES,
    POOL_SIZES,
    SAMPLE_RATE,
)
from musictransfer.model import ConvNet, ieee_float32

HEAR_SAMPLE_RATE = 16_000
"""The modules' declared input rate: the lowest HEAR accepts above the network's 12 kHz."""

LAYER_NAMES: tuple[str, ...] = tuple(str(k) for k in range(1, N_LAYERS + 1))
"""Keys of :func:`get_layer_embeddings`, the paper's 1-based layer numbers."""

CHUNK_SIZE = 8
"""Network inputs (29 s each) per forward pass: about 40 MB of activations each on a CPU."""

_TIME_FACTORS: tuple[int, ...] = tuple(
    math.prod(p[1] for p in POOL_SIZES[: k + 1]) for k in range(N_LAYERS)
)
"""Spectrogram frames per output frame of each layer: 4, 16, 80, 320, 1280."""

FRAME_HOP = HOP_LENGTH * _TIME_FACTORS[0]
"""1,024 samples at 12 kHz (85.33 ms): the hop of the first layer, and of the timestamps."""

FRAME_CENTRE = HOP_LENGTH * (_TIME_FACTORS[0] - 1) / 2
"""384 samples: centre of the first layer's frame 0 (spectrogram frames 0..3, at 256 t)."""

_RATIO = Fraction(HEAR_SAMPLE_RATE, SAMPLE_RATE)  # 4/3
_GRID = math.lcm(FRAME_HOP, _RATIO.denominator)  # 3,072 samples at 12 kHz = 4,096 at 16 kHz

WINDOW_HOP = N_SAMPLES // _GRID * _GRID
"""347,136 samples at 12 kHz (462,848 at 16 kHz): where the windows of a long sound start,
a whole number of first-layer frames that is also whole at 16 kHz."""

FRAMES_PER_WINDOW = WINDOW_HOP // FRAME_HOP
"""339 first-layer frames kept of each window's 340."""

CLIP_INPUT = math.ceil(CLIP_SECONDS * HEAR_SAMPLE_RATE)
"""464,000 samples at 16 kHz: what ``load_audio`` reads of a file before resampling."""

Chunks = Callable[[], Iterator[Tensor]]
"""Called once per pass, yields the network inputs of one call on the model's device."""


class HearModel(nn.Module):
    """A project network with the attributes HEAR reads.

    Parameters
    ----------
    network
        A :class:`~musictransfer.model.ConvNet` (or the authors' network built on it).
    name
        What it is, for messages (the model file's stem, ``choi2017``).

    Subclasses decide how BatchNorm is normalised during a call (:meth:`normalised`);
    the network is always run in eval mode.
    """

    sample_rate: int = HEAR_SAMPLE_RATE
    scene_embedding_size: int = FEATURE_DIM
    timestamp_embedding_size: int = FEATURE_DIM

    def __init__(self, network: ConvNet, name: str) -> None:
        super().__init__()
        self.network = network.eval()
        self.name = name

    @property
    def device(self) -> torch.device:
        """Where the network's weights are (HEAR moves the model with ``.to``)."""
        return next(self.network.parameters()).device

    @contextlib.contextmanager
    def normalised(self, chunks: Chunks, audio: Tensor) -> Iterator[None]:
        """Set BatchNorm up for one call; here nothing: the statistics are frozen.

        Parameters
        ----------
        chunks
            The call's network inputs, for a mode that takes its statistics from them.
        audio
            The call's checked audio at :attr:`sample_rate`, for a mode that calibrates
            on the sounds themselves.
        """
        yield

    def forward(self, audio: Tensor) -> Tensor:
        """The scene embeddings (:func:`get_scene_embeddings`)."""
        return get_scene_embeddings(audio, self)

    def extra_repr(self) -> str:
        """Name and rate in the module's printout."""
        return f"name={self.name!r}, sample_rate={self.sample_rate}"


def check_audio(audio: Tensor) -> None:
    """Refuse what HEAR's contract excludes, with what is wrong and where.

    Raises
    ------
    TypeError
        If ``audio`` is not a float32 tensor.
    ValueError
        If it is not ``(n_sounds, n_samples)`` with at least one of each, or holds a NaN
        or infinite sample (naming the first such sound, counted from 0).
    """
    if not isinstance(audio, Tensor):
        raise TypeError(f"audio must be a torch.Tensor, got {type(audio).__name__}")
    if audio.dtype != torch.float32:
        raise TypeError(f"audio must be float32 (HEAR's convention), got {audio.dtype}")
    if audio.ndim != 2:
        raise ValueError(f"audio must be 2-D (n_sounds, n_samples), got shape {tuple(audio.shape)}")
    if audio.shape[0] == 0 or audio.shape[1] == 0:
        raise ValueError(f"audio holds no sound or no sample: shape {tuple(audio.shape)}")
    bad = torch.nonzero(~torch.isfinite(audio).all(dim=1)).flatten().tolist()
    if bad:
        more = f" (and {len(bad) - 1} more sound(s))" if len(bad) > 1 else ""
        raise ValueError(
            f"sound {bad[0]} of the batch holds NaN or infinite samples{more}: "
            "its embeddings, and through batch statistics others', would be NaN"
        )


def network_clips(audio: Tensor, sample_rate: int = HEAR_SAMPLE_RATE) -> np.ndarray:
    """The network input of each sound, as the package makes it of a file.

    The first :data:`CLIP_INPUT` samples, resampled to 12 kHz with
    :func:`musictransfer.audio.resample` and tiled to 348,000 samples: ``load_audio``
    then ``tile_to_length``. Returns float32 ``(n_sounds, N_SAMPLES)`` on the CPU.
    """
    cut = math.ceil(CLIP_SECONDS * sample_rate)
    rows = audio.detach().cpu().numpy()
    return np.stack([tile_to_length(resample(row[:cut], sample_rate, SAMPLE_RATE)) for row in rows])


def timestamp_layout(n_samples: int) -> tuple[int, int]:
    """``(n_frames, n_windows)`` of a sound of ``n_samples`` at :data:`HEAR_SAMPLE_RATE`.

    The frames are those whose first sample lies within the sound.
    """
    n_frames = math.ceil(Fraction(n_samples) / (FRAME_HOP * _RATIO))
    return n_frames, -(-n_frames // FRAMES_PER_WINDOW)


def network_windows(audio: Tensor) -> tuple[np.ndarray, int, int]:
    """The timestamp path's network inputs: every window of every sound, sound-major.

    Returns
    -------
    inputs : numpy.ndarray
        Float32 ``(n_sounds * n_windows, N_SAMPLES)``: window ``w`` of a sound is its
        samples from ``w * 462,848`` on, treated like a sound of its own
        (:func:`network_clips`), so window 0 is the scene embedding's input.
    n_frames, n_windows : int
        As :func:`timestamp_layout`.
    """
    n_frames, n_windows = timestamp_layout(audio.shape[1])
    hop = int(WINDOW_HOP * _RATIO)
    rows = audio.detach().cpu().numpy()
    windows = [
        tile_to_length(resample(row[w * hop : w * hop + CLIP_INPUT], HEAR_SAMPLE_RATE, SAMPLE_RATE))
        for row in rows
        for w in range(n_windows)
    ]
    return np.stack(windows), n_frames, n_windows


@ieee_float32()
def run_network(
    model: HearModel, inputs: np.ndarray, audio: Tensor, reduce: Callable[[Tensor], Tensor]
) -> list[Tensor]:
    """Each layer's output of every input, reduced chunk by chunk (``reduce``), on the device.

    Inputs go through in chunks of :data:`CHUNK_SIZE` inside :meth:`HearModel.normalised`,
    so memory stays bounded whatever the batch; ``reduce`` (an average) is applied
    before the chunks are concatenated.
    """
    network = model.network.eval()
    device = model.device

    def chunks() -> Iterator[Tensor]:
        for start in range(0, len(inputs), CHUNK_SIZE):
            yield torch.from_numpy(inputs[start : start + CHUNK_SIZE]).to(device)

    parts: list[list[Tensor]] = []
    with torch.no_grad(), model.normalised(chunks, audio):
        for chunk in chunks():
            parts.append([reduce(out) for out in network.block_outputs(chunk)])
    return [torch.cat(layer) for layer in zip(*parts, strict=True)]


def get_scene_embeddings(audio: Tensor, model: HearModel) -> Tensor:
    """The convnet feature of each sound: float32 ``(n_sounds, 160)``, layers 1..5.

    Each layer's map averaged over frequency and time, as
    :meth:`musictransfer.model.ConvNet.layer_features` (and the authors' extraction) do,
    of the sound's first 29 s (tiled if shorter).
    """
    check_audio(audio)
    outputs = run_network(model, network_clips(audio), audio, lambda o: o.mean(dim=(-2, -1)))
    return torch.cat(outputs, dim=1).float().to(audio.device)


def get_layer_embeddings(audio: Tensor, model: HearModel) -> dict[str, Tensor]:
    """Each layer's frequency-averaged map before the time average, by layer name.

    Returns
    -------
    dict of str to Tensor
        ``"1"`` .. ``"5"``: float32 ``(n_sounds, n_frames, 32)`` with 340, 85, 17, 4 and
        1 frames, of the same input as :func:`get_scene_embeddings`; the mean over
        frames of each, concatenated in layer order, is the scene embedding.
    """
    check_audio(audio)
    outputs = run_network(model, network_clips(audio), audio, lambda o: o.mean(dim=-2))
    return {
        name: out.transpose(1, 2).contiguous().float().to(audio.device)
        for name, out in zip(LAYER_NAMES, outputs, strict=True)
    }


def get_timestamp_embeddings(audio: Tensor, model: HearModel) -> tuple[Tensor, Tensor]:
    """The convnet feature at each first-layer frame (module docstring), with its times.

    Returns
    -------
    embeddings : Tensor
        Float32 ``(n_sounds, n_frames, 160)``, layers 1..5 in the scene embedding's order.
    timestamps : Tensor
        Float32 ``(n_sounds, n_frames)``: frame centres in milliseconds, a hop of 85.33 ms.
    """
    check_audio(audio)
    inputs, n_frames, n_windows = network_windows(audio)
    outputs = run_network(model, inputs, audio, lambda o: o.mean(dim=-2))
    frame = torch.arange(FRAMES_PER_WINDOW, device=outputs[0].device)
    held = []
    for factor, out in zip(_TIME_FACTORS, outputs, strict=True):
        index = torch.clamp(frame // (factor // _TIME_FACTORS[0]), max=out.shape[-1] - 1)
        held.append(out[:, :, index])  # (n_sounds * n_windows, 32, 339)
    n_sounds = audio.shape[0]
    embeddings = (
        torch.cat(held, dim=1)
        .reshape(n_sounds, n_windows, FEATURE_DIM, FRAMES_PER_WINDOW)
        .permute(0, 1, 3, 2)
        .reshape(n_sounds, n_windows * FRAMES_PER_WINDOW, FEATURE_DIM)[:, :n_frames]
    )
    times = (torch.arange(n_frames, dtype=torch.float64) * FRAME_HOP + FRAME_CENTRE) * (
        1000.0 / SAMPLE_RATE
    )
    timestamps = times.float().expand(n_sounds, n_frames).contiguous()
    return embeddings.float().contiguous().to(audio.device), timestamps.to(audio.device)


__all__ = [
    "CHUNK_SIZE",
    "FRAMES_PER_WINDOW",
    "FRAME_HOP",
    "HEAR_SAMPLE_RATE",
    "LAYER_NAMES",
    "WINDOW_HOP",
    "HearModel",
    "check_audio",
    "get_layer_embeddings",
    "get_scene_embeddings",
    "get_timestamp_embeddings",
    "network_clips",
    "network_windows",
    "timestamp_layout",
]
