"""Audio input: decode, downmix, resample, and fit clips to the convnet's input length.

Decoding uses libsndfile (through ``soundfile``: WAV, FLAC, OGG/Vorbis, MP3) and
resampling uses ``soxr`` at its 'HQ' quality, which is what ``librosa.load`` does by
default (``res_type='soxr_hq'``); the authors loaded audio with
``librosa.load(path, sr=12000, duration=29)``, and this module reproduces that.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from musictransfer.constants import CLIP_SECONDS, N_SAMPLES, SAMPLE_RATE
from musictransfer.errors import AudioError


def load_audio(
    path: str | os.PathLike[str],
    sr: int = SAMPLE_RATE,
    duration: float | None = CLIP_SECONDS,
) -> np.ndarray:
    """Decode an audio file to a mono float32 signal at ``sr`` Hz.

    Parameters
    ----------
    path
        Any file libsndfile reads (WAV, FLAC, OGG, MP3, AU, ...).
    sr
        Target sampling rate in Hz (12,000 for everything in the paper).
    duration
        Keep only the first ``duration`` seconds (of the original file, as librosa
        does), or the whole file if None. The paper uses the first 29 s.

    Returns
    -------
    numpy.ndarray
        1-D float32 array in [-1, 1], channels averaged.

    Raises
    ------
    AudioError
        If the file is missing, cannot be decoded, or holds no samples.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"audio file not found: {path}", "check the path in the manifest")
    try:
        with sf.SoundFile(path) as f:
            native_sr = f.samplerate
            frames = -1 if duration is None else int(np.ceil(duration * native_sr))
            data = f.read(frames=frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioError(
            f"cannot decode audio file {path}: {exc}",
            "convert it to WAV or FLAC (e.g. with ffmpeg), or remove it from the manifest",
        ) from exc
    if data.size == 0:
        raise AudioError(f"audio file {path} contains no samples", "remove it from the manifest")
    mono = data.mean(axis=1, dtype=np.float32)
    if not np.all(np.isfinite(mono)):
        raise AudioError(f"audio file {path} contains NaN or infinite samples")
    return resample(mono, native_sr, sr)


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
