"""Audio input: decode, downmix, resample, and fit clips to the convnet's input length.

Decoding uses libsndfile (through ``soundfile``: WAV, FLAC, OGG/Vorbis, MP3) and
resampling uses ``soxr`` at its 'HQ' quality, which is what ``librosa.load`` does by
default (``res_type='soxr_hq'``); the authors loaded audio with
``librosa.load(path, sr=12000, duration=29)``, and this module reproduces that.

Questionable input
------------------
:func:`load_audio` checks what would otherwise pass silently and give numbers that
look fine but mean little (docs/audio.md):

* A WAV or AIFF file whose header promises more audio than the file holds (cut short by
  an interrupted copy or download) is an error: libsndfile would decode the part that
  is there without a word.
* Samples of a float file (``FLOAT``/``DOUBLE``) beyond full scale: up to
  :data:`MAX_FLOAT_PEAK` the file is clipped to [-1, 1] with a warning, which is what
  the 16-bit prepared store does to it anyway, so that ``extract`` and ``tag`` on the
  file give what the workflow gives; further out the file is refused as wrongly scaled
  (integer sample values written as floats, say), where clipping would leave a square
  wave. Lossy codecs (MP3, Vorbis) overshoot full scale by a few percent in normal
  decoding, so they are left as they are, as librosa leaves them.
* Silence (every sample within one 16-bit step of zero, :data:`SILENCE_PEAK`), a
  constant signal (a DC offset), a clip shorter than one STFT window
  (:data:`MIN_SECONDS`: 10 ms, one sample) and a click or burst in silence (sound for less
  than one window): their features are legitimate, but any tag
  of them is meaningless, so each is a warning, or an error for ``musictransfer tag``
  (``silence="error"``).

Warnings go to this module's logger, once per file and kind.
"""

from __future__ import annotations

import logging
import struct
import threading
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

from musictransfer._typing import PathLike
from musictransfer.constants import CLIP_SECONDS, N_FFT, N_SAMPLES, SAMPLE_RATE
from musictransfer.errors import AudioError

log = logging.getLogger(__name__)

SILENCE_PEAK = 2.0**-15
"""Peak at or below which a clip counts as silent: one step of 16-bit PCM (-90 dBFS),
i.e. digital silence or nothing but dither."""

FULL_SCALE_TOLERANCE = 1e-3
"""A float file may exceed full scale (1.0) by this much without a warning."""

MAX_FLOAT_PEAK = 2.0
"""Peak (+6 dBFS) beyond which a float file is refused as wrongly scaled, not clipped."""

MIN_SECONDS = N_FFT / SAMPLE_RATE
"""One STFT window of the network (512 samples at 12 kHz, 42.7 ms): a shorter clip has no
whole frame of its own, and what the network sees of it is the tiling's repetition."""

SILENCE_ACTIONS = ("warn", "error")

_FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")
_STREAMED_LENGTHS = (0, 0xFFFF_FFFF)  # "unknown length" of a header written to a pipe
_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def _warn_once(path: Path, kind: str, message: str) -> None:
    """Log ``message`` once per (file, kind) in this process (clips may be read twice)."""
    key = (str(path), kind)
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    log.warning(message)


def check_complete(path: PathLike) -> None:
    """Raise if a WAV (RIFF/RIFX) or AIFF file's header promises more audio than it holds.

    libsndfile decodes such a file up to where it ends and says nothing (its log only
    notes "should be ..."), so a clip cut short would pass for a shorter clip. Only the
    chunk headers are read. An Ogg file (Vorbis, Opus, FLAC in Ogg) must end with a whole
    page marked end-of-stream: libsndfile decodes a cut one as a shorter clip. A truncated
    FLAC file fails to decode. An MP3 carries no such marker (its length in a header is
    only an estimate), so a cut MP3 cannot be told from a short one.

    Raises
    ------
    AudioError
        Naming the file, and the bytes promised and present or the missing page.
    """
    path = Path(path)
    with path.open("rb") as f:
        head = f.read(12)
        if len(head) < 12:
            return
        if head[:4] == b"OggS":
            _check_ogg_end(f, path)
            return
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            order, data_id = "<", b"data"
        elif head[:4] == b"RIFX" and head[8:12] == b"WAVE":
            order, data_id = ">", b"data"
        elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
            order, data_id = ">", b"SSND"
        else:
            return
        size = path.stat().st_size
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk_id, length = struct.unpack(order + "4sI", f.read(8))
            if chunk_id == data_id:
                present = size - pos - 8
                if length not in _STREAMED_LENGTHS and length > present:
                    raise AudioError(
                        f"audio file {path} is truncated: its header promises {length} bytes "
                        f"of audio, the file holds {present}",
                        "the file was cut short (an interrupted copy or download?): "
                        "fetch it again, or remove it from the manifest",
                    )
                return
            pos += 8 + length + (length & 1)


