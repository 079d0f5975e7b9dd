"""Drums: one clip's drum kit and its four sounds, from pitched sines and filtered noise.

Every clip draws its own kit (:class:`DrumKit`), so that the rhythm, not the sound of
the drums, is what tells dance styles and genres apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.random import Generator

from musictransfer.datasets.demo.dsp import band_noise, envelope, sample_times


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
    t = sample_times(n, sr)
    f = kit.kick_hz * (1 + 2.0 * np.exp(-t / 0.025))
    return np.sin(2 * np.pi * np.cumsum(f) / sr) * envelope(n, sr, 0.001, 0.12)


def snare(sr: int, kit: DrumKit, rng: Generator) -> np.ndarray:
    """Snare drum: a short drum-head tone plus a longer burst of band-limited noise."""
    n = int(0.25 * sr)
    tone = np.sin(2 * np.pi * kit.snare_hz * sample_times(n, sr)) * envelope(n, sr, 0.001, 0.04)
    noise = band_noise(n, sr, rng, *kit.snare_band) * envelope(n, sr, 0.001, 0.07)
    return 0.5 * tone + noise


def hihat(sr: int, kit: DrumKit, rng: Generator) -> np.ndarray:
    """Hi-hat (or shaker, ride): high-passed noise with a very short decay."""
    n = int(0.15 * sr)
    return band_noise(n, sr, rng, kit.hat_cutoff, sr / 2) * envelope(n, sr, 0.0005, kit.hat_decay)


def clave(sr: int, kit: DrumKit) -> np.ndarray:
    """Clave/wood block/cowbell: two inharmonic partials that die within ~50 ms."""
    n = int(0.1 * sr)
    t = sample_times(n, sr)
    partials = np.sin(2 * np.pi * kit.clave_hz * t) + 0.5 * np.sin(
        2 * np.pi * 2.7 * kit.clave_hz * t
    )
    return partials * envelope(n, sr, 0.0005, 0.025)
