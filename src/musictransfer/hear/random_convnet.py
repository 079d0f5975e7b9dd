"""HEAR module of the paper's random convnet: ``musictransfer.hear.random_convnet``.

The seeded He-normal network of ``musictransfer random-convnet``
(:func:`musictransfer.modelfile.save_random_convnet`) behind HEAR's API
(:mod:`musictransfer.hear`). It also serves :mod:`musictransfer.hear.tagger`: both read
a model file with the package's reader (:func:`musictransfer.modelfile.read_model_file`,
:func:`~musictransfer.modelfile.build_checked`), as ``musictransfer extract --model`` does.

Calibration. The random convnet's file says ``bn_statistics: calibrate``: its BatchNorm
has no statistics of its own, and the package measures them on the first clips of what
it extracts (up to :data:`~musictransfer.features.CALIBRATION_CLIPS`, in batches of
:data:`~musictransfer.features.CALIBRATION_BATCH`, with
:func:`~musictransfer.features.calibrate_batchnorm`; see ``save_random_convnet`` for
why), then freezes them. HEAR gives a module no dataset, only calls, so:

- ``load_model(..., calibration=...)`` calibrates on the sounds given (a tensor at 16 kHz
  or a list of audio files), exactly as the package would on them: for embeddings
  reproducible across runs, give the first clips of the task, or
- a file saved after calibrating (:func:`save_calibrated`, ``bn_statistics: running``)
  needs no calibration at all; otherwise
- the first call to an embedding function calibrates on its own first sounds (a warning
  says so): the package's rule applied to the stream HEAR sends. Later calls, and the
  other sounds of that call, use those frozen statistics, so after it no embedding
  depends on its batch; but all of them depend on what that first call held.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from musictransfer._typing import PathLike
from musictransfer.audio import load_audio, tile_to_length
from musictransfer.errors import MusicTransferError
from musictransfer.features import CALIBRATION_BATCH, CALIBRATION_CLIPS, calibrate_batchnorm
from musictransfer.hear.convnet import (
    HEAR_SAMPLE_RATE,
    Chunks,
    HearModel,
    check_audio,
    get_layer_embeddings,
    get_scene_embeddings,
    get_timestamp_embeddings,
    network_clips,
)
from musictransfer.model import ConvNet, ieee_float32
from musictransfer.modelfile import (
    ARCH_CONVNET,
    BN_CALIBRATE,
    BN_RUNNING,
    build_checked,
    read_model_file,
    save_model,
    save_random_convnet,
)

log = logging.getLogger(__name__)

Calibration = Tensor | Sequence[PathLike]
"""Sounds to calibrate on: float32 ``(n_sounds, n_samples)`` at 16 kHz, or audio files."""


class ConvNetModel(HearModel):
    """A network of the package's own (:class:`~musictransfer.model.ConvNet`) from a model file.

    Parameters
    ----------
    network
        The rebuilt network.
    name
        The model file's stem.
    payload
        The file's dictionary (its tags, hyper-parameters and ``meta`` are kept for
        :func:`save_calibrated`; the weights are the network's).
    """

    def __init__(self, network: ConvNet, name: str, payload: dict[str, Any]) -> None:
        super().__init__(network, name)
        self.needs_calibration = payload["bn_statistics"] == BN_CALIBRATE
        self.tags = list(payload["tags"])
        self.dropout = float(payload["hparams"].get("dropout", 0.0))
        self.meta = dict(payload.get("meta", {}))

    @ieee_float32()
    def calibrate(self, clips: np.ndarray) -> None:
        """Set BatchNorm's statistics from network inputs ``(n, 348000)``, as the package does.

        The first :data:`~musictransfer.features.CALIBRATION_CLIPS` of them, in batches
        of :data:`~musictransfer.features.CALIBRATION_BATCH`, in order.
        """
        clips = clips[:CALIBRATION_CLIPS]
        device = self.device
        batches = (
            torch.from_numpy(np.ascontiguousarray(clips[s : s + CALIBRATION_BATCH])).to(device)
            for s in range(0, len(clips), CALIBRATION_BATCH)
        )
        calibrate_batchnorm(self.network, batches)
        self.needs_calibration = False
        self.meta["calibration_clips"] = len(clips)

    @contextlib.contextmanager
    def normalised(self, chunks: Chunks, audio: Tensor) -> Iterator[None]:
        """Calibrate on this call's sounds if no statistics are set yet (module docstring)."""
        if self.needs_calibration:
            n = min(len(audio), CALIBRATION_CLIPS)
            log.warning(
                "%s: BatchNorm calibrated on the first %d sound(s) of the first call, and "
                "frozen; pass calibration= to load_model to choose the sounds",
                self.name,
                n,
            )
            self.calibrate(network_clips(audio[:n]))
        yield


