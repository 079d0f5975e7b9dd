"""Input functions and the job environment, shared by every rule.

Which cells, batches, probes and checks exist is the Experiment's to say
(musictransfer.config.experiment), and where each file lives is the Layout's
(musictransfer.layout): the functions here only ask them.
"""

import json
import os
import re
import shlex
import sys
from pathlib import Path

from musictransfer.config import CELL_COMBO_PATTERN, CHOI2017_PATTERN
from musictransfer.config import TRAINED_PATTERN
from musictransfer.config.representations import env_file, interpreter
from snakemake_interface_executor_plugins.settings import DeploymentMethod

from musictransfer.datasets.paper import (
    RELEASED_DATASETS,
    WEIGHTS_THEANO,
    released_dataset,
)
from musictransfer.datasets.protocols import PROTOCOL_FILES, split_files
from musictransfer.sizing import (
    accelerator_for,
    count_rows,
    grid_memory_mb,
    grid_runtime_min,
    training_job,
    training_launcher,
)

L = EXPERIMENT.layout
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
    f"set -euo pipefail; export PYTHONPATH={shlex.quote(SRC)}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; "
    "export MALLOC_MMAP_THRESHOLD_=33554432; "
)


def one_of(values):
    """A wildcard constraint matching exactly these values (none: a pattern matching nothing)."""
    return "|".join(re.escape(v) for v in values) if values else "(?!)"


wildcard_constraints:
    dataset=r"[A-Za-z0-9_]+",
    source=r"[A-Za-z0-9_]+",
    task=r"[A-Za-z0-9_]+",
    extractor=EXPERIMENT.extractor_pattern,
    combo=CELL_COMBO_PATTERN,
    part=r"\d+",


# --- audio, labels and features -------------------------------------------------------


# config `shard_clips`: every dataset's store in shards, or none.
SHARDED = r"[A-Za-z0-9_]+" if EXPERIMENT.shard_clips else one_of([])
UNSHARDED = one_of([]) if EXPERIMENT.shard_clips else r"[A-Za-z0-9_]+"


def shard_files(dataset, kind):
    """The audio (or manifest) files of a sharded store's shards, once its plan exists."""
    plan = Path(checkpoints.plan_shards.get(dataset=dataset).output[0])
    names = json.loads(plan.read_text())["shards"]
    made = L.shard_audio if kind == "audio" else L.shard_manifest
    return [made(dataset, name) for name in names]


def prepared_audio(dataset):
    """A prepared store's audio: its one file, or every shard's."""
    if EXPERIMENT.shard_clips:
        return shard_files(dataset, "audio")
    return [L.prepared_audio(dataset)]


def raw_manifest(wildcards):
    """A dataset's raw-audio manifest: the demo's synthesis, or a real dataset's."""
    return EXPERIMENT.raw_manifest(wildcards.dataset)


def task_manifest(wildcards):
    """The manifest check_task reads: the first one with the task's labels."""
    return EXPERIMENT.first_labels(EXPERIMENT.tasks[wildcards.task].dataset)


labels_manifest = EXPERIMENT.labels_manifest
features_file = EXPERIMENT.features_file


FOLDER_DATASETS = [d for d, o in EXPERIMENT.datasets.items() if o.is_folder]
"""The user's own labelled audio folders (rule folder_manifest)."""
REGISTRY_DATASETS = [d for d, o in EXPERIMENT.datasets.items() if not o.is_folder]
"""Datasets of the registry, downloaded or read in place (rule dataset_manifest)."""


def representation_inputs(wildcards):
    """A HEAR representation's clips (the dataset's raw manifest), model file and decoded
    audio (where it declares its rate), if any."""
    spec = EXPERIMENT.representations[wildcards.extractor]
    inputs = {"manifest": raw_manifest(wildcards)}
    if spec.model_file:
        inputs["model_file"] = spec.model_file
    if spec.sample_rate:  # decoded once for every representation of this rate
        rate = str(spec.sample_rate)
        inputs["decoded"] = L.decoded_manifest(wildcards.dataset, rate)
        inputs["decoded_audio"] = L.decoded_audio(wildcards.dataset, rate)
    return inputs


