"""The Snakemake workflow: dry-runs of the DAG, and an end-to-end run of the reduced demo."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

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
    # The demo batches its cells: 7 tasks x 2 extractors jobs of the 31 convnet
    # combinations, and the tagger's 2 MFCC baselines one job per cell (7 x 2).
    assert re.search(r"\bevaluate_batch\s+14\b", out.stdout)
    assert re.search(r"\bevaluate\s+14\b", out.stdout)


def test_one_job_per_cell_without_batching(repo, tmp_path):
    out = snakemake(repo, "-n", "--config", f"results={tmp_path}", "batch_cells=False")
    assert re.search(r"\bevaluate\s+448\b", out.stdout)
    assert "evaluate_batch" not in out.stdout


def test_a_batched_cell_is_targeted_alone(repo, tmp_path):
    """Targeting one cell runs its (task, extractor) batch and nothing of other tasks."""
    cell = f"{tmp_path}/demo/scores/genre/random/12.json"
    out = snakemake(repo, "-n", cell, "--config", f"results={tmp_path}")
    assert re.search(r"\bevaluate_batch\s+1\b", out.stdout)
    assert "train_tagger" not in out.stdout
    assert cell in out.stdout


def test_fold_jobs_split_every_cell(repo, tmp_path):
    """Config fold_jobs=N: N fold jobs per cell, merged by `merge_fold_parts` into the same file."""
    config = ["--config", f"results={tmp_path}", "fold_jobs=2", "batch_cells=False"]
    out = snakemake(repo, "-n", *config)
    assert re.search(r"\bevaluate_fold_part\s+896\b", out.stdout)
    assert re.search(r"\bmerge_fold_parts\s+448\b", out.stdout)
    assert not re.search(r"\bevaluate\s+\d+\b", out.stdout)
    # Batching and splitting together is refused, naming both keys.
    out = snakemake(repo, "-n", "--config", f"results={tmp_path}", "fold_jobs=2", check=False)
    assert out.returncode != 0
    assert "batch_cells" in out.stderr + out.stdout and "fold_jobs=2" in out.stderr + out.stdout


def test_unknown_experiment_fails_clearly(repo, tmp_path):
    out = snakemake(repo, "-n", "--config", "experiment=nope", f"results={tmp_path}", check=False)
    assert out.returncode != 0
    assert "experiment 'nope' is not defined" in out.stdout + out.stderr


@pytest.fixture(scope="module")
def demo_run(repo, tmp_path_factory):
    """The reduced demo (.test/config.yaml) run end to end, once for this module."""
    results = tmp_path_factory.mktemp("results")
    args = ["--configfile", ".test/config.yaml", "--config", f"results={results}"]
    snakemake(repo, *args)
    return results / "demo", args


@pytest.mark.slow
def test_end_to_end_reduced_demo(demo_run):
    root, _ = demo_run
    scores = pd.read_csv(root / "tables" / "scores.csv")
    assert {"task", "extractor", "combo", "metric", "score", "best_params"} <= set(scores.columns)
    # 7 tasks x (4 combos of the tagger + 2 of the random convnet), each read two ways.
    assert len(scores) == 7 * 6 * 2
    assert scores.groupby("reading").size().to_dict() == {"authors_script": 42, "paper": 42}
    assert set(scores["extractor"]) == {"tagger-demo_tags", "random"}
    assert scores["score"].notna().all()
    acc = scores[scores["metric"] == "accuracy"]["score"]
    assert ((acc >= 0) & (acc <= 1)).all()
    cell = json.loads((root / "scores/genre/tagger-demo_tags/12345.json").read_text())
    assert cell["n_features"] == 160
    assert len(cell["fold_scores"]) == 3
    assert (
        json.loads((root / "scores/genre/tagger-demo_tags/mfcc+12345.json").read_text())[
            "n_features"
        ]
        == 280
    )
    metrics = json.loads((root / "models/tagger-demo_tags.metrics.json").read_text())
    assert 0 <= metrics["best_val_auc"] <= 1
    assert 0 <= metrics["test_auc"] <= 1
    for name in ("summary.png", "genre.png", "emotion_valence.png"):
        assert (root / "figures" / name).stat().st_size > 1000
    assert "genre" in (root / "report.md").read_text()
    # '1' and '12345' (both extractors have them) were evaluated in batches, the MFCC
    # cells one job each.
    assert len(list((root / "benchmarks" / "evaluate_batch").rglob("*.tsv"))) == 7 * 2
    assert len(list((root / "benchmarks" / "evaluate").rglob("*.tsv"))) == 7 * 2
    for rule in ("prepare_audio", "train_tagger", "evaluate", "evaluate_batch"):
        assert any((root / "logs" / rule).rglob("*.log")), rule
        assert any((root / "benchmarks" / rule).rglob("*.tsv")), rule


@pytest.mark.slow
def test_rerun_does_nothing_and_task_change_reruns_only_that_task(repo, demo_run, tmp_path):
    _, args = demo_run
    out = snakemake(repo, "-n", *args)
    assert "Nothing to be done" in out.stdout + out.stderr
    override = tmp_path / "change.yaml"
    override.write_text(
        "experiments:\n  demo:\n    tasks:\n"
        "      emotion_valence: {cv: {scheme: kfold, n_splits: 4}}\n"
    )
    out = snakemake(repo, "-n", *args, "--configfile", ".test/config.yaml", str(override))
    jobs = [line for line in out.stdout.splitlines() if "scores/" in line and "output:" in line]
    assert jobs, out.stdout[-3000:]
    assert all("/emotion_valence/" in line for line in jobs), jobs
    assert "train_tagger" not in out.stdout
