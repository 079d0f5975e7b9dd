"""Signal primitives of the demo corpus: gains, filters, noise, envelopes, tones, strings.

The synthesis is deliberately simple: wavetable oscillators for harmonic tones,
Karplus-Strong strings (computed in the frequency domain), filtered noise for drums
and events, and (in :mod:`.voices`) a glottal source through formant resonances.
NumPy alone, no SciPy: the corpus is generated in the lean ``audio`` environment, so
filters are zero-phase magnitude responses applied through the FFT
(:func:`spectral_filter`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from numpy.random import Generator


def sample_times(n: int, sr: int) -> np.ndarray:
    """Sample times in seconds."""
    return np.arange(n) / sr


def from_db(gain_db: float) -> float:
    """Amplitude factor of a gain in decibels."""
    return 10.0 ** (gain_db / 20)


def place(out: np.ndarray, signal: np.ndarray, start: int, gain: float = 1.0) -> None:
    """Add ``signal`` into ``out`` from sample ``start`` on, cut at both ends."""
    if start >= out.size or start + signal.size <= 0:
        return
    lo = max(start, 0)
    hi = min(start + signal.size, out.size)
    out[lo:hi] += gain * signal[lo - start : hi - start]


def normalise(x: np.ndarray, peak: float = 1.0) -> np.ndarray:
    """Scale to a given peak (silence stays silence)."""
    m = np.max(np.abs(x)) if x.size else 0.0
    return x * (peak / m) if m > 0 else x


@functools.lru_cache(maxsize=4096)
def _fast_length(n: int) -> int:
    """The smallest length >= n with no prime factor above 5 (fast for the FFT)."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def spectral_filter(x: np.ndarray, sr: int, response: Callable[[np.ndarray], np.ndarray]):
    """Filter ``x`` by a zero-phase magnitude ``response(frequencies_hz)``, via the FFT.

    The signal is zero-padded before the transform so that the filter's ringing does not
    wrap around; this replaces IIR filters (and SciPy) for noise shaping and formants.
    """
    n_fft = _fast_length(x.size + 1024)
    spectrum = np.fft.rfft(x, n_fft)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    return np.fft.irfft(spectrum * response(freqs), n_fft)[: x.size]


def _band(lo: float, hi: float, slope: float = 4.0) -> Callable[[np.ndarray], np.ndarray]:
    """A smooth band-pass response between ``lo`` and ``hi`` Hz (Butterworth-like)."""

    def response(f: np.ndarray) -> np.ndarray:
        f = np.maximum(f, 1e-3)
        return 1.0 / np.sqrt((1 + (lo / f) ** (2 * slope)) * (1 + (f / hi) ** (2 * slope)))

    return response


def band_noise(n: int, sr: int, rng: Generator, lo: float, hi: float) -> np.ndarray:
    """White noise limited to ``lo``-``hi`` Hz, unit peak: the stuff of drums and events."""
    return normalise(spectral_filter(rng.standard_normal(n), sr, _band(lo, min(hi, sr / 2))))


def envelope(n: int, sr: int, attack: float, decay: float, release: float = 0.0) -> np.ndarray:
    """Linear attack, exponential decay (time constant ``decay`` s), linear release at the end.

    The release (if any) fades the last ``release`` seconds to zero, so a note cut to its
    length does not click.
    """
    t = sample_times(n, sr)
    env = np.minimum(t / max(attack, 1e-4), 1.0)
    if decay < 100:  # else no audible decay: skip the exponential
        env *= np.exp(-t / decay)
    if release > 0:
        r = min(n, int(release * sr))
        env[n - r :] *= np.linspace(1.0, 0.0, r)
    return env


@functools.lru_cache(maxsize=512)
def _wavetable(n_harmonics: int, rolloff: float, odd_only: bool = False) -> np.ndarray:
    """One period (2,048 samples) of a sum of harmonics with amplitudes ``k ** -rolloff``.

    Tabulating once and reading the table at each note's phase costs one lookup per
    sample, instead of one sine per harmonic per sample.
    """
    x = np.arange(2048) / 2048
    k = np.arange(1, n_harmonics + 1)
    if odd_only:
        k = k[k % 2 == 1]
    table = (k ** (-rolloff))[:, None] * np.sin(2 * np.pi * k[:, None] * x[None, :])
    return normalise(table.sum(axis=0))


