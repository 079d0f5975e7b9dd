"""Any HEAR 2021 module as a representation of audio files ("bring your own").

``musictransfer extract --representation my_package.hear_module FILES... -o out.npz``, or
:func:`load_representation` then :func:`embed_files` from Python, runs a module of HEAR's
common API (hearbenchmark.com/hear-api.html) on audio files, without Snakemake. A module
that works in HEAR's own runner works here unchanged:

``load_model(model_file_path="", **options)``
    A model with ``sample_rate`` and ``scene_embedding_size``. It is called as HEAR's
    runner calls it: with the model file only when one is given.
``get_scene_embeddings(audio, model)``
    ``audio``: float32 ``(n_sounds, n_samples)`` in [-1, 1] at the model's rate, a torch
    tensor on the model's device (a TensorFlow tensor for a ``tf.Module``); returns
    ``(n_sounds, scene_embedding_size)``.
``get_layer_embeddings(audio, model)`` (optional: this project's extension)
    ``{layer name: (n_sounds, n_frames, d)}``; each layer is averaged over its frames,
    as the paper's convnet feature averages each layer over time.

Tolerant where HEAR's validator is strict, since the only question here is whether the
numbers are usable: any positive integer rate (12 kHz too), any kind of model (a torch
module is moved to the GPU when there is one, as HEAR's runner does), and torch,
TensorFlow or NumPy outputs (anything with ``.numpy()`` or ``__array__``). Strict where a
wrong number would pass silently: the shape of every output is checked, its values must
be real numbers, and a NaN or infinite one stops the run naming the clip's file.

Audio: every file is decoded by :func:`musictransfer.audio.load_audio` at the model's
rate, mono, whole: neither cut at 29 s nor tiled to it. That is the paper's convnet's
input convention, not a property of the data; a module that wants fixed lengths makes
them itself, as :mod:`musictransfer.hear` does. Clips of equal length go through
together, up to ``batch_size`` at a time, in the order of the inputs, so a module whose
embeddings depend on the batch (batch statistics) sees reproducible batches.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import json
import logging
import re
import sys
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from musictransfer._typing import PathLike
from musictransfer.clip_sources import decoded_reader, file_ids, length_batches
from musictransfer.errors import ConfigError, MusicTransferError
from musictransfer.featurefile import save_features
from musictransfer.fetching import file_hash

log = logging.getLogger(__name__)

HEAR_API = "https://hearbenchmark.com/hear-api.html"

REQUIRED = ("load_model", "get_scene_embeddings")
"""The functions a module must have; HEAR's ``get_timestamp_embeddings`` is not used."""

LAYER_FUNCTION = "get_layer_embeddings"

_DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_LAYER_NAME = re.compile(r"\w[\w.-]*")  # stored as the array ``layer_<name>`` of a .npz


@dataclass
class Representation:
    """A HEAR module with its loaded model, checked (:func:`load_representation`)."""

    name: str
    """The module's dotted name: the ``extractor`` of the feature files it makes."""
    module: types.ModuleType
    model: Any
    sample_rate: int
    embedding_size: int
    device: str = "cpu"
    """Where the audio goes: the torch device the model was moved to, else the CPU."""

    @property
    def has_layers(self) -> bool:
        """Whether the module offers ``get_layer_embeddings``."""
        return callable(getattr(self.module, LAYER_FUNCTION, None))


@dataclass
class Embeddings:
    """What :func:`embed_files` computes, one row per file in the order given."""

    ids: list[str]
    features: np.ndarray
    """Float32 ``(n_files, scene_embedding_size)``."""
    layers: dict[str, np.ndarray] = field(default_factory=dict)
    """Each layer's embedding averaged over its frames: float32 ``(n_files, d_layer)``."""
    batches: list[list[int]] = field(default_factory=list)
    """The rows of each call, in the order of the calls."""


