"""Evaluation: the authors' SVM grid search on one (task, extractor, combination) cell.

Protocol (Section 4.1 of the paper; the authors' code):

- a pipeline of optional standardisation (on/off is itself a grid parameter) and an
  SVC (classification) or SVR (regression);
- the grid: RBF kernel with C in {0.1, 2, 8, 32} and gamma in {2^-3, 2^-5, ..., 2^-13,
  1/n_features}, and the linear kernel with the same C: 2 x 32 = 64 settings;
- cross-validation: 10-fold StratifiedKFold (classification) or KFold (regression),
  without shuffling, or the dataset's predefined split / folds; the paper presets use
  the stratified folds of the authors' scikit-learn (:mod:`musictransfer.folds`);
- the score is the mean over folds of the best setting (``GridSearchCV.best_score_``):
  accuracy, or r2 for regression.

Every cell keeps the fold scores of all 64 settings and the test-fold sizes
(:meth:`CellResult.grid`), so a score under another reading of the same grid is a
read-out, not a refit (:data:`READINGS`, :func:`read_grid`): the paper as written (all
64 settings, plain mean over folds) and the authors' script as it ran (their scaler never
scaled, so only the 32 unscaled settings; and the scikit-learn of 2017 weighted the fold
mean by test-fold size).

:func:`sklearn_grid_search` is that protocol written as plain scikit-learn; it is the
baseline every faster implementation is tested against. :func:`evaluate_cell` runs the
same grid with :func:`musictransfer.svm_grid.fast_grid_search` (shared precomputed
kernels, an exact interior-point solver for linear fits libsvm cannot finish in its
iteration budget): see that module for what is identical and what is within tolerance.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR

from musictransfer.config import TaskSpec
from musictransfer.constants import EVALUATION_METHODS, SCALING, SVM_C, SVM_GAMMA
from musictransfer.errors import ConfigError
from musictransfer.folds import cv_splitter
from musictransfer.provenance import provenance
from musictransfer.readings import (
    grid_record,
)
from musictransfer.svm_grid import GridResult, check_features, fast_grid_search, grid_settings


@dataclass
class CellResult:
    """The outcome of one evaluation cell, as stored in its JSON file.

    ``score``, ``best_params`` and ``fold_scores`` are the paper's reading; ``grid``
    holds every setting's fold scores and the test-fold sizes, from which
    :func:`read_grid` gives any other reading; ``provenance`` says which code made it.
    ``solver`` records how the :data:`~musictransfer.constants.EVALUATION_METHODS` entry
    searched the grid: ``libsvm`` for 'sklearn' (plain ``GridSearchCV``),
    ``libsvm-precomputed`` (``+ipm`` where the interior-point solver took over linear
    fits) for 'fast'.
    """

    task: str
    extractor: str
    combo: str
    metric: str
    score: float
    best_params: dict[str, Any]
    fold_scores: list[float]
    n_clips: int
    n_features: int
    cv: dict[str, Any]
    fit_time_s: float
    n_settings: int
    solver: str = "libsvm"
    extra: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=provenance)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return asdict(self)


def param_grid() -> list[dict[str, list[Any]]]:
    """The authors' grid as scikit-learn ``GridSearchCV`` parameter dictionaries.

    Standardisation is the ``scaler`` step: a ``StandardScaler`` or ``'passthrough'``.
    """
    scalers = [StandardScaler() if on else "passthrough" for on in SCALING]
    return [
        {
            "scaler": scalers,
            "svm__kernel": ["rbf"],
            "svm__C": list(SVM_C),
            "svm__gamma": list(SVM_GAMMA),
        },
        {"scaler": scalers, "svm__kernel": ["linear"], "svm__C": list(SVM_C)},
    ]


def sklearn_grid_search(
    X: np.ndarray, y: np.ndarray, task: TaskSpec, groups: np.ndarray | None = None, n_jobs: int = 1
) -> GridSearchCV:
    """The authors' protocol as plain scikit-learn: a fitted ``GridSearchCV``."""
    estimator = SVC() if task.type == "classification" else SVR()
    search = GridSearchCV(
        Pipeline([("scaler", "passthrough"), ("svm", estimator)]),
        param_grid(),
        cv=cv_splitter(task.cv, task.type, groups),
        n_jobs=n_jobs,
        refit=False,
        error_score="raise",
    )
    return search.fit(X, y)


def describe_params(params: dict[str, Any], n_features: int) -> dict[str, Any]:
    """Readable best parameters: scaling on/off, kernel, C, gamma (as a number)."""
    gamma = params.get("svm__gamma")
    return {
        "scale": not isinstance(params["scaler"], str),
        "kernel": params["svm__kernel"],
        "C": float(params["svm__C"]),
        "gamma": None if gamma is None else (1.0 / n_features if gamma == "auto" else float(gamma)),
    }


