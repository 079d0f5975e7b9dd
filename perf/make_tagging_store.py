"""A synthetic tagging store of any size, for measuring the data path where no corpus is.

The GPU checks (``perf/gpu_checks.sh``) need a prepared store big enough that an epoch
outlasts the loader's start, on a machine that has neither the demo's workflow nor a real
dataset. Each clip is 29 s at 12 kHz (so preparation resamples nothing) and carries 1-3 of
``--tags`` tags; each tag is a tone of its own pitch in the clip, over noise, so the tagger
has something to learn and its AUC is a sanity check, not a result.

    PYTHONPATH=src python perf/make_tagging_store.py /tmp/tags --clips 2048

writes ``/tmp/tags/*.wav``, ``/tmp/tags/manifest.csv`` (80 % train, 10 % valid, 10 % test)
and the prepared store ``/tmp/tags/prepared`` (what ``train`` and
``perf/bench_training.py --store`` read).
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from musictransfer.constants import N_SAMPLES, SAMPLE_RATE
from musictransfer.datasets.store import prepare_audio


def clip(tags: np.ndarray, seed: int) -> np.ndarray:
    """29 s of noise with one tone per tag (tag k at 110 Hz times 2^(k/12))."""
    rng = np.random.default_rng(seed)
    t = np.arange(N_SAMPLES) / SAMPLE_RATE
    out = 0.05 * rng.standard_normal(N_SAMPLES)
    for k in tags:
        out += 0.3 / len(tags) * np.sin(2 * np.pi * 110.0 * 2 ** (k / 12) * t)
    return out.astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--clips", type=int, default=2048)
    parser.add_argument("--tags", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    rows, tag_sets = [], []
    for i in range(args.clips):
        tags = rng.choice(args.tags, size=rng.integers(1, 4), replace=False)
        split = "train" if i % 10 < 8 else ("valid" if i % 10 == 8 else "test")
        names = ";".join(f"t{k:02d}" for k in tags)
        rows.append({"id": f"c{i:06d}", "path": f"c{i:06d}.wav", "tags": names, "split": split})
        tag_sets.append(tags)

    def write(i: int) -> None:
        sf.write(args.root / rows[i]["path"], clip(tag_sets[i], seed=i), SAMPLE_RATE,
                 subtype="PCM_16")  # fmt: skip

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(write, range(args.clips)))
    manifest = pd.DataFrame(rows)
    manifest.to_csv(args.root / "manifest.csv", index=False)
    written = time.perf_counter()
    store = args.root / "prepared"
    prepare_audio(args.root / "manifest.csv", store, threads=os.cpu_count() or 1, progress=False)
    print(f"{args.clips} clips written in {written - started:.1f} s, prepared in "
          f"{time.perf_counter() - written:.1f} s: {store}")  # fmt: skip


if __name__ == "__main__":
    main()