def load_representation(
    module: str, model_file: str = "", options: Mapping[str, Any] | None = None
) -> Representation:
    """Import a HEAR module, load its model and check the attributes this package reads.

    Parameters
    ----------
    module
        The module's dotted name, importable from this Python (installed, or on
        ``PYTHONPATH``).
    model_file
        Passed to ``load_model`` as its first argument; empty: not passed at all.
    options
        Keyword arguments of ``load_model`` (HEAR's ``--model-options``).

    Raises
    ------
    ConfigError
        If the module cannot be imported, lacks the API's functions, or its
        ``load_model`` does not take the options given.
    MusicTransferError
        If the model's ``sample_rate`` or ``scene_embedding_size`` is not a positive
        integer.
    """
    mod = _import(module)
    options = dict(options or {})
    args = (model_file,) if model_file else ()
    try:
        inspect.signature(mod.load_model).bind(*args, **options)
    except TypeError as exc:  # checked before the call: a TypeError inside is a bug
        raise ConfigError(
            f"{module}.load_model does not take these arguments: {exc}",
            "check --model-file and --options against the module's documentation",
        ) from exc
    except ValueError:
        pass  # no signature to check (a built-in): the call will tell
    model = mod.load_model(*args, **options)
    rep = Representation(
        module,
        mod,
        model,
        _positive_int(model, "sample_rate", module),
        _positive_int(model, "scene_embedding_size", module),
    )
    torch = sys.modules.get("torch")  # a torch model means torch is imported already
    if torch is not None and isinstance(model, torch.nn.Module):
        rep.device = "cuda" if torch.cuda.is_available() else "cpu"
        rep.model = model.to(rep.device)
    return rep


def _import(name: str) -> types.ModuleType:
    """The module ``name``, with the functions of :data:`REQUIRED`."""
    if not _DOTTED_NAME.fullmatch(name) or name.endswith(".py"):
        raise ConfigError(
            f"representation {name!r} is not a module's dotted name",
            "give an importable module such as my_package.hear_module, not a file path",
        )
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        missing = exc.name or ""
        if missing and (name == missing or name.startswith(missing + ".")):
            hint = f"install it in this Python ({sys.executable}), or add its folder to PYTHONPATH"
        else:
            hint = f"{name} needs {missing or 'a package'} that this Python lacks: install it"
        raise ConfigError(f"cannot import representation module {name}: {exc}", hint) from exc
    lacking = [f for f in REQUIRED if not callable(getattr(module, f, None))]
    if lacking:
        raise ConfigError(
            f"{name} is not a HEAR module: it has no {' and no '.join(lacking)}",
            f"a HEAR 2021 module defines load_model(model_file_path, **options) and "
            f"get_scene_embeddings(audio, model), see {HEAR_API}",
        )
    return module


def _positive_int(model: object, attribute: str, module: str) -> int:
    """``model.attribute`` as an int: any integral number (16000, 16000.0, numpy's)."""
    value = getattr(model, attribute, None)
    try:
        number = int(value)  # type: ignore[arg-type]
        ok = not isinstance(value, bool) and value == number > 0
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise MusicTransferError(
            f"the model of {module} has {attribute} {value!r}: expected a positive integer",
            f"HEAR's load_model returns a model with sample_rate and scene_embedding_size, "
            f"see {HEAR_API}",
        )
    return number