def run_fast_grid(
    X: np.ndarray,
    y: np.ndarray,
    task: TaskSpec,
    groups: np.ndarray | None = None,
    n_jobs: int = 1,
    linear_solver: str = "auto",
    folds: Sequence[int] | None = None,
) -> GridResult:
    """The protocol's grid, with the task's folds (or the ``folds`` among them)."""
    splits = list(cv_splitter(task.cv, task.type, groups).split(X, y))
    if folds is not None:
        splits = [splits[k] for k in folds]
    return fast_grid_search(
        X,
        y,
        splits,
        grid_settings(param_grid()),
        is_classifier=task.type == "classification",
        n_jobs=n_jobs,
        linear_solver=linear_solver,
    )


def evaluate_cell(
    X: np.ndarray,
    y: np.ndarray,
    task: TaskSpec,
    extractor: str,
    combo: str,
    groups: np.ndarray | None = None,
    n_jobs: int = 1,
    method: str = "fast",
    linear_solver: str = "auto",
) -> CellResult:
    """Run the grid search on one cell and summarise it.

    Parameters
    ----------
    method
        'fast' (default): :func:`musictransfer.svm_grid.fast_grid_search`;
        'sklearn': plain ``GridSearchCV`` (:func:`sklearn_grid_search`).
    linear_solver
        For 'fast': 'auto', 'libsvm' or 'ipm' (see :func:`fast_grid_search`).
    """
    if method not in EVALUATION_METHODS:
        raise ConfigError(
            f"unknown evaluation method {method!r}", f"use one of {EVALUATION_METHODS}"
        )
    start = time.perf_counter()
    if method == "sklearn":
        check_features(np.asarray(X, dtype=np.float64))  # the fast grid checks its own input
        search = sklearn_grid_search(X, y, task, groups, n_jobs=n_jobs)
        best = search.best_index_
        results = search.cv_results_
        all_folds = np.array([results[f"split{k}_test_score"] for k in range(search.n_splits_)]).T
        folds = [float(v) for v in all_folds[best]]
        score, params = float(search.best_score_), search.best_params_
        n_settings, solver, extra = len(results["params"]), "libsvm", {}
        splitter = cv_splitter(task.cv, task.type, groups)
        sizes = [len(test) for _, test in splitter.split(X, y)]
        settings = grid_settings([{k: [v] for k, v in p.items()} for p in results["params"]])
        grid = grid_record(settings, all_folds, sizes, np.zeros(all_folds.shape, bool))
    else:
        grid = run_fast_grid(X, y, task, groups, n_jobs=n_jobs, linear_solver=linear_solver)
        return summarise_grid(grid, task, extractor, combo, X.shape, time.perf_counter() - start)
    elapsed = time.perf_counter() - start
    _require_finite(score, folds, task, extractor, combo)
    return CellResult(
        task=task.name,
        extractor=extractor,
        combo=combo,
        metric=task.metric,
        score=score,
        best_params=describe_params(params, X.shape[1]),
        fold_scores=folds,
        n_clips=int(X.shape[0]),
        n_features=int(X.shape[1]),
        cv=asdict(task.cv),
        fit_time_s=round(elapsed, 3),
        n_settings=n_settings,
        solver=solver,
        extra=extra,
        grid=grid,
    )


def summarise_grid(
    grid: GridResult,
    task: TaskSpec,
    extractor: str,
    combo: str,
    shape: tuple[int, int],
    elapsed: float,
) -> CellResult:
    """The cell's result from the fold scores of every setting (GridSearchCV's choice)."""
    best = grid.best_index
    _require_finite(grid.mean_scores[best], grid.scores[best], task, extractor, combo)
    return CellResult(
        task=task.name,
        extractor=extractor,
        combo=combo,
        metric=task.metric,
        score=float(grid.mean_scores[best]),
        best_params=describe_params(grid_params(grid, best), shape[1]),
        fold_scores=[float(v) for v in grid.scores[best]],
        n_clips=int(shape[0]),
        n_features=int(shape[1]),
        cv=asdict(task.cv),
        fit_time_s=round(elapsed, 3),
        n_settings=len(grid.settings),
        solver="libsvm-precomputed" + ("+ipm" if grid.n_ipm_fits else ""),
        extra={"n_ipm_fits": grid.n_ipm_fits, "best_solvers": sorted(set(grid.solvers[best]))},
        grid=grid_record(grid.settings, grid.scores, grid.fold_sizes, grid.solvers == "ipm"),
    )


