"""A weightless HEAR 2021 module for the tests of musictransfer.representations.

A fixed, seeded random projection of a log-mel-like spectrogram, averaged over frames:
cheap, deterministic, and sensitive to every part of a clip. Options of ``load_model``
make it misbehave on purpose (other output types, another declared rate or size, NaN for
quiet sounds); :data:`CALLS` records the shape of every batch it is given.
"""

from __future__ import annotations

import numpy as np
import torch

CALLS: list[tuple[str, tuple[int, ...]]] = []
"""``(function, audio shape)`` of every call, in order (clear it before a test)."""

N_FFT = 512
N_BANDS = 40


class Tensorish:
    """What a TensorFlow tensor looks like from outside: an object with ``.numpy()``."""

    def __init__(self, value: np.ndarray) -> None:
        self.value = value

    def numpy(self) -> np.ndarray:
        return self.value


class ToyModel(torch.nn.Module):
    timestamp_embedding_size = 16

    def __init__(
        self, sample_rate, scene_embedding_size, output: str, nan_below: float, batch_stats=False
    ) -> None:
        super().__init__()
        self.batch_stats = batch_stats
        self.sample_rate = sample_rate
        self.scene_embedding_size = scene_embedding_size
        self.output = output
        self.nan_below = nan_below
        g = torch.Generator().manual_seed(0)
        self.register_buffer("bands", torch.rand(N_BANDS, N_FFT // 2 + 1, generator=g))
        self.register_buffer("projection", torch.randn(N_BANDS, 16, generator=g))
        self.register_buffer("second", torch.randn(16, 8, generator=g))


def load_model(
    model_file_path: str = "",
    output: str = "torch",
    sample_rate: float = 16000,
    scene_embedding_size: int = 16,
    nan_below: float = 0.0,
    batch_stats: bool = False,
) -> ToyModel:
    """``output``: torch, numpy, tensorish, float64 or list; ``nan_below``: a peak;
    ``batch_stats``: centre each call's embeddings on their batch mean (a batch leak)."""
    model = ToyModel(sample_rate, scene_embedding_size, output, nan_below, batch_stats)
    model.model_file = model_file_path
    return model


def _frames(audio: torch.Tensor, model: ToyModel) -> torch.Tensor:
    """(n, n_frames, 16): a projection of each frame's log band energies."""
    window = torch.hann_window(N_FFT, device=audio.device)
    spec = torch.stft(audio, N_FFT, N_FFT // 2, window=window, return_complex=True).abs() ** 2
    logmel = torch.log(model.bands @ spec + 1e-6).transpose(1, 2)
    return torch.tanh(logmel @ model.projection / N_BANDS)


def _as(model: ToyModel, x: torch.Tensor):
    if model.output == "numpy":
        return x.cpu().numpy()
    if model.output == "tensorish":
        return Tensorish(x.cpu().numpy())
    if model.output == "float64":
        return x.double()
    if model.output == "list":
        return x.tolist()
    return x


def get_scene_embeddings(audio: torch.Tensor, model: ToyModel):
    CALLS.append(("scene", tuple(audio.shape)))
    scene = _frames(audio, model).mean(dim=1)
    if model.batch_stats:
        scene = scene - scene.mean(dim=0, keepdim=True) + 1.0
    quiet = audio.abs().amax(dim=1) < model.nan_below
    scene[quiet] = float("nan")
    return _as(model, scene)


def get_layer_embeddings(audio: torch.Tensor, model: ToyModel) -> dict:
    CALLS.append(("layers", tuple(audio.shape)))
    frames = _frames(audio, model)
    return {"frames": _as(model, frames), "second": _as(model, torch.relu(frames @ model.second))}
