"""The synthetic demo corpus: small datasets that mirror the paper's tasks in kind.

The paper's source task (tagging the Million Song Dataset) and its six target tasks
(Ballroom dance styles, GTZAN genre, GTZAN speech/music, EmoMusic arousal/valence,
Jamendo singing-voice detection, UrbanSound8K events) need tens of gigabytes of
licensed audio. So that the whole workflow runs offline in minutes, this module
synthesises look-alikes with NumPy alone (no SciPy: it runs in the lean ``audio``
environment):

``demo_tags``
    multi-label tagging source: genre-like style, tempo, mode, instruments and mood tags,
    1-4 per clip, incompletely annotated (like last.fm tags); ``split`` train/valid/test.
``dance``
    dance styles told apart by tempo, meter and drum pattern; timbre, key and mode random.
``genre``
    genres told apart by instrumentation, harmony and rhythm density.
``speech_music``
    formant speech (syllabic rhythm, falling pitch, consonant noise) against music.
``emotion``
    ``arousal`` driven by tempo, loudness, brightness and note density; ``valence`` by
    mode and consonance; both with noise and in [-1, 1].
``vocal``
    music with or without a sung formant voice, 3-10 s, with ``split``.
``sound_events``
    urban-like sound events, 1-4 s, with ``fold`` 1-5 shared by clips cut from one
    "recording".

Every dataset is deterministic in (name, n_clips, seed): its random stream is derived
from the seed and the dataset's name, so datasets differ. Files are 16-bit WAV at
22,050 or 16,000 Hz, mono or stereo, in a fixed rotation (:data:`FILE_FORMATS`), so that
resampling to 12 kHz and downmixing are exercised downstream. Labels never depend on
the file format, the duration (except where a task implies it) or the overall level
(except for arousal).

The synthesis is deliberately simple: wavetable oscillators for harmonic tones,
Karplus-Strong strings (computed in the frequency domain), filtered noise for drums,
a glottal source through formant resonances for voices. The classes are learnable but,
with random timbres, keys, levels and background noise, not trivially so.
"""

from __future__ import annotations

import functools
import os
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from musictransfer.datasets.manifest import TAG_SEPARATOR
from musictransfer.errors import ConfigError
from musictransfer.files import atomic_path

Generator = np.random.Generator

MANIFEST_FILE = "manifest.csv"
AUDIO_DIR = "audio"

FILE_FORMATS: tuple[tuple[int, int], ...] = (
    (22_050, 1),
    (16_000, 1),
    (22_050, 2),
    (22_050, 1),
    (16_000, 2),
    (22_050, 1),
)
"""(sampling rate, channels) of clip ``i`` is ``FILE_FORMATS[i % 6]``: two thirds at
22,050 Hz and one third at 16 kHz; one third stereo."""

STEPS_PER_BEAT = 4
"""Rhythm grid: sixteenth notes."""


# ======================================================================================
# Signal primitives
# ======================================================================================


def _time(n: int, sr: int) -> np.ndarray:
    """Sample times in seconds."""
    return np.arange(n) / sr


def _midi_hz(midi: float) -> float:
    """Frequency of a MIDI note number (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((midi - 69) / 12)


def _db(gain_db: float) -> float:
    """Amplitude factor of a gain in decibels."""
    return 10.0 ** (gain_db / 20)


def _place(out: np.ndarray, signal: np.ndarray, start: int, gain: float = 1.0) -> None:
    """Add ``signal`` into ``out`` from sample ``start`` on, cut at both ends."""
    if start >= out.size or start + signal.size <= 0:
        return
    lo = max(start, 0)
    hi = min(start + signal.size, out.size)
    out[lo:hi] += gain * signal[lo - start : hi - start]


def _normalise(x: np.ndarray, peak: float = 1.0) -> np.ndarray:
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


def _spectral_filter(x: np.ndarray, sr: int, response: Callable[[np.ndarray], np.ndarray]):
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
    return _normalise(_spectral_filter(rng.standard_normal(n), sr, _band(lo, min(hi, sr / 2))))


def envelope(n: int, sr: int, attack: float, decay: float, release: float = 0.0) -> np.ndarray:
    """Linear attack, exponential decay (time constant ``decay`` s), linear release at the end.

    The release (if any) fades the last ``release`` seconds to zero, so a note cut to its
    length does not click.
    """
    t = _time(n, sr)
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
    return _normalise(table.sum(axis=0))


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
    f = freq * (1 + vibrato * np.sin(2 * np.pi * 5.5 * _time(n, sr)))
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
    return _normalise(y) * envelope(n, sr, 0.001, 1e9, release=0.02)


# --- drums ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DrumKit:
    """Random timbre parameters of one clip's drum kit (so rhythm, not timbre, is the cue)."""

    kick_hz: float
    snare_hz: float
    snare_band: tuple[float, float]
    hat_cutoff: float
    hat_decay: float
    clave_hz: float

    @classmethod
    def random(cls, rng: Generator) -> DrumKit:
        """A kit drawn at random."""
        lo = rng.uniform(800, 2500)
        return cls(
            kick_hz=rng.uniform(42, 70),
            snare_hz=rng.uniform(150, 260),
            snare_band=(lo, lo * rng.uniform(3, 6)),
            hat_cutoff=rng.uniform(4500, 8000),
            hat_decay=rng.uniform(0.02, 0.07),
            clave_hz=rng.uniform(700, 2200),
        )


def kick(sr: int, kit: DrumKit) -> np.ndarray:
    """Bass drum: a sine whose pitch drops fast from ~3x to the kit's pitch."""
    n = int(0.35 * sr)
    t = _time(n, sr)
    f = kit.kick_hz * (1 + 2.0 * np.exp(-t / 0.025))
    return np.sin(2 * np.pi * np.cumsum(f) / sr) * envelope(n, sr, 0.001, 0.12)


