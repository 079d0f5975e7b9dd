"""Where a representation's clips come from, and how they are grouped for its calls.

A dataset's clips are named by a manifest (``id``, ``path``) or a labels file (``path``
relative to an audio folder; the id is the path without extension): :func:`clips_of`.
Each clip is decoded at the module's rate, whole, by
:func:`musictransfer.audio.load_audio`, or read from a store that decoded the dataset
once at that rate for every representation of that rate (:func:`decoded_reader`, the
workflow's ``decode_audio``). :func:`length_batches` groups clips of equal length, in the
order of the inputs, so that a module sees reproducible batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from musictransfer._typing import PathLike
from musictransfer.audio import load_audio
from musictransfer.errors import ConfigError, MusicTransferError

MAX_WAITING_SAMPLES = 2**25
"""Decoded samples (128 MB of float32) that may wait for a clip of the same length
before every waiting group is run as it is: files of many lengths need no more memory."""


def file_ids(paths: Sequence[PathLike]) -> list[str]:
    """The ids of files' rows: the paths as given, as ``extract --model`` stores them.

    Raises
    ------
    MusicTransferError
        If a path is given twice: two rows of one id could not be told apart.
    """
    ids = [str(p) for p in paths]
    first: dict[str, int] = {}
    for k, id_ in enumerate(ids):
        if id_ in first:
            raise MusicTransferError(
                f"{id_} is given twice (inputs {first[id_] + 1} and {k + 1})",
                "give each audio file once",
            )
        first[id_] = k
    return ids


def length_batches(
    paths: Sequence[Path],
    sample_rate: int,
    batch_size: int,
    read: Callable[[int], np.ndarray] | None = None,
) -> Iterator[tuple[list[int], np.ndarray]]:
    """``(indices, float32 (n, n_samples))`` of equal-length clips, whole, at ``sample_rate``.

    ``read(i)`` gives the ``i``-th clip (a decoded store's); by default ``paths[i]`` is
    decoded here.

    A group is run when it is full; every waiting group (in the order of its first file)
    when :data:`MAX_WAITING_SAMPLES` are waiting, and at the end.
    """
    waiting: dict[int, list[tuple[int, np.ndarray]]] = {}
    n_waiting = 0

    def run(length: int) -> tuple[list[int], np.ndarray]:
        nonlocal n_waiting
        group = waiting.pop(length)
        n_waiting -= length * len(group)
        return [i for i, _ in group], np.stack([clip for _, clip in group])

    for i, path in enumerate(paths):
        clip = load_audio(path, sr=sample_rate, duration=None) if read is None else read(i)
        waiting.setdefault(len(clip), []).append((i, clip))
        n_waiting += len(clip)
        if len(waiting[len(clip)]) == batch_size:
            yield run(len(clip))
        elif n_waiting > MAX_WAITING_SAMPLES:
            for length in list(waiting):
                yield run(length)
    for length in list(waiting):
        yield run(length)


def clips_of(table: PathLike, audio_dir: PathLike | None = None) -> tuple[list[str], list[Path]]:
    """``(ids, paths)`` of a manifest (id, path) or of a labels file (path, relative).

    A labels file's ids are its paths without the extension, relative to ``audio_dir``
    (by default the file's folder), as for a dataset of the configuration
    (:mod:`musictransfer.datasets.labelled_folder`).
    """
    from musictransfer.datasets.labelled_folder import folder_rows
    from musictransfer.datasets.manifest import read_manifest, resolve_paths

    with open(table, encoding="utf-8") as f:
        header = f.readline().strip().split(",")
    if "id" in header:
        frame = read_manifest(table)
        return frame["id"].astype(str).tolist(), resolve_paths(frame, table)
    frame = folder_rows(audio_dir if audio_dir is not None else Path(table).parent, table)
    return frame["id"].tolist(), [Path(p) for p in frame["path"]]


def decoded_reader(
    store_dir: PathLike, name: str, sample_rate: int, ids: Sequence[str]
) -> Callable[[int], np.ndarray]:
    """The clips of a decoded store, checked against the module's rate and the clips asked for.

    The workflow declares a representation's rate (its ``sample_rate``) before the module
    is loaded, to share one decoding among the representations of that rate; the module
    has the last word, and a store at another rate must never reach it.

    Raises
    ------
    ConfigError
        If the store's rate is not the module's (``name`` at ``sample_rate``), or its clips
    are not ``ids`` in order.
    """
    from musictransfer.datasets.store import PreparedDataset

    store = PreparedDataset(store_dir)
    if store.sample_rate != sample_rate:
        raise ConfigError(
            f"{name} runs at {sample_rate} Hz, but the decoded audio {store_dir} is "
            f"at {store.sample_rate} Hz",
            f"set the representation's sample_rate to {sample_rate} (or null, to "
            "decode its clips in its own job)",
        )
    if store.ids != [str(i) for i in ids]:
        first = next(
            (k for k, (a, b) in enumerate(zip(store.ids, ids, strict=False)) if a != str(b)),
            min(len(store.ids), len(ids)),
        )
        raise ConfigError(
            f"the decoded audio {store_dir} does not hold the clips asked for (first "
            f"difference at row {first + 1} of {len(ids)})",
            f"delete {store_dir} and rerun: it was decoded from another manifest",
        )
    return store.signal


__all__ = [
    "MAX_WAITING_SAMPLES",
    "clips_of",
    "decoded_reader",
    "file_ids",
    "length_batches",
]
