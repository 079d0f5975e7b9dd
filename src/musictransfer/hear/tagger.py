"""HEAR module of a tagger trained by the package: ``musictransfer.hear.tagger``.

A ``tagger-<source>.pt`` written by ``musictransfer train`` behind HEAR's API
(:mod:`musictransfer.hear`): the scene embedding is its 160-value convnet feature, what
``musictransfer extract --model tagger-<source>.pt`` computes for the same audio. A trained
tagger's BatchNorm keeps running statistics, so its embeddings never depend on the batch.
The file is read by :func:`musictransfer.hear.random_convnet.load_model_file`, the
package's model-file reader shared with the random convnet.
"""

from __future__ import annotations

from musictransfer.errors import MusicTransferError
from musictransfer.hear.convnet import (
    get_layer_embeddings,
    get_scene_embeddings,
    get_timestamp_embeddings,
)
from musictransfer.hear.random_convnet import ConvNetModel, load_model_file


def load_model(model_file_path: str = "") -> ConvNetModel:
    """A trained tagger as a HEAR model, on the CPU (move it with ``.to``).

    Parameters
    ----------
    model_file_path
        The tagger's model file; there is no default, since which source task it was
        trained on is the point of the choice.

    Raises
    ------
    MusicTransferError
        If no file is given, or the file is not a trained tagger (no tags: the random
        convnet, whose module is :mod:`musictransfer.hear.random_convnet`), or cannot
        be read.
    """
    if not model_file_path:
        raise MusicTransferError(
            "the tagger HEAR module needs a model file",
            "give the tagger-<source>.pt that musictransfer train wrote (hear-validator -m)",
        )
    model = load_model_file(model_file_path)
    if not model.tags:
        raise MusicTransferError(
            f"{model_file_path} is not a trained tagger (its head has no tags)",
            "use musictransfer.hear.random_convnet for the random convnet",
        )
    return model


__all__ = ["get_layer_embeddings", "get_scene_embeddings", "get_timestamp_embeddings", "load_model"]
