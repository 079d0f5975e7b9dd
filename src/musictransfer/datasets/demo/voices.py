"""Voices: vowels through formant resonances, read speech and sung notes.

Both speech and singing are a glottal pulse train through a vowel's formants
(:func:`voiced_segment`); what the speech/music and singing-voice tasks should hear is
how they differ: speech has a syllabic rhythm, falling pitch contours and consonant
noise, singing holds the pitches of a melody with vibrato.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.random import Generator

from musictransfer.datasets.demo.dsp import (
    band_noise,
    envelope,
    normalise,
    oscillator,
    place,
    sample_times,
    spectral_filter,
)

VOWELS: dict[str, tuple[tuple[float, float, float], ...]] = {
    # (centre Hz, bandwidth Hz, gain) of the first three formants (adult male averages).
    "a": ((730, 90, 1.0), (1090, 110, 0.5), (2440, 170, 0.25)),
    "e": ((530, 60, 1.0), (1840, 100, 0.45), (2480, 140, 0.3)),
    "i": ((270, 60, 1.0), (2290, 100, 0.35), (3010, 150, 0.3)),
    "o": ((570, 70, 1.0), (840, 80, 0.6), (2410, 160, 0.15)),
    "u": ((300, 60, 1.0), (870, 90, 0.35), (2240, 150, 0.1)),
}
"""Formants of five vowels, from the classic Peterson & Barney measurements."""


def _formant_response(vowel: str, scale: float) -> Callable[[np.ndarray], np.ndarray]:
    """Magnitude response of a vowel's resonances (resonance peaks plus a small floor)."""

    def response(f: np.ndarray) -> np.ndarray:
        out = np.full_like(f, 0.01)
        for centre, bandwidth, gain in VOWELS[vowel]:
            out += gain / (1 + ((f - centre * scale) / (bandwidth * scale / 2)) ** 2)
        return out

    return response


def voiced_segment(
    f0: np.ndarray,
    vowel: str,
    sr: int,
    rng: Generator,
    formant_scale: float = 1.0,
    breath: float = 0.02,
) -> np.ndarray:
    """A vowel: a glottal pulse train following the pitch contour ``f0``, through formants.

    The source is a band-limited pulse whose harmonics fall as ``1/k`` (the glottal
    flow's -12 dB/octave plus +6 dB/octave of lip radiation), with a little breath
    noise; the vocal tract is the vowel's formant resonances (:data:`VOWELS`), scaled by
    ``formant_scale`` (about 1.15 for a shorter, e.g. female, vocal tract).
    """
    source = oscillator(f0, f0.size, sr, rolloff=1.0)
    source = source + breath * rng.standard_normal(f0.size)
    return normalise(spectral_filter(source, sr, _formant_response(vowel, formant_scale)))


def consonant(sr: int, rng: Generator) -> np.ndarray:
    """An unvoiced consonant: a fricative hiss (s, sh, f) or a short plosive burst."""
    if rng.random() < 0.6:
        n = int(rng.uniform(0.04, 0.1) * sr)
        lo = rng.uniform(2000, 4500)
        return band_noise(n, sr, rng, lo, lo * 2.2) * envelope(n, sr, 0.01, 0.05, 0.01)
    n = int(rng.uniform(0.01, 0.025) * sr)
    return band_noise(n, sr, rng, 300, 5000) * envelope(n, sr, 0.0005, 0.008)


def sung_note(
    freq: float, duration: float, vowel: str, sr: int, rng: Generator, formant_scale: float
) -> np.ndarray:
    """A sung note: a steady pitch with a delayed 5-6 Hz vibrato, on one vowel."""
    n = max(int(duration * sr), 16)
    t = sample_times(n, sr)
    depth = 0.012 * np.clip((t - 0.15) / 0.2, 0, 1)
    f0 = freq * (1 + depth * np.sin(2 * np.pi * rng.uniform(5, 6.5) * t))
    note = voiced_segment(f0, vowel, sr, rng, formant_scale) * envelope(n, sr, 0.04, 5.0, 0.06)
    if rng.random() < 0.4:
        c = consonant(sr, rng)
        note = np.concatenate([0.4 * c, note])[:n]
    return note


def speech(duration: float, sr: int, rng: Generator) -> np.ndarray:
    """Read speech: phrases of syllables with a falling pitch contour, and pauses.

    The speaker (mean pitch 95-230 Hz, vocal-tract length, speaking rate 3.5-6
    syllables/s) is drawn at random. Each phrase's pitch falls (declination) with
    accents on some syllables; syllables are a vowel with a pitch glide, often preceded
    by a consonant; there is no steady pitch or harmony, unlike singing.
    """
    n = int(duration * sr)
    out = np.zeros(n)
    base = rng.uniform(95, 230)
    scale = 1.0 + 0.15 * (base - 95) / 135 + rng.uniform(-0.04, 0.04)
    rate = rng.uniform(3.5, 6.0)
    t = rng.uniform(0.0, 0.3)
    while t < duration:
        n_syll = int(rng.integers(3, 12))
        top, bottom = base * rng.uniform(1.15, 1.4), base * rng.uniform(0.75, 0.9)
        for k in range(n_syll):
            dur = rng.uniform(0.6, 1.4) / rate
            pitch = top + (bottom - top) * k / max(n_syll - 1, 1)
            if rng.random() < 0.25:
                pitch *= rng.uniform(1.1, 1.3)  # accent
            start = int(t * sr)
            if rng.random() < 0.65:
                c = consonant(sr, rng)
                place(out, c, start, 0.3)
                start += c.size
            m = max(int(dur * sr), 32)
            f0 = np.linspace(pitch, pitch * rng.uniform(0.85, 1.08), m)
            syllable = voiced_segment(f0, str(rng.choice(list(VOWELS))), sr, rng, scale)
            place(out, syllable * envelope(m, sr, 0.02, dur * 0.8, 0.03), start)
            t += dur + (start - int(t * sr)) / sr
        t += rng.uniform(0.15, 0.7)
    return out
