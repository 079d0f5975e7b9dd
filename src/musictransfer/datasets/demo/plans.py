"""The demo datasets: which clips each holds, with which labels, splits and folds.

A planner draws every clip's labels and the settings of its sound, without
synthesising anything; each :class:`Clip` is rendered later, from its own random
stream (:func:`musictransfer.datasets.demo.generate_dataset`). So labels, splits and
folds are decided (and can be tested) by planning alone.

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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.random import Generator

from musictransfer.datasets.demo.dsp import from_db, normalise
from musictransfer.datasets.demo.events import SOUND_EVENTS, render_event
from musictransfer.datasets.demo.music import Music, render_music
from musictransfer.datasets.demo.styles import (
    DANCE_STYLES,
    GENRES,
    MELODY_INSTRUMENTS,
    dance_music,
    genre_music,
)
from musictransfer.datasets.demo.voices import speech
from musictransfer.datasets.manifest import TAG_SEPARATOR

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
        x = normalise(speech(duration, sr, rng))
        x += from_db(rng.uniform(-50, -30)) * rng.standard_normal(x.size)
        return normalise(x, from_db(level_db))

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
