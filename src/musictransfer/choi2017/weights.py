"""The authors' released weights (``weights_theano.hdf5``) into the PyTorch port.

The Keras 1 arrays are mapped onto the state dict of
:func:`~musictransfer.choi2017_network.build_choi2017` (:func:`keras1_state_dict`);
:func:`import_paper_weights` stores the result as a PyTorch model file
(``models/choi2017.pt``), which :func:`musictransfer.choi2017.load_pretrained` reads
without h5py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from musictransfer._typing import PathLike
from musictransfer.choi2017_network import KapreMelgram, build_choi2017
from musictransfer.constants import MSD_TAGS, N_LAYERS
from musictransfer.datasets.paper import WEIGHTS_THEANO, url_of
from musictransfer.datasets.paper.fetch import fetch_released
from musictransfer.errors import MusicTransferError
from musictransfer.fetching import file_hash
from musictransfer.model import ConvNet
from musictransfer.modelfile import ARCH_CHOI2017, BN_BATCH, load_payload, save_model


def read_keras1_weights(path: PathLike) -> dict[str, np.ndarray]:
    """Every weight array of ``weights_theano.hdf5``, by ``group/name``.

    Raises
    ------
    MusicTransferError
        If the file cannot be read as HDF5 or lacks a layer the port needs.
    """
    import h5py  # lazy: only .hdf5 files need it; a choi2017.pt loads without h5py

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
    """Map the Keras 1 arrays onto the state dict of the network of :func:`load_keras1_weights`.

    Conv kernels are flipped on both spatial axes (Theano convolves, PyTorch
    cross-correlates); the dense kernel ``(32, 50)`` is transposed; the DFT kernels are
    handed to :class:`~musictransfer.choi2017_network.KapreMelgram`, which flips them in
    time. The stored running statistics (0 and 1, never used by mode 2) are checked and
    dropped.
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
            f"use {url_of(WEIGHTS_THEANO)}",
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
    """Import the released Keras 1 weights into a model file (``choi2017.pt``).

    A model file like every other (:mod:`musictransfer.modelfile`): architecture
    ``musictransfer.choi2017``, batch statistics (the faithful network), the 50 MSD
    tags, and in ``meta`` the file it came from and that file's SHA-256.
    :func:`musictransfer.choi2017.load_pretrained` and ``extract --extractor choi2017
    --model`` read it.
    """
    source = Path(weights) if weights is not None else fetch_released(WEIGHTS_THEANO, mirror)
    model = load_keras1_weights(source)
    meta = {
        "name": "choi2017",
        "source_url": url_of(WEIGHTS_THEANO),
        "source_sha256": file_hash(source),
    }
    save_model(out, model, list(MSD_TAGS), BN_BATCH, meta=meta, architecture=ARCH_CHOI2017)
    return Path(out)


def _is_choi2017_file(path: Path) -> bool:
    """Whether ``path`` is a model file of the authors' network (:func:`import_paper_weights`)."""
    if path.suffix != ".pt" or not path.is_file():
        return False
    try:
        payload = load_payload(path)
    except Exception:  # torch raises many types for what is not one of its files
        return False
    return payload is not None and payload["architecture"] == ARCH_CHOI2017


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
    import h5py  # lazy: only .hdf5 files need it; a choi2017.pt loads without h5py

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
    if _is_choi2017_file(path):
        return "the authors' network imported by import-paper-weights"
    return None