def snare(sr: int, kit: DrumKit, rng: Generator) -> np.ndarray:
    """Snare drum: a short drum-head tone plus a longer burst of band-limited noise."""
    n = int(0.25 * sr)
    tone = np.sin(2 * np.pi * kit.snare_hz * _time(n, sr)) * envelope(n, sr, 0.001, 0.04)
    noise = band_noise(n, sr, rng, *kit.snare_band) * envelope(n, sr, 0.001, 0.07)
    return 0.5 * tone + noise


def hihat(sr: int, kit: DrumKit, rng: Generator) -> np.ndarray:
    """Hi-hat (or shaker, ride): high-passed noise with a very short decay."""
    n = int(0.15 * sr)
    return band_noise(n, sr, rng, kit.hat_cutoff, sr / 2) * envelope(n, sr, 0.0005, kit.hat_decay)


def clave(sr: int, kit: DrumKit) -> np.ndarray:
    """Clave/wood block/cowbell: two inharmonic partials that die within ~50 ms."""
    n = int(0.1 * sr)
    t = _time(n, sr)
    partials = np.sin(2 * np.pi * kit.clave_hz * t) + 0.5 * np.sin(
        2 * np.pi * 2.7 * kit.clave_hz * t
    )
    return partials * envelope(n, sr, 0.0005, 0.025)


# --- voices ---------------------------------------------------------------------------

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
    return _normalise(_spectral_filter(source, sr, _formant_response(vowel, formant_scale)))


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
    t = _time(n, sr)
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
                _place(out, c, start, 0.3)
                start += c.size
            m = max(int(dur * sr), 32)
            f0 = np.linspace(pitch, pitch * rng.uniform(0.85, 1.08), m)
            syllable = voiced_segment(f0, str(rng.choice(list(VOWELS))), sr, rng, scale)
            _place(out, syllable * envelope(m, sr, 0.02, dur * 0.8, 0.03), start)
            t += dur + (start - int(t * sr)) / sr
        t += rng.uniform(0.15, 0.7)
    return out


# ======================================================================================
# Music
# ======================================================================================

SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
PROGRESSIONS = {
    # Scale degrees (0-based), one chord per bar.
    "major": ((0, 4, 5, 3), (0, 3, 4, 0), (0, 5, 3, 4), (1, 4, 0, 0)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 4), (0, 3, 0, 4)),
}


@dataclass(frozen=True)
class Music:
    """Everything :func:`render_music` needs to make one clip.

    Rhythms are strings over a sixteenth-note grid, one character per step of a bar
    (``meter * 4`` steps): ``x`` accented, ``o`` soft, ``.`` rest.
    """

    duration: float
    tempo: float
    meter: int = 4
    drums: dict[str, str] = field(default_factory=dict)  # voice -> rhythm
    swing: float = 0.0  # delay of off-beat eighths, in steps
    key: int = 48  # MIDI root
    mode: str = "major"
    chords: str = "triad"  # triad | seventh | power
    comp: str | None = "piano"  # piano | pad | guitar | dist_guitar | arp
    comp_rhythm: str = "x..............."
    bass: str | None = "x.......x......."
    melody: str | None = None  # piano | pluck | lead | pad | voice
    density: float = 1.0  # melody notes per beat
    brightness: float = 0.5  # 0 dull .. 1 bright
    dissonance: float = 0.0  # probability of a clashing note in a chord
    level_db: float = -6.0  # peak level
    noise_db: float = -45.0  # background noise relative to the peak
    rubato: float = 0.0  # relative timing jitter of each step
    voice_db: float = 0.0  # sung melody relative to the accompaniment
    colour_db: float = 4.0  # largest random spectral tilt of the recording, dB/octave


