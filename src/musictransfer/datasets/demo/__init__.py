"""The synthetic demo corpus: small datasets that mirror the paper's tasks in kind.

The paper's source task (tagging the Million Song Dataset) and its six target tasks
(Ballroom dance styles, GTZAN genre, GTZAN speech/music, EmoMusic arousal/valence,
Jamendo singing-voice detection, UrbanSound8K events) need tens of gigabytes of
licensed audio. So that the whole workflow runs offline in minutes, this package
synthesises look-alikes with NumPy alone (no SciPy: it runs in the lean ``audio``
environment). The classes are learnable but, with random timbres, keys, levels and
background noise, not trivially so.

Every dataset is deterministic in (name, n_clips, seed): its random stream is derived
from the seed and the dataset's name, so datasets differ. Files are 16-bit WAV at
22,050 or 16,000 Hz, mono or stereo, in a fixed rotation (:data:`FILE_FORMATS`), so that
resampling to 12 kHz and downmixing are exercised downstream. Labels never depend on
the file format, the duration (except where a task implies it) or the overall level
(except for arousal).

The parts, each module importing only those listed before it:

- :mod:`.dsp`: signal primitives (gains, FFT filters, band noise, envelopes,
  oscillators, harmonic tones, Karplus-Strong strings, a recording's colour);
- :mod:`.drums`: drum kits and their sounds;
- :mod:`.voices`: vowels, read speech and sung notes;
- :mod:`.music`: a piece's description and its rendering;
- :mod:`.styles`: the dance styles and genres, and pieces drawn in them;
- :mod:`.events`: urban sound events;
- :mod:`.plans`: the datasets (:data:`DATASETS`): each clip's labels, splits and folds;
- this module: a dataset's files and manifest (:func:`generate_dataset`).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from numpy.random import Generator

from musictransfer._typing import PathLike
from musictransfer.datasets.demo.plans import DATASETS
from musictransfer.errors import ConfigError
from musictransfer.layout import MANIFEST_FILE
from musictransfer.outputs import atomic_path

__all__ = ["AUDIO_DIR", "DATASETS", "FILE_FORMATS", "MANIFEST_FILE", "generate_dataset"]

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


def generate_dataset(name: str, out_dir: PathLike, n_clips: int, seed: int) -> Path:
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