def calibration_clips(calibration: Calibration) -> np.ndarray:
    """The network inputs of the calibration sounds, made as the package makes them.

    A tensor goes through :func:`~musictransfer.hear.network_clips`; files through
    :func:`musictransfer.audio.load_audio` and ``tile_to_length``, as
    :func:`musictransfer.features.extract_files` reads them.
    """
    if isinstance(calibration, Tensor):
        check_audio(calibration)
        return network_clips(calibration[:CALIBRATION_CLIPS], HEAR_SAMPLE_RATE)
    paths = [Path(p) for p in calibration][:CALIBRATION_CLIPS]
    if not paths:
        raise ValueError("calibration holds no audio file")
    return np.stack([tile_to_length(load_audio(p)) for p in paths])


def load_model_file(path: PathLike, calibration: Calibration | None = None) -> ConvNetModel:
    """A model file of the package's ConvNet as a HEAR model, on the CPU.

    Parameters
    ----------
    path
        A ``.pt`` written by ``random-convnet``, ``train`` or :func:`save_calibrated`.
    calibration
        Sounds to calibrate a ``bn_statistics: calibrate`` file on (module docstring).

    Raises
    ------
    MusicTransferError
        If the file is missing, unreadable, of the authors' network (whose module is
        :mod:`musictransfer.hear.choi2017`), or not of this version's format.
    ValueError
        For ``calibration`` with a file whose statistics are already set.
    """
    payload = read_model_file(path)
    if payload["architecture"] != ARCH_CONVNET:
        raise MusicTransferError(
            f"{path} holds the authors' network (import-paper-weights)",
            "use the HEAR module musictransfer.hear.choi2017 for it",
        )
    network = build_checked(payload, path)
    model = ConvNetModel(network.eval(), Path(path).stem, payload)
    if calibration is not None:
        if not model.needs_calibration:
            raise ValueError(
                f"{path} has BatchNorm statistics ({payload['bn_statistics']}): "
                "only a 'calibrate' file (the random convnet) takes calibration sounds"
            )
        model.calibrate(calibration_clips(calibration))
    return model


def save_calibrated(model: ConvNetModel, out: PathLike) -> None:
    """Write a calibrated network as a model file with frozen (``running``) statistics.

    The file loads with no calibration, in this module or in ``musictransfer extract
    --model``, so a HEAR run can use statistics measured once on chosen sounds.

    Raises
    ------
    ValueError
        If the model is not calibrated yet.
    """
    if model.needs_calibration:
        raise ValueError(f"{model.name} is not calibrated: load it with calibration= first")
    save_model(
        out,
        model.network,
        model.tags,
        BN_RUNNING,
        dropout=model.dropout,
        meta={**model.meta, "calibrated_from": model.name},
    )


def load_model(
    model_file_path: str = "", seed: int = 0, calibration: Calibration | None = None
) -> ConvNetModel:
    """The random convnet as a HEAR model, on the CPU (move it with ``.to``).

    Parameters
    ----------
    model_file_path
        A random convnet's model file (``musictransfer random-convnet``); empty: the one
        ``random-convnet --seed`` ``seed`` writes, made in a temporary directory.
    seed
        The He-normal seed when no file is given (the workflow's default is 0).
    calibration
        Sounds to calibrate BatchNorm on (module docstring); else the first call's.
    """
    if model_file_path:
        return load_model_file(model_file_path, calibration)
    with tempfile.TemporaryDirectory(prefix="musictransfer-hear-") as tmp:
        path = Path(tmp) / f"random-seed{int(seed)}.pt"
        save_random_convnet(path, seed=int(seed))
        return load_model_file(path, calibration)


__all__ = [
    "ConvNetModel",
    "get_layer_embeddings",
    "get_scene_embeddings",
    "get_timestamp_embeddings",
    "load_model",
    "load_model_file",
    "save_calibrated",
]
