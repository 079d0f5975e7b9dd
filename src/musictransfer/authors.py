"""The authors' own per-cell results, and ours beside them under both readings of the grid.

Choi et al. released, with their features, the ``best_score_`` their evaluation script
saved for every cell: ``result_transfer/T_<task>_F_<feature>_CL_<SVC|SVR>.npy`` (210 files
of one float). This module names those files for our cells (:func:`result_file`), puts
them beside our scores under the paper's reading and the reading of the authors' script as
it ran (:func:`compare_with_authors`; :data:`musictransfer.evaluation.READINGS`), counts
the cells that agree per task and per group of cells (:func:`summarise_comparison`), and
draws ours against theirs (:func:`musictransfer.figures.plot_comparison`).

The groups are what the evidence separates (see ``docs/results.md``): cells built only
from the released layer files 1-4; cells with layer 5, for which the authors' script read
``<dataset>.npy``, a file that was not released, instead of the released
``<dataset>_layer_4.npy``; and the MFCC cells.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from musictransfer._typing import PathLike
from musictransfer.constants import PAPER_COMBOS
from musictransfer.errors import MusicTransferError
from musictransfer.figures import plot_comparison
from musictransfer.outputs import atomic_path
from musictransfer.readings import AUTHORS_SCRIPT_READING, PAPER_READING
from musictransfer.scores_table import load_scores

RESULT_DIR = "result_transfer"
"""Where the result files lie, in the authors' repository and in a mirror."""

TOLERANCE = 0.005
"""Differences up to this size count as agreement (the paper prints 3 digits)."""

GROUPS: Mapping[str, str] = {
    "layers 1-4": "convnet cells of the released layer files 1-4 only",
    "with layer 5": "convnet cells with layer 5 (the authors read an unreleased file for it)",
    "mfcc": "mfcc and mfcc+12345",
}
"""Groups of cells, in report order, with what sets each apart."""

COLUMNS: tuple[str, ...] = (
    "task",
    "combo",
    "group",
    "authors",
    PAPER_READING,
    AUTHORS_SCRIPT_READING,
    f"diff_{PAPER_READING}",
    f"diff_{AUTHORS_SCRIPT_READING}",
    "file",
)
"""Columns of ``tables/authors.csv``: their score, ours under each reading, ours - theirs."""


def result_file(authors_task: str, combo: str, task_type: str) -> str | None:
    """The name of the authors' result file of a cell, or None if they did not run it.

    They ran the paper's 28 convnet combinations (0-based layer digits: '135' is
    ``mine_024``), ``mfcc`` (``mfcc_4``) and ``mfcc+12345`` (``mfcc+12345_4``).
    """
    if combo in ("mfcc", "mfcc+12345"):
        feature = f"{combo}_4"
    elif combo in PAPER_COMBOS:
        feature = "mine_" + "".join(str(int(d) - 1) for d in combo)
    else:
        return None
    estimator = "SVC" if task_type == "classification" else "SVR"
    return f"T_{authors_task}_F_{feature}_CL_{estimator}.npy"


def result_files(
    authors_tasks: Mapping[str, str], task_types: Mapping[str, str], combos: Iterable[str]
) -> list[str]:
    """Every result file the comparison of these tasks and combinations needs."""
    names = (result_file(authors_tasks[t], c, task_types[t]) for t in authors_tasks for c in combos)
    return sorted({n for n in names if n is not None})


def read_result(path: PathLike) -> float:
    """One result file's score (a 0-d float array), with the file named on failure."""
    try:
        value = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise MusicTransferError(
            f"{path} is not one of the authors' result files ({exc})",
            "delete it and download it again",
        ) from exc
    if value.shape != () or not np.isfinite(value):
        raise MusicTransferError(f"{path} does not hold one finite score", "download it again")
    return float(value)


def cell_group(combo: str) -> str:
    """The group of a cell (see :data:`GROUPS`)."""
    if combo.startswith("mfcc"):
        return "mfcc"
    return "with layer 5" if "5" in combo else "layers 1-4"


def compare_with_authors(
    scores: pd.DataFrame,
    results: Iterable[PathLike],
    authors_tasks: Mapping[str, str],
    extractor: str = "choi2017",
) -> pd.DataFrame:
    """Ours beside the authors' score for every cell both have (one row per cell).

    Parameters
    ----------
    scores
        The tidy score table, with a row per reading (``reading``) of each cell.
    results
        Paths of the authors' result files (their names identify the cells).
    authors_tasks
        Our task name -> the authors' task name (``ballroom`` -> ``ballroom_extended``).
    extractor
        Our extractor whose cells are compared (the released features: ``choi2017``).

    Raises
    ------
    MusicTransferError
        If a result file is unreadable, or a cell of ours lacks a reading.
    """
    theirs = {Path(p).name: read_result(p) for p in results}
    rows = []
    ours = scores[scores["extractor"] == extractor]
    for task, authors_task in authors_tasks.items():
        cells = ours[ours["task"] == task]
        for combo, cell in cells.groupby("combo", sort=False):
            metric = str(cell["metric"].iloc[0])
            name = result_file(authors_task, str(combo), _task_type(metric))
            if name is None or name not in theirs:
                continue
            by_reading = dict(zip(cell["reading"], cell["score"], strict=True))
            missing = {PAPER_READING, AUTHORS_SCRIPT_READING} - set(by_reading)
            if missing:
                raise MusicTransferError(
                    f"cell {task}/{extractor}/{combo} has no {', '.join(sorted(missing))} "
                    "reading (a cell file from before grids were kept)",
                    "rerun its evaluation",
                )
            row = {"task": task, "combo": str(combo), "group": cell_group(str(combo))}
            row["authors"] = theirs[name]
            for reading in (PAPER_READING, AUTHORS_SCRIPT_READING):
                row[reading] = float(by_reading[reading])
                row[f"diff_{reading}"] = row[reading] - row["authors"]
            row["file"] = name
            rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _task_type(metric: str) -> str:
    return "regression" if metric == "r2" else "classification"


