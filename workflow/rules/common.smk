"""Paths, wildcard constraints and input functions shared by every rule."""

import json
import os
import shlex
import sys
from dataclasses import asdict
from pathlib import Path

from musictransfer.config import EXTRACTOR_PATTERN, DatasetOptions, is_choi2017
from musictransfer.sizing import (
    accelerator_for,
    count_rows,
    grid_memory_mb,
    grid_runtime_min,
)

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
# MALLOC_MMAP_THRESHOLD_: glibc's malloc keeps freed blocks up to 32 MiB for reuse instead
# of unmapping them; PyTorch's per-batch activations otherwise page-fault fresh memory at
# every batch (demo 'dance' extraction: 10 s of system time -> 1.5 s, 18 s -> 12 s per
# job). It must be in the environment when the process starts; other C libraries ignore it.
shell.prefix(
    f"set -euo pipefail; export PYTHONPATH={shlex.quote(SRC)}; "
    "export MALLOC_MMAP_THRESHOLD_=33554432; "
)


wildcard_constraints:
    dataset=r"[A-Za-z0-9_]+",
    source=r"[A-Za-z0-9_]+",
    task=r"[A-Za-z0-9_]+",
    extractor=EXTRACTOR_PATTERN,
    combo=r"[1-5]+|mfcc|mfcc\+12345",
    part=r"\d+",


def demo_datasets():
    """Datasets that generate_demo synthesises in this experiment."""
    return list(EXP.demo.n_clips) if EXP.demo else []


# Real datasets are downloaded once for all experiments, below `data` (default data/).
DATA = str(config.get("data") or "data")


def raw_manifest(wildcards):
    """The manifest of a dataset's raw audio, by where the dataset comes from."""
    return raw_manifest_of(wildcards.dataset)


def raw_manifest_of(dataset):
    """A dataset's raw-audio manifest: the first file holding its labels, folds, splits."""
    if dataset in demo_datasets():
        return f"{R}/raw/{dataset}/manifest.csv"
    if dataset in EXP.datasets:
        return f"{R}/manifests/{dataset}.csv"
    raise ValueError(
        f"dataset {dataset!r} of experiment {EXP.name!r} has no source: "
        "add it to the experiment's 'demo.n_clips' or 'datasets'"
    )


def task_manifest(wildcards):
    """The manifest check_task reads: the first one with the task's labels."""
    dataset = EXP.tasks[wildcards.task].dataset
    if released_features():
        return labels_manifest(dataset)
    return raw_manifest_of(dataset)


def mirror_option():
    """The --mirror option of every job that reads local copies, or nothing without one.

    The path as written in the config (not normalised): it is part of the jobs' params.
    """
    mirror = config.get("mirror")
    return f"--mirror {shlex.quote(str(mirror))}" if mirror else ""


def download_args(wildcards):
    """--data-dir / --mirror options of the download step (a copy on disk wins)."""
    opts = EXP.datasets.get(wildcards.dataset, DatasetOptions())
    data_dir = f"--data-dir {shlex.quote(str(opts.data_dir))}" if opts.data_dir else ""
    return " ".join(arg for arg in (data_dir, mirror_option()) if arg)


def manifest_args(wildcards):
    """--paper-order (default on) and --mirror options of the manifest step."""
    opts = EXP.datasets.get(wildcards.dataset, DatasetOptions())
    if not opts.paper_order:
        return ""
    return " ".join(arg for arg in ("--paper-order", mirror_option()) if arg)


def released_features():
    """Whether this experiment reads the authors' released features instead of audio."""
    return EXP.released_features


def labels_manifest(dataset):
    """The manifest holding a dataset's labels, folds and splits."""
    if released_features():
        return f"{R}/labels/{dataset}.csv"
    return f"{R}/prepared/{dataset}/manifest.csv"


def choi2017_batch_order_option():
    """--batch-order COLUMN (with a trailing space) where the choi2017 block sets one.

    Empty otherwise, so that experiments without it keep their shell command (and are
    not rerun).
    """
    column = EXP.choi2017.batch_order
    return f"--batch-order {shlex.quote(column)} " if column else ""


def convnet_features(extractor, dataset):
    return f"{R}/features/{extractor}/{dataset}.npz"


def mfcc_features(dataset):
    return f"{R}/features/mfcc/{dataset}.npz"


def task_json(task):
    """A task's specification as JSON, passed to the job (and tracked as a param)."""
    return EXP.tasks[task].to_json()


def evaluation_inputs(task, extractor, combos):
    """Feature files and labels that the cells of these combinations need together."""
    dataset = EXP.tasks[task].dataset
    inputs = {"manifest": labels_manifest(dataset)}
    if any(c != "mfcc" for c in combos):
        inputs["features"] = convnet_features(extractor, dataset)
    if any(c.startswith("mfcc") for c in combos):
        inputs["mfcc"] = mfcc_features(dataset)
    return inputs


def cell_inputs(wildcards):
    """Feature files and labels one evaluation cell needs."""
    return evaluation_inputs(wildcards.task, wildcards.extractor, [wildcards.combo])


