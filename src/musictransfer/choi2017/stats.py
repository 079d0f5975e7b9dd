"""Frozen normalisation statistics of the authors' network, and how they are computed.

Keras 1 BatchNorm ``mode=2`` normalises with the statistics of the current batch, and
Kapre references the dB scale to the batch's maximum, so a clip's output depends on the
other clips of its batch. Freezing both (:func:`set_statistics`) makes it depend on the
clip alone. Frozen statistics of a set S (:func:`compute_statistics`) are exactly the
mode-2 statistics of S taken as one batch.

The package ships one such set (:data:`REFERENCE_STATS_FILE`); ``musictransfer
choi2017-stats`` (:func:`musictransfer.choi2017.api.reference_statistics`) computes
others.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from musictransfer._typing import PathLike
from musictransfer.choi2017_network import kapre_frontend
from musictransfer.errors import MusicTransferError
from musictransfer.model import ConvNet, ieee_float32
from musictransfer.outputs import write_json

REFERENCE_STATS_FILE = Path(__file__).parent.parent / "data" / "choi2017_reference_stats.json"
"""Frozen statistics shipped with the package: those of the 14 recordings of librosa's
example data (``librosa.example``; the file's ``source`` says which commit), first 29 s
at 12 kHz, tiled, as made by ``musictransfer choi2017-stats``."""


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
        write_json(path, self.to_dict())


def set_statistics(model: ConvNet, stats: Statistics | None) -> ConvNet:
    """Freeze ``model``'s normalisation to ``stats``, or return to batch statistics (None)."""
    frontend = kapre_frontend(model)
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
        A :func:`~musictransfer.choi2017_network.build_choi2017` network (its statistics
        mode is restored afterwards).
    chunks
        Called once per pass; yields ``(clips, samples)`` waveforms on the model's device.
    source
        Description of the set, kept in the result.
    """
    frontend = kapre_frontend(model)
    saved = snapshot_statistics(model)
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
        restore_statistics(model, saved)


def snapshot_statistics(model: ConvNet) -> list[Tensor]:
    """A copy of the normalisation buffers, for :func:`restore_statistics`."""
    buffers = [kapre_frontend(model).db_max]
    for block in model.blocks:
        buffers += [block.bn.mean, block.bn.var]
    return [b.clone() for b in buffers]


def restore_statistics(model: ConvNet, saved: list[Tensor]) -> None:
    """Put back the buffers saved by :func:`snapshot_statistics`."""
    buffers = [kapre_frontend(model).db_max]
    for block in model.blocks:
        buffers += [block.bn.mean, block.bn.var]
    for buffer, value in zip(buffers, saved, strict=True):
        buffer.copy_(value)
