"""Model files (``.pt``): writing, reading and rebuilding the networks, without Lightning.

A model file is one format for every network of the project, trained or not: a
dictionary with the ConvNet's ``state_dict``, the tag vocabulary, the hyper-parameters
needed to rebuild the network, how its BatchNorm layers get their statistics at
inference, and a format version. :func:`load_model` rebuilds the network from it.

Reading a model (``musictransfer extract --model``, the workflow's feature extraction)
needs only PyTorch and :mod:`musictransfer.model`; training one
(:mod:`musictransfer.training`) is the only part of the package that needs Lightning.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from musictransfer.constants import MSD_TAGS, N_CHANNELS, POOL_SIZES
from musictransfer.errors import MusicTransferError
from musictransfer.files import atomic_path
from musictransfer.model import ConvNet, init_he_normal
from musictransfer.provenance import provenance

MODEL_FORMAT_VERSION = 1
"""Version of the model-file dictionary; bump it when its keys change meaning."""

BN_RUNNING = "running"
"""BatchNorm uses the running statistics stored in the file (trained networks)."""

BN_CALIBRATE = "calibrate"
"""BatchNorm statistics are measured on the data being extracted (the random convnet).

See :func:`save_random_convnet` for why, and
:func:`musictransfer.features.calibrate_batchnorm` for how."""


def save_model(
    out: str | os.PathLike[str],
    model: ConvNet,
    tags: list[str],
    bn_statistics: str,
    dropout: float = 0.0,
    meta: dict[str, Any] | None = None,
) -> None:
    """Write a model file (atomically): weights, tags, hyper-parameters, format version.

    Parameters
    ----------
    out
        The ``.pt`` file.
    model
        The network; its ``state_dict`` is stored on the CPU.
    tags
        Names of the head's output units (empty for an untrained head).
    bn_statistics
        :data:`BN_RUNNING` or :data:`BN_CALIBRATE`.
    dropout
        The network's dropout (kept so that the rebuilt network is the same module).
    meta
        Free-form facts to keep with the weights (training source, scores, seed).
    """
    if bn_statistics not in (BN_RUNNING, BN_CALIBRATE):
        raise ValueError(f"unknown bn_statistics {bn_statistics!r}")
    payload = {
        "format_version": MODEL_FORMAT_VERSION,
        "architecture": "musictransfer.model.ConvNet",
        "hparams": {
            "n_tags": int(model.head.out_features),
            "n_channels": int(model.head.in_features),
            "pool_sizes": [list(b.pool.kernel_size) for b in model.blocks],
            "dropout": float(dropout),
        },
        "tags": list(tags),
        "bn_statistics": bn_statistics,
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "meta": dict(meta or {}),
        "provenance": provenance(),
    }
    with atomic_path(out) as tmp:
        torch.save(payload, tmp)


def save_random_convnet(out: str | os.PathLike[str], seed: int = 0) -> None:
    """Save the paper's random convnet: He-normal weights from ``seed``, never trained.

    BatchNorm: the authors' network (Keras 1, BatchNorm ``mode=2``) normalised every
    layer with the statistics of the batch being processed, at inference too, so their
    random convnet feature was computed with data statistics. An untrained PyTorch
    BatchNorm holds running mean 0 and variance 1, i.e. it is the identity, and that
    is *not* equivalent here: the input is in dB (values in [-80, 0]), so every
    first-layer channel gets a large offset (the sum of its weights times the mean dB
    level), ELU saturates the channels with a negative offset to a constant -1, and the
    activations' scale grows layer after layer. On the recordings of ../shared/audio
    this left 18 of the 160 feature dimensions constant across clips and values up to
    ~90, while batch statistics left none constant and values of order 1.

    The file therefore says ``bn_statistics: calibrate``: the extractor measures each
    BatchNorm layer's statistics on the first clips of the dataset it extracts (up to
    :data:`musictransfer.features.CALIBRATION_CLIPS`, in storage order, in batches of
    :data:`musictransfer.features.CALIBRATION_BATCH`), the way the authors' first
    prediction batch was normalised, and then uses those fixed statistics for every
    clip. This keeps the spirit of the authors' batch normalisation while making a
    clip's feature independent of which other clips share its batch.
    """
    model = init_he_normal(ConvNet(n_tags=len(MSD_TAGS)), seed)
    save_model(out, model, tags=[], bn_statistics=BN_CALIBRATE, meta={"seed": int(seed)})


def read_model_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The model-file dictionary, checked; a clear error for a missing or bad file.

    Raises
    ------
    MusicTransferError
        If the file is missing, unreadable, not a model file of this format, or of a
        newer format version.
    """
    path = Path(path)
    if not path.is_file():
        raise MusicTransferError(
            f"model file not found: {path}",
            "train it (musictransfer train / random-convnet) or check the path",
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged archive
        raise MusicTransferError(
            f"cannot read model file {path}: {type(exc).__name__}: {exc}",
            "the file is damaged or not a musictransfer model: delete it and make it again",
        ) from exc
    required = ("format_version", "hparams", "tags", "bn_statistics", "state_dict")
    if not isinstance(payload, dict) or any(k not in payload for k in required):
        raise MusicTransferError(
            f"{path} is not a musictransfer model file",
            "make it with musictransfer train or random-convnet",
        )
    if payload["format_version"] > MODEL_FORMAT_VERSION:
        raise MusicTransferError(
            f"{path} has model format {payload['format_version']}, this version of "
            f"musictransfer reads up to {MODEL_FORMAT_VERSION}",
            "upgrade musictransfer",
        )
    return payload


def build_model(payload: dict[str, Any]) -> ConvNet:
    """Rebuild the ConvNet described by a model-file dictionary, with its weights."""
    h = payload["hparams"]
    model = ConvNet(
        n_tags=int(h["n_tags"]),
        n_channels=int(h.get("n_channels", N_CHANNELS)),
        pool_sizes=tuple(tuple(p) for p in h.get("pool_sizes", POOL_SIZES)),
        dropout=float(h.get("dropout", 0.0)),
    )
    model.load_state_dict(payload["state_dict"])
    return model


def load_model(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> ConvNet:
    """Load a model file as a ConvNet in eval mode on ``device``.

    A model whose file says ``bn_statistics: calibrate`` (the random convnet) still
    holds identity BatchNorm statistics here: :func:`musictransfer.features.extract_convnet`
    calibrates them on the data; use :func:`read_model_file` to see which it is.

    Raises
    ------
    MusicTransferError
        If the file is missing, damaged or of an unknown format.
    """
    payload = read_model_file(path)
    try:
        model = build_model(payload)
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise MusicTransferError(
            f"model file {path} does not match the ConvNet: {exc}",
            "make the file again with this version of musictransfer",
        ) from exc
    return model.to(device).eval()


__all__ = [
    "BN_CALIBRATE",
    "BN_RUNNING",
    "MODEL_FORMAT_VERSION",
    "build_model",
    "load_model",
    "read_model_file",
    "save_model",
    "save_random_convnet",
]
