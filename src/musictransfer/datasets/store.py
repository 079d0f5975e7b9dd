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
from musictransfer.constants import CLIP_SECONDS, N_SAMPLES, SAMPLE_RATE
from musictransfer.datasets.manifest import read_manifest, resolve_paths
from musictransfer.errors import ManifestError
from musictransfer.layout import AUDIO_FILE, MANIFEST_FILE
from musictransfer.outputs import atomic_path

INT16_SCALE = 32767.0
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

    Returns
    -------
    pathlib.Path
        The prepared manifest's path. Both files appear only when all clips succeeded.
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    manifest = read_manifest(manifest_path)
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
        audio_path = self.root / AUDIO_FILE
        if not audio_path.is_file():
            raise ManifestError(
                f"prepared audio missing: {audio_path}", "rerun the prepare_audio step"
            )
        try:
            self._audio = np.load(audio_path, mmap_mode="r")
        except (OSError, ValueError, EOFError) as exc:  # truncated: "mmap length is greater"
            raise ManifestError(
                f"cannot read prepared audio {audio_path}: damaged or truncated "
                f"({type(exc).__name__})",
                f"delete {self.root} and rerun the prepare step",
            ) from exc
        self._offsets = self.manifest["offset"].to_numpy(np.int64)
        self._lengths = self.manifest["n_samples"].to_numpy(np.int64)
        if len(self._audio) != int(self._lengths.sum()):
            raise ManifestError(
                f"{audio_path} holds {len(self._audio)} samples but the manifest lists "
                f"{int(self._lengths.sum())}",
                "the store is inconsistent: delete it and rerun prepare_audio",
            )

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
        pcm = self._audio[start : start + self._lengths[index]]
        if pcm.dtype == np.int16:
            return pcm.astype(np.float32) / INT16_SCALE
        return np.array(pcm, dtype=np.float32)

    def convnet_input(self, index: int, n_samples: int = N_SAMPLES) -> np.ndarray:
        """The clip tiled (or cut) to the convnet's 29 s input, float32."""
        return tile_to_length(self.signal(index), n_samples)