OGG_TAIL = 1 << 16
"""Bytes read from the end of an Ogg file: an Ogg page is at most 65,307 bytes."""


def _check_ogg_end(f: Any, path: Path) -> None:
    """Raise unless an Ogg file's last page is whole and marked end-of-stream (flag 0x04)."""
    size = path.stat().st_size
    start = max(0, size - OGG_TAIL)
    f.seek(start)
    tail = f.read()
    cut = (
        "the file was cut short (an interrupted copy or download?): fetch it again, or "
        "remove it from the manifest"
    )
    pos = tail.rfind(b"OggS")
    while pos >= 0:
        header = tail[pos : pos + 27]
        if len(header) == 27 and header[4] == 0:  # stream structure version 0
            n_segments = header[26]
            table = tail[pos + 27 : pos + 27 + n_segments]
            end = pos + 27 + n_segments + sum(table)
            if len(table) == n_segments and end <= len(tail):
                if end != len(tail) or not header[5] & 0x04:
                    break  # whole, but not the last page, or not marked as the end
                return
        pos = tail.rfind(b"OggS", 0, pos)  # a page cut in its middle: look further back
    raise AudioError(
        f"audio file {path} is truncated: its last Ogg page is not a whole end-of-stream page",
        cut,
    )


def load_audio(
    path: PathLike,
    sr: int = SAMPLE_RATE,
    duration: float | None = CLIP_SECONDS,
    silence: str = "warn",
) -> np.ndarray:
    """Decode an audio file to a mono float32 signal at ``sr`` Hz.

    The checks of the module docstring ("Questionable input") apply: a truncated WAV
    or AIFF file and a float file far beyond full scale are errors, a float file
    somewhat beyond it is clipped with a warning, and silence is a warning (or an
    error, with ``silence="error"``).

    Parameters
    ----------
    path
        Any file libsndfile reads (WAV, FLAC, OGG, MP3, AU, ...).
    sr
        Target sampling rate in Hz (12,000 for everything in the paper).
    duration
        Keep only the first ``duration`` seconds (of the original file, as librosa
        does), or the whole file if None. The paper uses the first 29 s.
    silence
        ``warn`` (features of silence are legitimate) or ``error`` (for tagging, where
        any answer about silence is meaningless).

    Returns
    -------
    numpy.ndarray
        1-D float32 array, channels averaged: in [-1, 1] for PCM and float files (the
        resampler may overshoot a little), a few percent beyond for loud lossy files.

    Raises
    ------
    AudioError
        If the file is missing, truncated, cannot be decoded, holds no samples or
        non-finite ones, is a float file far beyond full scale, or is silent with
        ``silence="error"``.
    """
    if silence not in SILENCE_ACTIONS:
        raise ValueError(f"silence must be one of {SILENCE_ACTIONS}, got {silence!r}")
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"audio file not found: {path}", "check the path in the manifest")
    try:
        check_complete(path)
        with sf.SoundFile(path) as f:
            native_sr = f.samplerate
            subtype = f.subtype
            frames = -1 if duration is None else int(np.ceil(duration * native_sr))
            data = f.read(frames=frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, struct.error) as exc:
        raise AudioError(
            f"cannot decode audio file {path}: {exc}",
            "convert it to WAV or FLAC (e.g. with ffmpeg), or remove it from the manifest",
        ) from exc
    if data.size == 0:
        raise AudioError(f"audio file {path} contains no samples", "remove it from the manifest")
    if not np.all(np.isfinite(data)):
        raise AudioError(f"audio file {path} contains NaN or infinite samples")
    peak = float(np.max(np.abs(data)))
    clip = subtype in _FLOAT_SUBTYPES and peak > 1.0 + FULL_SCALE_TOLERANCE
    if clip and peak > MAX_FLOAT_PEAK:
        raise AudioError(
            f"audio file {path} has float samples up to {peak:.6g}, far beyond full scale "
            f"(1.0): it looks wrongly scaled",
            "rescale it to [-1, 1] (e.g. divide by its peak), or remove it from the manifest",
        )
    if clip:
        _warn_once(
            path,
            "clipped",
            f"audio file {path} has float samples up to {peak:.4g}, beyond full scale "
            "(1.0): clipped to [-1, 1], as the 16-bit prepared store would",
        )
    span = float(np.max(data) - np.min(data)) if data.size else 0.0
    seconds = len(data) / native_sr
    what = None
    if peak <= SILENCE_PEAK:
        what = f"audio file {path} is silent (peak {peak:.3g}"
        what += ")" if duration is None else f" in its first {duration:g} s)"
        kind, meaning = "silent", "silence"
    elif seconds < MIN_SECONDS:
        what = (
            f"audio file {path} lasts {seconds * 1000:.3g} ms, less than one "
            f"{MIN_SECONDS * 1000:.0f} ms analysis window"
        )
        kind, meaning = "short", "a clip tiled from almost nothing"
    elif span <= 2 * SILENCE_PEAK:
        what = f"audio file {path} is constant (a DC offset of {float(np.mean(data)):.3g})"
        kind, meaning = "constant", "a constant signal"
    elif (sounding := _sounding_seconds(data, native_sr)) < MIN_SECONDS:
        what = (
            f"audio file {path} sounds for {sounding * 1000:.3g} ms of its "
            f"{seconds:.3g} s, less than one {MIN_SECONDS * 1000:.0f} ms analysis window "
            "(a click or a burst in silence)"
        )
        kind, meaning = "click", "a click in silence"
    if what is not None:
        if silence == "error":
            raise AudioError(
                f"{what}: tags of {meaning} are meaningless", "remove it from the inputs"
            )
        _warn_once(path, kind, f"{what}: its features are those of {meaning}")
    out = resample(data.mean(axis=1, dtype=np.float32), native_sr, sr)
    if clip:
        out = np.clip(out, -1.0, 1.0)
    return out


