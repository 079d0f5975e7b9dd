"""The real-dataset experiments route to the download and manifest rules (dry-run)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from musictransfer.config import resolve_experiment
from musictransfer.datasets.registry import names


def _dry_run(repo: Path, tmp_path: Path, experiment: str, *targets: str) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(
        ["snakemake", "-n", "--cores", "1", "--config", f"experiment={experiment}",
         f"results={tmp_path}/r", f"data={tmp_path}/d", "--", *targets],
        cwd=repo, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


def test_paper_audio_prepares_every_target_from_downloads(repo, tmp_path):
    config = yaml.safe_load((repo / "config.yaml").read_text())
    exp = resolve_experiment(config, "paper_audio")
    datasets = list(exp.datasets)
    assert set(datasets) <= set(names())
    assert {t.dataset for t in exp.tasks.values()} == set(datasets)
    targets = [f"{tmp_path}/r/paper_audio/prepared/{d}/manifest.csv" for d in datasets]
    stdout = _dry_run(repo, tmp_path, "paper_audio", *targets)
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", stdout, flags=re.M))
    for rule in ("download", "dataset_manifest", "prepare_audio"):
        assert counts.get(rule) == str(len(datasets)), (rule, counts)
    assert "generate_demo" not in counts


def test_tagger_experiments_train_on_their_source(repo, tmp_path):
    for source in ("mtat", "msd"):
        model = f"{tmp_path}/r/paper_audio_{source}/models/tagger-{source}.pt"
        stdout = _dry_run(repo, tmp_path, f"paper_audio_{source}", model)
        assert "train_tagger" in stdout and "download" in stdout
