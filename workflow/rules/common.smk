"""Paths, wildcard constraints and input functions shared by every rule."""

import json
import os
import shlex
import sys
from dataclasses import asdict
from pathlib import Path

# Every output of this run lives below R = results/<experiment>.
R = str(EXP.root)
SRC = str(Path(workflow.basedir) / "src")

# Jobs run the workflow's own package, `python -m musictransfer <command>`: src/ goes on
# PYTHONPATH by a shell prefix (inside the job's script, because Snakemake removes
# PYTHONPATH from conda jobs' environment; a prefix rather than a rule parameter, so
# that moving the checkout does not re-trigger every job), and the Python that runs
# Snakemake comes first on PATH, unless a conda env (activated in the job) has its own.
os.environ.update(
    PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
)
# (A prefix replaces Snakemake's default "set -euo pipefail; ", so it is kept here.)
shell.prefix(f"set -euo pipefail; export PYTHONPATH={shlex.quote(SRC)}; ")
# Kept for rules written as "{MT} <command>" (snakemake --lint flags that use).
MT = "python -m musictransfer"


wildcard_constraints:
    dataset=r"[A-Za-z0-9_]+",
    source=r"[A-Za-z0-9_]+",
    task=r"[A-Za-z0-9_]+",
    extractor=r"random|choi2017|tagger-[A-Za-z0-9_]+",
    combo=r"[1-5]+|mfcc|mfcc\+12345",


def demo_datasets():
    """Datasets that generate_demo synthesises in this experiment."""
    return list(EXP.settings.get("demo", {}).get("n_clips", {}))


def raw_manifest(wildcards):
    """The manifest of a dataset's raw audio, by where the dataset comes from."""
    if wildcards.dataset in demo_datasets():
        return f"{R}/raw/{wildcards.dataset}/manifest.csv"
    raise ValueError(
        f"dataset {wildcards.dataset!r} of experiment {EXP.name!r} has no source: "
        "add it to the experiment's 'demo.n_clips'"
    )


def labels_manifest(dataset):
    """The manifest holding a dataset's labels, folds and splits."""
    return f"{R}/prepared/{dataset}/manifest.csv"


def convnet_features(extractor, dataset):
    return f"{R}/features/{extractor}/{dataset}.npz"


def mfcc_features(dataset):
    return f"{R}/features/mfcc/{dataset}.npz"


def task_json(task):
    """A task's specification as JSON, passed to the job (and tracked as a param)."""
    return json.dumps({"name": task, **asdict(EXP.tasks[task])}, sort_keys=True)


def cell_inputs(wildcards):
    """Feature files and labels one evaluation cell needs."""
    dataset = EXP.tasks[wildcards.task].dataset
    inputs = {"manifest": labels_manifest(dataset)}
    if wildcards.combo != "mfcc":
        inputs["features"] = convnet_features(wildcards.extractor, dataset)
    if wildcards.combo.startswith("mfcc"):
        inputs["mfcc"] = mfcc_features(dataset)
    return inputs


def cell_feature_args(wildcards, input):
    """Command-line options naming a cell's feature files."""
    args = []
    if "features" in input.keys():
        args.append(f"--features {shlex.quote(input.features)}")
    if "mfcc" in input.keys():
        args.append(f"--mfcc {shlex.quote(input.mfcc)}")
    return " ".join(args)


def score_cells():
    return [f"{R}/scores/{t}/{e}/{c}.json" for t, e, c in EXP.cells()]


def final_targets():
    return [
        f"{R}/tables/scores.csv",
        f"{R}/figures/summary.png",
        f"{R}/report.md",
    ]
