"""The tidy score table: evaluation cells collected, read back, and summarised per task.

:func:`aggregate_scores` (the ``aggregate`` rule) collects the evaluation cells' JSON
files (:class:`musictransfer.evaluation.CellResult`) into ``tables/scores.csv``, one row
per (task, extractor, combination, reading of its grid); :func:`load_scores` reads it
back. :func:`summarise_task` gives the numbers of one task that the figures
(:mod:`musictransfer.figures`) and the report (:mod:`musictransfer.report_markdown`)
show: the best combination per extractor, the MFCC baselines, and what is compared with
the task's published :class:`~musictransfer.published.PublishedScore`.

Every summary works on whatever the table holds: extractors, combinations or baselines
that are absent (an experiment without a random convnet, a dataset without MFCC
features) are simply left out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from musictransfer._typing import PathLike
from musictransfer.config.specs import SCENE
from musictransfer.constants import ALL_COMBOS, MFCC_COMBOS
from musictransfer.errors import MusicTransferError
from musictransfer.outputs import atomic_path, read_json_object
from musictransfer.published import PublishedScore
from musictransfer.readings import PAPER_READING, READINGS, read_grid

COMBO_ORDER: tuple[str, ...] = (*ALL_COMBOS, SCENE, *MFCC_COMBOS)
"""Combinations in the order of the paper's figures: layers by count, then MFCC ones."""

RANDOM_EXTRACTOR = "random"

SCORE_COLUMNS: tuple[str, ...] = (
    "task",
    "extractor",
    "combo",
    "reading",
    "n_layers",
    "metric",
    "score",
    "best_params",
    "fold_mean",
    "fold_std",
    "n_folds",
    "n_clips",
    "n_features",
    "fit_time_s",
    "solver",
    "n_settings",
    "code",
    "libraries",
)
"""Columns of ``scores.csv``, in order. ``reading`` names the reading of the cell's grid
(:data:`musictransfer.evaluation.READINGS`); ``code`` and ``libraries`` say which code
made the cell (:mod:`musictransfer.provenance`)."""

SCORE_TOLERANCE = 1e-12
"""How far a cell's stored score may be from the paper reading of its own grid."""


# --- aggregate --------------------------------------------------------------------------


def _read_cell(path: Path) -> dict[str, Any]:
    """One cell's JSON, checked for the fields the table needs."""
    data = read_json_object(
        path, "score cell", "run the evaluation", "delete it and rerun its evaluation"
    )
    missing = [k for k in ("task", "extractor", "combo", "metric", "score") if k not in data]
    if missing:
        raise MusicTransferError(
            f"score cell {path} lacks {', '.join(missing)}", "rerun its evaluation"
        )
    # A NaN score (written by an older evaluate, or by hand) must not become a silent
    # blank in the table, a 'best' combination or a gap in a figure.
    for value in [data["score"], *(data.get("fold_scores") or [])]:
        if not _is_finite_number(value):
            raise MusicTransferError(
                f"score cell {path} has a score of {value!r}, not a finite number",
                "delete it and rerun its evaluation, which says what is wrong with the data",
            )
    return data


def _is_finite_number(value: Any) -> bool:
    """A real, finite number (JSON's NaN and Infinity, strings and booleans are not)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def n_layers(combo: str) -> int:
    """Number of convnet layers a combination uses ('mfcc': 0, 'mfcc+12345': 5)."""
    digits = combo.split("+")[-1]
    return 0 if combo == "mfcc" else sum(ch.isdigit() for ch in digits)


def combo_rank(combo: str) -> int:
    """Sort key of a combination: :data:`COMBO_ORDER`, then other layer digits, then names.

    Other digits are a representation's layers beyond the convnet's five ('6', '16'):
    in increasing digits, their value orders them by size, then by layers.
    """
    if combo in COMBO_ORDER:
        return COMBO_ORDER.index(combo)
    return len(COMBO_ORDER) + (int(combo) if combo.isdigit() else 10**10)


def is_own_combo(combo: str) -> bool:
    """A network's own features: its layers ('135') or its scene embedding, not MFCC."""
    return combo.isdigit() or combo == SCENE


def own_combos(table: pd.DataFrame) -> list[str]:
    """A table's combinations of networks' own features, in :func:`combo_rank` order."""
    return sorted({c for c in map(str, table["combo"]) if is_own_combo(c)}, key=combo_rank)


