"""Glue between workflow files and the package's functions: one function per rule.

The functions here read a step's input files, call the logic in the stage modules and
write the step's output, so that the CLI stays a thin argument parser and the stage
modules stay free of file-layout concerns.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from musictransfer._typing import PathLike
from musictransfer.config import TaskSpec, task_spec
from musictransfer.datasets.manifest import align_rows, read_manifest
from musictransfer.errors import ConfigError
from musictransfer.evaluation import evaluate_cell, evaluate_fold_part, merge_fold_parts
from musictransfer.featurefile import load_features, select_combo
from musictransfer.outputs import write_json
from musictransfer.taskdata import check_task, task_targets

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)
"""One line per evaluated cell for the job's log."""


def evaluate_cell_files(
    task: dict[str, Any] | TaskSpec,
    extractor: str,
    combo: str,
    manifest: PathLike,
    convnet: PathLike | None,
    mfcc: PathLike | None,
    out: PathLike,
    threads: int = 1,
    fold_part: tuple[int, int] | None = None,
    method: str = "fast",
) -> dict[str, Any]:
    """Evaluate one cell from feature files and a manifest; write its JSON result.

    With ``fold_part = (part, n_parts)`` only that part of the cell's folds is searched
    and the JSON holds its fold scores, for :func:`merge_cell_files`. ``method`` is
    :func:`~musictransfer.evaluation.evaluate_cell`'s: 'fast' (default) or 'sklearn'
    (plain scikit-learn ``GridSearchCV``, whose cell records ``solver: libsvm``).
    """
    if fold_part is not None and method != "fast":
        raise ConfigError(
            f"fold parts split the fast method's search only, not method {method!r}",
            "evaluate the whole cell with method 'sklearn', or its folds with 'fast'",
        )
    spec = task if isinstance(task, TaskSpec) else task_spec(task)
    X, y, groups, _ = load_cell(spec, extractor, combo, manifest, convnet, mfcc)
    if fold_part is None:
        result = evaluate_cell(
            X, y, spec, extractor, combo, groups=groups, n_jobs=threads, method=method
        )
        data = result.to_dict()
        _log_cell(data)
    else:
        part, n_parts = fold_part
        data = evaluate_fold_part(X, y, spec, part, n_parts, groups=groups, n_jobs=threads)
    write_json(out, data)
    return data


def evaluate_cells_files(
    task: dict[str, Any] | TaskSpec,
    extractor: str,
    combos: Sequence[str],
    manifest: PathLike,
    convnet: PathLike | None,
    mfcc: PathLike | None,
    outs: Sequence[PathLike],
    threads: int = 1,
    method: str = "fast",
) -> list[dict[str, Any]]:
    """Evaluate several cells of one (task, extractor) in one process, one file each.

    A demo-sized cell's grid search takes about a second, less than starting a Python
    process that imports scikit-learn; batching the cells of a (task, extractor) into one
    job (config ``batch_cells``) pays that start-up once. Each cell is loaded, searched
    and written by :func:`evaluate_cell_files`, one after the other; ``combos`` and
    ``outs`` pair up one to one (the CLI reports a mismatch to the user).
    """
    spec = task if isinstance(task, TaskSpec) else task_spec(task)
    return [
        evaluate_cell_files(
            spec, extractor, combo, manifest, convnet, mfcc, out, threads, method=method
        )
        for combo, out in zip(combos, outs, strict=True)
    ]


def _log_cell(data: dict[str, Any]) -> None:
    """One line per cell for the job's log: which cell, its score, setting and time."""
    log.info(
        "%s/%s/%s: %s %.4f, best %s, %.1f s",
        data["task"],
        data["extractor"],
        data["combo"],
        data["metric"],
        data["score"],
        data["best_params"],
        data["fit_time_s"],
    )


def merge_cell_files(
    parts: list[PathLike],
    task: dict[str, Any] | TaskSpec,
    extractor: str,
    combo: str,
    out: PathLike,
) -> dict[str, Any]:
    """Merge a cell's fold parts into its JSON result, as if evaluated in one job."""
    spec = task if isinstance(task, TaskSpec) else task_spec(task)
    loaded = []
    for path in parts:
        with open(path) as f:
            loaded.append(json.load(f))
    data = merge_fold_parts(loaded, spec, extractor, combo).to_dict()
    write_json(out, data)
    return data


def check_task_file(
    task: dict[str, Any] | TaskSpec, manifest: PathLike, out: PathLike | None = None
) -> dict[str, Any]:
    """Check a task against its dataset's manifest; write the summary to ``out``."""
    spec = task if isinstance(task, TaskSpec) else task_spec(task)
    frame = read_manifest(manifest, required=("id",))
    summary = check_task(spec, frame, manifest)
    if out is not None:
        write_json(out, summary)
    return summary


def load_cell(
    spec: TaskSpec,
    extractor: str,
    combo: str,
    manifest: PathLike,
    convnet: PathLike | None,
    mfcc: PathLike | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """A cell's feature matrix, targets, split column and clip ids, rows aligned by id.

    The manifest is checked against the task first (:func:`check_task`: columns, missing
    values with the file's line numbers, classes, folds), before any feature is read.
    """
    frame = read_manifest(manifest, required=("id",))
    check_task(spec, frame, manifest)
    conv = ids = mf = None
    if convnet is not None:
        conv, ids = load_features(convnet)
    if mfcc is not None:
        mf, mfcc_ids = load_features(mfcc)
        if ids is not None and list(ids) != list(mfcc_ids):
            raise ConfigError(f"{convnet} and {mfcc} list different clips or orders")
        ids = mfcc_ids
    if ids is None:
        raise ConfigError(f"cell {spec.name}/{extractor}/{combo} has no feature file")
    X = select_combo(combo, conv, mf)
    rows = align_rows(ids, frame, manifest)
    y, groups = task_targets(spec, rows, manifest)
    return X, y, groups, ids