def batch_cells_combos():
    """Combinations evaluated together per (task, extractor) when batch_cells is on.

    A rule's outputs cannot depend on a wildcard, so the batch holds the combinations
    every extractor of the experiment has (the demo's 31 convnet ones); any others
    (the MFCC baselines) stay one job per cell.
    """
    if not EXP.batch_cells:
        return []
    common = set.intersection(*(set(c) for c in EXP.extractors.values()))
    return [c for c in next(iter(EXP.extractors.values())) if c in common]


def batch_inputs(wildcards):
    """Feature files and labels of a batch: what its cells need together."""
    return evaluation_inputs(wildcards.task, wildcards.extractor, batch_cells_combos())


def batch_runtime(wildcards, input, threads):
    """Time limit (minutes) of a batch: its cells one after the other."""
    return len(batch_cells_combos()) * cell_runtime(wildcards, input, threads)


def cell_mem_mb(wildcards, input, threads):
    """Memory of an evaluation job: grows with the square of the dataset's clips."""
    return grid_memory_mb(count_rows(input.manifest), threads)


def cell_runtime(wildcards, input, threads):
    """Time limit (minutes) of an evaluation job, from the dataset's size."""
    return grid_runtime_min(count_rows(input.manifest), threads)


def cell_feature_args(wildcards, input):
    """Command-line options naming a cell's feature files."""
    args = []
    if "features" in input.keys():
        args.append(f"--features {shlex.quote(input.features)}")
    if "mfcc" in input.keys():
        args.append(f"--mfcc {shlex.quote(input.mfcc)}")
    return " ".join(args)


def selected_tasks():
    """The experiment's tasks, restricted to config `only_tasks` where that is set."""
    only = config.get("only_tasks")
    if not only:
        return list(EXP.tasks)
    unknown = [t for t in only if t not in EXP.tasks]
    if unknown:
        raise ValueError(
            f"only_tasks names {unknown} that experiment {EXP.name!r} does not have; "
            f"its tasks: {', '.join(EXP.tasks)}"
        )
    return [t for t in EXP.tasks if t in only]


def skipped_cells():
    """Cells that cannot be run, with why: MFCC ones of datasets without released MFCC."""
    if not released_features():
        return []
    from musictransfer.datasets.paper import released_dataset

    return [
        f"{t}/{e}/{c} (no released MFCC file for {EXP.tasks[t].dataset})"
        for t, e, c in EXP.cells()
        if t in selected_tasks()
        and c.startswith("mfcc")
        and released_dataset(EXP.tasks[t].dataset).mfcc is None
    ]


def selected_cells():
    """The (task, extractor, combo) cells this run evaluates."""
    skipped = {s.split(" ")[0] for s in skipped_cells()}
    tasks = selected_tasks()
    return [
        (t, e, c)
        for t, e, c in EXP.cells()
        if t in tasks and f"{t}/{e}/{c}" not in skipped
    ]


def score_cells():
    return [f"{R}/scores/{t}/{e}/{c}.json" for t, e, c in selected_cells()]


def references():
    """Per task, the published score to compare with (and its combination and label)."""
    return {
        task: asdict(EXP.references[task])
        for task in selected_tasks()
        if task in EXP.references
    }


def report_extra():
    """Facts for the report beyond the score table: description, notes, skipped cells."""
    extra = {
        "description": EXP.description,
        "notes": list(EXP.notes),
        "skipped": skipped_cells(),
    }
    if config.get("machine"):
        extra["machine"] = config["machine"]
    return extra


def authors_tasks():
    """Selected tasks that name their counterpart in the authors' result files."""
    return {t: EXP.authors_tasks[t] for t in selected_tasks() if t in EXP.authors_tasks}


def authors_result_inputs(wildcards):
    """The authors' result files of every selected cell that has one."""
    from musictransfer.authors import RESULT_DIR, result_files

    tasks = authors_tasks()
    types = {t: EXP.tasks[t].type for t in tasks}
    combos = {c for t, e, c in selected_cells() if t in tasks}
    return [
        released_file(f"{RESULT_DIR}/{n}") for n in result_files(tasks, types, combos)
    ]


def authors_outputs():
    """The comparison with the authors' results, where the experiment has one."""
    if not authors_tasks():
        return {}
    return {
        "authors": f"{R}/tables/authors.csv",
        "authors_figure": f"{R}/figures/authors.png",
    }


def final_targets():
    return [
        f"{R}/tables/scores.csv",
        f"{R}/figures/summary.png",
        f"{R}/report.md",
        *authors_outputs().values(),
        *modern_outputs().values(),
        *task_checks(),
    ]


def task_checks():
    """check_task's summaries: each selected task checked against its dataset's labels."""
    return [f"{R}/checks/{task}.json" for task in selected_tasks()]


# --- The authors' released files (workflow/rules/paper.smk) ---------------------------

from musictransfer.datasets.paper import (
    RELEASED_DATASETS,
    WEIGHTS_THEANO,
    released_dataset,
)


