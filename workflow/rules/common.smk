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


wildcard_constraints:
    dataset=r"[A-Za-z0-9_]+",
    source=r"[A-Za-z0-9_]+",
    task=r"[A-Za-z0-9_]+",
    extractor=r"random|choi2017|tagger-[A-Za-z0-9_]+",
    combo=r"[1-5]+|mfcc|mfcc\+12345",


def demo_datasets():
    """Datasets that generate_demo synthesises in this experiment."""
    return list(EXP.settings.get("demo", {}).get("n_clips", {}))


# Real datasets are downloaded once for all experiments, below `data` (default data/).
DATA = str(config.get("data") or "data")


def real_datasets():
    """Real datasets of this experiment: name -> settings (data_dir, paper_order)."""
    return {
        name: (opts or {})
        for name, opts in (EXP.settings.get("datasets") or {}).items()
    }


def raw_manifest(wildcards):
    """The manifest of a dataset's raw audio, by where the dataset comes from."""
    if wildcards.dataset in demo_datasets():
        return f"{R}/raw/{wildcards.dataset}/manifest.csv"
    if wildcards.dataset in real_datasets():
        return f"{R}/manifests/{wildcards.dataset}.csv"
    raise ValueError(
        f"dataset {wildcards.dataset!r} of experiment {EXP.name!r} has no source: "
        "add it to the experiment's 'demo.n_clips' or 'datasets'"
    )


def download_args(wildcards):
    """--data-dir / --mirror options of the download step (a copy on disk wins)."""
    opts = real_datasets().get(wildcards.dataset, {})
    args = []
    if opts.get("data_dir"):
        args.append(f"--data-dir {shlex.quote(str(opts['data_dir']))}")
    if config.get("mirror"):
        args.append(f"--mirror {shlex.quote(str(config['mirror']))}")
    return " ".join(args)


def manifest_args(wildcards):
    """--paper-order (default on) and --mirror options of the manifest step."""
    opts = real_datasets().get(wildcards.dataset, {})
    args = []
    if opts.get("paper_order", True):
        args.append("--paper-order")
        if config.get("mirror"):
            args.append(f"--mirror {shlex.quote(str(config['mirror']))}")
    return " ".join(args)


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
