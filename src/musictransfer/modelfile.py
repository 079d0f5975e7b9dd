"""Model files (``.pt``): writing, reading and rebuilding the networks, without Lightning.

A model file is one format for every network of the project, trained, random or
imported from the authors: a dictionary (``torch.save``, read with ``weights_only``) of

``format_version``
    :data:`MODEL_FORMAT_VERSION`.
``architecture``
    :data:`ARCH_CONVNET` (our :class:`~musictransfer.model.ConvNet`) or
    :data:`ARCH_CHOI2017` (the same blocks with the authors' Kapre front end and Keras 1
    BatchNorm, :mod:`musictransfer.choi2017`).
``hparams``
    What rebuilds the network: ``n_tags``, ``n_channels``, ``pool_sizes``, ``dropout``.
``tags``
    Names of the head's output units (empty for an untrained head).
``bn_statistics``
    How BatchNorm gets its statistics at inference: :data:`BN_RUNNING`,
    :data:`BN_CALIBRATE` or :data:`BN_BATCH`.
``state_dict``
    The weights (and buffers), on the CPU.
``meta``, ``provenance``
    Facts kept with the weights (training source and scores, seed, the authors' file and
    its checksum) and the code that wrote the file.

:func:`save_model` is the one writer and :func:`read_model_file` the one reader;
:func:`load_model` rebuilds the network. Files that ``import-paper-weights`` wrote
before the choi2017 network was stored in this format (:data:`LEGACY_CHOI2017_FORMAT`)
are still read, as the same network (:func:`as_model_payload`).

Reading a model (``musictransfer extract --model``, the workflow's feature extraction)
needs only PyTorch and :mod:`musictransfer.model`; training one
(:mod:`musictransfer.training`) is the only part of the package that needs Lightning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from musictransfer._typing import PathLike
from musictransfer.choi2017_network import build_choi2017
from musictransfer.constants import MSD_TAGS, N_CHANNELS, POOL_SIZES
from musictransfer.errors import MusicTransferError
from musictransfer.model import ConvNet, init_he_normal
from musictransfer.outputs import atomic_path
from musictransfer.provenance import provenance

MODEL_FORMAT_VERSION = 1
"""Version of the model-file dictionary; bump it when its keys change meaning."""

BN_RUNNING = "running"
"""BatchNorm uses the running statistics stored in the file (trained networks)."""

BN_CALIBRATE = "calibrate"
"""BatchNorm statistics are measured on the data being extracted (the random convnet).

