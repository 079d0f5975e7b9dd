"""The Snakemake workflow: dry-runs of the DAG, and an end-to-end run of the reduced demo."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SNAKEMAKE = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or "snakemake"


def snakemake(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(
        [SNAKEMAKE, "--cores", "2", *args], cwd=repo, env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    if check and out.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
        )
    return out


def test_dry_run_covers_every_stage(repo, tmp_path):
    out = snakemake(repo, "-n", "--config", f"results={tmp_path}")
    for rule in (
        "generate_demo", "prepare_audio", "train_tagger", "random_convnet", "extract_convnet",
        "extract_mfcc", "evaluate", "aggregate", "plot", "write_report",
    ):  # fmt: skip
        assert rule in out.stdout, rule
    assert "evaluate             448" in out.stdout or " 448" in out.stdout


def test_unknown_experiment_fails_clearly(repo, tmp_path):
    out = snakemake(repo, "-n", "--config", "experiment=nope", f"results={tmp_path}", check=False)
    assert out.returncode != 0
    assert "experiment 'nope' is not defined" in out.stdout + out.stderr
