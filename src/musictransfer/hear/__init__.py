"""The project's networks as HEAR 2021 modules (the "HEAR 2021 common API").

HEAR (hearbenchmark.com) evaluates an audio representation through a Python module that
exposes three functions; each network of the project has one such module:

- :mod:`musictransfer.hear.choi2017`: the authors' pre-trained tagger (the paper's
  "convnet feature");
- :mod:`musictransfer.hear.random_convnet`: the paper's random He-normal convnet;
- :mod:`musictransfer.hear.tagger`: a tagger trained by ``musictransfer train``.

For example ``hear-validator musictransfer.hear.choi2017 -m choi2017.pt``, or
``python -m heareval.embeddings.runner musictransfer.hear.choi2017 --model choi2017.pt``.

The contract
------------
``load_model(model_file_path: str = "", **options) -> HearModel``
    A :class:`torch.nn.Module` with ``sample_rate`` (16,000 Hz), ``scene_embedding_size``
    and ``timestamp_embedding_size`` (both 160). Each module documents its file and its
    options (HEAR's runner passes them as ``--model-options``).
``get_scene_embeddings(audio, model) -> Tensor``
    ``audio`` is float32 ``(n_sounds, n_samples)`` in [-1, 1] at ``model.sample_rate``;
    the result is float32 ``(n_sounds, 160)``: the paper's convnet feature of each sound,
    the same numbers the package computes for the same audio in a file.
``get_timestamp_embeddings(audio, model) -> (Tensor, Tensor)``
    Float32 embeddings ``(n_sounds, n_timestamps, 160)`` and their times in milliseconds
    ``(n_sounds, n_timestamps)``, see "Timestamp embeddings" below.
``get_layer_embeddings(audio, model) -> dict[str, Tensor]``
    This project's extension: the five layers' maps before the time average, ``"1"`` ..
    ``"5"``, each float32 ``(n_sounds, n_frames_of_that_layer, 32)`` (340, 85, 17, 4 and 1
    frames), already averaged over frequency; averaging each over its frames and
    concatenating in layer order gives the scene embedding (up to float32 rounding). It
    is what a layer-wise study (the paper's layer combinations) needs from HEAR's data.

Inputs are checked (:func:`check_audio`): a tensor, float32, 2-D, at least one sample,
and finite (a NaN or infinite sample is a ValueError naming the sound, since a NaN would
otherwise spread through the max-pooling into every embedding of the batch). Results are
returned on the audio's device; the network runs on the model's device, in IEEE float32
(:func:`musictransfer.model.ieee_float32`) so that embeddings do not depend on the GPU.

From 16 kHz to the network's input
----------------------------------
HEAR accepts only 16, 22.05, 32, 44.1 or 48 kHz, and the network takes 12 kHz, so the
modules declare 16 kHz and resample inside, with the package's own resampler,
:func:`musictransfer.audio.resample` (soxr 'HQ', librosa's default, on the CPU), after
keeping the first :data:`~musictransfer.constants.CLIP_SECONDS` seconds exactly as
:func:`musictransfer.audio.load_audio` does, and then tile to 29 s
(:func:`musictransfer.audio.tile_to_length`). A sound therefore gets bit for bit the
network input that the package makes of a 16 kHz file holding it, and the scene
embedding is the package's feature of that file. ``torchaudio.functional.resample``
would run on the GPU, but its windowed-sinc filter (rolloff 0.99) leaves the top mel
bands, which reach 6 kHz, different from what every feature of the project was computed
with; soxr on a CPU costs a few milliseconds per sound, next to about 0.1 s of network.

Timestamp embeddings
--------------------
The convnet's time resolution halves and quarters from layer to layer (pooling by 4, 4,
5, 4 and 4 frames of 256 samples), so no one layer has both fine frames and the whole
feature. The timestamp embedding is the 160-value convnet feature made local: at each
frame of the first layer (1,024 samples at 12 kHz, a hop of 85.33 ms), the five layers'
frequency-averaged outputs, each taken at the frame of that layer that covers it
(layers 4 and 5 cover 27.3 of the 29 s: their last frame is held over the rest). Its
timestamps are the frame centres, ``32 + 85.33 k`` ms (the centre of the first layer's
four spectrogram frames, frames timed as librosa does; Kapre's frames of the authors'
network start one sample, 0.08 ms, earlier). The hop is wider than HEAR's suggested
50 ms (the validator warns): finer frames would only repeat the first layer's values.

A sound longer than 29 s is cut into windows of 339 first-layer frames (28.93 s, a whole
number of samples at 16 and at 12 kHz, so the frames stay on one regular grid); each
window is resampled and tiled like a sound of its own and run through the network, and
the frames up to the sound's end are kept (a sound of ``n`` samples at 16 kHz has
``ceil(3 n / 4096)`` frames). The first window is the scene embedding's input, so the
first layer's part of the first frames equals the layer embedding ``"1"``.

Normalisation (each module says more)
-------------------------------------
Every module's default makes a sound's embeddings independent of the other sounds of
the batch: frozen statistics for the authors' network (``bn_mode="reference"``), the
running statistics of a trained tagger, and statistics calibrated once for the random
convnet.
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