def embed_files(
    rep: Representation,
    paths: Sequence[PathLike],
    batch_size: int = 8,
    layers: bool = False,
    progress: bool = False,
    read: Callable[[int], np.ndarray] | None = None,
) -> Embeddings:
    """The scene embedding of each file (and its layers' averages, with ``layers``).

    Parameters
    ----------
    rep
        From :func:`load_representation`.
    paths
        Audio files; the rows follow their order.
    batch_size
        Most clips of one length per call (clips of different lengths never share one).
    layers
        Also call ``get_layer_embeddings`` and average each layer over its frames.
    progress
        Show a progress bar, when standard error is a terminal.
    read
        The ``i``-th clip, whole, at the module's rate (a decoded store's
        :meth:`~musictransfer.datasets.store.PreparedDataset.signal`); by default each
        file is decoded here.

    Raises
    ------
    MusicTransferError
        If a file cannot be decoded, a path is given twice, ``layers`` is asked of a
        module without them, or an output has the wrong shape, is not real numbers, or
        holds a NaN or infinite value (naming the first file concerned).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    paths = [Path(p) for p in paths]
    ids = file_ids(paths)
    if layers and not rep.has_layers:
        raise ConfigError(f"{rep.name} has no {LAYER_FUNCTION}", "ask for the scene embedding only")
    torch = _torch()
    out = Embeddings(ids, np.empty((len(paths), rep.embedding_size), np.float32))
    bar = tqdm(  # disable=None: on a terminal only
        total=len(paths), desc=f"embeddings {rep.name}", disable=None if progress else True
    )
    with bar, torch.no_grad() if torch else contextlib.nullcontext():
        for index, audio in length_batches(paths, rep.sample_rate, batch_size, read):
            files = [paths[i] for i in index]
            tensor = _audio_tensor(rep, audio)
            scene = _call(rep, "get_scene_embeddings", tensor, files)
            shape = (len(index), rep.embedding_size)
            out.features[index] = _checked(scene, shape, f"scene embeddings of {rep.name}", files)
            if layers:
                found = _call(rep, LAYER_FUNCTION, tensor, files)
                _add_layers(out, found, index, rep, files)
            out.batches.append(list(index))
            bar.update(len(index))
    return out


BATCH_TOLERANCE = 1e-4
"""Largest difference, relative to the embedding's largest value, that counts as none:
float32 kernels may sum in another order for another batch size (1e-6 seen on CPUs)."""


def batch_dependence(
    rep: Representation,
    paths: Sequence[PathLike],
    emb: Embeddings,
    read: Callable[[int], np.ndarray] | None = None,
) -> dict[str, Any]:
    """Do a clip's embeddings depend on the other clips of its call? Measured, not assumed.

    The clips of the first call that held several are embedded again one at a time and
    compared with their rows: a module that normalises with batch statistics (as the
    authors' network did) makes each clip's embedding depend on its batch-mates, so that
    features carry their batch, and scores can owe something to it. Costs one call per
    clip of one batch.

    Returns
    -------
    dict
        ``clips`` re-embedded, the ``batch`` size they had, the largest difference
        relative to the embedding's largest value (``max_relative_difference``), and
        ``batch_dependent`` (beyond :data:`BATCH_TOLERANCE`); ``clips`` 0 when every
        call held one clip.
    """
    group = next((g for g in emb.batches if len(g) > 1), None)
    if group is None:
        return {"clips": 0, "batch": 1, "max_relative_difference": 0.0, "batch_dependent": False}
    alone = embed_files(
        rep, [paths[i] for i in group], batch_size=1,
        read=None if read is None else lambda j: read(group[j]),
    )  # fmt: skip
    together = emb.features[group]
    scale = max(float(np.max(np.abs(together))), np.finfo(np.float32).tiny)
    diff = float(np.max(np.abs(alone.features - together))) / scale
    return {
        "clips": len(group),
        "batch": len(group),
        "max_relative_difference": diff,
        "batch_dependent": diff > BATCH_TOLERANCE,
    }


def _torch() -> types.ModuleType | None:
    """PyTorch where this Python has it, else None.

    Imported only here (seconds; loading and checking a module do not need it), and not
    required: a TensorFlow module's environment has no PyTorch, and should not.
    """
    if "torch" in sys.modules or importlib.util.find_spec("torch") is not None:
        import torch

        return torch
    return None


def _audio_tensor(rep: Representation, audio: np.ndarray) -> Any:
    """The batch as HEAR gives it: a TensorFlow tensor for a ``tf.Module``, else torch.

    NumPy where this Python has no PyTorch (a module in an environment of its own).
    """
    tf = sys.modules.get("tensorflow")  # a TensorFlow model means it is imported already
    if tf is not None and isinstance(rep.model, tf.Module):
        return tf.convert_to_tensor(audio)
    torch = _torch()
    return torch.from_numpy(audio).to(rep.device) if torch else audio


def _call(rep: Representation, function: str, audio: Any, files: list[Path]) -> Any:
    """``module.function(audio, model)``; an exception in it says which files it had."""
    try:
        return getattr(rep.module, function)(audio, rep.model)
    except Exception as exc:
        exc.add_note(f"in {rep.name}.{function} of {', '.join(map(str, files))}")
        raise


def _checked(value: Any, shape: tuple[int | None, ...], what: str, files: list[Path]) -> np.ndarray:
    """An output as float32 NumPy, of ``shape`` (None: any positive size), all finite."""
    if hasattr(value, "detach"):  # torch: off the graph and the device
        value = value.detach().cpu()
        if value.dtype.is_floating_point:
            value = value.float()  # bfloat16 has no NumPy dtype
    if hasattr(value, "numpy"):
        value = value.numpy()
    try:
        array = np.asarray(value)
    except ValueError:  # ragged lists
        array = np.asarray(None)
    wrong = array.ndim != len(shape) or any(
        got < 1 if want is None else got != want
        for got, want in zip(array.shape, shape, strict=False)
    )
    if array.dtype.kind not in "fiu" or wrong:
        expected = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        batch = str(files[0]) + (f" and {len(files) - 1} more" if len(files) > 1 else "")
        raise MusicTransferError(
            f"{what} of {batch} are {array.dtype} of shape {array.shape}: expected real "
            f"numbers of shape {expected}",
            f"check the module against HEAR's API, see {HEAR_API}",
        )
    with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes inf: refused
        array = array.astype(np.float32)
    bad = np.flatnonzero(~np.isfinite(array.reshape(len(array), -1)).all(axis=1))
    if bad.size:
        more = f" (and of {bad.size - 1} more file(s) of its batch)" if bad.size > 1 else ""
        raise MusicTransferError(
            f"{what} of {files[bad[0]]} are not finite (NaN or infinite){more}; "
            "nothing was written",
            "check that file (is it very short or quiet?) and the module",
        )
    return array


def _add_layers(
    out: Embeddings, found: Any, index: list[int], rep: Representation, files: list[Path]
) -> None:
    """Check one batch's layer embeddings and store their averages over frames."""
    if not isinstance(found, Mapping) or not found:
        raise MusicTransferError(
            f"{rep.name}.{LAYER_FUNCTION} returned {type(found).__name__}: expected a "
            "non-empty dict of layer name to (n_sounds, n_frames, d)"
        )
    names = [str(name) for name in found]
    if out.layers and names != list(out.layers):
        raise MusicTransferError(
            f"{rep.name}.{LAYER_FUNCTION} returned layers {names} for {files[0]}, "
            f"{list(out.layers)} before"
        )
    for name, value in found.items():
        if not isinstance(name, str) or not _LAYER_NAME.fullmatch(name):
            raise MusicTransferError(
                f"{rep.name}.{LAYER_FUNCTION}: layer name {name!r} is not a word "
                "(letters, digits, _ . -)"
            )
        d = out.layers[name].shape[1] if name in out.layers else None
        what = f"layer {name} embeddings of {rep.name}"
        frames = _checked(value, (len(index), None, d), what, files)
        if name not in out.layers:
            out.layers[name] = np.empty((len(out.ids), frames.shape[2]), np.float32)
        out.layers[name][index] = frames.mean(axis=1, dtype=np.float64)


def module_version(module: types.ModuleType) -> str | None:
    """The installed version of the distribution a module comes from, if it says."""
    top = module.__name__.split(".")[0]
    try:
        return importlib.metadata.version(top)
    except importlib.metadata.PackageNotFoundError:
        version = getattr(sys.modules.get(top), "__version__", None)
        return None if version is None else str(version)


def identity(
    rep: Representation, model_file: str, options: Mapping[str, Any], batch_size: int
) -> dict[str, Any]:
    """What made a representation's numbers, for the feature file and every cell of it."""
    return {
        "hear": rep.name,
        "version": module_version(rep.module),
        "options": json.loads(json.dumps(dict(options), default=repr)),
        "model_file": model_file or None,
        # HEAR passes the model file as a string: a file, or a name the module resolves
        "model_file_sha256": file_hash(model_file)
        if model_file and Path(model_file).is_file()
        else None,
        "sample_rate": rep.sample_rate,
        "batch_size": batch_size,
    }


def extract_representation(
    module: str,
    paths: Sequence[PathLike],
    out: PathLike,
    model_file: str = "",
    options: Mapping[str, Any] | None = None,
    batch_size: int = 8,
    layers: bool | Sequence[str] = True,
    progress: bool = True,
    ids: Sequence[str] | None = None,
    decoded: PathLike | None = None,
) -> Embeddings:
    """``musictransfer extract --representation``: embeddings of audio files to a .npz.

    Writes a feature file (:func:`musictransfer.featurefile.save_features`): ``features``,
    ``ids`` (``ids``, by default the paths as given), ``extractor`` (the module's name),
    ``provenance`` and ``representation`` (:func:`identity`: module, version, options,
    model file and its SHA-256, rate, batch size); with ``layers``, each layer's averages
    as ``layer_<name>`` and their names, in order, as ``layers``. ``layers`` is True for
    every layer the module has, False for none, or the names to keep, in the order
    layer combinations number them. Nothing is written if any file fails.

    ``decoded`` names a store of the same clips, whole, at the module's rate
    (``musictransfer prepare --whole``, the workflow's ``decode_audio``): the clips are
    read from it instead of decoded again, so that the representations of one rate share
    one decoding of the dataset. Its rate and ids must be the module's and ``ids``.

    Raises
    ------
    ConfigError
        If a layer asked for is not one the module returns (naming those it has).
    """
    options = dict(options or {})
    rep = load_representation(module, model_file, options)
    read = (
        None
        if decoded is None
        else decoded_reader(decoded, rep.name, rep.sample_rate, ids or file_ids(paths))
    )
    wanted = list(layers) if not isinstance(layers, bool) else None
    emb = embed_files(
        rep, paths, batch_size, layers=bool(layers) and (wanted is not None or rep.has_layers),
        progress=progress, read=read,
    )  # fmt: skip
    if wanted is not None:
        missing = [n for n in wanted if n not in emb.layers]
        if missing:
            raise ConfigError(
                f"{module}.{LAYER_FUNCTION} returns no layer {missing[0]!r}; it returns "
                f"{', '.join(emb.layers) or 'none'}",
                "list only those names under the representation's `layers`",
            )
        emb.layers = {n: emb.layers[n] for n in wanted}
    if ids is not None:
        if len(ids) != len(emb.ids):
            raise ValueError(f"{len(ids)} ids for {len(emb.ids)} files")
        emb.ids = [str(i) for i in ids]
    made = identity(rep, model_file, options, batch_size)
    made["batch_check"] = batch_dependence(rep, paths, emb, read)
    if made["batch_check"]["batch_dependent"]:
        log.warning(
            "%s: a clip's embedding depends on the other clips of its call (relative "
            "difference %.2g between %d clips alone and in one call): its features carry "
            "their batch",
            rep.name,
            made["batch_check"]["max_relative_difference"],
            made["batch_check"]["clips"],
        )
    save_features(
        out,
        emb.features,
        emb.ids,
        extractor=rep.name,
        model_file=model_file,
        options=json.dumps(options, sort_keys=True, default=repr),
        sample_rate=rep.sample_rate,
        batch_size=batch_size,
        layers=np.asarray(list(emb.layers), dtype=str),
        representation=json.dumps(made, sort_keys=True),
        **{f"layer_{name}": values for name, values in emb.layers.items()},
    )
    return emb


__all__ = [
    "BATCH_TOLERANCE",
    "Embeddings",
    "Representation",
    "batch_dependence",
    "embed_files",
    "extract_representation",
    "identity",
    "load_representation",
    "module_version",
]
