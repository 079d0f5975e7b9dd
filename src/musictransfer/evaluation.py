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

:func:`reference_grid_search` is that protocol written as plain scikit-learn; it is the
reference every faster implementation is tested against. :func:`evaluate_cell` runs the
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
import pandas as pd
from sklearn.model_selection import GridSearchCV, KFold, PredefinedSplit, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR

from musictransfer.config import CVSpec, TaskSpec
from musictransfer.constants import SCALING, SVM_C, SVM_GAMMA
from musictransfer.errors import ConfigError, ManifestError
from musictransfer.folds import LegacyStratifiedKFold
from musictransfer.provenance import provenance
from musictransfer.readings import (
    grid_record,
)
from musictransfer.svm_grid import GridResult, fast_grid_search, grid_settings

METHODS = ("fast", "reference")
"""How :func:`evaluate_cell` searches the grid: our fast search, or plain GridSearchCV."""


@dataclass
class CellResult:
    """The outcome of one evaluation cell, as stored in its JSON file.

    ``score``, ``best_params`` and ``fold_scores`` are the paper's reading; ``grid``
    holds every setting's fold scores and the test-fold sizes, from which
    :func:`read_grid` gives any other reading; ``provenance`` says which code made it.
    ``solver`` records the :data:`METHODS` entry that searched the grid: ``libsvm`` for
    'reference' (plain ``GridSearchCV``), ``libsvm-precomputed`` (``+ipm`` where the
    interior-point solver took over linear fits) for 'fast'.
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


def cv_splitter(cv: CVSpec, task_type: str, groups: np.ndarray | None = None) -> Any:
    """A scikit-learn splitter for the task's cross-validation scheme.

    ``groups`` holds the manifest column named by ``cv.column`` for the predefined
    schemes: for ``predefined_split`` rows whose value is in ``cv.test`` form the test
    set and all others train; for ``predefined_folds`` each value is a fold.
    """
    if cv.scheme == "stratified_kfold":
        return StratifiedKFold(n_splits=cv.n_splits)
    if cv.scheme == "stratified_kfold_legacy":
        return LegacyStratifiedKFold(n_splits=cv.n_splits)
    if cv.scheme == "kfold":
        return KFold(n_splits=cv.n_splits)
    if groups is None:
        raise ValueError(f"the {cv.scheme} scheme needs the {cv.column!r} column")
    if missing_mask(groups).any():
        # astype(str) would turn a missing value into a split or fold of its own ('nan').
        raise ManifestError(f"the {cv.column!r} column has missing values", MISSING_HINT)
    values = np.asarray(groups).astype(str)
    if cv.scheme == "predefined_split":
        return PredefinedSplit(np.where(np.isin(values, list(cv.test)), 0, -1))
    if cv.scheme == "predefined_folds":
        _, fold_index = np.unique(values, return_inverse=True)
        return PredefinedSplit(fold_index)
    raise ValueError(f"unknown cv scheme {cv.scheme!r}")


def reference_grid_search(
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


MISSING_MARKERS = frozenset({"", "nan", "na", "n/a", "<na>", "#n/a", "null", "none"})
"""Cell texts (stripped, lower-cased) that mean "no value": what pandas would read as NaN
and what ``str()`` of a missing value gives. A manifest is read with these kept as text
(``keep_default_na=False``), so a label 'nan' would otherwise become a class of its own."""

MISSING_HINT = "fill in or remove those rows in the dataset's manifest, then rerun"


def missing_mask(values: Any) -> np.ndarray:
    """True where a manifest cell holds no value: None/NaN, empty, or a missing marker."""
    series = pd.Series(np.asarray(values, dtype=object), dtype=object)
    marker = series.map(lambda v: str(v).strip().lower() in MISSING_MARKERS)
    return (series.isna() | marker).to_numpy(bool)


def _rows_text(frame: pd.DataFrame, positions: np.ndarray, lines: bool) -> str:
    """'line 9 (id 'x'), ...' for the first few rows, so the user can find them."""
    shown = []
    for i in positions[:3]:
        ident = f"id {str(frame['id'].iloc[i])!r}" if "id" in frame else f"row {i + 1}"
        shown.append(f"line {i + 2} ({ident})" if lines else ident)
    more = f" and {len(positions) - 3} more" if len(positions) > 3 else ""
    return ", ".join(shown) + more


def _task_columns(task: TaskSpec) -> list[tuple[str, str]]:
    """(column, config key naming it) of every manifest column a task reads."""
    columns = [(task.target, "target")]
    if task.cv.column:
        columns.append((task.cv.column, "cv.column"))
    return columns


def check_task_manifest(
    task: TaskSpec, manifest: pd.DataFrame, source: object, lines: bool = True
) -> None:
    """Check that a manifest has every column a task reads, with a value in every row.

    Run on the manifest as read (``lines=True``: row positions are the file's lines) so
    that the message points at the line to fix. A missing label, fold or split must stop
    the evaluation: turned into text it would be a class, fold or split of its own.

    Raises
    ------
    ManifestError
        Naming the manifest, the column, the task's config key and the rows.
    """
    absent = [(c, key) for c, key in _task_columns(task) if c not in manifest.columns]
    if absent:
        column, key = absent[0]
        raise ManifestError(
            f"manifest {source} has no column {column!r} (task {task.name}'s {key}; "
            f"its columns: {', '.join(map(str, manifest.columns))})",
            f"set the task's {key} to one of those columns in the config",
        )
    for column, key in _task_columns(task):
        rows = np.flatnonzero(missing_mask(manifest[column]))
        if rows.size:
            raise ManifestError(
                f"manifest {source}: column {column!r} (task {task.name}'s {key}) has no "
                f"value in {rows.size} row(s): {_rows_text(manifest, rows, lines)}",
                MISSING_HINT,
            )


def task_targets(
    task: TaskSpec, manifest: pd.DataFrame, source: object
) -> tuple[np.ndarray, np.ndarray | None]:
    """The target vector and (for predefined schemes) the split column of a task.

    Both are checked (:func:`check_task_manifest`, :func:`check_task_data`) so that a
    cell that cannot give a meaningful score stops here, before the grid search.
    """
    check_task_manifest(task, manifest, source, lines=False)
    y = manifest[task.target].to_numpy()
    if task.type == "regression":
        y = pd.to_numeric(manifest[task.target], errors="coerce").to_numpy(np.float64)
        if not np.all(np.isfinite(y)):
            rows = np.flatnonzero(~np.isfinite(y))
            raise ManifestError(
                f"column {task.target!r} of {source} has non-numeric values for the "
                f"regression task {task.name}: {_rows_text(manifest, rows, lines=False)}",
                "fix those rows, or set the task's type to classification",
            )
    else:
        y = class_labels(y)
    groups = manifest[task.cv.column].to_numpy() if task.cv.column else None
    check_task_data(task, y, groups, source)
    return y, groups


def class_labels(values: np.ndarray) -> np.ndarray:
    """Class labels as the estimator should see them: integers if every label is one.

    The order of the classes is not cosmetic: libsvm's one-vs-one vote gives a tie to the
    class that comes first, and classes come in sorted order. The authors' labels were
    integers (Extended Ballroom's 0-12); read as text, '10' would sort before '2' and ties
    would go elsewhere, moving a clip here and there. Integer labels keep their numeric
    order; any other labels are compared as text.
    """
    text = np.asarray(values).astype(str)
    stripped = np.char.strip(text)
    if stripped.size and all(s.lstrip("+-").isdigit() for s in stripped):
        return stripped.astype(np.int64)
    return text


def check_task_data(
    task: TaskSpec, y: np.ndarray, groups: np.ndarray | None, source: object
) -> None:
    """Check that a task's targets and splits can give a meaningful score.

    What scikit-learn would accept with at most a warning, and turn into a wrong or NaN
    score: one class only (accuracy 1.0 whatever the features), a continuous target
    declared as classification, fewer clips of a class than stratified folds, a test
    value no row has, an empty training or test side, a test fold of one clip (r2 is
    undefined).

    Raises
    ------
    ConfigError
        Naming the task, the manifest, the column and the config key to change.
    """
    n = len(y)
    where = f"task {task.name}, column {task.target!r} of {source}"
    if task.type == "classification":
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) < 2:
            raise ConfigError(
                f"{where}: every clip has the class {str(classes[0])!r}; accuracy would be "
                "1.0 whatever the features",
                "check the task's target column and the manifest: a task needs two classes",
            )
        numbers = pd.to_numeric(pd.Series(y), errors="coerce").to_numpy(np.float64)
        if (
            np.all(np.isfinite(numbers))
            and np.any(numbers != np.round(numbers))
            and len(classes) > n / 2
        ):
            raise ConfigError(
                f"{where}: {len(classes)} distinct numbers for {n} clips, a continuous "
                "target, but the task's type is classification",
                "set the task's type to regression (and its cv.scheme to kfold)",
            )
    elif np.unique(y).size < 2:
        raise ConfigError(
            f"{where}: the regression target has the same value for every clip; r2 is undefined",
            "check the task's target column and the manifest",
        )
    cv = task.cv
    if cv.scheme == "stratified_kfold" and task.type != "classification":
        raise ConfigError(
            f"task {task.name}: stratified_kfold needs classes, the task is a regression",
            "set the task's cv.scheme to kfold",
        )
    if cv.scheme in ("stratified_kfold", "kfold") and cv.n_splits < 2:
        raise ConfigError(
            f"task {task.name}: cv.n_splits is {cv.n_splits}; cross-validation needs 2 or more",
            "set the task's cv.n_splits to 2 or more (the paper's is 10)",
        )
    if cv.scheme in ("stratified_kfold", "kfold") and cv.n_splits > n:
        raise ConfigError(
            f"{where}: cv.n_splits is {cv.n_splits} but there are only {n} clips",
            f"set the task's cv.n_splits to at most {n}",
        )
    if cv.scheme == "stratified_kfold":
        classes, counts = np.unique(y, return_counts=True)
        smallest = int(np.argmin(counts))
        if counts[smallest] < cv.n_splits:
            raise ConfigError(
                f"{where}: class {str(classes[smallest])!r} has {counts[smallest]} clip(s), "
                f"fewer than the task's cv.n_splits ({cv.n_splits}): some folds would "
                "test without it",
                f"set the task's cv.n_splits to at most {counts[smallest]}, or give the "
                "class more clips",
            )
    if cv.scheme in ("predefined_split", "predefined_folds"):
        _check_predefined(task, y, groups, source)
    if task.type == "regression":
        sizes = [len(test) for _, test in cv_splitter(cv, task.type, groups).split(y, y)]
        if min(sizes) < 2:
            raise ConfigError(
                f"{where}: a test fold has {min(sizes)} clip; r2 needs at least 2",
                "lower the task's cv.n_splits"
                if cv.scheme == "kfold"
                else f"give every value of column {cv.column!r} at least 2 rows",
            )


def _check_predefined(
    task: TaskSpec, y: np.ndarray, groups: np.ndarray | None, source: object
) -> None:
    """A predefined split or folds: test values that exist, two non-empty sides."""
    cv = task.cv
    if groups is None:
        raise ConfigError(f"task {task.name}: the {cv.scheme} scheme needs cv.column")
    values = np.asarray(groups).astype(str)
    present = ", ".join(repr(str(v)) for v in np.unique(values)[:10])
    where = f"task {task.name}, column {cv.column!r} of {source}"
    if cv.scheme == "predefined_split":
        is_test = np.isin(values, list(cv.test))
        if not is_test.any():
            raise ConfigError(
                f"{where}: no row has a test value ({', '.join(map(repr, cv.test))}); "
                f"the column holds {present}",
                "set the task's cv.test to the values of the test rows",
            )
        if is_test.all():
            raise ConfigError(
                f"{where}: every row is a test row ({', '.join(map(repr, cv.test))}): "
                "nothing to train on",
                "set the task's cv.test to the values of the test rows only",
            )
    elif np.unique(values).size < 2:
        raise ConfigError(
            f"{where}: every row is in fold {str(values[0])!r}; leaving one fold out leaves "
            "nothing to train on",
            "set the task's cv.column to the column of its folds",
        )
    if task.type == "classification":
        for train, test in cv_splitter(cv, task.type, groups).split(y, y):
            if np.unique(y[train]).size < 2:
                raise ConfigError(
                    f"{where}: the training side of the fold testing "
                    f"{str(values[test[0]])!r} has one class only",
                    "check the task's cv.column and cv.test against the manifest",
                )


def check_task(task: TaskSpec, manifest: pd.DataFrame, source: object) -> dict[str, Any]:
    """All checks of a task against its whole manifest; a JSON-ready summary of its data.

    The workflow runs this (``musictransfer check-task``) as soon as a dataset's manifest
    exists, before its audio is prepared or its features extracted, so that a wrong
    target, split or fold column stops the run in seconds rather than after hours.
    """
    check_task_manifest(task, manifest, source)
    y, groups = task_targets(task, manifest, source)
    summary: dict[str, Any] = {"task": task.name, "manifest": str(source), "n_clips": len(y)}
    if task.type == "classification":
        classes, counts = np.unique(y, return_counts=True)
        summary["classes"] = {str(c): int(k) for c, k in zip(classes, counts, strict=True)}
    else:
        summary["target_range"] = [float(np.min(y)), float(np.max(y))]
    splits = list(cv_splitter(task.cv, task.type, groups).split(y, y))
    summary["folds"] = [{"train": len(tr), "test": len(te)} for tr, te in splits]
    return summary


def align_rows(feature_ids: np.ndarray, manifest: pd.DataFrame, source: object) -> pd.DataFrame:
    """The manifest's rows in the order of a feature file's ids (every id must exist)."""
    indexed = manifest.set_index(manifest["id"].astype(str), drop=False)
    missing = [i for i in map(str, feature_ids) if i not in indexed.index]
    if missing:
        raise ManifestError(
            f"{len(missing)} feature rows have no entry in {source} (e.g. {missing[0]!r})",
            "the features and the manifest come from different datasets: rerun extraction",
        )
    return indexed.loc[[str(i) for i in feature_ids]].reset_index(drop=True)


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
        'reference': plain ``GridSearchCV`` (:func:`reference_grid_search`).
    linear_solver
        For 'fast': 'auto', 'libsvm' or 'ipm' (see :func:`fast_grid_search`).
    """
    if method not in METHODS:
        raise ConfigError(f"unknown evaluation method {method!r}", f"use one of {METHODS}")
    start = time.perf_counter()
    if method == "reference":
        search = reference_grid_search(X, y, task, groups, n_jobs=n_jobs)
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
