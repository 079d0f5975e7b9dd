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

import numpy as np

from musictransfer._typing import PathLike
from musictransfer.config import TaskSpec, task_spec
from musictransfer.datasets.manifest import read_manifest
from musictransfer.errors import ConfigError
from musictransfer.evaluation import evaluate_cell, evaluate_fold_part, merge_fold_parts
from musictransfer.featurefile import FeatureSet, combo_matrix, load_feature_set
from musictransfer.fetching import file_hash
from musictransfer.outputs import write_json
from musictransfer.taskdata import check_task, task_targets

if TYPE_CHECKING:
    import pandas as pd

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
        data.update(extractor=extractor, combo=combo)
    data["inputs"] = feature_inputs(convnet, mfcc)
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
    cell = {"task": spec.name, "extractor": extractor, "combo": combo}
    first_inputs = loaded[0].get("inputs") if loaded else None
    for path, part in zip(parts, loaded, strict=True):
        for key, want in cell.items():
            if part.get(key) != want:
                raise ConfigError(
                    f"fold part {path} belongs to another cell: its {key} is "
                    f"{part.get(key)!r}, not {want!r}",
                    "rerun the cell's fold jobs",
                )
        if part.get("inputs") != first_inputs:
            raise ConfigError(
                f"fold part {path} was computed from other feature files than {parts[0]} "
                "(their SHA-256 differ)",
                "rerun the cell's fold jobs",
            )
    data = merge_fold_parts(loaded, spec, extractor, combo).to_dict()
    data["inputs"] = first_inputs or []
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
    """A cell's feature matrix, targets, split column and clip ids, in the manifest's order.

    The manifest is checked against the task first (:func:`check_task`: columns, missing
    values with the file's line numbers, classes, folds), before any feature is read.
    Features are joined to it by id (:meth:`~musictransfer.featurefile.FeatureSet.aligned`):
    the manifest's order decides the folds, whatever order the extraction wrote.
    """
    frame = read_manifest(manifest, required=("id",))
    check_task(spec, frame, manifest)
    sets = {
        name: load_feature_set(path)
        for name, path in (("features", convnet), ("mfcc", mfcc))
        if path is not None
    }
    if not sets:
        raise ConfigError(f"cell {spec.name}/{extractor}/{combo} has no feature file")
    return cell_data(spec, combo, frame, manifest, sets.get("features"), sets.get("mfcc"))


def cell_data(
    spec: TaskSpec,
    combo: str,
    frame: pd.DataFrame,
    source: object,
    features: FeatureSet | None,
    mfcc: FeatureSet | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """:func:`load_cell` once read: the same rows, matrix and targets from memory.

    The one place where a cell's features meet its labels, for the workflow's files and
    for the Python API (:mod:`musictransfer.api`), so both give the same numbers.
    ``frame`` must have been checked against the task (:func:`check_task`).
    """
    ids = frame["id"].astype(str).to_numpy()
    features = features.aligned(ids, source) if features is not None else None
    mfcc = mfcc.aligned(ids, source) if mfcc is not None else None
    X = combo_matrix(combo, features, mfcc)
    y, groups = task_targets(spec, frame, source)
    return X, y, groups, ids


def feature_inputs(convnet: PathLike | None, mfcc: PathLike | None) -> list[dict[str, Any]]:
    """What a cell's numbers were computed from: each feature file, its SHA-256, maker.

    Recorded in every cell, so that a score names the exact features (and, for a
    representation brought by the user, the module, options and model file, or the
    imported file) it came from, and fold parts of different features are never merged.
    """
    records = []
    for role, path in (("features", convnet), ("mfcc", mfcc)):
        if path is None:
            continue
        record: dict[str, Any] = {"role": role, "sha256": file_hash(path)}
        # Only the small arrays: the features were loaded (and checked) by load_cell.
        with np.load(path, allow_pickle=False) as data:
            record["extractor"] = str(data["extractor"]) if "extractor" in data.files else ""
            if "representation" in data.files:
                record["representation"] = json.loads(str(data["representation"]))
        records.append(record)
    return records