def _cell_rows(data: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """The table rows of one cell: the paper's reading, then every other reading of its grid.

    Every number comes from the cell's grid, the one record of what was computed: a cell
    without a whole grid is refused, and so is one whose stored score, fold scores, clip
    count or fold count is not its grid's (an edited or corrupt file would otherwise put
    any number it holds into the table).
    """
    prov = data.get("provenance") or {}
    libraries = ", ".join(f"{k} {v}" for k, v in (prov.get("libraries") or {}).items() if v)
    redo = "the file was edited or is corrupt: delete it and rerun its evaluation"
    grid = data.get("grid")
    keys = ("settings", "fold_scores", "fold_sizes")
    if not isinstance(grid, dict) or any(not grid.get(k) for k in keys):
        raise MusicTransferError(f"score cell {path} has no whole grid of fold scores", redo)
    n_features = int(data.get("n_features") or 0)
    paper = read_grid(grid, PAPER_READING, n_features)
    score = float(data["score"])
    if not math.isfinite(score) or abs(paper.score - score) > SCORE_TOLERANCE:
        raise MusicTransferError(
            f"score cell {path}: score {score} is not its grid's best ({paper.score})", redo
        )
    _check_counts(data, grid, path, redo)
    base = {
        "task": str(data["task"]),
        "extractor": str(data["extractor"]),
        "combo": str(data["combo"]),
        "n_layers": n_layers(str(data["combo"])),
        "metric": str(data["metric"]),
        "n_clips": data.get("n_clips"),
        "n_features": data.get("n_features"),
        "fit_time_s": data.get("fit_time_s"),
        "solver": data.get("solver", ""),
        "code": prov.get("code", "unknown"),
        "libraries": libraries or "unknown",
    }
    rows = []
    for name in READINGS:
        r = read_grid(grid, name, n_features)
        rows.append(_row(base, name, r.score, r.best_params, r.fold_scores, r.n_settings))
    return rows


def _check_counts(data: dict[str, Any], grid: dict[str, Any], path: Path, redo: str) -> None:
    """The cell's clip and fold counts are its grid's: test folds, and clips tested once."""
    sizes = [int(n) for n in grid["fold_sizes"]]
    cv = data.get("cv") or {}
    scheme = cv.get("scheme")
    n_folds = len(sizes)
    if scheme in ("stratified_kfold", "stratified_kfold_legacy", "kfold"):
        expected = cv.get("n_splits")
        if expected != n_folds:
            raise MusicTransferError(
                f"score cell {path}: its cv has {expected} folds, its grid {n_folds}", redo
            )
    # Every clip is tested once, except by a predefined split (its test rows only).
    if scheme != "predefined_split" and data.get("n_clips") != sum(sizes):
        raise MusicTransferError(
            f"score cell {path}: n_clips is {data.get('n_clips')}, its grid's test folds "
            f"hold {sum(sizes)}",
            redo,
        )
    if len(data.get("fold_scores") or []) != n_folds:
        raise MusicTransferError(
            f"score cell {path}: {len(data.get('fold_scores') or [])} fold scores, its grid "
            f"has {n_folds} folds",
            redo,
        )


def _row(
    base: dict[str, Any],
    reading: str,
    score: float,
    params: dict[str, Any] | None,
    folds: Sequence[float] | None,
    n_settings: int | None,
) -> dict[str, Any]:
    values = [float(v) for v in folds or []]
    return {
        **base,
        "reading": reading,
        "score": score,
        "best_params": json.dumps(params or {}, sort_keys=True, separators=(",", ":")),
        "fold_mean": float(np.mean(values)) if values else math.nan,
        "fold_std": float(np.std(values)) if values else math.nan,
        "n_folds": len(values),
        "n_settings": n_settings,
    }


def paper_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the paper's reading (a table without a reading column is all paper)."""
    if "reading" not in table:
        return table
    return table[table["reading"] == PAPER_READING].reset_index(drop=True)


def sort_scores(table: pd.DataFrame) -> pd.DataFrame:
    """Rows by task, extractor, then combination in the paper's order (stable)."""
    keys = table.assign(_rank=table["combo"].map(combo_rank))
    order = ["task", "extractor", "_rank"] + (["_reading"] if "reading" in table else [])
    if "reading" in table:
        keys["_reading"] = table["reading"].map(list(READINGS).index)
    keys = keys.sort_values(order, kind="mergesort")
    return keys.drop(columns=["_rank", "_reading"], errors="ignore").reset_index(drop=True)


def aggregate_scores(cells: Iterable[PathLike], out: PathLike | None = None) -> pd.DataFrame:
    """Collect cell JSON files into the tidy score table (and write it as CSV).

    Parameters
    ----------
    cells
        Paths of ``scores/<task>/<extractor>/<combo>.json`` files.
    out
        The CSV to write (atomically), or None to only return the table.

    Raises
    ------
    MusicTransferError
        If a cell is missing or invalid, or two cells describe the same
        (task, extractor, combination).
    """
    rows = [row for c in cells for row in _cell_rows(_read_cell(Path(c)), Path(c))]
    if not rows:
        raise MusicTransferError("no score cells given", "run the evaluation step first")
    table = sort_scores(pd.DataFrame(rows, columns=list(SCORE_COLUMNS)))
    dup = table.duplicated(["task", "extractor", "combo", "reading"])
    if dup.any():
        first = table[dup].iloc[0]
        raise MusicTransferError(
            f"two score cells for {first.task}/{first.extractor}/{first.combo}",
            "pass each cell once",
        )
    if out is not None:
        with atomic_path(out) as tmp:
            table.to_csv(tmp, index=False)
    return table


def load_scores(path: PathLike) -> pd.DataFrame:
    """Read ``scores.csv`` (combination names stay strings: '1' is not the number 1)."""
    path = Path(path)
    if not path.is_file():
        raise MusicTransferError(f"score table not found: {path}", "run the aggregate step")
    table = pd.read_csv(path, dtype={"task": str, "extractor": str, "combo": str})
    # Tables written by earlier code called the reading of a cell's grid its "protocol".
    table = table.rename(columns={"protocol": "reading"}) if "reading" not in table else table
    missing = [c for c in ("task", "extractor", "combo", "metric", "score") if c not in table]
    if missing:
        raise MusicTransferError(f"score table {path} lacks column(s) {', '.join(missing)}")
    return table


# --- per-task summaries ------------------------------------------------------------------


def convnet_extractors(table: pd.DataFrame) -> list[str]:
    """Extractors with layer combinations other than the random convnet, in table order."""
    conv = table[
        table["combo"].map(is_own_combo).astype(bool) & (table["extractor"] != RANDOM_EXTRACTOR)
    ]
    return list(dict.fromkeys(conv["extractor"]))


def score_of(table: pd.DataFrame, combo: str, extractor: str | None = None) -> float | None:
    """A combination's score in a table (of one extractor, if given); None if not run."""
    rows = table[table["combo"] == combo]
    if extractor is not None:
        rows = rows[rows["extractor"] == extractor]
    return float(rows["score"].iloc[0]) if len(rows) else None


def best_combo(table: pd.DataFrame, extractor: str) -> tuple[str, float] | None:
    """The best layer combination of an extractor (ties: the earlier in paper order)."""
    rows = table[(table["extractor"] == extractor) & table["combo"].map(is_own_combo).astype(bool)]
    if rows.empty:
        return None
    rows = sort_scores(rows)
    best = rows.loc[rows["score"].idxmax()]
    return str(best["combo"]), float(best["score"])


@dataclass
class TaskSummary:
    """The numbers of one task that the summary figure and the report show."""

    task: str
    metric: str
    best: dict[str, tuple[str, float]]
    mfcc_plus: float | None
    mfcc: float | None
    published: PublishedScore | None
    compared: float | None = None
    compared_what: str = ""

    @property
    def difference(self) -> float | None:
        """Our compared score minus the published score (None without either)."""
        if self.published is None or self.compared is None:
            return None
        return self.compared - self.published.score


def summarise_task(
    table: pd.DataFrame, task: str, published: PublishedScore | None = None
) -> TaskSummary:
    """Best combination per extractor, the baselines, and what is compared with the published score.

    The score compared with a published score is ours for its combination (of the
    first convnet extractor) when that was run, and otherwise our best convnet
    combination, saying so in ``compared_what``.
    """
    rows = table[table["task"] == task]
    extractors = convnet_extractors(rows)
    main = extractors[0] if extractors else None
    best = {e: b for e in [*extractors, RANDOM_EXTRACTOR] if (b := best_combo(rows, e))}
    mfcc_plus = score_of(rows, "mfcc+12345", main) if main else None
    if mfcc_plus is None:
        mfcc_plus = score_of(rows, "mfcc+12345")
    summary = TaskSummary(
        task=task,
        metric=str(rows["metric"].iloc[0]) if len(rows) else "",
        best={e: b for e, b in best.items()},
        mfcc_plus=mfcc_plus,
        mfcc=score_of(rows, "mfcc"),
        published=published,
    )
    if published is None or main is None:
        return summary
    ours = None
    if published.combo is not None:
        ours = score_of(rows, published.combo, main) or score_of(rows, published.combo)
    if ours is not None:
        summary.compared, summary.compared_what = ours, f"{published.combo}"
    elif main in best:
        combo, score = best[main]
        summary.compared = score
        summary.compared_what = f"best: {combo}"
        if published.combo is not None:
            summary.compared_what += f" ({published.combo} not run)"
    return summary
