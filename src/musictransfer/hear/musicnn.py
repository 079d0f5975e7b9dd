"""HEAR module of musicnn (Pons & Serra, 2019): ``musictransfer.hear.musicnn``.

musicnn's taggers, pre-trained on MagnaTagATune (MTT, 50 tags) or the Million Song Dataset
(MSD, 50 tags), behind HEAR's API (:mod:`musictransfer.hear`), as a representation to
compare with the paper's convnet feature::

    python -m musictransfer extract --representation musictransfer.hear.musicnn FILES -o out.npz

Why musicnn, and from where
---------------------------
musicnn 0.1.0 is ISC-licensed and its checkpoints (MTT_musicnn, MSD_musicnn, MTT_vgg,
MSD_vgg) are inside its 29 MB PyPI wheel: nothing to fetch from a model hub, and pip's
pins decide the weights. The default is ``MTT_musicnn``, trained on the paper's own source
data set (MagnaTagATune).

Its own environment
-------------------
musicnn is TensorFlow 1 code (``tf.compat.v1.layers``), and TensorFlow never shares an
environment with the project's PyTorch: the module runs in ``envs/musicnn.yaml`` (with
``envs/musicnn.post-deploy.sh``; ``envs/musicnn-venv.sh`` builds the same as a venv,
``.venv-musicnn``). There, ``tensorflow-cpu`` 2.21, ``tf-keras`` and musicnn are installed,
the last two with ``--no-deps``: tf-keras would pull the full ``tensorflow`` beside the
CPU build, and musicnn's metadata pins ``numpy<1.17`` and asks for librosa, which this
module does not use. ``TF_USE_LEGACY_KERAS=1`` is set on import, before TensorFlow is
imported, since Keras 3 has none of the ``tf.compat.v1.layers`` that musicnn's graph is
made of. The model is a :class:`tf.Module`, so the project hands it TensorFlow tensors;
every function also takes torch tensors and NumPy arrays.

musicnn's ``extractor()`` is not used
-------------------------------------
It has three faults, each of which would pass silently, so this module builds the graph
itself with :func:`musicnn.models.define_model` and computes its own input:

- it wraps ``saver.restore`` in a bare ``except``: a failed restore leaves random weights.
  Here every variable of the graph must be in the checkpoint with its shape, the restore
  is not guarded, and afterwards every variable is compared with the checkpoint's value
  (:meth:`MusicnnModel.check_restored`); any difference is an error;
- from the second 3 s patch on, it stores the ``cnn1``..``cnn3`` maps of the *first*
  patch (variables named ``midend*_`` are computed, the first patch's ``cnn*_`` stored),
  so its ``cnn`` features are wrong for every clip over 3 s. Here every output of every
  patch comes from that patch's own run;
- it casts the mel power to float16 before ``log10(10000 x + 1)``: ``10000 x`` exceeds
  float16's 65,504 once a mel band's power passes 6.55, and the infinity becomes NaN in
  every feature. A loud tone reaches it, and so does ordinary music: in musicnn's path,
  114 of the 1,251 frames of the first 20 s of the shared Brahms string-orchestra
  recording are infinite. Here the front end is
  computed in float64 and handed to the network as float32 (:func:`log_mel`); otherwise
  it is musicnn's: 16 kHz, a 512-sample Hann window, hop 256, 96 Slaney mel bands (0 to
  8 kHz, librosa's ``melspectrogram`` defaults), power 2, frames centred with reflected
  padding (librosa's default before 0.10, the one musicnn was trained and released with).
  Where musicnn's values are finite, they differ from these by float16's rounding, at
  most 0.0023 (log-mels reach 5.5); from librosa's float32 ones, by at most 5e-6.

Clips are cut, as musicnn cuts them, into non-overlapping patches of 187 frames (2.99 s,
the input length the networks were trained on); a tail shorter than a patch is left out,
as musicnn's extractor leaves it out. musicnn's extractor fails on a clip under 3 s;
here a clip shorter than one patch has its spectrogram frames repeated up to 187 frames,
which is how musicnn was trained on short clips (``"pad_short": "repeat-pad"`` in each
model's ``config.json``). Each patch is run alone (batches of one patch, as musicnn's
extractor runs them): TensorFlow's CPU convolutions differ in the last bit with the batch
size and position, so running patches together would make a clip's embeddings depend
on the other clips of the batch.

Embeddings
----------
Scene embedding: the ``penultimate`` layer (200 values: the dense layer after the
temporal pooling, what the tag layer reads) of each patch, averaged over the patches. It
is the network's own summary of 3 s of music, compact, and a patch average is the
clip-level convention of the project (each convnet layer averaged over time). The other
layers are in :func:`get_layer_embeddings`: ``timbral`` (408 values) and ``temporal``
(153), the front end's two kinds of filters, and ``cnn1``..``cnn3`` (64 each), the
mid-end, per spectrogram frame (16 ms); ``mean_pool`` and ``max_pool`` (753 each, the
temporal pooling of the front and mid-end) and ``penultimate``, per patch. The vgg
models' scene embedding is their flattened ``pool5`` (what their tag layer reads), and
their layers ``pool1``..``pool5`` are frequency-averaged maps per frame of each layer.
Timestamp embeddings: the scene embedding's layer per patch, at the patch's centre.
:func:`tags` gives the models' own tag probabilities, averaged over the patches as
musicnn's ``top_tags`` does.
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musictransfer.errors import MusicTransferError

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # before TensorFlow's import: see the docstring
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no oneDNN and CPU-feature banners

import musicnn
import tensorflow as tf
from musicnn import configuration, models

SAMPLE_RATE = configuration.SR
"""16,000 Hz: musicnn's rate, and a rate HEAR accepts."""