def _sounding_seconds(data: np.ndarray, sr: int) -> float:
    """Seconds from the first to the last sample above silence, in any channel.

    A single click in silence is neither silent nor short by length, but the network
    sees one impulse response, whatever its window: as meaningless to tag as a clip of
    one sample.
    """
    loud = np.flatnonzero(np.abs(data).max(axis=1) > SILENCE_PEAK)
    return (loud[-1] - loud[0] + 1) / sr if loud.size else 0.0


def resample(signal: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a 1-D signal with soxr 'HQ' (librosa's default resampler).

    Parameters
    ----------
    signal
        1-D float array.
    orig_sr, target_sr
        Sampling rates in Hz.
    """
    signal = np.asarray(signal, dtype=np.float32)
    if orig_sr == target_sr:
        return signal
    return soxr.resample(signal, orig_sr, target_sr, quality="HQ").astype(np.float32, copy=False)


def tile_to_length(signal: np.ndarray, n_samples: int = N_SAMPLES) -> np.ndarray:
    """Repeat a short signal until it is ``n_samples`` long, and cut a long one.

    The authors tiled rather than zero-padded short clips (their footnote 2): the
    network's features are averages over time, and zeros would dilute them.

    Parameters
    ----------
    signal
        1-D array with at least one sample.
    n_samples
        Output length in samples (348,000 = 29 s at 12 kHz by default).
    """
    signal = np.asarray(signal)
    if signal.ndim != 1 or signal.size == 0:
        raise ValueError(f"expected a non-empty 1-D signal, got shape {signal.shape}")
    if signal.size >= n_samples:
        return signal[:n_samples]
    reps = -(-n_samples // signal.size)
    return np.tile(signal, reps)[:n_samples]