def representation_args(wildcards):
    """The options of `musictransfer extract` that make a representation's features."""
    spec = EXPERIMENT.representations[wildcards.extractor]
    args = ["--representation", spec.hear, "--batch-size", str(spec.batch_size)]
    if spec.model_file:
        args += ["--model-file", spec.model_file]
    if spec.options:
        args += ["--options", json.dumps(spec.options, sort_keys=True)]
    args += ["--layers", *spec.layers] if spec.layers else ["--no-layers"]
    if spec.sample_rate:
        args += ["--decoded", L.decoded_dir(wildcards.dataset, str(spec.sample_rate))]
    return shlex.join(args)


USE_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method


def representation_python(wildcards):
    """The Python of a representation's extraction job: its `python` without --use-conda.

    Under --use-conda the job runs in the representation's conda env, whose own python
    is the one on PATH.
    """
    spec = EXPERIMENT.representations[wildcards.extractor]
    return "python" if USE_CONDA else interpreter(spec)


def representation_env(wildcards):
    """The conda env file of a representation's extraction job (its own, or the default)."""
    return env_file(EXPERIMENT.representations[wildcards.extractor], workflow.basedir)


def imported_features_inputs(wildcards):
    """A features source, its dataset's labels, and its sources for the other datasets."""
    spec = EXPERIMENT.representations[wildcards.extractor]
    datasets = dict.fromkeys(t.dataset for t in EXPERIMENT.tasks.values())
    return {
        "source": spec.features_path(wildcards.dataset),
        "manifest": labels_manifest(wildcards.dataset),
        "siblings": list(dict.fromkeys(spec.features_path(d) for d in datasets)),
    }


def mirror_args(key="mirror"):
    """The --mirror option of a job reading local copies (config `mirror`), or nothing.

    The path as written in the config (not normalised): it is part of the jobs' params.
    """
    value = config.get(key)
    return ["--mirror", str(value)] if value else []


def download_args(wildcards):
    """--data-dir / --mirror options of the download step (a copy on disk wins)."""
    opts = EXPERIMENT.datasets.get(wildcards.dataset)
    data_dir = ["--data-dir", str(opts.data_dir)] if opts and opts.data_dir else []
    return shlex.join(data_dir + mirror_args())


def manifest_args(wildcards):
    """--paper-order (default on) and --mirror options of the manifest step."""
    opts = EXPERIMENT.datasets.get(wildcards.dataset)
    if opts and not opts.paper_order:
        return ""
    return shlex.join(["--paper-order", *mirror_args()])


# --- evaluation -----------------------------------------------------------------------


def evaluation_inputs(task, extractor, combos):
    """Feature files and labels that the cells of these combinations need together."""
    dataset = EXPERIMENT.tasks[task].dataset
    inputs = {"manifest": labels_manifest(dataset)}
    if any(c != "mfcc" for c in combos):
        inputs["features"] = features_file(extractor, dataset)
    if any(c.startswith("mfcc") for c in combos):
        inputs["mfcc"] = features_file("mfcc", dataset)
    return inputs


def cell_inputs(wildcards):
    """Feature files and labels one evaluation cell needs."""
    return evaluation_inputs(wildcards.task, wildcards.extractor, [wildcards.combo])


def batch_inputs(wildcards):
    """Feature files and labels of a batch: what its cells need together."""
    return evaluation_inputs(
        wildcards.task, wildcards.extractor, EXPERIMENT.batch_combos
    )


def fold_parts(wildcards):
    """The fold parts a cell is merged from (config fold_jobs > 1)."""
    w = wildcards
    return [
        L.fold_part(w.task, w.extractor, w.combo, str(p))
        for p in range(EXPERIMENT.fold_jobs)
    ]


def feature_args(wildcards, input):
    """Command-line options naming a job's feature files (quoted)."""
    args = []
    for name in ("features", "mfcc"):
        if name in input.keys():
            args += [f"--{name}", input[name]]
    return shlex.join(args)


def task_json(wildcards):
    """A task's specification as JSON, passed to the job (and tracked as a param)."""
    return EXPERIMENT.tasks[wildcards.task].to_json()


def batch_runtime(wildcards, input, threads):
    """Time limit (minutes) of a batch: its cells one after the other."""
    return len(EXPERIMENT.batch_combos) * cell_runtime(wildcards, input, threads)


def cell_mem_mb(wildcards, input, threads):
    """Memory of an evaluation job: grows with the square of the dataset's clips."""
    return grid_memory_mb(count_rows(input.manifest), threads)


def cell_runtime(wildcards, input, threads):
    """Time limit (minutes) of an evaluation job, from the dataset's size."""
    return grid_runtime_min(count_rows(input.manifest), threads)


def score_cells():
    return [L.cell(c.task, c.extractor, c.combo) for c in EXPERIMENT.cells()]