N_FFT = configuration.FFT_SIZE
"""512 samples (32 ms): musicnn's STFT window."""

HOP = configuration.FFT_HOP
"""256 samples (16 ms): musicnn's STFT hop, the frame step of the frame layers."""

N_MELS = configuration.N_MELS
"""96 mel bands."""

PATCH_FRAMES = 187
"""Frames per patch: musicnn's 3 s (``librosa.time_to_frames(3, ...) + 1``, 2.99 s)."""

MODELS: dict[str, tuple[str, ...]] = {
    "MTT_musicnn": tuple(configuration.MTT_LABELS),
    "MSD_musicnn": tuple(configuration.MSD_LABELS),
    "MSD_musicnn_big": tuple(configuration.MSD_LABELS),
    "MTT_vgg": tuple(configuration.MTT_LABELS),
    "MSD_vgg": tuple(configuration.MSD_LABELS),
}
"""Models :func:`musicnn.models.define_model` builds, with their tags.
``MSD_musicnn_big`` is not in the wheel: it needs its checkpoint as ``model_file_path``."""

MUSICNN_LAYERS: tuple[str, ...] = (
    "timbral",
    "temporal",
    "cnn1",
    "cnn2",
    "cnn3",
    "mean_pool",
    "max_pool",
    "penultimate",
)
"""The musicnn models' layers, in :func:`musicnn.models.build_musicnn`'s order."""

FRAME_LAYERS = frozenset({"timbral", "temporal", "cnn1", "cnn2", "cnn3"})
"""Layers with one value per spectrogram frame; the others have one per patch."""

VGG_LAYERS: tuple[str, ...] = ("pool1", "pool2", "pool3", "pool4", "pool5")
"""The vgg models' layers, each a (time, frequency, 128) map per patch."""


