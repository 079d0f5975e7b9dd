"""The prepared-audio store: every clip of a dataset at 12 kHz mono, ready to read fast.

A prepared dataset is a directory with two files:

``audio.npy``
    All clips' samples as one 1-D int16 array (full scale = 1.0), concatenated in
    manifest order (float32 for a decoded store, below). It is opened as a memory map,
    so reading a clip costs one slice and the memory used is bounded whatever the
    dataset's size (the MSD's 244,224 clips of 29 s are about 170 GB as int16).
``manifest.csv``
    The input manifest's columns plus ``offset`` and ``n_samples`` (the clip's slice of
    ``audio.npy``) and ``duration`` (seconds, before tiling).

Clips are stored unpadded: the MFCC baseline uses the signal as it is, and the convnet's
input is tiled to 29 s on reading (:meth:`PreparedDataset.convnet_input`).

The same format, at another rate, whole and as float32 (``prepare_audio(..., sr=16000,
duration=None, dtype="float32")``), is a dataset *decoded* once for the representations
that users bring: every HEAR module of an experiment that declares that rate reads its
clips from it instead of decoding the originals again, and float32 keeps exactly what
the decoder and resampler gave (int16 would add its own rounding to a foreign model's
input). The manifest's ``sample_rate`` says which rate a store holds.

Sharded stores
--------------
A dataset of the MSD's size (244,224 clips, about 170 GB as int16) is prepared by many
jobs, each writing a *shard*: ``shard-00000/`` ... with its own ``audio.npy``,
``manifest.csv`` and ``shard.json`` (its rows, the SHA-256 of the manifest it was cut from,
the code version). :func:`plan_shards` cuts the manifest into runs of ``clips_per_shard``
rows in order, :func:`prepare_shard` writes one, and :func:`merge_shards` writes the
store's ``manifest.csv``: every row, with a ``shard`` column naming the shard that holds it
and ``offset`` into that shard's audio. :class:`PreparedDataset` reads either layout as
one dataset, each shard memory-mapped, never concatenated. A clip's samples are the same
bytes whatever the shard size, so no feature or score depends on it.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from musictransfer._typing import PathLike
from musictransfer.audio import load_audio, tile_to_length
from musictransfer.constants import CLIP_SECONDS, INT16_SCALE, N_SAMPLES, SAMPLE_RATE
from musictransfer.datasets.manifest import read_manifest, resolve_paths
from musictransfer.errors import ManifestError
from musictransfer.fetching import file_hash
from musictransfer.layout import AUDIO_FILE, MANIFEST_FILE, SHARD_FILE, shard_name
from musictransfer.outputs import atomic_path, read_json_object, write_json

DTYPES = {"int16": "<i2", "float32": "<f4"}
"""Sample formats of a store: int16 (the paper's 12 kHz store), float32 (decoded stores)."""


def prepare_audio(
    manifest_path: PathLike,
    out_dir: PathLike,
    sr: int = SAMPLE_RATE,
    duration: float | None = CLIP_SECONDS,
    threads: int = 1,
    progress: bool = True,
    dtype: str = "int16",
    rows: tuple[int, int] | None = None,
) -> Path:
    """Decode, downmix and resample every clip of a manifest into a prepared store.

    Parameters
    ----------
    manifest_path
        A manifest with at least ``id`` and ``path`` columns.
    out_dir
        Directory that receives ``audio.npy`` and ``manifest.csv``.
    sr
        Sampling rate in Hz.
    duration
        Keep the first ``duration`` seconds of each file (None keeps all).
    threads
        Files decoded in parallel (libsndfile and soxr release the GIL).
    progress
        Show a progress bar.
    dtype
        ``int16`` (full scale 32767) or ``float32`` (the decoder's samples as they are).
    rows
        ``(start, stop)``: only these rows of the manifest (a shard, :func:`prepare_shard`).

    Returns
    -------
    pathlib.Path
        The prepared manifest's path. Both files appear only when all clips succeeded.
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    manifest = read_manifest(manifest_path)
    if rows is not None:
        manifest = manifest.iloc[rows[0] : rows[1]].reset_index(drop=True)
    paths = resolve_paths(manifest, manifest_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lengths: list[int] = []
    with atomic_path(out_dir / AUDIO_FILE) as tmp_npy:
        # Written once, in place: the samples stream into the .npy after a header sized
        # for any length, which is rewritten with the true length at the end (a raw file
        # copied into the .npy afterwards needed twice the store's size on disk).
        with tmp_npy.open("wb") as sink:
            header = _npy_header(0, descr=DTYPES[dtype])
            sink.write(header)
            signals = _decode_in_order(paths, sr, duration, threads)
            for signal in tqdm(signals, total=len(paths), desc="prepare", disable=not progress):
                if dtype == "int16":
                    pcm = np.clip(np.round(signal * INT16_SCALE), -32768, 32767).astype("<i2")
                else:
                    pcm = signal.astype("<f4", copy=False)
                sink.write(pcm.tobytes())
                lengths.append(pcm.size)
            sink.seek(0)
            sink.write(_npy_header(sum(lengths), len(header), DTYPES[dtype]))
        prepared = manifest.copy()
        prepared["path"] = [str(p) for p in paths]
        prepared["n_samples"] = lengths
        prepared["offset"] = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        prepared["duration"] = np.asarray(lengths) / sr
        prepared["sample_rate"] = sr
        with atomic_path(out_dir / MANIFEST_FILE) as tmp_csv:
            prepared.to_csv(tmp_csv, index=False)
    return out_dir / MANIFEST_FILE


def shard_rows(n_clips: int, clips_per_shard: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of each shard: runs of ``clips_per_shard`` rows, in order.

    A dataset of at most ``clips_per_shard`` clips is one shard; an empty one has one
    empty shard, so that the store always exists.
    """
    if clips_per_shard < 1:
        raise ValueError(f"clips_per_shard must be >= 1, got {clips_per_shard}")
    starts = range(0, max(n_clips, 1), clips_per_shard)
    return [(a, min(a + clips_per_shard, n_clips)) for a in starts]


def plan_shards(manifest_path: PathLike, clips_per_shard: int, out: PathLike) -> dict:
    """Write the plan of a sharded store (``shards.json``): what each shard job makes."""
    n_clips = len(read_manifest(manifest_path))
    plan = {
        "manifest": str(manifest_path),
        "manifest_sha256": file_hash(manifest_path),
        "n_clips": n_clips,
        "clips_per_shard": clips_per_shard,
        "shards": [shard_name(k) for k in range(len(shard_rows(n_clips, clips_per_shard)))],
    }
    write_json(out, plan)
    return plan


def prepare_shard(
    manifest_path: PathLike,
    store_dir: PathLike,
    index: int,
    clips_per_shard: int,
    threads: int = 1,
    progress: bool = True,
) -> Path:
    """Prepare shard ``index`` of a sharded store: its rows, its audio, its record.

    Returns the shard's folder. The record (``shard.json``) names the rows, the manifest's
    SHA-256 and the code version, so that :func:`merge_shards` and the reader refuse a
    shard made from another manifest or by another version of the code.
    """
    from musictransfer import __version__

    n_clips = len(read_manifest(manifest_path))
    plan = shard_rows(n_clips, clips_per_shard)
    if not 0 <= index < len(plan):
        raise ManifestError(
            f"{manifest_path} has {n_clips} clips: {len(plan)} shard(s) of "
            f"{clips_per_shard}, no shard {index}",
            "rerun the plan_shards step: the manifest changed since it was planned",
        )
    folder = Path(store_dir) / shard_name(index)
    prepare_audio(manifest_path, folder, threads=threads, progress=progress, rows=plan[index])
    n_samples = len(np.load(folder / AUDIO_FILE, mmap_mode="r"))
    record = {
        "shard": shard_name(index),
        "rows": list(plan[index]),
        "manifest_sha256": file_hash(manifest_path),
        "code": __version__,
        "n_samples": n_samples,
    }
    write_json(folder / SHARD_FILE, record)
    return folder


def merge_shards(manifest_path: PathLike, store_dir: PathLike, shards: list[str]) -> Path:
    """The store's manifest over its shards: every row, with its ``shard``.

    Raises
    ------
    ManifestError
        Naming the shard: missing, truncated, made from another manifest or by another
        code version, or not holding the rows the plan gives it.
    """
    from musictransfer import __version__

    store_dir = Path(store_dir)
    digest = file_hash(manifest_path)
    n_clips = len(read_manifest(manifest_path))
    frames = []
    for name in shards:
        record = _shard_record(store_dir, name)
        if record["manifest_sha256"] != digest:
            raise ManifestError(
                f"shard {store_dir / name} was made from another manifest than {manifest_path}",
                f"delete {store_dir / name} and rerun: it is stale",
            )
        if record["code"] != __version__:
            raise ManifestError(
                f"shard {store_dir / name} was made by musictransfer {record['code']}, "
                f"this is {__version__}",
                f"delete {store_dir / name} and rerun: it is stale",
            )
        frame = read_manifest(store_dir / name / MANIFEST_FILE)
        frame["shard"] = name
        frames.append(frame)
    merged = pd.concat(frames, ignore_index=True)
    if len(merged) != n_clips:
        raise ManifestError(
            f"the shards of {store_dir} hold {len(merged)} clips, {manifest_path} has {n_clips}",
            "rerun the plan_shards step and the shards",
        )
    with atomic_path(store_dir / MANIFEST_FILE) as tmp:
        merged.to_csv(tmp, index=False)
    PreparedDataset(store_dir)  # every shard readable, whole, and holding its rows
    return store_dir / MANIFEST_FILE


def _shard_record(store_dir: Path, name: str) -> dict:
    """A shard's ``shard.json``, or an error naming the shard."""
    path = store_dir / name / SHARD_FILE
    if not path.is_file():
        raise ManifestError(
            f"shard {store_dir / name} is missing (no {SHARD_FILE})",
            "rerun the prepare_shard step of that shard",
        )
    return read_json_object(
        path, "shard record", "rerun the prepare_shard step of that shard",
        f"delete {store_dir / name} and rerun its prepare_shard step",
    )  # fmt: skip


def _open_audio(path: Path, store: Path) -> np.ndarray:
    """A store's (or shard's) samples, memory-mapped; an error naming it if unreadable."""
    if not path.is_file():
        raise ManifestError(f"prepared audio missing: {path}", "rerun the prepare step")
    try:
        return np.load(path, mmap_mode="r")
    except (OSError, ValueError, EOFError) as exc:  # truncated: "mmap length is greater"
        raise ManifestError(
            f"cannot read prepared audio {path}: damaged or truncated ({type(exc).__name__})",
            f"delete {store} and rerun the prepare step",
        ) from exc


def _decode_in_order(
    paths: list[Path], sr: int, duration: float | None, threads: int
) -> Iterator[np.ndarray]:
    """Decode files in parallel, yielding them in order with a bounded read-ahead.

    ``Executor.map`` would submit every file at once, so decoded clips could pile up in
    memory whenever decoding outruns writing; keeping at most ``2 * threads`` files in
    flight bounds memory by the clip length, whatever the dataset's size.
    """
    window = 2 * max(1, threads)
    with ThreadPoolExecutor(max(1, threads)) as pool:
        pending: deque[Future[np.ndarray]] = deque()
        for path in paths:
            pending.append(pool.submit(load_audio, path, sr=sr, duration=duration))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


NPY_HEADER_BYTES = 128
"""An .npy (format 1.0) header of a 1-D int16 or float32 array of any length up to 10**19
samples: the header text is padded to a multiple of 64 bytes, and every such length
gives 128."""


def _npy_header(n: int, size: int = NPY_HEADER_BYTES, descr: str = "<i2") -> bytes:
    """The .npy header of ``n`` samples of type ``descr``, exactly ``size`` bytes long."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": (n,)}
    )
    header = buffer.getvalue()
    if len(header) != size:
        raise ValueError(f"an .npy header of {n} samples is {len(header)} bytes, not {size}")
    return header


class PreparedDataset:
    """Read access to a prepared store.

    Parameters
    ----------
    root
        The directory written by :func:`prepare_audio`.

    Attributes
    ----------
    manifest : pandas.DataFrame
        One row per clip, in storage order.
    """

    def __init__(self, root: PathLike) -> None:
        self.root = Path(root)
        self.manifest: pd.DataFrame = read_manifest(
            self.root / MANIFEST_FILE, required=("id", "offset", "n_samples")
        )
        self._offsets = self.manifest["offset"].to_numpy(np.int64)
        self._lengths = self.manifest["n_samples"].to_numpy(np.int64)
        if "shard" in self.manifest:
            names, self._shard_of = np.unique(
                self.manifest["shard"].astype(str).to_numpy(), return_inverse=True
            )
            self._audios = [
                self._open_shard(str(n), self._shard_of == k) for k, n in enumerate(names)
            ]
        else:
            self._shard_of = np.zeros(len(self.manifest), np.int64)
            self._audios = [_open_audio(self.root / AUDIO_FILE, self.root)]
            self._check_length(self._audios[0], self._lengths, self.root / AUDIO_FILE)

    @staticmethod
    def _check_length(audio: np.ndarray, lengths: np.ndarray, path: Path) -> None:
        if len(audio) != int(lengths.sum()):
            raise ManifestError(
                f"{path} holds {len(audio)} samples but the manifest lists {int(lengths.sum())}",
                "the store is inconsistent: delete it and rerun the prepare step",
            )

    def _open_shard(self, name: str, rows: np.ndarray) -> np.ndarray:
        """One shard, checked: whole, holding exactly the store's rows that name it."""
        record = _shard_record(self.root, name)
        audio = _open_audio(self.root / name / AUDIO_FILE, self.root / name)
        self._check_length(audio, self._lengths[rows], self.root / name / AUDIO_FILE)
        own = read_manifest(self.root / name / MANIFEST_FILE, required=("id",))
        positions = np.flatnonzero(rows)
        expected = self.manifest["id"].astype(str).to_numpy()[positions]
        if (
            record["rows"] != [int(positions[0]), int(positions[-1]) + 1]
            or len(own) != len(expected)
            or not np.array_equal(own["id"].astype(str).to_numpy(), expected)
        ):
            raise ManifestError(
                f"shard {self.root / name} does not hold the rows the store's manifest gives "
                "it: it is stale (made from another manifest)",
                f"delete {self.root / name} and rerun its prepare_shard step",
            )
        return audio

    def __len__(self) -> int:
        return len(self.manifest)

    @property
    def ids(self) -> list[str]:
        """Clip ids in storage order."""
        return self.manifest["id"].astype(str).tolist()

    @property
    def sample_rate(self) -> int:
        """The store's rate (stores written before the column existed: 12 kHz)."""
        if "sample_rate" not in self.manifest or not len(self.manifest):
            return SAMPLE_RATE
        return int(self.manifest["sample_rate"].iloc[0])

    def signal(self, index: int) -> np.ndarray:
        """The clip's unpadded signal, float32 in [-1, 1]."""
        start = self._offsets[index]
        pcm = self._audios[self._shard_of[index]][start : start + self._lengths[index]]
        if pcm.dtype == np.int16:
            return pcm.astype(np.float32) / INT16_SCALE
        return np.array(pcm, dtype=np.float32)

    def convnet_input(self, index: int, n_samples: int = N_SAMPLES) -> np.ndarray:
        """The clip tiled (or cut) to the convnet's 29 s input, float32."""
        return tile_to_length(self.signal(index), n_samples)

    def stored_input(self, index: int, n_samples: int = N_SAMPLES) -> np.ndarray:
        """The clip tiled to the convnet's input as stored (int16 in the 12 kHz store).

        What the training loader sends: half the bytes of float32 through the workers'
        queues and to the device, where dividing by :data:`INT16_SCALE` in float32 (one
        correctly rounded operation, the same bits on any device) gives
        :meth:`convnet_input`'s exact values.
        """
        start = self._offsets[index]
        stored = self._audios[self._shard_of[index]][start : start + self._lengths[index]]
        return tile_to_length(np.asarray(stored), n_samples)
