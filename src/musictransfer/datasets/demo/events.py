"""Urban sound events (UrbanSound8K-like): eight event classes over a street background.

Each event generator receives the recording's ``traits`` (its own random numbers), so
that clips cut from one recording sound alike, as clips cut from one freesound
recording do in UrbanSound8K; :mod:`.plans` keeps such clips in one fold.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.random import Generator

from musictransfer.datasets.demo.dsp import (
    band_noise,
    envelope,
    from_db,
    normalise,
    oscillator,
    place,
    recording_colour,
    sample_times,
)
from musictransfer.datasets.demo.voices import voiced_segment


def dog_bark(n: int, sr: int, rng: Generator, traits: np.ndarray) -> np.ndarray:
    """1-4 barks: short, falling, noisy voiced bursts through an open-vowel tract."""
    out = np.zeros(n)
    f0 = 350 + 450 * traits[0]
    t = rng.uniform(0, 0.3)
    while t < n / sr - 0.1:
        m = int(rng.uniform(0.12, 0.25) * sr)
        contour = f0 * np.linspace(1.2, 0.8, m) * rng.uniform(0.9, 1.1)
        bark = voiced_segment(contour, "a", sr, rng, 1.6 + 0.4 * traits[1], breath=0.4)
        place(out, bark * envelope(m, sr, 0.01, 0.08), int(t * sr))
        t += m / sr + rng.uniform(0.15, 0.8)
    return out


def siren(n: int, sr: int, rng: Generator, traits: np.ndarray) -> np.ndarray:
    """An emergency siren: a bright tone swept up and down ("wail" slow, "yelp" fast)."""
    rate = 0.25 + 0.3 * traits[0] if traits[1] < 0.5 else 2.5 + 2 * traits[0]
    low, high = 550 + 250 * traits[2], 1200 + 400 * traits[2]
    sweep = 0.5 - 0.5 * np.cos(2 * np.pi * rate * sample_times(n, sr) + rng.uniform(0, 2 * np.pi))
    return oscillator(low + (high - low) * sweep, n, sr, rolloff=1.5)


def engine_idling(n: int, sr: int, rng: Generator, traits: np.ndarray) -> np.ndarray:
    """An idling engine: a low firing-rate buzz, amplitude-modulated, over rumble."""
    firing = 25 + 30 * traits[0]
    t = sample_times(n, sr)
    f = firing * (1 + 0.02 * np.sin(2 * np.pi * rng.uniform(0.3, 1) * t))
    buzz = oscillator(f, n, sr, rolloff=0.8) * (1 + 0.5 * np.sin(2 * np.pi * firing / 2 * t))
    return normalise(buzz) + 0.4 * band_noise(n, sr, rng, 30, 400 + 400 * traits[1])


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
                place(out, hit, int((t + k / rate) * sr), rng.uniform(0.7, 1.0))
        t += run
        running = not running
    return out


def drilling(n: int, sr: int, rng: Generator, traits: np.ndarray) -> np.ndarray:
    """A drill: a bright, wobbling motor whine with grinding noise, started and stopped."""
    f = (150 + 300 * traits[0]) * (
        1 + 0.03 * np.sin(2 * np.pi * rng.uniform(2, 8) * sample_times(n, sr))
    )
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
        place(out, honk * envelope(m, sr, 0.01, 1e9, 0.02), int(t * sr))
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
        place(out, crack + 0.3 * tail, int(rng.uniform(0, max(n / sr - 0.3, 0.01)) * sr))
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
    event = normalise(SOUND_EVENTS[label](n, sr, rng, traits))
    background = band_noise(n, sr, rng, 40, 3000 + 3000 * traits[3])
    mix = event + from_db(-22 * traits[4] + rng.uniform(-4, 0)) * background
    return normalise(recording_colour(mix, sr, rng), from_db(rng.uniform(-14, -1)))