def oscillator(freq: np.ndarray | float, n: int, sr: int, rolloff: float, **table) -> np.ndarray:
    """A band-limited periodic tone following ``freq`` (Hz, scalar or per-sample).

    The number of harmonics is limited so that none exceeds the Nyquist frequency.
    """
    freq = np.broadcast_to(np.asarray(freq, dtype=float), (n,))
    n_harm = int(np.clip(sr / 2 / max(freq.max(), 1.0), 1, 40))
    phase = np.cumsum(freq) / sr
    idx = ((phase % 1.0) * 2048).astype(np.int64) % 2048
    return _wavetable(n_harm, round(rolloff, 1), **table)[idx]


def harmonic_tone(
    freq: float,
    duration: float,
    sr: int,
    *,
    rolloff: float = 1.2,
    attack: float = 0.005,
    decay: float = 0.6,
    vibrato: float = 0.0,
    release: float = 0.05,
) -> np.ndarray:
    """A harmonic instrument note: piano-like (fast attack, decaying) or pad/strings-like.

    Parameters
    ----------
    freq
        Fundamental in Hz.
    duration
        Length in seconds (the note is faded out over ``release`` at its end).
    rolloff
        Harmonic amplitudes fall as ``k ** -rolloff``: small is bright (a sawtooth is 1),
        large is dull.
    attack, decay
        Attack time and decay time constant in seconds; a slow attack and long decay make
        a sustained pad or string section.
    vibrato
        Relative depth of a 5.5 Hz vibrato (0.004 is about 7 cents).
    """
    n = max(int(duration * sr), 1)
    f = freq * (1 + vibrato * np.sin(2 * np.pi * 5.5 * sample_times(n, sr)))
    return oscillator(f, n, sr, rolloff) * envelope(n, sr, attack, decay, release)


def pluck(freq: float, ring: float, sr: int, rng: Generator, brightness: float = 0.5):
    """A Karplus-Strong plucked string: a noise burst circulating in a lossy delay line.

    The recursion ``y[n] = x[n] + g (y[n-D] + y[n-D-1]) / 2`` (period ``D + 1/2``
    samples) is applied in the frequency domain, through its transfer function
    ``1 / (1 - g (1 + e^{-iw}) e^{-iwD} / 2)``, which allows a fractional delay (exact
    tuning) and needs no per-sample loop. The averaging makes high harmonics die faster,
    the model's characteristic timbre; ``g`` is set so the string rings ~``ring`` s
    (to -60 dB), and the transform is long enough for the tail not to wrap around.

    Parameters
    ----------
    freq
        Fundamental in Hz.
    ring
        Time to decay by 60 dB, in seconds (a muted string is short).
    brightness
        0..1: cut-off of the initial burst (a soft finger vs. a hard pick).
    """
    n = max(int(ring * sr), 16)
    period = sr / freq
    delay = period - 0.5
    g = 10.0 ** (-3.0 / (ring * freq))
    burst = rng.uniform(-1, 1, max(int(period), 2))
    n_fft = int(2 ** np.ceil(np.log2(1.3 * n)))  # the tail wraps around at -78 dB
    w = np.linspace(0, np.pi, n_fft // 2 + 1)  # radians per sample
    # (1 + e^{-iw}) e^{-iwD} / 2 = cos(w/2) e^{-iw(D + 1/2)}: one complex exponential.
    phase = w * (delay + 0.5)
    loop = g * np.cos(w / 2) * (np.cos(phase) - 1j * np.sin(phase))
    cutoff = freq * (2 + 30 * brightness) / sr * 2 * np.pi
    tilt = 1.0 / (1 + (w / cutoff) ** 2)
    y = np.fft.irfft(np.fft.rfft(burst, n_fft) * tilt / (1 - loop), n_fft)[:n]
    return normalise(y) * envelope(n, sr, 0.001, 1e9, release=0.02)


def recording_colour(x: np.ndarray, sr: int, rng: Generator, tilt_db: float = 4.0):
    """A random spectral tilt (up to +-``tilt_db`` dB/octave about 1 kHz) and band limits.

    They stand for the microphone, room and mastering of a recording, on which no label
    depends; they keep a classifier from reading a class off the average spectrum alone.
    """
    tilt = rng.uniform(-tilt_db, tilt_db) / 6.02  # dB/octave -> power of frequency
    lo, hi = rng.uniform(20, 150), rng.uniform(4000, sr / 2)
    band = _band(lo, hi, slope=2)

    def response(f: np.ndarray) -> np.ndarray:
        return band(f) * (np.maximum(f, 20.0) / 1000.0) ** tilt

    return normalise(spectral_filter(x, sr, response))