def _chord(m: Music, degree: int, rng: Generator) -> list[int]:
    """MIDI notes of the chord on a scale degree (plus a clashing note, sometimes)."""
    scale = SCALES[m.mode]

    def tone(d: int) -> int:
        return m.key + scale[d % 7] + 12 * (d // 7)

    if m.chords == "power":
        notes = [tone(degree), tone(degree) + 7, tone(degree) + 12]
    else:
        notes = [tone(degree + k) for k in ((0, 2, 4, 6) if m.chords == "seventh" else (0, 2, 4))]
    if rng.random() < m.dissonance:
        notes.append(notes[0] + int(rng.choice([1, 6, 11])))
    return notes


def _step_times(m: Music, n_bars: int, rng: Generator) -> np.ndarray:
    """Onset time of every grid step (bars x steps), with swing and rubato applied."""
    step = 60.0 / m.tempo / STEPS_PER_BEAT
    steps = np.arange(n_bars * m.meter * STEPS_PER_BEAT, dtype=float)
    steps[(steps % STEPS_PER_BEAT) == 2] += m.swing
    times = steps * step
    if m.rubato:
        times += np.cumsum(rng.normal(0, m.rubato * step, times.size))
    return times + rng.normal(0, 0.004, times.size)  # a human player's timing


def _hits(rhythm: str, times: np.ndarray, bar: int) -> list[tuple[float, float]]:
    """(time, velocity) of a rhythm's hits in one bar."""
    n = len(rhythm)
    return [
        (times[bar * n + j], 1.0 if c == "x" else 0.5) for j, c in enumerate(rhythm) if c != "."
    ]


def _melody(m: Music, n_beats: float, rng: Generator) -> list[tuple[float, float, int]]:
    """A random-walk melody on the scale: (start beat, length in beats, MIDI note)."""
    scale = SCALES[m.mode]
    notes, beat, degree = [], 0.0, int(rng.integers(0, 5))
    mean_len = 1.0 / m.density
    while beat < n_beats:
        length = float(rng.choice([0.5, 1.0, 2.0], p=[0.3, 0.5, 0.2])) * mean_len
        length = max(0.25, round(length * 4) / 4)
        degree = int(np.clip(degree + rng.integers(-2, 3), -2, 11))
        if rng.random() > 0.12:  # else a rest
            note = m.key + 12 + scale[degree % 7] + 12 * (degree // 7)
            if rng.random() < 0.3 * m.dissonance:
                note += 1
            notes.append((beat, length, note))
        beat += length
    return notes


@functools.lru_cache(maxsize=1024)
def _sampled_pluck(freq: float, ring: float, sr: int, brightness: float) -> np.ndarray:
    """A :func:`pluck` whose noise burst is seeded by its arguments (so it can be reused)."""
    seed = [round(freq * 10), round(ring * 100), sr, round(brightness * 100)]
    note = pluck(freq, ring, sr, np.random.default_rng(seed), brightness).astype(np.float32)
    note.setflags(write=False)
    return note


@functools.lru_cache(maxsize=1024)
def _sampled_tone(freq: float, length: float, sr: int, settings: tuple) -> np.ndarray:
    """A :func:`harmonic_tone` without release, to be cut to shorter notes."""
    note = harmonic_tone(freq, length, sr, release=0.0, **dict(settings)).astype(np.float32)
    note.setflags(write=False)
    return note


class Sampler:
    """Notes played from a shared, memoised "sample library", as a sampler plays them.

    Synthesis dominates the generation time and the corpus repeats few distinct notes
    (twelve pitch classes in a few registers), so each note is synthesised once per
    pitch, timbre and sampling rate and reused across clips (see the methods for the
    rounding). Every note is a pure function of its arguments, so a clip's audio does
    not depend on which clips were made before it.
    """

    def __init__(self, sr: int) -> None:
        self.sr = sr

    def pluck(self, freq: float, ring: float, brightness: float) -> np.ndarray:
        """A Karplus-Strong note (see :func:`pluck`).

        The ring time is rounded up to 0.5, 1 or 1.5 s and the brightness to a quarter:
        coarse enough that the few hundred distinct notes of a dataset are reused often.
        """
        ring = 0.5 if ring <= 0.5 else 1.0 if ring <= 1.0 else 1.5
        return _sampled_pluck(round(freq, 1), ring, self.sr, round(brightness * 4) / 4)

    def tone(self, freq: float, duration: float, release: float = 0.05, **kwargs: float):
        """A :func:`harmonic_tone` cut to ``duration`` from a longer one.

        The cut note is faded out over its last ``release`` seconds.
        """
        n = max(int(duration * self.sr), 16)
        length = float(max(1, np.ceil(duration)))
        note = _sampled_tone(round(freq, 1), length, self.sr, tuple(sorted(kwargs.items())))
        note = note[:n].astype(np.float64)
        r = min(n, int(release * self.sr))
        note[n - r :] *= np.linspace(1.0, 0.0, r)
        return note


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

    return _normalise(_spectral_filter(x, sr, response))


def render_music(m: Music, sr: int, rng: Generator) -> np.ndarray:
    """Synthesise a clip: drums, bass, chords, and a melody (played or sung), mixed.

    The stems' relative levels, the drum kit and the voice are random; the mix is
    peak-normalised to ``m.level_db`` with background noise ``m.noise_db`` below.
    """
    n = int(m.duration * sr)
    beat = 60.0 / m.tempo
    n_bars = int(np.ceil(m.duration / (beat * m.meter))) + 1
    times = _step_times(m, n_bars, rng)
    progression = PROGRESSIONS[m.mode][int(rng.integers(0, 4))]
    chords = [_chord(m, progression[b % 4], rng) for b in range(n_bars)]
    rolloff = round(2.4 - 1.6 * m.brightness, 1)
    notes = Sampler(sr)
    drums, bass, comp, lead = (np.zeros(n) for _ in range(4))

    if m.drums:
        kit = DrumKit.random(rng)
        sounds = {
            "kick": kick(sr, kit),
            "snare": snare(sr, kit, rng),
            "hat": hihat(sr, kit, rng),
            "clave": clave(sr, kit),
        }
        for voice, rhythm in m.drums.items():
            for b in range(n_bars):
                for t, vel in _hits(rhythm, times, b):
                    _place(drums, sounds[voice], int(t * sr), vel * rng.uniform(0.8, 1.0))

    bar_len = beat * m.meter
    if m.bass:
        for b in range(n_bars):
            for t, vel in _hits(m.bass, times, b):
                note = notes.pluck(_midi_hz(chords[b][0] - 12), 0.5, 0.2)
                _place(bass, note, int(t * sr), vel)

    if m.comp:
        for b in range(n_bars):
            hits = _hits(m.comp_rhythm, times, b)
            for h, (t, vel) in enumerate(hits):
                gap = hits[h + 1][0] - t if h + 1 < len(hits) else bar_len
                _place(comp, _comp_hit(m, chords[b], h, gap, notes), int(t * sr), vel)

    if m.melody:
        formant_scale = rng.uniform(1.0, 1.2)
        for start, length, note in _melody(m, m.duration / beat + 1, rng):
            f, dur = _midi_hz(note), length * beat
            if m.melody == "voice":
                sound = sung_note(f, dur, str(rng.choice(list(VOWELS))), sr, rng, formant_scale)
            elif m.melody == "pluck":
                sound = notes.pluck(f, max(dur, 0.4), m.brightness)
            elif m.melody == "pad":
                sound = notes.tone(f, dur, rolloff=rolloff, attack=0.08, decay=5, vibrato=0.004)
            elif m.melody == "lead":
                sound = notes.tone(f, dur, rolloff=rolloff - 0.3, attack=0.01, decay=2)
            else:  # piano
                sound = notes.tone(f, max(dur, 0.5), rolloff=rolloff, decay=0.5)
            _place(lead, sound, int(start * beat * sr))

    stems = [drums, bass, comp, lead]
    gains = rng.uniform(0.5, 1.0, 4)
    if m.melody == "voice":
        gains[3] = np.mean(gains[:3]) * _db(m.voice_db) * 1.5
    mix = sum(g * _normalise(s) for g, s in zip(gains, stems, strict=True))
    mix = recording_colour(_normalise(mix), sr, rng, m.colour_db)
    mix += _db(m.noise_db) * rng.standard_normal(n)
    return _normalise(mix, _db(m.level_db))


def _comp_hit(m: Music, chord: list[int], index: int, gap: float, notes: Sampler) -> np.ndarray:
    """One accompaniment hit: a chord (struck, strummed or held) or one arpeggio note."""
    rolloff = round(2.4 - 1.6 * m.brightness, 1)
    freqs = [_midi_hz(note) for note in chord]
    if m.comp == "arp":  # one chord tone per hit, cycling upwards
        return notes.pluck(freqs[index % len(freqs)] * 2, round(max(gap * 2, 0.4), 1), m.brightness)
    if m.comp == "pad":  # sustained strings/synth pad, held until the next hit
        dur = max(gap, 0.3)
        attack = round(min(0.3, dur / 3) * 20) / 20
        tones = [
            notes.tone(f, dur, rolloff=rolloff, attack=attack, decay=8, vibrato=0.004, release=0.1)
            for f in freqs
        ]
    elif m.comp in ("guitar", "dist_guitar"):  # strummed, strings 12 ms apart
        ring = 1.2 if m.comp == "guitar" else 0.6
        lag = int(0.012 * notes.sr)
        tones = [
            np.concatenate([np.zeros(k * lag), notes.pluck(f, ring, m.brightness)])
            for k, f in enumerate(freqs)
        ]
    else:  # piano
        tones = [notes.tone(f, min(max(gap, 0.3), 1.5), rolloff=rolloff, decay=0.6) for f in freqs]
    chord_signal = np.zeros(max(t.size for t in tones))
    for t in tones:
        chord_signal[: t.size] += t
    if m.comp == "dist_guitar":
        chord_signal = np.tanh(4 * _normalise(chord_signal))
    return chord_signal


# --- style tables ---------------------------------------------------------------------

DANCE_STYLES: dict[str, dict] = {
    # Ballroom-like dances: tempo in quarter-note beats per minute, meter in beats per
    # bar, and the style's characteristic drum and accompaniment rhythms.
    "waltz": dict(
        tempo=(84, 92), meter=3,
        drums={"kick": "x...........", "snare": "....o...o...", "hat": "x...x...x..."},
        comp_rhythm="x...o...o...", bass="x...........",
    ),
    "viennese_waltz": dict(
        tempo=(168, 180), meter=3,
        drums={"kick": "x...........", "snare": "....o...o...", "hat": "x...x...x..."},
        comp_rhythm="x...o...o...", bass="x...........",
    ),
    "tango": dict(
        tempo=(122, 132), meter=4,
        drums={"kick": "x...x...x...x.x.", "snare": "x...........x.x."},
        comp_rhythm="x...x...x...x.x.", bass="x...x...x...x...",
    ),
    "chacha": dict(
        tempo=(112, 126), meter=4,
        drums={"kick": "x.......x.......", "clave": "....x...x...x.x.", "hat": "x.o.x.o.x.o.x.o."},
        comp_rhythm="..x...x...x.x...", bass="x.....x.x.......",
    ),
    "quickstep": dict(
        tempo=(196, 208), meter=4, swing=0.6,
        drums={"kick": "x.......x.......", "snare": "....x.......x...", "hat": "x.o.x.o.x.o.x.o."},
        comp_rhythm="....x.......x...", bass="x...x...x...x...",
    ),
    "samba": dict(
        tempo=(96, 106), meter=2,
        drums={"kick": "o...x..x", "hat": "xoxxxoxx", "clave": "x..x..x."},
        comp_rhythm="x..x..x.", bass="x...x..x",
    ),
}  # fmt: skip

GENRES: dict[str, dict] = {
    # Genre-like styles: drums, harmony, accompaniment, bass, melody instruments and
    # rhythm density.
    "rock": dict(
        tempo=(105, 150), chords="power", comp=("dist_guitar", "guitar"),
        drums={"kick": "x.....x.x.......", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
        comp_rhythm="x.x.x.x.x.x.x.x.", bass="x.x.x.x.x.x.x.x.", melody=("lead", "voice"),
        density=1.0, brightness=(0.45, 0.9),
    ),
    "electronic": dict(
        tempo=(118, 132), chords="triad", comp=("pad", "arp"),
        drums={"kick": "x...x...x...x...", "snare": "....x.......x...", "hat": "..x...x...x...x."},
        comp_rhythm="x.......x.......", bass="..x...x...x...x.", melody=("lead", "pluck"),
        density=2.0, brightness=(0.5, 1.0),
    ),
    "jazz": dict(
        tempo=(100, 170), chords="seventh", comp=("piano", "guitar"), swing=0.6,
        drums={"hat": "x...x.ox....x.ox", "snare": "......o.......o.", "kick": "o..............."},
        comp_rhythm="...x.....x...x..", bass="x...x...x...x...", melody=("piano", "lead"),
        density=1.5, brightness=(0.25, 0.65),
    ),
    "classical": dict(
        tempo=(60, 105), chords="triad", comp=("pad", "piano"), drums={}, rubato=0.04,
        comp_rhythm="x.......x.......", bass=None, melody=("piano", "pad"),
        density=1.0, brightness=(0.2, 0.55),
    ),
    "folk": dict(
        tempo=(80, 120), chords="triad", comp=("arp", "guitar", "piano"),
        drums={"clave": "x.......x......."},
        comp_rhythm="x.x.x.x.x.x.x.x.", bass="x.......x.......", melody=("voice", "pluck"),
        density=1.0, brightness=(0.35, 0.75),
    ),
}  # fmt: skip

COMP_INSTRUMENTS = ("piano", "pad", "guitar", "arp")
MELODY_INSTRUMENTS = ("piano", "pluck", "lead", "pad")


def _common(duration: float, rng: Generator) -> dict:
    """Musical settings no label depends on: key, level, background noise."""
    return dict(
        duration=duration,
        key=int(rng.integers(43, 55)),
        level_db=rng.uniform(-12, -1),
        noise_db=rng.uniform(-50, -30),
    )


def genre_music(genre: str, duration: float, rng: Generator, **overrides) -> Music:
    """A :class:`Music` in one of :data:`GENRES`, its free choices drawn at random."""
    s = GENRES[genre]
    settings = dict(
        _common(duration, rng),
        tempo=rng.uniform(*s["tempo"]),
        meter=4,
        drums=s["drums"],
        swing=s.get("swing", 0.0),
        mode=str(rng.choice(["major", "minor"])),
        chords=s["chords"],
        comp=str(rng.choice(s["comp"])),
        comp_rhythm=s["comp_rhythm"],
        bass=s["bass"],
        melody=str(rng.choice(s["melody"])),
        density=s["density"] * rng.uniform(0.7, 1.3),
        brightness=rng.uniform(*s["brightness"]),
        rubato=s.get("rubato", 0.0),
        voice_db=rng.uniform(-6, 4),
    )
    settings.update(overrides)
    return Music(**settings)


def dance_music(style: str, duration: float, rng: Generator) -> Music:
    """A :class:`Music` in one of :data:`DANCE_STYLES`, with random timbre and harmony."""
    s = DANCE_STYLES[style]
    return Music(
        **_common(duration, rng),
        tempo=rng.uniform(*s["tempo"]),
        meter=s["meter"],
        drums=s["drums"],
        swing=s.get("swing", 0.0),
        mode=str(rng.choice(["major", "minor"])),
        chords=str(rng.choice(["triad", "seventh"])),
        comp=str(rng.choice(COMP_INSTRUMENTS)),
        comp_rhythm=s["comp_rhythm"],
        bass=s["bass"],
        melody=str(rng.choice([*MELODY_INSTRUMENTS, "voice"])) if rng.random() < 0.7 else None,
        density=rng.uniform(0.5, 2.0),
        brightness=rng.uniform(0.2, 0.9),
    )


# ======================================================================================
# Sound events (UrbanSound8K-like)
# ======================================================================================


def dog_bark(n: int, sr: int, rng: Generator, traits: np.ndarray) -> np.ndarray:
    """1-4 barks: short, falling, noisy voiced bursts through an open-vowel tract."""
    out = np.zeros(n)
    f0 = 350 + 450 * traits[0]
    t = rng.uniform(0, 0.3)
    while t < n / sr - 0.1:
        m = int(rng.uniform(0.12, 0.25) * sr)
        contour = f0 * np.linspace(1.2, 0.8, m) * rng.uniform(0.9, 1.1)
        bark = voiced_segment(contour, "a", sr, rng, 1.6 + 0.4 * traits[1], breath=0.4)
        _place(out, bark * envelope(m, sr, 0.01, 0.08), int(t * sr))
        t += m / sr + rng.uniform(0.15, 0.8)
    return out


def siren(n: int, sr: int, rng: Generator, traits: np.ndarray) -> np.ndarray:
    """An emergency siren: a bright tone swept up and down ("wail" slow, "yelp" fast)."""
    rate = 0.25 + 0.3 * traits[0] if traits[1] < 0.5 else 2.5 + 2 * traits[0]
    low, high = 550 + 250 * traits[2], 1200 + 400 * traits[2]
    sweep = 0.5 - 0.5 * np.cos(2 * np.pi * rate * _time(n, sr) + rng.uniform(0, 2 * np.pi))
    return oscillator(low + (high - low) * sweep, n, sr, rolloff=1.5)


def engine_idling(n: int, sr: int, rng: Generator, traits: np.ndarray) -> np.ndarray:
    """An idling engine: a low firing-rate buzz, amplitude-modulated, over rumble."""
    firing = 25 + 30 * traits[0]
    t = _time(n, sr)
    f = firing * (1 + 0.02 * np.sin(2 * np.pi * rng.uniform(0.3, 1) * t))
    buzz = oscillator(f, n, sr, rolloff=0.8) * (1 + 0.5 * np.sin(2 * np.pi * firing / 2 * t))
    return _normalise(buzz) + 0.4 * band_noise(n, sr, rng, 30, 400 + 400 * traits[1])


def jackhammer(n: int, sr: int, rng: Generator, traits: np.ndarray) -> np.ndarray:
    """A jackhammer: runs of sharp broadband impacts at 10-25 per second."""
    out = np.zeros(n)
    rate = 10 + 15 * traits[0]
    hit_len = int(0.04 * sr)
    t = 0.0
    running = rng.random() < 0.8
    while t < n / sr:
        run = rng.uniform(0.4, 1.5)
        if running:
            for k in range(int(run * rate)):
                hit = band_noise(hit_len, sr, rng, 200, 6000) * envelope(hit_len, sr, 0.0005, 0.008)
                _place(out, hit, int((t + k / rate) * sr), rng.uniform(0.7, 1.0))
        t += run
        running = not running
    return out


def drilling(n: int, sr: int, rng: Generator, traits: np.ndarray) -> np.ndarray:
    """A drill: a bright, wobbling motor whine with grinding noise, started and stopped."""
    f = (150 + 300 * traits[0]) * (1 + 0.03 * np.sin(2 * np.pi * rng.uniform(2, 8) * _time(n, sr)))
    whine = oscillator(f, n, sr, rolloff=0.7) + 0.3 * band_noise(n, sr, rng, 1500, 6000)
    gate = np.ones(n)
    start = int(rng.uniform(0, 0.3) * n)
    gate[:start] = 0.05
    return whine * gate


def car_horn(n: int, sr: int, rng: Generator, traits: np.ndarray) -> np.ndarray:
    """A car horn: 1-3 honks of a two-tone, square-ish chord."""
    out = np.zeros(n)
    f1 = 350 + 150 * traits[0]
    t = rng.uniform(0, 0.4)
    while t < n / sr - 0.1:
        m = int(rng.uniform(0.2, 1.2) * sr)
        honk = oscillator(f1, m, sr, 1.0, odd_only=True) + oscillator(
            f1 * 1.26, m, sr, 1.0, odd_only=True
        )
        _place(out, honk * envelope(m, sr, 0.01, 1e9, 0.02), int(t * sr))
        t += m / sr + rng.uniform(0.1, 0.6)
    return out


def gun_shot(n: int, sr: int, rng: Generator, traits: np.ndarray) -> np.ndarray:
    """Gun shots: an instant broadband crack and low thump with a reverberant tail."""
    out = np.zeros(n)
    for _ in range(int(rng.integers(1, 4))):
        m = int(0.6 * sr)
        crack = band_noise(m, sr, rng, 100, 8000) * envelope(m, sr, 0.0003, 0.02)
        tail = band_noise(m, sr, rng, 80, 2000 + 3000 * traits[0]) * envelope(
            m, sr, 0.005, 0.1 + 0.2 * traits[1]
        )
        _place(out, crack + 0.3 * tail, int(rng.uniform(0, max(n / sr - 0.3, 0.01)) * sr))
    return out


def air_conditioner(n: int, sr: int, rng: Generator, traits: np.ndarray) -> np.ndarray:
    """An air conditioner: steady broadband fan noise with a faint mains hum."""
    hum = oscillator(50.0 + 10 * (traits[0] > 0.5), n, sr, rolloff=1.5)
    return band_noise(n, sr, rng, 60 + 200 * traits[1], 1500 + 3000 * traits[2]) + 0.15 * hum


SOUND_EVENTS: dict[str, Callable[[int, int, Generator, np.ndarray], np.ndarray]] = {
    "air_conditioner": air_conditioner,
    "car_horn": car_horn,
    "dog_bark": dog_bark,
    "drilling": drilling,
    "engine_idling": engine_idling,
    "gun_shot": gun_shot,
    "jackhammer": jackhammer,
    "siren": siren,
}
"""The event classes. ``traits`` are the recording's own random numbers in [0, 1): the
same for every clip cut from one recording, so that those clips sound alike."""


def render_event(label: str, duration: float, sr: int, rng: Generator, traits: np.ndarray):
    """An event clip: the event over the recording's street background, at a random level."""
    n = int(duration * sr)
    event = _normalise(SOUND_EVENTS[label](n, sr, rng, traits))
    background = band_noise(n, sr, rng, 40, 3000 + 3000 * traits[3])
    mix = event + _db(-22 * traits[4] + rng.uniform(-4, 0)) * background
    return _normalise(recording_colour(mix, sr, rng), _db(rng.uniform(-14, -1)))


# ======================================================================================
# Datasets
# ======================================================================================

Renderer = Callable[[int, Generator], np.ndarray]
"""Makes a clip's mono signal given the sampling rate and the clip's random stream."""


@dataclass(frozen=True)
class Clip:
    """One planned clip: its manifest labels and how to render it."""

    labels: dict[str, object]
    render: Renderer


def _balanced(classes: Sequence[str], n: int, rng: Generator) -> list[str]:
    """``n`` labels, as equal in number as possible, in random order."""
    return [str(c) for c in rng.permutation([classes[i % len(classes)] for i in range(n)])]


def _split(labels: Sequence[str], rng: Generator) -> list[str]:
    """Train/valid/test ~70/15/15, stratified by label.

    Every label with at least three clips appears in every split.
    """
    out = [""] * len(labels)
    for label in dict.fromkeys(labels):
        idx = rng.permutation([i for i, v in enumerate(labels) if v == label])
        n_valid = n_test = max(1, round(0.15 * idx.size)) if idx.size >= 3 else 0
        for k, i in enumerate(idx):
            out[i] = "valid" if k < n_valid else "test" if k < n_valid + n_test else "train"
    return out


def _with_music(m: Music) -> Renderer:
    return lambda sr, rng: render_music(m, sr, rng)


def plan_dance(n: int, rng: Generator) -> list[Clip]:
    """``dance``: balanced styles of :data:`DANCE_STYLES`, 10 s clips."""
    return [
        Clip({"label": s}, _with_music(dance_music(s, 10.0, rng)))
        for s in _balanced(list(DANCE_STYLES), n, rng)
    ]


def plan_genre(n: int, rng: Generator) -> list[Clip]:
    """``genre``: balanced genres of :data:`GENRES`, 8 s clips."""
    return [
        Clip({"label": g}, _with_music(genre_music(g, 8.0, rng)))
        for g in _balanced(list(GENRES), n, rng)
    ]


def plan_speech_music(n: int, rng: Generator) -> list[Clip]:
    """``speech_music``: half speech, half music of any genre (some of it sung), 8 s clips."""
    clips = []
    for label in _balanced(["music", "speech"], n, rng):
        if label == "speech":
            clips.append(Clip({"label": label}, _speech_renderer(8.0, rng.uniform(-14, -1))))
        else:
            m = genre_music(str(rng.choice(list(GENRES))), 8.0, rng)
            clips.append(Clip({"label": label}, _with_music(m)))
    return clips


def _speech_renderer(duration: float, level_db: float) -> Renderer:
    def render(sr: int, rng: Generator) -> np.ndarray:
        x = _normalise(speech(duration, sr, rng))
        x += _db(rng.uniform(-50, -30)) * rng.standard_normal(x.size)
        return _normalise(x, _db(level_db))

    return render


def plan_emotion(n: int, rng: Generator) -> list[Clip]:
    """``emotion``: arousal and valence in [-1, 1] from the music's (hidden) settings.

    Arousal rises with tempo, loudness, brightness and note density; valence with a
    major mode and consonance, and a little with tempo and brightness (as in real
    music, where the two dimensions correlate). Both get Gaussian label noise,
    as human ratings would.
    """
    clips = []
    for _ in range(n):
        u_tempo, u_loud, u_bright, u_dense, u_diss = rng.uniform(0, 1, 5)
        major = rng.random() < 0.5
        genre = str(rng.choice(["electronic", "jazz", "classical", "folk"]))
        drums = GENRES["rock"]["drums"] if u_dense > 0.6 else GENRES["folk"]["drums"]
        m = genre_music(
            genre, 8.0, rng, drums=drums if u_dense > 0.3 else {}, colour_db=1.0,
            tempo=60 + 120 * u_tempo, level_db=-24 + 22 * u_loud, brightness=u_bright,
            density=0.5 + 3.0 * u_dense, dissonance=0.8 * u_diss,
            mode="major" if major else "minor",
        )  # fmt: skip
        arousal = 0.25 * (2 * u_tempo - 1) + 0.3 * (2 * u_loud - 1) + 0.25 * (2 * u_bright - 1)
        arousal += 0.2 * (2 * u_dense - 1) + rng.normal(0, 0.1)
        valence = 0.35 * (1 if major else -1) + 0.15 * (1 - 2 * u_diss)
        valence += 0.25 * (2 * u_tempo - 1) + 0.25 * (2 * u_bright - 1)
        valence += rng.normal(0, 0.12)
        labels = {
            "arousal": round(float(np.clip(arousal, -1, 1)), 4),
            "valence": round(float(np.clip(valence, -1, 1)), 4),
        }
        clips.append(Clip(labels, _with_music(m)))
    return clips


def plan_vocal(n: int, rng: Generator) -> list[Clip]:
    """``vocal``: music with a sung melody or the same kind of melody played, 3-10 s."""
    labels = _balanced(["vocal", "nonvocal"], n, rng)
    clips = []
    for label, split in zip(labels, _split(labels, rng), strict=True):
        melody = "voice" if label == "vocal" else str(rng.choice(MELODY_INSTRUMENTS))
        genre = str(rng.choice(list(GENRES)))
        m = genre_music(genre, round(rng.uniform(3, 10), 2), rng, melody=melody)
        clips.append(Clip({"label": label, "split": split}, _with_music(m)))
    return clips


def plan_sound_events(n: int, rng: Generator) -> list[Clip]:
    """``sound_events``: balanced events cut from "recordings" of 1-4 clips, 1-4 s each.

    Each recording has its own traits (pitch, rate, background) and lies in one fold;
    recordings of each class take folds 1-5 in turn, so every fold holds every class
    once there are enough clips. The ``recording`` column numbers the recordings (like
    UrbanSound8K's freesound id).
    """
    labels = _balanced(list(SOUND_EVENTS), n, rng)
    next_fold = {c: int(rng.integers(0, 5)) for c in SOUND_EVENTS}
    by_class = {c: [i for i, v in enumerate(labels) if v == c] for c in SOUND_EVENTS}
    planned: dict[int, Clip] = {}
    recording = 0
    for label, indices in by_class.items():
        k = 0
        while k < len(indices):
            recording += 1
            size = int(rng.integers(1, 5))
            traits = rng.uniform(0, 1, 5)
            fold = next_fold[label] % 5 + 1
            next_fold[label] += 1
            for i in indices[k : k + size]:
                duration = 4.0 if rng.random() < 0.5 else round(rng.uniform(1, 4), 2)
                labels = {"label": label, "fold": fold, "recording": recording}
                planned[i] = Clip(labels, _event_renderer(label, duration, traits))
            k += size
    return [planned[i] for i in range(n)]


def _event_renderer(label: str, duration: float, traits: np.ndarray) -> Renderer:
    return lambda sr, rng: render_event(label, duration, sr, rng, traits)


TAG_VOCABULARY = (
    "rock", "electronic", "jazz", "classical", "folk",  # style
    "slow", "fast",  # tempo
    "major", "minor",  # mode
    "drums", "piano", "guitar", "strings", "vocal",  # instruments
    "happy", "sad",  # mood
)  # fmt: skip
"""The 16 tags of ``demo_tags``."""


def true_tags(genre: str, m: Music) -> list[str]:
    """Every tag that applies to a piece (before incomplete annotation)."""
    tags = [genre, m.mode]
    if m.tempo < 95:
        tags.append("slow")
    elif m.tempo > 135:
        tags.append("fast")
    instruments = {m.comp, m.melody}
    if m.drums and genre != "folk":
        tags.append("drums")
    if "piano" in instruments:
        tags.append("piano")
    if instruments & {"guitar", "dist_guitar", "arp", "pluck"}:
        tags.append("guitar")
    if "pad" in instruments:
        tags.append("strings")
    if m.melody == "voice":
        tags.append("vocal")
    if m.mode == "major" and m.tempo > 115:
        tags.append("happy")
    if m.mode == "minor" and m.tempo < 100:
        tags.append("sad")
    return tags


def annotate(tags: list[str], rng: Generator) -> list[str]:
    """1-4 of a piece's tags, as a listener would tag it: incompletely.

    Each applicable tag is kept with probability 0.5 (the style with 0.8); at most four
    are kept and at least one.
    """
    kept = [t for t in tags if rng.random() < (0.8 if t == tags[0] else 0.5)]
    if not kept:
        kept = [str(rng.choice(tags))]
    if len(kept) > 4:
        kept = [str(t) for t in rng.choice(kept, 4, replace=False)]
    return sorted(kept, key=TAG_VOCABULARY.index)


def _tag_split(tag_lists: list[list[str]], rng: Generator) -> list[str]:
    """Train/valid/test ~70/15/15 with every tag in each split where possible.

    Valid and test are first seeded with one clip of each tag, rarest tags first, then
    filled at random; the rest is train.
    """
    n = len(tag_lists)
    size = {"valid": max(1, round(0.15 * n)), "test": max(1, round(0.15 * n))}
    out = [""] * n
    counts = {t: sum(t in tags for tags in tag_lists) for t in TAG_VOCABULARY}
    for split in ("valid", "test"):
        members: list[int] = []
        for tag in sorted(TAG_VOCABULARY, key=lambda t: counts[t]):
            if len(members) >= size[split] or any(tag in tag_lists[i] for i in members):
                continue
            free = [i for i in range(n) if not out[i] and tag in tag_lists[i]]
            if len(free) >= 2:  # leave one for train
                i = int(rng.choice(free))
                out[i] = split
                members.append(i)
        free = [i for i in range(n) if not out[i]]
        for i in rng.permutation(free)[: max(0, size[split] - len(members))]:
            out[int(i)] = split
    return [s or "train" for s in out]


def plan_demo_tags(n: int, rng: Generator) -> list[Clip]:
    """``demo_tags``: the tagging source, 10 s clips of all genres with 1-4 tags each.

    Tempo spreads beyond each genre's range and a voice is added to a third of the
    clips, so that tags are not just aliases of the genre.
    """
    plans = []
    for genre in _balanced(list(GENRES), n, rng):
        lo, hi = GENRES[genre]["tempo"]
        overrides: dict = {"tempo": rng.uniform(lo - 20, hi + 20)}
        if rng.random() < 0.33:
            overrides["melody"] = "voice"
        m = genre_music(genre, 10.0, rng, **overrides)
        plans.append((m, annotate(true_tags(genre, m), rng)))
    splits = _tag_split([tags for _, tags in plans], rng)
    return [
        Clip({"tags": TAG_SEPARATOR.join(tags), "split": split}, _with_music(m))
        for (m, tags), split in zip(plans, splits, strict=True)
    ]


DATASETS: dict[str, Callable[[int, Generator], list[Clip]]] = {
    "demo_tags": plan_demo_tags,
    "dance": plan_dance,
    "genre": plan_genre,
    "speech_music": plan_speech_music,
    "emotion": plan_emotion,
    "vocal": plan_vocal,
    "sound_events": plan_sound_events,
}
"""Dataset name -> planner of its clips."""


# ======================================================================================
# Writing
# ======================================================================================


def _name_key(name: str) -> int:
    """A stable number for a dataset name (``hash`` is salted per process)."""
    return zlib.crc32(name.encode())


def _to_file_layout(mono: np.ndarray, channels: int, rng: Generator) -> np.ndarray:
    """Mono as-is; stereo as two differently weighted channels whose mean is the mono mix."""
    if channels == 1:
        return mono
    pan = rng.uniform(0.1, 0.4)
    side = pan * np.roll(mono, int(rng.integers(5, 40)))
    stereo = np.stack([mono + side, mono - side], axis=1)
    return stereo / max(1.0, float(np.max(np.abs(stereo))) / 0.99)


def generate_dataset(name: str, out_dir: str | os.PathLike[str], n_clips: int, seed: int) -> Path:
    """Synthesise one demo dataset: WAV files under ``out_dir/audio`` and a manifest.

    Parameters
    ----------
    name
        One of :data:`DATASETS`.
    out_dir
        Output directory; receives ``audio/<id>.wav`` and ``manifest.csv``.
    n_clips
        Number of clips.
    seed
        Base seed. Each dataset's stream is derived from (seed, name), and each clip's
        from (seed, name, index), so the output is the same for the same arguments.

    Returns
    -------
    pathlib.Path
        The manifest (columns ``id``, ``path`` relative to ``out_dir``, then the labels).
        It is written last, and only once every clip has been written.

    Raises
    ------
    ConfigError
        For an unknown dataset name or a non-positive ``n_clips``.
    """
    if name not in DATASETS:
        raise ConfigError(
            f"unknown demo dataset {name!r}",
            f"choose one of: {', '.join(DATASETS)} (keys of experiments.<exp>.demo.n_clips)",
        )
    if n_clips < 1:
        raise ConfigError(
            f"demo dataset {name!r}: n_clips must be positive, got {n_clips}",
            "set experiments.<exp>.demo.n_clips to a positive number",
        )
    out_dir = Path(out_dir)
    manifest_path = out_dir / MANIFEST_FILE
    manifest_path.unlink(missing_ok=True)  # a stale manifest must not outlive a failure
    (out_dir / AUDIO_DIR).mkdir(parents=True, exist_ok=True)

    key = _name_key(name)
    clips = DATASETS[name](n_clips, np.random.default_rng([seed, key]))
    rows = []
    for i, clip in enumerate(clips):
        clip_id = f"{name}_{i:04d}"
        rel_path = f"{AUDIO_DIR}/{clip_id}.wav"
        sr, channels = FILE_FORMATS[i % len(FILE_FORMATS)]
        rng = np.random.default_rng([seed, key, i])
        audio = _to_file_layout(clip.render(sr, rng), channels, rng)
        with atomic_path(out_dir / rel_path) as tmp:
            sf.write(tmp, audio.astype(np.float32), sr, subtype="PCM_16", format="WAV")
        rows.append({"id": clip_id, "path": rel_path, **clip.labels})

    with atomic_path(manifest_path) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    return manifest_path