# --- the authors' released files -------------------------------------------------------


def released_convnet_inputs(wildcards):
    spec = released_dataset(wildcards.dataset)
    return {
        "csv": L.paper_file(spec.csv),
        "layers": [L.paper_file(p) for p in spec.layers],
    }


def released_mfcc_inputs(wildcards):
    spec = released_dataset(wildcards.dataset)
    if spec.mfcc is None:
        raise ValueError(f"the authors released no MFCC file for {wildcards.dataset}")
    return {"csv": L.paper_file(spec.csv), "mfcc": L.paper_file(spec.mfcc)}


def authors_result_inputs(wildcards):
    """The authors' result files of every selected cell that has one."""
    from musictransfer.authors import RESULT_DIR, result_files

    tasks = EXPERIMENT.selected_authors_tasks()
    types = {t: EXPERIMENT.tasks[t].type for t in tasks}
    combos = {c.combo for c in EXPERIMENT.cells() if c.task in tasks}
    return [
        L.paper_file(f"{RESULT_DIR}/{n}") for n in result_files(tasks, types, combos)
    ]


# --- today's protocols ------------------------------------------------------------------


def split_inputs(wildcards):
    """A task's labels manifest and, for a published protocol, its table and split files."""
    dataset = EXPERIMENT.tasks[wildcards.task].dataset
    files = split_files(EXPERIMENT.protocols.tasks[wildcards.task].split)
    inputs = {"manifest": labels_manifest(dataset)}
    if files:
        inputs["released_csv"] = L.paper_file(released_dataset(dataset).csv)
        inputs["files"] = [L.protocol_file(f) for f in files]
    return inputs


def split_file_args(wildcards, input):
    """--released-csv / --files options of fixed-split (none for a manifest column)."""
    if "released_csv" not in input.keys():
        return ""
    return shlex.join(["--released-csv", input.released_csv, "--files", *input.files])


def probe_inputs(wildcards):
    """A probe's feature files and labels (as its cell's) and its task's split."""
    inputs = evaluation_inputs(wildcards.task, wildcards.extractor, [wildcards.combo])
    return {**inputs, "split": L.split(wildcards.task)}


# --- targets ----------------------------------------------------------------------------


def authors_outputs():
    """The comparison with the authors' results, where the experiment has one."""
    if not EXPERIMENT.selected_authors_tasks():
        return {}
    return {"authors": L.table("authors"), "authors_figure": L.figure("authors")}


def protocol_outputs():
    """Today's protocols' tables and figures, where the experiment has a `protocols` block."""
    if EXPERIMENT.protocols is None:
        return {}
    outputs = {
        "protocols": L.table("protocols"),
        "protocols_paired": L.table("protocols_paired"),
        "protocols_figure": L.figure("protocols"),
    }
    if EXPERIMENT.batch_boundary_entries():
        outputs["batch_boundary"] = L.table("batch_boundary")
        outputs["batch_boundary_figure"] = L.figure("batch_boundary")
    return outputs


def representation_files():
    """One feature file per representation brought by the user: what made its numbers."""
    first = EXPERIMENT.tasks[EXPERIMENT.selected_tasks[0]].dataset
    return [features_file(name, first) for name in EXPERIMENT.representations]


def report_inputs(wildcards):
    """What the report reads beyond the score table: authors' and protocols' tables."""
    inputs = {k: v for k, v in authors_outputs().items() if k == "authors"}
    if EXPERIMENT.representations:
        inputs["representations"] = representation_files()
    inputs.update(
        {
            k: v
            for k, v in protocol_outputs().items()
            if k in ("protocols", "protocols_paired", "batch_boundary")
        }
    )
    return inputs


def report_args(wildcards, input):
    """--authors / --protocols / --protocols-paired / --batch-boundary options, where present."""
    options = {
        "authors": "--authors",
        "protocols": "--protocols",
        "protocols_paired": "--protocols-paired",
        "batch_boundary": "--batch-boundary",
    }
    args = []
    for name, flag in options.items():
        if name in input.keys():
            args += [flag, input[name]]
    if "representations" in input.keys():
        args += ["--representations", *input.representations]
    return shlex.join(args)


def final_targets():
    return [
        L.table("scores"),
        L.figure("summary"),
        L.report(),
        *authors_outputs().values(),
        *protocol_outputs().values(),
        *[L.check(task) for task in EXPERIMENT.selected_tasks],
    ]
