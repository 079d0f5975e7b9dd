"""Music: a piece's description (:class:`Music`) and its synthesis (:func:`render_music`).

A piece is drums, bass, chords and a melody (played or sung) on a sixteenth-note grid,
mixed at random relative levels and coloured as a recording. Which settings a style or
a label fixes is decided in :mod:`.styles` and :mod:`.plans`; this module only plays
them. Notes come from a memoised sample library (:class:`Sampler`): synthesis dominates
the generation time, and a corpus repeats few distinct notes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from numpy.random import Generator

from musictransfer.datasets.demo.drums import DrumKit, clave, hihat, kick, snare
from musictransfer.datasets.demo.dsp import (
    from_db,
    harmonic_tone,
    normalise,
    place,
    pluck,
    recording_colour,
)
from musictransfer.datasets.demo.voices import VOWELS, sung_note

STEPS_PER_BEAT = 4
"""Rhythm grid: sixteenth notes."""


def _midi_hz(midi: float) -> float:
    """Frequency of a MIDI note number (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((midi - 69) / 12)


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
                    place(drums, sounds[voice], int(t * sr), vel * rng.uniform(0.8, 1.0))

    bar_len = beat * m.meter
    if m.bass:
        for b in range(n_bars):
            for t, vel in _hits(m.bass, times, b):
                note = notes.pluck(_midi_hz(chords[b][0] - 12), 0.5, 0.2)
                place(bass, note, int(t * sr), vel)

    if m.comp:
        for b in range(n_bars):
            hits = _hits(m.comp_rhythm, times, b)
            for h, (t, vel) in enumerate(hits):
                gap = hits[h + 1][0] - t if h + 1 < len(hits) else bar_len
                place(comp, _comp_hit(m, chords[b], h, gap, notes), int(t * sr), vel)

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
            place(lead, sound, int(start * beat * sr))

    stems = [drums, bass, comp, lead]
    gains = rng.uniform(0.5, 1.0, 4)
    if m.melody == "voice":
        gains[3] = np.mean(gains[:3]) * from_db(m.voice_db) * 1.5
    mix = sum(g * normalise(s) for g, s in zip(gains, stems, strict=True))
    mix = recording_colour(normalise(mix), sr, rng, m.colour_db)
    mix += from_db(m.noise_db) * rng.standard_normal(n)
    return normalise(mix, from_db(m.level_db))


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
        chord_signal = np.tanh(4 * normalise(chord_signal))
    return chord_signal