def summarise_comparison(table: pd.DataFrame, tolerance: float = TOLERANCE) -> pd.DataFrame:
    """Counts per task, and per group of cells within a task.

    For each (task, group), and 'all' for the whole task: the cells, those within
    ``tolerance`` of the authors' under each reading, and the largest difference under
    the script's reading with its cell.
    """
    records = []
    for task, rows in table.groupby("task", sort=False):
        for group in ["all", *GROUPS]:
            part = rows if group == "all" else rows[rows["group"] == group]
            if part.empty:
                continue
            record: dict[str, object] = {"task": task, "group": group, "cells": len(part)}
            for reading in (PAPER_READING, AUTHORS_SCRIPT_READING):
                diff = part[f"diff_{reading}"]
                record[f"within_{reading}"] = int((diff.abs() <= tolerance).sum())
            diff = part[f"diff_{AUTHORS_SCRIPT_READING}"]
            worst = diff.abs().idxmax()
            record["largest_diff"] = float(diff[worst])
            record["largest_cell"] = str(part.loc[worst, "combo"])
            records.append(record)
    return pd.DataFrame(records)


def comparison_markdown(table: pd.DataFrame, tolerance: float = TOLERANCE) -> list[str]:
    """The report's section: counts per task and group, then every cell that differs."""
    if table.empty:
        return []
    summary = summarise_comparison(table, tolerance)
    lines = [
        "## Against the authors' own per-cell results",
        "",
        f"Cells within {tolerance} of the score the authors' script saved "
        f"(`{RESULT_DIR}/`), under the paper's reading (all 64 settings, plain fold mean) "
        "and under the reading of their script as it ran (the 32 unscaled settings, fold "
        "mean weighted by fold size); *largest* is the largest difference (ours - theirs) "
        "under the script's reading.",
        "",
        "| task | cells | within (paper) | within (as run) | largest (as run) |",
        "|---|---|---|---|---|",
    ]
    for _, r in summary.iterrows():
        name = r["task"] if r["group"] == "all" else f"&nbsp;&nbsp;{r['group']}"
        lines.append(
            f"| {name} | {r['cells']} | {r[f'within_{PAPER_READING}']} "
            f"| {r[f'within_{AUTHORS_SCRIPT_READING}']} "
            f"| {r['largest_diff']:+.4f} ({r['largest_cell']}) |"
        )
    differ = table[table[f"diff_{AUTHORS_SCRIPT_READING}"].abs() > tolerance]
    lines += ["", "Groups: " + "; ".join(f"*{g}*: {d}" for g, d in GROUPS.items()) + ".", ""]
    if not differ.empty:
        lines += [
            f"Cells more than {tolerance} from the authors' under the script's reading:",
            "",
            "| task | combination | group | authors | ours (as run) | ours (paper) |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.task} | {r.combo} | {r.group} | {r.authors:.4f} "
            f"| {r[AUTHORS_SCRIPT_READING]:.4f} | {r[PAPER_READING]:.4f} |"
            for _, r in differ.iterrows()
        ]
        lines.append("")
    return lines


def write_comparison(table: pd.DataFrame, table_out: PathLike, figure_out: PathLike) -> None:
    """Write ``tables/authors.csv`` and its figure."""
    with atomic_path(table_out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6f")
    plot_comparison(table, figure_out, list(GROUPS))


def load_comparison(path: PathLike) -> pd.DataFrame:
    """Read ``tables/authors.csv`` (combinations stay strings)."""
    path = Path(path)
    if not path.is_file():
        raise MusicTransferError(f"comparison table not found: {path}", "run compare-authors")
    return pd.read_csv(path, dtype={"task": str, "combo": str, "group": str})


def compare_authors_files(
    scores: PathLike,
    results: Iterable[PathLike],
    authors_tasks: Mapping[str, str],
    table_out: PathLike,
    figure_out: PathLike,
) -> None:
    """The workflow step: the score table beside the authors' result files, table and figure."""
    table = compare_with_authors(load_scores(scores), results, authors_tasks)
    write_comparison(table, table_out, figure_out)