def released_file(path):
    """Where download_paper_features puts a released file (mirror-layout path)."""
    return f"{R}/downloads/paper/{path}"


def released_convnet_inputs(wildcards):
    spec = released_dataset(wildcards.dataset)
    return {
        "csv": released_file(spec.csv),
        "layers": [released_file(p) for p in spec.layers],
    }


def released_mfcc_inputs(wildcards):
    spec = released_dataset(wildcards.dataset)
    if spec.mfcc is None:
        raise ValueError(f"the authors released no MFCC file for {wildcards.dataset}")
    return {"csv": released_file(spec.csv), "mfcc": released_file(spec.mfcc)}


# --- Today's protocols (workflow/rules/modern.smk) ------------------------------------


def protocols_mirror_option():
    """The --mirror option of fetch_protocol_file (config `protocols_mirror`), or nothing.

    The path as written in the config (not normalised): it is part of the jobs' params.
    """
    mirror = config.get("protocols_mirror")
    return f"--mirror {shlex.quote(str(mirror))}" if mirror else ""


def modern_tasks():
    """Selected tasks with a fixed split in the experiment's `modern` block."""
    if EXP.modern is None:
        return []
    return [t for t in selected_tasks() if t in EXP.modern.tasks]


def modern_split_inputs(wildcards):
    """A task's labels manifest and, for a published protocol, its table and split files."""
    from musictransfer.modern import split_files

    dataset = EXP.tasks[wildcards.task].dataset
    files = split_files(EXP.modern.tasks[wildcards.task])
    inputs = {"manifest": labels_manifest(dataset)}
    if files:
        inputs["released_csv"] = released_file(released_dataset(dataset).csv)
        inputs["files"] = [f"{R}/downloads/protocols/{f}" for f in files]
    return inputs


def modern_split_file_args(wildcards, input):
    """--released-csv / --files options of modern-split (none for a manifest column)."""
    if "released_csv" not in input.keys():
        return ""
    files = " ".join(shlex.quote(f) for f in input.files)
    return f"--released-csv {shlex.quote(input.released_csv)} --files {files}"


def probe_inputs(wildcards):
    """A probe's feature files and labels (as its cell's) and its task's split."""
    inputs = evaluation_inputs(wildcards.task, wildcards.extractor, [wildcards.combo])
    return {**inputs, "split": f"{R}/splits/{wildcards.task}.csv"}


def modern_probe_files():
    """Every probe's JSON: modern task x extractor x modern combination x probe kind."""
    skipped = {s.split(" ")[0] for s in skipped_cells()}
    tasks = modern_tasks()
    return [
        f"{R}/modern/{t}/{e}/{c}/{p}.json"
        for t in tasks
        for e in EXP.extractors
        for c in EXP.modern.combos
        for p in EXP.modern.probes
        if f"{t}/{e}/{c}" not in skipped
    ]


def modern_paper_cells():
    """The paper's cells of the modern combinations, of every selected task."""
    if EXP.modern is None:
        return []
    return [
        f"{R}/scores/{t}/{e}/{c}.json"
        for t, e, c in selected_cells()
        if c in EXP.modern.combos
    ]


def batch_boundary_entries():
    """(dataset, extractor) pairs whose convnet features get the batch-boundary test.

    With a `modern` block: the classification datasets of the selected tasks, with the
    authors' released features (extractor choi2017), or with every choi2017 extractor of
    an experiment from audio (each statistics mode, extracted here).
    """
    if EXP.modern is None:
        return []
    datasets = [
        EXP.tasks[t].dataset
        for t in selected_tasks()
        if EXP.tasks[t].type == "classification"
        and (not released_features() or EXP.tasks[t].dataset in RELEASED_DATASETS)
    ]
    extractors = [e for e in EXP.extractors if is_choi2017(e)]
    return [(d, e) for d in dict.fromkeys(datasets) for e in extractors]


def batch_boundary_batch_size():
    """Clips per extraction batch: the authors' 256 for their features, else the config's."""
    from musictransfer.batch_context import EXTRACTION_BATCH

    return EXTRACTION_BATCH if released_features() else EXP.choi2017.batch_size


def modern_outputs():
    """The modern table and figures, where the experiment has a `modern` block."""
    if EXP.modern is None:
        return {}
    outputs = {
        "modern": f"{R}/tables/modern.csv",
        "modern_paired": f"{R}/tables/modern_paired.csv",
        "modern_figure": f"{R}/figures/modern.png",
    }
    if batch_boundary_entries():
        outputs["batch_boundary"] = f"{R}/tables/batch_boundary.csv"
        outputs["batch_boundary_figure"] = f"{R}/figures/batch_boundary.png"
    return outputs


def modern_report_args(wildcards, input):
    """--modern / --modern-paired / --batch-boundary options of the report, where present."""
    options = {
        "modern": "--modern",
        "modern_paired": "--modern-paired",
        "batch_boundary": "--batch-boundary",
    }
    return " ".join(
        f"{flag} {shlex.quote(input[name])}"
        for name, flag in options.items()
        if name in input.keys()
    )