def _require_finite(
    score: float, folds: Sequence[float], task: TaskSpec, extractor: str, combo: str
) -> None:
    """Refuse a best score that is not a number (a fold without a score, an empty side).

    The data checks of :func:`check_task_data` should make this unreachable; it stays as
    the last guard so that a NaN never reaches a cell's file, the table or a figure.
    """
    if not np.isfinite(score) or not np.all(np.isfinite(np.asarray(folds, dtype=float))):
        raise ConfigError(
            f"cell {task.name}/{extractor}/{combo}: the grid search gave no finite "
            f"{task.metric} (best setting's fold scores {[float(v) for v in folds]})",
            "check the task's target and cv in the config against its manifest",
        )


# --- A cell split by folds, for clusters with many nodes ------------------------------


def fold_part(n_folds: int, part: int, n_parts: int) -> list[int]:
    """The folds of part ``part`` (0-based) of ``n_parts``: every n_parts-th fold.

    Round-robin rather than contiguous blocks, so that parts stay balanced when folds
    differ in size (UrbanSound8K's). A part may be empty when there are more parts than
    folds (a predefined split has one fold).
    """
    if not 0 <= part < n_parts:
        raise ConfigError(f"fold part {part} does not exist among {n_parts} parts")
    return list(range(part, n_folds, n_parts))


def evaluate_fold_part(
    X: np.ndarray,
    y: np.ndarray,
    task: TaskSpec,
    part: int,
    n_parts: int,
    groups: np.ndarray | None = None,
    n_jobs: int = 1,
) -> dict[str, Any]:
    """Fold scores of every grid setting on one part of a cell's folds.

    The JSON-ready result holds the fold indices, the total number of folds, and the
    (settings x part folds) scores and solvers; :func:`merge_fold_parts` combines the
    parts into exactly the result :func:`evaluate_cell` gives for the whole cell.
    """
    start = time.perf_counter()
    n_folds = cv_splitter(task.cv, task.type, groups).get_n_splits(X, y, groups)
    folds = fold_part(n_folds, part, n_parts)
    grid = run_fast_grid(X, y, task, groups, n_jobs=n_jobs, folds=folds) if folds else None
    return {
        "task": task.name,
        "folds": folds,
        "n_folds": int(n_folds),
        "n_clips": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "scores": grid.scores.tolist() if grid else [],
        "solvers": grid.solvers.tolist() if grid else [],
        "fold_sizes": grid.fold_sizes.tolist() if grid else [],
        "fit_time_s": round(time.perf_counter() - start, 3),
    }


def merge_fold_parts(
    parts: Sequence[dict[str, Any]], task: TaskSpec, extractor: str, combo: str
) -> CellResult:
    """The cell's result from its fold parts (see :func:`evaluate_fold_part`).

    Raises
    ------
    ConfigError
        If the parts do not cover every fold of the cell exactly once, or come from
        cells of different sizes.
    """
    settings = grid_settings(param_grid())
    sizes = {(p["n_folds"], p["n_clips"], p["n_features"]) for p in parts}
    if len(sizes) != 1:
        raise ConfigError(
            f"the fold parts of {task.name}/{extractor}/{combo} come from different cells",
            "rerun the cell's fold jobs",
        )
    n_folds, n_clips, n_features = sizes.pop()
    covered = sorted(k for p in parts for k in p["folds"])
    if covered != list(range(n_folds)):
        raise ConfigError(
            f"the fold parts of {task.name}/{extractor}/{combo} cover folds {covered}, "
            f"not 0..{n_folds - 1} once each",
            "rerun the cell's fold jobs",
        )
    scores = np.full((len(settings), n_folds), np.nan)
    solvers = np.full((len(settings), n_folds), "", dtype=object)
    sizes = np.zeros(n_folds, dtype=int)
    for p in parts:
        for column, k in enumerate(p["folds"]):
            scores[:, k] = [row[column] for row in p["scores"]]
            solvers[:, k] = [row[column] for row in p["solvers"]]
            sizes[k] = p["fold_sizes"][column]
    grid = GridResult(
        settings, scores, solvers, n_ipm_fits=int(np.sum(solvers == "ipm")), fold_sizes=sizes
    )
    elapsed = sum(p["fit_time_s"] for p in parts)
    return summarise_grid(grid, task, extractor, combo, (n_clips, n_features), elapsed)


def grid_params(grid: GridResult, index: int) -> dict[str, Any]:
    """A setting of a :class:`GridResult` as ``GridSearchCV``'s ``params`` dictionary."""
    s = grid.settings[index]
    params: dict[str, Any] = {
        "scaler": StandardScaler() if s.scale else "passthrough",
        "svm__kernel": s.kernel,
        "svm__C": s.C,
    }
    if s.gamma is not None:
        params["svm__gamma"] = s.gamma
    return params
