"""HEAR module of the authors' pre-trained convnet: ``musictransfer.hear.choi2017``.

The network of :func:`musictransfer.choi2017.load_pretrained` (Keras 1 weights, Kapre front
end, Keras 1 BatchNorm) behind HEAR's API (:mod:`musictransfer.hear`); the scene
embedding is the paper's 160-value convnet feature, the numbers ``musictransfer extract
--extractor choi2017`` computes for the same audio under the same ``bn_mode``.

Normalisation: the authors' BatchNorm (Keras 1 ``mode=2``) normalised with the statistics
of each batch, so a clip's feature depended on its batch, and HEAR's batches are whatever
its runner makes them. The default is therefore the package's default,
``bn_mode="reference"``: statistics frozen from the reference set shipped with the
package, so a sound's embeddings depend on that sound alone. ``bn_mode="batch"`` is the
faithful mode: each call to an embedding function is one batch (all its network inputs,
including every window of the timestamp path). ``statistics`` replaces the reference by
other frozen statistics, such as those of the task's own data made with ``musictransfer
choi2017-stats`` (the package's ``dataset`` mode).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import Tensor

from musictransfer.choi2017 import Statistics, compute_statistics, load_pretrained, set_statistics
from musictransfer.choi2017.stats import restore_statistics, snapshot_statistics
from musictransfer.errors import ConfigError
from musictransfer.hear.convnet import (
    Chunks,
    HearModel,
    get_layer_embeddings,
    get_scene_embeddings,
    get_timestamp_embeddings,
)
from musictransfer.model import ConvNet

BN_MODES = ("reference", "batch")
"""The ``bn_mode`` options: those of :func:`~musictransfer.choi2017.load_pretrained`."""


class Choi2017Model(HearModel):
    """The authors' network under a statistics mode.

    Parameters
    ----------
    network
        From :func:`~musictransfer.choi2017.load_pretrained`, statistics already set for
        the frozen modes.
    bn_mode
        ``"reference"`` (frozen statistics) or ``"batch"`` (each call's own).
    """

    def __init__(self, network: ConvNet, bn_mode: str) -> None:
        super().__init__(network, "choi2017")
        self.bn_mode = bn_mode

    @contextlib.contextmanager
    def normalised(self, chunks: Chunks, audio: Tensor) -> Iterator[None]:
        """Batch mode: the statistics of the call's inputs taken as one batch, frozen for it.

        They are computed in passes over the chunks
        (:func:`~musictransfer.choi2017.compute_statistics`), which equals Keras 1 mode 2
        over all of them at once without holding them in memory together, as
        :func:`musictransfer.choi2017.extract` does for a batch larger than a chunk.
        """
        if self.bn_mode != "batch":
            yield
            return
        saved = snapshot_statistics(self.network)
        try:
            set_statistics(self.network, compute_statistics(self.network, chunks, "HEAR call"))
            yield
        finally:
            restore_statistics(self.network, saved)

    def extra_repr(self) -> str:
        """Also the statistics mode."""
        return f"{super().extra_repr()}, bn_mode={self.bn_mode!r}"


def load_model(
    model_file_path: str = "",
    bn_mode: str = "reference",
    statistics: str = "",
    mirror: str = "",
    download: bool = True,
) -> Choi2017Model:
    """The authors' pre-trained convnet as a HEAR model, on the CPU (move it with ``.to``).

    Parameters
    ----------
    model_file_path
        A ``choi2017.pt`` (what ``musictransfer import-paper-weights`` writes) or the
        authors' ``weights_theano.hdf5``; empty: the package's default loading
        (the mirror, ``MUSICTRANSFER_MIRROR``, else the cache, else a download).
    bn_mode
        ``"reference"`` (default: frozen statistics, no batch dependence) or ``"batch"``
        (each call normalised by its own statistics, as the authors extracted).
    statistics
        A statistics file from ``musictransfer choi2017-stats`` to freeze instead of the
        shipped reference (``bn_mode="reference"`` only).
    mirror
        A directory laid out like the authors' repository, for the default loading.
    download
        Whether the default loading may download the weights.

    Raises
    ------
    ConfigError
        For an unknown ``bn_mode``, or ``statistics`` with ``bn_mode="batch"``.
    MusicTransferError
        If the weights cannot be found or read.
    """
    if bn_mode not in BN_MODES:
        raise ConfigError(f"bn_mode {bn_mode!r} for HEAR", f"use one of {', '.join(BN_MODES)}")
    if statistics and bn_mode != "reference":
        raise ConfigError(
            "statistics are frozen statistics: they go with bn_mode 'reference'",
            "drop statistics, or set bn_mode to 'reference'",
        )
    network = load_pretrained(
        "choi2017",
        weights=model_file_path or None,
        mirror=mirror or None,
        bn_mode=bn_mode,
        device="cpu",
        download=download,
    )
    if statistics:
        set_statistics(network, Statistics.load(statistics))
    return Choi2017Model(network, bn_mode)


__all__ = [
    "BN_MODES",
    "Choi2017Model",
    "get_layer_embeddings",
    "get_scene_embeddings",
    "get_timestamp_embeddings",
    "load_model",
]
