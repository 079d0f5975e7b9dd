"""Styles: the dance styles and genres of the demo corpus, and pieces drawn in them.

A style fixes what its label is to be recognised by (a dance: tempo, meter and drum
and accompaniment rhythms; a genre: instrumentation, harmony and rhythm density) and
leaves everything else (key, mode, timbres, level, background noise) to chance, so
that a classifier has to learn the cue rather than an accident of the synthesis.
"""

from __future__ import annotations

from numpy.random import Generator

from musictransfer.datasets.demo.music import Music

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
