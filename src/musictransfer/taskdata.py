"""A task's data: its targets and split column, checked before any grid search.

A cell whose labels, folds or splits cannot give a meaningful score must stop with one
line naming the manifest, the column and the rows, never turn into a score: a missing
label read as text becomes a class of its own, a test value no row has gives a NaN mean,
one class gives accuracy 1.0 whatever the features. The checks run when a task's manifest
first exists (the workflow's ``check_task``) and again before every evaluation.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from musictransfer.config import TaskSpec
from musictransfer.datasets.manifest import MISSING_HINT, missing_mask
from musictransfer.errors import ConfigError, ManifestError
from musictransfer.folds import cv_splitter

log = logging.getLogger(__name__)


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
    if task.cv.group:
        columns.append((task.cv.group, "cv.group"))
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
        y = class_labels(y, f"column {task.target!r} of {source}")
    groups = None
    column = task.cv.column or task.cv.group
    if column:
        groups = _stripped(manifest[column].to_numpy(), f"column {column!r} of {source}")
    check_task_data(task, y, groups, source)
    return y, groups


def _stripped(values: np.ndarray, where: str) -> np.ndarray:
    """A column's values as text without blanks around them, saying when that changed one."""
    text = np.asarray(values).astype(str)
    stripped = np.char.strip(text)
    changed = np.flatnonzero(text != stripped)
    if changed.size:
        k = changed[0]
        log.warning(
            "%s: %d value(s) with blanks around them read without them (%r as %r): "
            "'a' and 'a ' are one label",
            where, changed.size, str(text[k]), str(stripped[k]),
        )  # fmt: skip
    return stripped


def class_labels(values: np.ndarray, where: str = "labels") -> np.ndarray:
    """Class labels as the estimator should see them: one rule for every column.

    Labels are text without the blanks around them ('a ' is 'a', with a warning). A column
    whose labels are all plain integers is read as integers, so that the classes keep
    their numeric order: libsvm's one-vs-one vote gives a tie to the class that comes
    first, and classes come in sorted order. The authors' labels were integers (Extended
    Ballroom's 0-12); read as text, '10' would sort before '2' and ties would go
    elsewhere, moving a clip here and there. Two texts of one integer ('1' and '01') stay
    two labels, as they would in a column of text: the column is then read as text, with
    a warning, so that whether they merge never depends on the other labels.
    """
    stripped = _stripped(values, where)
    if stripped.size and all(s.lstrip("+-").isdigit() for s in stripped):
        numbers = stripped.astype(np.int64)
        texts = np.unique(stripped)
        if len(np.unique(numbers)) == len(texts):
            return numbers
        same = next((a, b) for a in texts for b in texts if a < b and int(a) == int(b))
        log.warning(
            "%s: %r and %r are two labels (labels are text), although they are one integer; "
            "the column is read as text",
            where, str(same[0]), str(same[1]),
        )  # fmt: skip
    return stripped


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
    stratified = cv.scheme in ("stratified_kfold", "stratified_kfold_legacy")
    if stratified and task.type != "classification":
        raise ConfigError(
            f"task {task.name}: {cv.scheme} needs classes, the task is a regression",
            "set the task's cv.scheme to kfold",
        )
    # Every k-fold scheme, the authors' legacy folds included: each has n_splits folds.
    if (stratified or cv.scheme == "kfold") and cv.n_splits < 2:
        raise ConfigError(
            f"task {task.name}: cv.n_splits is {cv.n_splits}; cross-validation needs 2 or more",
            "set the task's cv.n_splits to 2 or more (the paper's is 10)",
        )
    if cv.group is not None and groups is not None and cv.n_splits > np.unique(groups).size:
        raise ConfigError(
            f"task {task.name}, column {cv.group!r} of {source}: cv.n_splits is "
            f"{cv.n_splits} but there are only {np.unique(groups).size} groups",
            f"set the task's cv.n_splits to at most {np.unique(groups).size}",
        )
    if (stratified or cv.scheme == "kfold") and cv.n_splits > n:
        raise ConfigError(
            f"{where}: cv.n_splits is {cv.n_splits} but there are only {n} clips",
            f"set the task's cv.n_splits to at most {n}",
        )
    if stratified:
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
    _check_folds(task, y, groups, source)


def _check_folds(task: TaskSpec, y: np.ndarray, groups: np.ndarray | None, source: object) -> None:
    """Every fold as it will be cut: two non-empty sides, two classes, two test clips.

    Two classes to train a classifier on, two clips to test a regression on. The checks
    above follow from the counts; these need the folds themselves, because a grouped or
    predefined split decides which clips go together. A training side of one class would
    give a classifier that answers that class whatever the features (a score with the
    fast grid, a traceback in scikit-learn), an empty side no score at all.
    """
    cv = task.cv
    where = f"task {task.name}, column {task.target!r} of {source}"
    if cv.column:
        hint = f"check the task's cv.column ({cv.column!r}) and cv.test against the manifest"
    elif cv.group:
        hint = (
            f"lower the task's cv.n_splits, or give the groups of column {cv.group!r} "
            "clips of every class"
        )
    else:
        hint = "lower the task's cv.n_splits"
    values = None if groups is None else np.asarray(groups).astype(str)
    splits = list(cv_splitter(cv, task.type, groups).split(y, y))
    for k, (train, test) in enumerate(splits):
        fold = f"fold {k + 1} of {len(splits)}"
        if values is not None and len(test):
            tested = ", ".join(repr(str(v)) for v in np.unique(values[test])[:3])
            fold += f" (testing {tested}{', ...' if np.unique(values[test]).size > 3 else ''})"
        if not len(train) or not len(test):
            side = "training" if not len(train) else "test"
            raise ConfigError(f"{where}: the {side} side of {fold} is empty", hint)
        if task.type == "classification" and np.unique(y[train]).size < 2:
            raise ConfigError(
                f"{where}: the training side of {fold} has one class only "
                f"({str(y[train][0])!r}): its classifier would answer that class whatever "
                "the features",
                hint,
            )
        if task.type == "regression" and len(test) < 2:
            raise ConfigError(
                f"{where}: the test side of {fold} has {len(test)} clip; r2 needs at least 2",
                "lower the task's cv.n_splits"
                if cv.scheme == "kfold"
                else f"give every value of column {cv.column or cv.group!r} at least 2 rows",
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