def mel_basis(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """Librosa's ``filters.mel`` with its defaults: Slaney mel scale and area normalisation.

    Returns float64 ``(n_mels, 1 + n_fft // 2)``, bands from 0 Hz to ``sr / 2``.
    """

    def hz_to_mel(hz: np.ndarray) -> np.ndarray:  # Slaney: linear below 1 kHz, log above
        log_part = 15.0 + np.log(np.maximum(hz, 1000.0) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(hz >= 1000.0, log_part, hz / (200.0 / 3))

    def mel_to_hz(mel: np.ndarray) -> np.ndarray:
        log_part = 1000.0 * np.exp(np.log(6.4) / 27.0 * (mel - 15.0))
        return np.where(mel >= 15.0, log_part, mel * (200.0 / 3))

    fft_hz = np.linspace(0.0, sr / 2, 1 + n_fft // 2)
    edges = mel_to_hz(np.linspace(0.0, float(hz_to_mel(np.array(sr / 2))), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]


_MEL = mel_basis()
_WINDOW = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann
_FFT_BLOCK = 4096  # frames per FFT call: about 34 MB of float64 at a time


def log_mel(clip: np.ndarray) -> np.ndarray:
    """Musicnn's input of one clip: float32 ``(n_frames, 96)``, ``log10(10000 mel + 1)``.

    ``n_frames = 1 + len(clip) // 256`` (centred frames), computed in float64, not in
    musicnn's float16 (module docstring).
    """
    padded = np.pad(np.asarray(clip, np.float64), N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    mel = np.empty((len(frames), N_MELS))
    for start in range(0, len(frames), _FFT_BLOCK):
        block = np.fft.rfft(frames[start : start + _FFT_BLOCK] * _WINDOW, axis=1)
        mel[start : start + _FFT_BLOCK] = (block.real**2 + block.imag**2) @ _MEL.T
    return np.log10(10000.0 * mel + 1.0).astype(np.float32)


def patches(clip: np.ndarray) -> np.ndarray:
    """The network inputs of one clip: float32 ``(n_patches, 187, 96)`` (module docstring).

    Non-overlapping patches from the first frame on, the tail under one patch left out;
    a clip of fewer than 187 frames is one patch, its frames repeated (``repeat-pad``).
    """
    spec = log_mel(clip)
    if len(spec) < PATCH_FRAMES:  # log10(10000 x + 1) is per value: repeating after it is
        spec = np.resize(spec, (PATCH_FRAMES, N_MELS))  # the same as before it, as trained
    n_patches = len(spec) // PATCH_FRAMES
    return spec[: n_patches * PATCH_FRAMES].reshape(n_patches, PATCH_FRAMES, N_MELS)


def patch_times(n_samples: int) -> np.ndarray:
    """Float32 ``(n_patches,)``: each patch's centre in milliseconds.

    A clip shorter than a patch has one patch, the clip repeated: its time is the clip's
    centre.
    """
    n_frames = 1 + n_samples // HOP
    if n_frames < PATCH_FRAMES:
        return np.array([500.0 * n_samples / SAMPLE_RATE], np.float32)
    centres = np.arange(n_frames // PATCH_FRAMES) * PATCH_FRAMES + (PATCH_FRAMES - 1) / 2
    return (centres * HOP * 1000.0 / SAMPLE_RATE).astype(np.float32)


@dataclass
class _Network:
    """musicnn's graph in its own session, and what a call fetches of it."""

    session: Any
    inputs: Any
    outputs: dict[str, Any]
    """``"logits"``, then the layers in order: tensors of a batch of patches."""
    variables: list[Any]
    cache: list[Any] = field(default_factory=list)
    """``[key, outputs]`` of the last batch: the project asks for the scene and then the
    layer embeddings of the same audio, which then runs once."""


class MusicnnModel(tf.Module):
    """A musicnn network with the attributes HEAR reads (:func:`load_model`).

    Attributes
    ----------
    model : str
        musicnn's name of the model (``"MTT_musicnn"``).
    checkpoint : str
        The checkpoint prefix its weights were restored from.
    tag_names : tuple of str
        The tags of :func:`tags`, in order.
    layer_names : tuple of str
        The keys of :func:`get_layer_embeddings`.
    scene_layer : str
        The layer the scene and timestamp embeddings are made of.
    """

    sample_rate: int = SAMPLE_RATE

    def __init__(self, model: str, checkpoint: str) -> None:
        super().__init__(name=model)
        self.model = model
        self.checkpoint = checkpoint
        self.tag_names = MODELS[model]
        vgg = "vgg" in model
        self.layer_names = VGG_LAYERS if vgg else MUSICNN_LAYERS
        self.scene_layer = "pool5" if vgg else "penultimate"
        self._net = _build(model, len(self.tag_names))
        self._restore(checkpoint)
        size = math.prod(self._net.outputs[self.scene_layer].shape[1:])
        self.scene_embedding_size = size
        self.timestamp_embedding_size = size

    def _restore(self, checkpoint: str) -> None:
        """Restore every variable from ``checkpoint``, unguarded, then check the values."""
        try:
            reader = tf.compat.v1.train.NewCheckpointReader(checkpoint)
        except Exception as exc:  # TensorFlow's errors: NotFoundError, DataLossError, ...
            raise MusicTransferError(
                f"cannot read the musicnn checkpoint {checkpoint}: {exc}",
                "give the checkpoint's prefix (a folder of musicnn's wheel, such as "
                "musicnn/MTT_musicnn/, ends in '/')",
            ) from exc
        shapes = reader.get_variable_to_shape_map()
        wrong = [
            f"{v.op.name} {v.shape.as_list()} (checkpoint: {shapes.get(v.op.name)})"
            for v in self._net.variables
            if shapes.get(v.op.name) != v.shape.as_list()
        ]
        if wrong:
            raise MusicTransferError(
                f"{checkpoint} is not a checkpoint of {self.model}: {len(wrong)} of its "
                f"{len(self._net.variables)} variables are missing or of another shape, "
                f"first {wrong[0]}",
                "give model= the architecture the checkpoint was trained as",
            )
        with self._net.session.graph.as_default():
            tf.compat.v1.train.Saver(self._net.variables).restore(self._net.session, checkpoint)
        self._net.session.graph.finalize()  # nothing is added to the graph after this
        self.check_restored(reader)

    def check_restored(self, reader: Any = None) -> None:
        """Every variable equals the checkpoint's value (musicnn's extractor never checks).

        Raises
        ------
        RuntimeError
            If a variable differs from the checkpoint: the weights are not musicnn's.
        """
        reader = reader or tf.compat.v1.train.NewCheckpointReader(self.checkpoint)
        values = self._net.session.run(self._net.variables)
        for var, value in zip(self._net.variables, values, strict=True):
            if not np.array_equal(value, reader.get_tensor(var.op.name)):
                raise RuntimeError(f"{var.op.name} was not restored from {self.checkpoint}")

    def variable(self, name: str) -> np.ndarray:
        """The current value of the graph's variable ``name`` (``"conv2d/kernel"``)."""
        var = next(v for v in self._net.variables if v.op.name == name)
        return self._net.session.run(var)

    def run(self, audio: Any) -> dict[str, np.ndarray]:
        """Every output of every patch of a batch of clips (the functions' common step).

        Returns
        -------
        dict of str to numpy.ndarray
            ``"logits"`` and each layer: float32 ``(n_sounds, n_patches, ...)``, one
            patch's output as :func:`musicnn.models.define_model` gives it (a frame layer's
            last axis of 1 squeezed).
        """
        clips = _audio_array(audio)
        key = hashlib.blake2b(clips.tobytes(), digest_size=16).hexdigest() + str(clips.shape)
        if self._net.cache and self._net.cache[0] == key:
            return self._net.cache[1]
        per_patch: list[dict[str, np.ndarray]] = []
        for clip in clips:
            for patch in patches(clip):
                fetched = self._net.session.run(self._net.outputs, {self._net.inputs: patch[None]})
                per_patch.append({name: value[0] for name, value in fetched.items()})
        n_sounds = len(clips)
        out = {
            name: np.stack([p[name] for p in per_patch])
            .astype(np.float32)
            .reshape(n_sounds, -1, *per_patch[0][name].shape)
            for name in self._net.outputs
        }
        self._net.cache[:] = [key, out]
        return out


def _build(model: str, n_tags: int) -> _Network:
    """Musicnn's graph of ``model`` in a graph and session of its own.

    Its own graph keeps TensorFlow's eager mode on for everyone else (musicnn's extractor
    turns it off for the whole process), and keeps two models' variables apart.
    """
    graph = tf.Graph()
    with graph.as_default():
        layers = tf.compat.v1.layers
        if not callable(getattr(layers, "batch_normalization", None)):
            raise MusicTransferError(
                "tf.compat.v1.layers has no batch_normalization: TensorFlow was imported "
                "before musictransfer.hear.musicnn, without TF_USE_LEGACY_KERAS=1",
                "set TF_USE_LEGACY_KERAS=1 before importing TensorFlow, in musicnn's "
                "environment (envs/musicnn.yaml), where tf-keras is installed",
            )
        inputs = tf.compat.v1.placeholder(tf.float32, [None, PATCH_FRAMES, N_MELS])
        with tf.name_scope("model"), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # tf.compat.v1.layers is deprecated
            logits, *maps = models.define_model(inputs, False, model, n_tags)
        names = VGG_LAYERS if "vgg" in model else MUSICNN_LAYERS
        outputs = {"logits": logits}
        for name, tensor in zip(names, maps, strict=True):
            squeeze = name in FRAME_LAYERS and tensor.shape.rank == 4  # cnn1..3: (.., 64, 1)
            outputs[name] = tf.squeeze(tensor, [3]) if squeeze else tensor
        if "vgg" in model:  # the tag layer's input: pool5 flattened
            outputs["pool5"] = tf.reshape(maps[-1], [-1, math.prod(maps[-1].shape[1:])])
            outputs["pool5_map"] = maps[-1]
        variables = tf.compat.v1.global_variables()
        session = tf.compat.v1.Session(graph=graph)
    return _Network(session, inputs, outputs, variables)


def _audio_array(audio: Any) -> np.ndarray:
    """HEAR's audio as float32 NumPy ``(n_sounds, n_samples)``: torch, TensorFlow or NumPy.

    Raises
    ------
    TypeError
        If it is not floating-point.
    ValueError
        If it is not 2-D with at least one sound and one sample, or not finite.
    """
    if hasattr(audio, "detach"):  # torch
        audio = audio.detach().cpu()
    if hasattr(audio, "numpy"):  # torch, TensorFlow
        audio = audio.numpy()
    array = np.asarray(audio)
    if array.dtype.kind != "f":
        raise TypeError(f"audio must be floating-point (float32), got {array.dtype}")
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(f"audio must be (n_sounds, n_samples), non-empty; got {array.shape}")
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad.size:
        raise ValueError(f"sound {bad[0]} of the batch holds NaN or infinite samples")
    return np.ascontiguousarray(array, np.float32)


def load_model(model_file_path: str = "", model: str = "MTT_musicnn") -> MusicnnModel:
    """A musicnn network with musicnn's pre-trained weights, checked.

    Parameters
    ----------
    model_file_path
        A checkpoint prefix to restore instead of the one in musicnn's wheel (a folder
        such as ``.../MSD_musicnn_big/`` holding musicnn's ``.index`` and ``.data-*``).
    model
        The architecture, and the wheel's checkpoint by default: ``"MTT_musicnn"``
        (default), ``"MSD_musicnn"``, ``"MTT_vgg"`` or ``"MSD_vgg"``; ``"MSD_musicnn_big"``
        with its checkpoint as ``model_file_path``.

    Raises
    ------
    MusicTransferError
        If ``model`` is unknown, or the checkpoint cannot be read or does not hold every
        variable of the model with its shape.
    RuntimeError
        If the restored weights differ from the checkpoint's.
    """
    if model not in MODELS:
        raise MusicTransferError(
            f"unknown musicnn model {model!r}", f"choose one of {', '.join(MODELS)}"
        )
    if model_file_path:
        checkpoint = model_file_path
        if Path(checkpoint).is_dir():  # musicnn's layout: files named .index, .data-...
            checkpoint = os.path.join(checkpoint, "")
    else:
        checkpoint = os.path.join(os.path.dirname(musicnn.__file__), model, "")
    return MusicnnModel(model, checkpoint)


def _tensor(array: np.ndarray) -> Any:
    return tf.convert_to_tensor(np.ascontiguousarray(array, np.float32))


def get_scene_embeddings(audio: Any, model: MusicnnModel) -> Any:
    """Float32 ``(n_sounds, scene_embedding_size)``: the scene layer averaged over patches.

    ``penultimate`` (200) for the musicnn models, ``pool5`` flattened for the vgg models
    (module docstring: why).
    """
    return _tensor(model.run(audio)[model.scene_layer].mean(axis=1, dtype=np.float64))


def get_timestamp_embeddings(audio: Any, model: MusicnnModel) -> tuple[Any, Any]:
    """The scene layer of each patch, and the patches' centres.

    Returns
    -------
    embeddings : tf.Tensor
        Float32 ``(n_sounds, n_patches, timestamp_embedding_size)``.
    timestamps : tf.Tensor
        Float32 ``(n_sounds, n_patches)``, milliseconds: a patch's centre, every 2.99 s
        from 1.49 s (:func:`patch_times`).
    """
    clips = _audio_array(audio)
    embeddings = model.run(clips)[model.scene_layer]
    times = np.broadcast_to(patch_times(clips.shape[1]), embeddings.shape[:2])
    return _tensor(embeddings), _tensor(times)


def get_layer_embeddings(audio: Any, model: MusicnnModel) -> dict[str, Any]:
    """Each layer before the average over time, by name (``model.layer_names``).

    Returns
    -------
    dict of str to tf.Tensor
        Float32 ``(n_sounds, n_steps, d)``. musicnn models: ``timbral`` (408),
        ``temporal`` (153) and ``cnn1``..``cnn3`` (64) per spectrogram frame, 187 per
        patch; ``mean_pool``, ``max_pool`` (753) and ``penultimate`` (200) per patch. vgg
        models: ``pool1``..``pool5`` averaged over frequency, per frame of the layer
        (128 each).
    """
    outputs = model.run(audio)
    found = {}
    for name in model.layer_names:
        value = outputs["pool5_map" if name == "pool5" and "pool5_map" in outputs else name]
        if value.ndim == 5:  # a vgg map per patch (time, frequency, channels)
            value = value.mean(axis=3)
        found[name] = _tensor(value.reshape(value.shape[0], -1, value.shape[-1]))
    return found


def tags(audio: Any, model: MusicnnModel) -> np.ndarray:
    """Musicnn's tag probabilities of each sound, averaged over its patches.

    Returns
    -------
    numpy.ndarray
        Float32 ``(n_sounds, len(model.tag_names))``: the sigmoid of the tag layer per
        patch, averaged, as musicnn's ``top_tags`` averages its taggram.
    """
    logits = model.run(audio)["logits"].astype(np.float64)
    return (1.0 / (1.0 + np.exp(-logits))).mean(axis=1).astype(np.float32)


def top_tags(audio: Any, model: MusicnnModel, k: int = 5) -> list[list[tuple[str, float]]]:
    """The ``k`` most probable tags of each sound, with their probabilities (:func:`tags`)."""
    probabilities = tags(audio, model)
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [
        [(model.tag_names[j], float(row[j])) for j in best]
        for row, best in zip(probabilities, order, strict=True)
    ]


__all__ = [
    "MODELS",
    "PATCH_FRAMES",
    "SAMPLE_RATE",
    "MusicnnModel",
    "get_layer_embeddings",
    "get_scene_embeddings",
    "get_timestamp_embeddings",
    "load_model",
    "log_mel",
    "mel_basis",
    "patch_times",
    "patches",
    "tags",
    "top_tags",
]
