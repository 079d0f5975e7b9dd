"""Memory and time an evaluation cell needs, for the workflow's job resources.

The fast grid search (:mod:`musictransfer.svm_grid`) holds, per worker, the training
fold's n x n distance and kernel matrices (float64) and libsvm's state, so its peak
memory grows with the square of the training clips: :data:`MATRICES_PER_WORKER` such
matrices, calibrated on the measured peak of UrbanSound8K's largest fold. Its time
grows with the square of the clips as well, scaled from a measured UrbanSound8K cell
(:data:`CPU_MINUTES_AT_REFERENCE`), with :data:`TIME_SAFETY` headroom because nodes
differ in speed. The measurements themselves are in docs/performance.md.

:func:`accelerator_for` says what a job's resources ask of its command (a GPU).

Standard library only: the Snakefile imports this module in Snakemake's own Python.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

MATRICES_PER_WORKER: float = 4.5
"""n x n float64 matrices a grid worker holds at its peak (calibrated, see above)."""

BASE_MEMORY_MB: int = 1000
"""Interpreter, libraries and the feature matrix."""

CPU_MINUTES_AT_REFERENCE: float = 25.0
"""CPU time of a cell at :data:`REFERENCE_CLIPS` clips (UrbanSound8K, measured)."""

REFERENCE_CLIPS: int = 8732

TIME_SAFETY: float = 2.0
"""Headroom over the measured time: a slower node must not hit the job's time limit."""


def grid_memory_mb(n_clips: int, workers: int = 1) -> int:
    """Peak memory (MB) of a grid search over ``n_clips`` clips with ``workers`` workers.

    A fold trains on at most ``n_clips`` clips, so this bounds every fold.
    """
    per_worker = MATRICES_PER_WORKER * 8 * n_clips**2 / 1e6
    return BASE_MEMORY_MB + math.ceil(max(1, workers) * per_worker)


def grid_runtime_min(n_clips: int, workers: int = 1) -> int:
    """Wall-time limit (minutes) of a grid search, with :data:`TIME_SAFETY` headroom."""
    cpu = CPU_MINUTES_AT_REFERENCE * (n_clips / REFERENCE_CLIPS) ** 2
    return 5 + math.ceil(TIME_SAFETY * cpu / max(1, workers))


def count_rows(csv_path: str | os.PathLike[str]) -> int:
    """Data rows of a manifest (lines after the header): the clips a cell evaluates."""
    with open(csv_path, "rb") as f:
        return max(0, sum(1 for _ in f) - 1)


def accelerator_for(resources: Mapping[str, Any]) -> str:
    """``gpu`` if a job's resources ask for a GPU, else ``auto``: ``train --accelerator``.

    The SLURM profile gives ``train_tagger`` ``gpu: 1`` (``sbatch --gpus=1``); where such
    a job lands without a usable CUDA (no GPU allocated, a CPU-only PyTorch, a driver
    mismatch), training must fail rather than quietly take fifty times longer on the
    CPU. Without a GPU request (the local demo) it uses CUDA when there is one.
    ``gres`` (``--gres=gpu:1``) counts as a request too.
    """
    try:
        gpus = float(resources.get("gpu") or 0)
    except (TypeError, ValueError):
        gpus = 1.0  # a value such as "a100:1": a GPU was asked for
    gres = str(resources.get("gres") or "")
    return "gpu" if gpus > 0 or "gpu" in gres.lower() else "auto"


def training_job(training: Mapping[str, Any]) -> dict[str, Any]:
    """The SLURM plugin's resources of a tagger training over several nodes.

    One node needs nothing here: Lightning starts one process per device inside the
    job's single task (its GPUs are the profile's ``gpu``). Several nodes need one task
    per device on every node, started by the job's own ``srun`` (:func:`training_launcher`):
    the plugin's ``mpi`` resource tells it not to wrap the command in a one-task ``srun``
    of its own. The plugin refuses ``tasks_per_node: 1``, so one device per node is asked
    as one task per GPU instead.

    Parameters
    ----------
    training
        The experiment's ``training`` block, defaults filled (``devices``, ``num_nodes``).
    """
    nodes, devices = int(training["num_nodes"]), int(training["devices"])
    if nodes == 1:
        return {}
    per_node = {"tasks_per_node": devices} if devices > 1 else {"tasks": nodes, "tasks_per_gpu": 1}
    return {"nodes": nodes, "mpi": "srun", **per_node}


def training_launcher(training: Mapping[str, Any]) -> str:
    """Prefix of the training command: ``srun`` for several nodes (see :func:`training_job`)."""
    return "srun " if int(training["num_nodes"]) > 1 else ""
