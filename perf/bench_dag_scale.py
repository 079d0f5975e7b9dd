"""The workflow's DAG at the MSD's size: how long Snakemake takes to plan it, and the shards.

A synthetic manifest of ``--clips`` rows (244,224 by default, the paper's MSD source set),
whose audio paths point to a few real recordings repeated, is placed where the demo's
synthesis would write it (as ``tests/test_slurm.py`` does), so no audio is decoded. Timed,
each as its own ``snakemake`` process (wall time, Python start included):

1. the dry run before the shard plan exists (``plan_shards`` is a checkpoint, so the
   shard jobs are not yet known);
2. ``--until plan_shards``: the plan itself, run for real (reads the manifest, hashes it);
3. the dry run once the plan exists: every shard job, the merge, MFCC and one cell.

Reported: the three times, the jobs per rule of the last dry run and the shard plan.
Not a test; run it on an idle machine, e.g.

    PYTHONPATH=src .venv/bin/python perf/bench_dag_scale.py --json /tmp/dag_scale.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
MSD_CLIPS = 244_224
EXPERIMENT = "msdscale"


def config(clips: int) -> dict:
    """One dataset of ``clips`` clips, MFCC only, one task."""
    return {
        "experiment": EXPERIMENT,
        "experiments": {
            EXPERIMENT: {
                "description": "perf/bench_dag_scale.py: a manifest of the MSD's size",
                "demo": {"seed": 0, "n_clips": {"msd": clips}},
                "extractors": {"random": ["mfcc"]},
                "tasks": {
                    "tags": {"dataset": "msd", "type": "classification", "target": "label",
                             "cv": {"scheme": "stratified_kfold", "n_splits": 2}},
                },
            }
        },
    }  # fmt: skip


def write_manifest(root: Path, clips: int, audio: list[Path]) -> Path:
    """The raw manifest where generate_demo would write it: real files, repeated."""
    raw = root / EXPERIMENT / "raw" / "msd"
    raw.mkdir(parents=True)
    frame = pd.DataFrame(
        {
            "id": [f"msd_{k:06d}" for k in range(clips)],
            "path": [str(audio[k % len(audio)]) for k in range(clips)],
            "label": ["rock" if k % 2 else "pop" for k in range(clips)],
        }
    )
    frame.to_csv(raw / "manifest.csv", index=False)
    return raw / "manifest.csv"


def snakemake(*args: str) -> tuple[float, str]:
    """Wall seconds and standard output of one snakemake process in the repository."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    out = subprocess.run(
        [str(bin_dir / "snakemake"), "--cores", "1", *args], cwd=REPO, env=env,
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return time.perf_counter() - start, out.stdout


def job_counts(stdout: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run, as {rule: jobs}."""
    table = stdout.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M)
    return {rule: int(n) for rule, n in rows if rule != "total"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clips", type=int, default=MSD_CLIPS)
    parser.add_argument("--shard-clips", type=int, default=10_000)
    parser.add_argument("--audio", type=Path, default=REPO.parent / "shared" / "audio")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    audio = sorted(p for p in args.audio.iterdir() if p.suffix in {".wav", ".flac", ".ogg"})
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "config.yaml").write_text(yaml.safe_dump(config(args.clips)))
        write_manifest(root, args.clips, audio[:3])
        common = ["--configfile", str(root / "config.yaml"), "--config", f"results={root}",
                  f"shard_clips={args.shard_clips}"]  # fmt: skip
        before, _ = snakemake("-n", *common)
        plan_s, _ = snakemake("--until", "plan_shards", *common)
        after, stdout = snakemake("-n", *common)
        plan = json.loads((root / EXPERIMENT / "prepared" / "msd" / "shards.json").read_text())
    sizes = [min(args.shard_clips, plan["n_clips"] - k * args.shard_clips)
             for k in range(len(plan["shards"]))]  # fmt: skip
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU(s)",
        "python": platform.python_version(),
        "clips": args.clips,
        "shard_clips": args.shard_clips,
        "dry_run_before_plan_s": round(before, 2),
        "plan_shards_s": round(plan_s, 2),
        "dry_run_after_plan_s": round(after, 2),
        "shards": len(plan["shards"]),
        "last_shard_clips": sizes[-1],
        "jobs": job_counts(stdout),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