See :func:`save_random_convnet` for why, and
:func:`musictransfer.features.calibrate_batchnorm` for how."""

BN_BATCH = "batch"
"""BatchNorm normalises with the statistics of each batch, as Keras 1 ``mode=2`` (the
authors' network); frozen statistics are chosen when extracting
(:mod:`musictransfer.choi2017.stats`)."""

ARCH_CONVNET = "musictransfer.model.ConvNet"
"""Our networks: :class:`musictransfer.model.ConvNet` as the ``hparams`` describe it."""

ARCH_CHOI2017 = "musictransfer.choi2017"
"""The authors' network (:func:`musictransfer.choi2017_network.build_choi2017`)."""

BN_STATISTICS = {ARCH_CONVNET: (BN_RUNNING, BN_CALIBRATE), ARCH_CHOI2017: (BN_BATCH,)}
"""The ``bn_statistics`` each architecture can have."""

LEGACY_CHOI2017_FORMAT = "musictransfer.choi2017/1"
"""The ``format`` key of the dictionary that ``import-paper-weights`` wrote before it used
this format (keys ``name``, ``source_url``, ``source_sha256``, ``tags``, ``state_dict``);
such files are still read (:func:`as_model_payload`)."""


def save_model(
    out: PathLike,
    model: ConvNet,
    tags: list[str],
    bn_statistics: str,
    dropout: float = 0.0,
    meta: dict[str, Any] | None = None,
    architecture: str = ARCH_CONVNET,
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
        :data:`BN_RUNNING` or :data:`BN_CALIBRATE` (:data:`BN_BATCH` for the authors'
        network).
    dropout
        The network's dropout (kept so that the rebuilt network is the same module).
    meta
        Free-form facts to keep with the weights (training source, scores, seed).
    architecture
        :data:`ARCH_CONVNET`, or :data:`ARCH_CHOI2017` for the authors' network.
    """
    if architecture not in BN_STATISTICS:
        raise ValueError(f"unknown architecture {architecture!r}")
    if bn_statistics not in BN_STATISTICS[architecture]:
        raise ValueError(f"unknown bn_statistics {bn_statistics!r} for {architecture}")
    payload = {
        "format_version": MODEL_FORMAT_VERSION,
        "architecture": architecture,
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


def save_random_convnet(out: PathLike, seed: int = 0) -> None:
    """Save the paper's random convnet: He-normal weights from ``seed``, never trained.

    BatchNorm: the authors' network (Keras 1, BatchNorm ``mode=2``) normalised every
    layer with the statistics of the batch being processed, at inference too, so their
    random convnet feature was computed with data statistics. An untrained PyTorch
    BatchNorm holds running mean 0 and variance 1, i.e. it is the identity, and that
    is *not* equivalent here: the input is in dB (values in [-80, 0]), so every
    first-layer channel gets a large offset (the sum of its weights times the mean dB
    level), ELU saturates the channels with a negative offset to a constant -1, and the
    activations' scale grows layer after layer. On the project's 14 test recordings
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


def as_model_payload(obj: object) -> dict[str, Any] | None:
    """A loaded model-file object as the dictionary of this format, or None if it is not one.

    A dictionary of the legacy choi2017 format (:data:`LEGACY_CHOI2017_FORMAT`) is
    converted: the authors' network, its tags, Keras 1 batch statistics, and its
    ``name``, ``source_url`` and ``source_sha256`` kept as ``meta``. Which keys a usable
    file must have is for the reader to check (:func:`read_model_file`).
    """
    if not isinstance(obj, dict):
        return None
    if obj.get("format") == LEGACY_CHOI2017_FORMAT:
        payload = {
            "format_version": 1,
            "architecture": ARCH_CHOI2017,
            "hparams": {
                "n_tags": len(MSD_TAGS),
                "n_channels": N_CHANNELS,
                "pool_sizes": [list(p) for p in POOL_SIZES],
                "dropout": 0.0,
            },
            "tags": list(obj.get("tags", MSD_TAGS)),
            "bn_statistics": BN_BATCH,
            "meta": {k: obj[k] for k in ("name", "source_url", "source_sha256") if k in obj},
        }
        if "state_dict" in obj:
            payload["state_dict"] = obj["state_dict"]
        return payload
    if "format_version" not in obj:
        return None
    return {"architecture": ARCH_CONVNET, **obj}


def load_payload(path: PathLike) -> dict[str, Any] | None:
    """:func:`as_model_payload` of the object stored in ``path``.

    What ``torch.load`` raises for a damaged or foreign file propagates: the callers
    word it for what they expected the file to be.
    """
    return as_model_payload(torch.load(path, map_location="cpu", weights_only=True))


def check_format_version(payload: dict[str, Any], path: PathLike) -> None:
    """Refuse a file written by a newer musictransfer, whose keys may mean other things."""
    if payload["format_version"] > MODEL_FORMAT_VERSION:
        raise MusicTransferError(
            f"{path} has model format {payload['format_version']}, this version of "
            f"musictransfer reads up to {MODEL_FORMAT_VERSION}",
            "upgrade musictransfer",
        )


def read_model_file(path: PathLike) -> dict[str, Any]:
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
        payload = load_payload(path)
    except Exception as exc:  # torch raises many types for a damaged archive
        raise MusicTransferError(
            f"cannot read model file {path}: {type(exc).__name__}: {exc}",
            "the file is damaged or not a musictransfer model: delete it and make it again",
        ) from exc
    required = ("format_version", "hparams", "tags", "bn_statistics", "state_dict")
    if payload is None or any(k not in payload for k in required):
        raise MusicTransferError(
            f"{path} is not a musictransfer model file",
            "make it with musictransfer train or random-convnet",
        )
    check_format_version(payload, path)
    return payload


def build_model(payload: dict[str, Any]) -> ConvNet:
    """Rebuild the network described by a model-file dictionary, with its weights.

    Raises
    ------
    ValueError
        For an unknown architecture.
    KeyError, RuntimeError, TypeError
        When the weights do not fit the network (``load_state_dict``).
    """
    architecture = payload.get("architecture", ARCH_CONVNET)
    if architecture == ARCH_CHOI2017:
        model = build_choi2017()
    elif architecture == ARCH_CONVNET:
        h = payload["hparams"]
        model = ConvNet(
            n_tags=int(h["n_tags"]),
            n_channels=int(h.get("n_channels", N_CHANNELS)),
            pool_sizes=tuple(tuple(p) for p in h.get("pool_sizes", POOL_SIZES)),
            dropout=float(h.get("dropout", 0.0)),
        )
    else:
        raise ValueError(f"unknown architecture {architecture!r}")
    model.load_state_dict(payload["state_dict"])
    return model


def load_model(path: PathLike, device: str | torch.device = "cpu") -> ConvNet:
    """Load a model file as a ConvNet in eval mode on ``device``.

    A model whose file says ``bn_statistics: calibrate`` (the random convnet) still
    holds identity BatchNorm statistics here: :func:`musictransfer.features.extract_convnet`
    calibrates them on the data; use :func:`read_model_file` to see which it is.

    Raises
    ------
    MusicTransferError
        If the file is missing, damaged or of an unknown format.
    """
    return build_checked(read_model_file(path), path).to(device).eval()


def build_checked(payload: dict[str, Any], path: PathLike) -> ConvNet:
    """:func:`build_model`, with a file that does not fit the network as a user error.

    A file written by another version, or edited, fails inside PyTorch with a message
    about tensors; the user needs the file's name and the next step instead.
    """
    try:
        return build_model(payload)
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise MusicTransferError(
            f"model file {path} does not match the ConvNet: {exc}",
            "make the file again with this version of musictransfer",
        ) from exc


__all__ = [
    "ARCH_CHOI2017",
    "ARCH_CONVNET",
    "BN_BATCH",
    "BN_CALIBRATE",
    "BN_RUNNING",
    "LEGACY_CHOI2017_FORMAT",
    "MODEL_FORMAT_VERSION",
    "as_model_payload",
    "build_checked",
    "build_model",
    "load_model",
    "read_model_file",
    "save_model",
    "save_random_convnet",
]
