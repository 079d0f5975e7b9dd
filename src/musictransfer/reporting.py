"""Reporting: the tidy score table, the paper-style figures and the Markdown report.

Three steps, one per workflow rule:

- :func:`aggregate_scores` collects the evaluation cells' JSON files
  (:class:`musictransfer.evaluation.CellResult`) into ``tables/scores.csv``, one row per
  (task, extractor, combination);
- :func:`plot_scores` draws one figure per task in the style of the paper's Figures 3-9
  (a bar for every layer combination of each pre-trained extractor, the random
  extractor's narrow grey bar beside it, then MFCC + 12345, MFCC and the reference) and
  a summary like Figure 2 (per task: best convnet combination, MFCC + 12345, MFCC,
  reference);
- :func:`write_report` writes ``report.md``: what was run, the best combination per
  extractor and task against the baselines and the reference, and the differences.

Every step works on whatever the table holds: extractors, combinations, baselines or
references that are absent (an experiment without a random convnet, a dataset without
MFCC features) are simply left out of figures and tables.

References are the published numbers a task is compared with. Each is either a number
or a mapping with ``score``, and optionally ``combo`` (the combination the number was
obtained with; absent or ``'best'`` means the best combination), ``label`` (a short
text for the legend) and ``scores`` (further published scores by combination, e.g.
the paper's MFCC baseline).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from musictransfer.constants import ALL_COMBOS, MFCC_COMBOS
from musictransfer.errors import MusicTransferError
from musictransfer.files import atomic_path, read_json_object
from musictransfer.readings import PAPER_READING, READINGS, read_grid

PathLike = str | os.PathLike[str]

COMBO_ORDER: tuple[str, ...] = (*ALL_COMBOS, *MFCC_COMBOS)
"""Combinations in the order of the paper's figures: layers by count, then MFCC ones."""

RANDOM_EXTRACTOR = "random"

SCORE_COLUMNS: tuple[str, ...] = (
    "task",
    "extractor",
    "combo",
    "protocol",
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
"""Columns of ``scores.csv``, in order. ``protocol`` names the reading of the cell's grid
(:data:`musictransfer.evaluation.READINGS`); ``code`` and ``libraries`` say which code
made the cell (:mod:`musictransfer.provenance`)."""

SCORE_TOLERANCE = 1e-12
"""How far a cell's stored score may be from the paper reading of its own grid."""

DIFFERENCE_TOLERANCE = 0.005
"""Differences to a reference up to this size count as a match in the report's notes
(the paper prints scores with one decimal of a percent, i.e. to 0.001-0.0005)."""

COLOURS = {
    "convnet": "#3b75af",
    "random": "#9a9a9a",
    "mfcc+12345": "#6a51a3",
    "mfcc": "#b39ddb",
    "reference": "#c0392b",
}


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
    """Position of a combination in :data:`COMBO_ORDER` (unknown names last)."""
    return COMBO_ORDER.index(combo) if combo in COMBO_ORDER else len(COMBO_ORDER)


def _cell_rows(data: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """The table rows of one cell: the paper's reading, then every other reading of its grid.

    A cell made before grids were kept gives the paper's row only. A cell whose stored
    score is not the paper reading of its own grid is refused: one of the two is wrong.
    """
    prov = data.get("provenance") or {}
    libraries = ", ".join(f"{k} {v}" for k, v in (prov.get("libraries") or {}).items() if v)
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
    score = float(data["score"])
    if not math.isfinite(score):
        raise MusicTransferError(f"score cell {path} has score {score}", "rerun its evaluation")
    rows = [
        _row(base, PAPER_READING, score, data.get("best_params"), data.get("fold_scores"), None)
    ]
    rows[0]["n_settings"] = data.get("n_settings")
    grid = data.get("grid")
    if not grid:
        return rows
    n_features = int(data.get("n_features") or 0)
    paper = read_grid(grid, PAPER_READING, n_features)
    if abs(paper.score - score) > SCORE_TOLERANCE:
        raise MusicTransferError(
            f"score cell {path}: score {score} is not its grid's best ({paper.score})",
            "the file was edited or is corrupt: delete it and rerun its evaluation",
        )
    for name in READINGS:
        if name != PAPER_READING:
            r = read_grid(grid, name, n_features)
            rows.append(_row(base, name, r.score, r.best_params, r.fold_scores, r.n_settings))
    return rows


def _row(
    base: dict[str, Any],
    protocol: str,
    score: float,
    params: dict[str, Any] | None,
    folds: Sequence[float] | None,
    n_settings: int | None,
) -> dict[str, Any]:
    values = [float(v) for v in folds or []]
    return {
        **base,
        "protocol": protocol,
        "score": score,
        "best_params": json.dumps(params or {}, sort_keys=True, separators=(",", ":")),
        "fold_mean": float(np.mean(values)) if values else math.nan,
        "fold_std": float(np.std(values)) if values else math.nan,
        "n_folds": len(values),
        "n_settings": n_settings,
    }


def paper_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the paper's reading (a table without a protocol column is all paper)."""
    if "protocol" not in table:
        return table
    return table[table["protocol"] == PAPER_READING].reset_index(drop=True)


def sort_scores(table: pd.DataFrame) -> pd.DataFrame:
    """Rows by task, extractor, then combination in the paper's order (stable)."""
    keys = table.assign(_rank=table["combo"].map(combo_rank))
    order = ["task", "extractor", "_rank"] + (["_protocol"] if "protocol" in table else [])
    if "protocol" in table:
        keys["_protocol"] = table["protocol"].map(list(READINGS).index)
    keys = keys.sort_values(order, kind="mergesort")
    return keys.drop(columns=["_rank", "_protocol"], errors="ignore").reset_index(drop=True)


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
    dup = table.duplicated(["task", "extractor", "combo", "protocol"])
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
    missing = [c for c in ("task", "extractor", "combo", "metric", "score") if c not in table]
    if missing:
        raise MusicTransferError(f"score table {path} lacks column(s) {', '.join(missing)}")
    return table


# --- references and per-task summaries ----------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """A published score to compare a task with."""

    score: float
    combo: str | None = None
    label: str = "reference"
    scores: dict[str, float] = field(default_factory=dict)


def parse_references(references: Mapping[str, Any] | None) -> dict[str, Reference]:
    """Normalise ``{task: number | {score, combo, label, scores}}`` to :class:`Reference`."""
    out: dict[str, Reference] = {}
    for task, value in (references or {}).items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            if value.get("score") is None:
                continue
            combo = value.get("combo")
            out[task] = Reference(
                score=float(value["score"]),
                combo=None if combo in (None, "best") else str(combo),
                label=str(value.get("label") or "reference"),
                scores={str(k): float(v) for k, v in (value.get("scores") or {}).items()},
            )
        else:
            out[task] = Reference(score=float(value))
    return out


def convnet_extractors(table: pd.DataFrame) -> list[str]:
    """Extractors with layer combinations other than the random convnet, in table order."""
    conv = table[table["combo"].isin(ALL_COMBOS) & (table["extractor"] != RANDOM_EXTRACTOR)]
    return list(dict.fromkeys(conv["extractor"]))


def score_of(table: pd.DataFrame, combo: str, extractor: str | None = None) -> float | None:
    """A combination's score in a table (of one extractor, if given); None if not run."""
    rows = table[table["combo"] == combo]
    if extractor is not None:
        rows = rows[rows["extractor"] == extractor]
    return float(rows["score"].iloc[0]) if len(rows) else None


def best_combo(table: pd.DataFrame, extractor: str) -> tuple[str, float] | None:
    """The best layer combination of an extractor (ties: the earlier in paper order)."""
    rows = table[(table["extractor"] == extractor) & table["combo"].isin(ALL_COMBOS)]
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
    reference: Reference | None
    compared: float | None = None
    compared_what: str = ""

    @property
    def difference(self) -> float | None:
        """Our compared score minus the reference (None without either)."""
        if self.reference is None or self.compared is None:
            return None
        return self.compared - self.reference.score


def summarise_task(
    table: pd.DataFrame, task: str, reference: Reference | None = None
) -> TaskSummary:
    """Best combination per extractor, the baselines, and what is compared with the reference.

    The score compared with a reference is ours for the reference's combination (of the
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
        reference=reference,
    )
    if reference is None or main is None:
        return summary
    ours = None
    if reference.combo is not None:
        ours = score_of(rows, reference.combo, main) or score_of(rows, reference.combo)
    if ours is not None:
        summary.compared, summary.compared_what = ours, f"{reference.combo}"
    elif main in best:
        combo, score = best[main]
        summary.compared = score
        summary.compared_what = f"best: {combo}"
        if reference.combo is not None:
            summary.compared_what += f" ({reference.combo} not run)"
    return summary


# --- report -------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    return f"{value:.3f}"


def _fmt_diff(value: float | None) -> str:
    return "–" if value is None else f"{value:+.3f}"


def _task_table(
    table: pd.DataFrame, tasks: Sequence[str], refs: Mapping[str, Reference]
) -> tuple[list[str], list[TaskSummary]]:
    """Markdown rows: best combination per extractor, baselines, reference, difference."""
    extractors = convnet_extractors(table)
    has_random = RANDOM_EXTRACTOR in set(table["extractor"])
    head = ["task", "metric", *(f"best {e}" for e in extractors)]
    head += ["best random"] if has_random else []
    head += ["MFCC+12345", "MFCC", "reference", "ours (compared)", "difference"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    summaries = []
    for task in tasks:
        s = summarise_task(table, task, refs.get(task))
        summaries.append(s)
        cells = [task, s.metric or "–"]
        for e in [*extractors, *([RANDOM_EXTRACTOR] if has_random else [])]:
            b = s.best.get(e)
            cells.append(f"{b[1]:.3f} ({b[0]})" if b else "–")
        cells += [_fmt(s.mfcc_plus), _fmt(s.mfcc)]
        if s.reference is not None:
            ref = s.reference
            cells.append(f"{ref.score:.3f} ({ref.label})")
            cells.append(f"{_fmt(s.compared)} ({s.compared_what})" if s.compared else "–")
            cells.append(_fmt_diff(s.difference))
        else:
            cells += ["–", "–", "–"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines, summaries


def _published_table(
    table: pd.DataFrame, tasks: Sequence[str], refs: Mapping[str, Reference]
) -> list[str]:
    """Markdown rows for every further published score (e.g. the paper's MFCC baseline)."""
    lines = []
    for task in tasks:
        ref = refs.get(task)
        if ref is None:
            continue
        rows = table[table["task"] == task]
        main = (convnet_extractors(rows) or [None])[0]
        for combo, published in ref.scores.items():
            ours = score_of(rows, combo, main) if main else None
            if ours is None:
                ours = score_of(rows, combo)
            diff = None if ours is None else ours - published
            lines.append(
                f"| {task} | {combo} | {published:.3f} | {_fmt(ours)} | {_fmt_diff(diff)} |"
            )
    if not lines:
        return []
    return [
        "| task | combination | published | ours | difference |",
        "|---|---|---|---|---|",
        *lines,
    ]


def _figure_links(figures_dir: Path, out: Path, tasks: Sequence[str]) -> list[str]:
    lines = []
    for name in ["summary", *tasks]:
        fig = figures_dir / f"{name}.png"
        rel = os.path.relpath(fig, out.parent)
        lines.append(f"- [{name}]({rel})" + ("" if fig.is_file() else " (not drawn)"))
    return lines


def _difference_notes(summaries: Sequence[TaskSummary]) -> list[str]:
    """Plain statements of which tasks match their reference and which do not."""
    matched, differ = [], []
    for s in summaries:
        if s.difference is None:
            continue
        text = f"{s.task} ({s.compared_what}: {s.compared:.3f} vs {s.reference.score:.3f})"
        (matched if abs(s.difference) <= DIFFERENCE_TOLERANCE else differ).append(text)
    notes = []
    if matched:
        notes.append(f"Within {DIFFERENCE_TOLERANCE} of the reference: " + "; ".join(matched) + ".")
    if differ:
        notes.append(f"Differ by more than {DIFFERENCE_TOLERANCE}: " + "; ".join(differ) + ".")
    return notes


def write_report(
    scores: PathLike | pd.DataFrame,
    figures_dir: PathLike,
    out: PathLike,
    experiment: str,
    extra: Mapping[str, Any] | None = None,
    references: Mapping[str, Any] | None = None,
    tasks: Sequence[str] | None = None,
    authors: PathLike | None = None,
    modern: PathLike | None = None,
    modern_paired: PathLike | None = None,
    batch_boundary: PathLike | None = None,
) -> str:
    """Write the Markdown report and return its text.

    Parameters
    ----------
    scores
        ``scores.csv`` or the table.
    figures_dir
        Where the figures are (linked relative to the report).
    out
        The report file.
    experiment
        The experiment's name.
    extra
        Further facts: ``description``, ``machine``, ``notes`` (list of paragraphs),
        ``skipped`` (list of cells not run, with why); other keys are listed as facts.
    references
        ``{task: number | {score, combo, label, scores}}``.
    tasks
        Task order (default: the table's).
    authors
        ``tables/authors.csv`` (:mod:`musictransfer.authors`): adds the section comparing
        every cell with the authors' own result files.
    modern, modern_paired, batch_boundary
        ``tables/modern.csv``, ``tables/modern_paired.csv`` and
        ``tables/batch_boundary.csv`` (:mod:`musictransfer.modern`): add the section on
        today's protocols (the last two are optional within it).
    """
    full = scores if isinstance(scores, pd.DataFrame) else load_scores(scores)
    table = paper_rows(full)
    extra = dict(extra or {})
    refs = parse_references(references)
    tasks = list(tasks) if tasks else list(dict.fromkeys(table["task"]))
    out = Path(out)
    rows, summaries = _task_table(table, tasks, refs)
    description = str(extra.pop("description", "") or "").strip()
    given_notes = [str(n).strip() for n in extra.pop("notes", []) or []]
    skipped = extra.pop("skipped", []) or []
    lines = [f"# musictransfer report: experiment `{experiment}`", ""]
    if description:
        lines += [description, ""]
    lines += _facts(table, tasks, extra)
    lines += _provenance_lines(full)
    lines += ["", "## Best combination per task", "", *rows, ""]
    lines += [
        "Scores are the mean over cross-validation folds of the best SVM setting "
        "(accuracy, or r2 for regression). *ours (compared)* is our score for the "
        "reference's combination where it was run, otherwise our best convnet combination; "
        "*difference* is ours minus the reference.",
        "",
    ]
    published = _published_table(table, tasks, refs)
    if published:
        lines += ["## Further published scores", "", *published, ""]
    notes = _difference_notes(summaries) + given_notes
    if skipped:
        notes.append("Cells not run: " + "; ".join(map(str, skipped)) + ".")
    if notes:
        lines += ["## Notes", "", *(f"- {n}" for n in notes), ""]
    figures = _figure_links(Path(figures_dir), out, tasks)
    if authors is not None:
        from musictransfer.authors import comparison_markdown, load_comparison

        lines += comparison_markdown(load_comparison(authors))
        figures += _figure_links(Path(figures_dir), out, ["authors"])
    if modern is not None:
        from musictransfer.modern_report import modern_markdown

        lines += modern_markdown(modern, modern_paired, batch_boundary)
        names = ["modern", *(["batch_boundary"] if batch_boundary is not None else [])]
        figures += _figure_links(Path(figures_dir), out, names)[1:]  # summary is listed
    lines += ["## Figures", "", *figures, ""]
    text = "\n".join(lines)
    with atomic_path(out) as tmp:
        tmp.write_text(text)
    return text


def _provenance_lines(table: pd.DataFrame) -> list[str]:
    """Which code made the cells, with a warning when the table mixes several."""
    if "code" not in table:
        return []
    codes = table.groupby("code", sort=True).size()
    libraries = sorted(set(table.get("libraries", pd.Series(dtype=str)).dropna().astype(str)))
    lines = [
        "- code: " + "; ".join(f"`{c}` ({n} rows)" for c, n in codes.items()),
        *(f"- libraries: {lib}" for lib in libraries),
    ]
    if len(codes) > 1 or len(libraries) > 1:
        lines += [
            "",
            f"**Warning: the cells of this table were made by {len(codes)} versions of the code "
            f"and {len(libraries)} sets of libraries.** Scores from different code are not "
            "comparable until rerun: `snakemake --forcerun evaluate` (or delete the older "
            "cells) reruns them.",
        ]
    dirty = [c for c in codes.index if str(c).endswith(".dirty")]
    if dirty:
        lines += [
            "",
            "**Warning: some cells were made by code with uncommitted changes** "
            f"({', '.join(map(str, dirty))}); no commit records what computed them.",
        ]
    return lines


def _facts(table: pd.DataFrame, tasks: Sequence[str], extra: dict[str, Any]) -> list[str]:
    extractors = list(dict.fromkeys(table["extractor"]))
    fit = pd.to_numeric(table.get("fit_time_s"), errors="coerce") if "fit_time_s" in table else None
    facts = [
        f"- tasks: {', '.join(tasks)}",
        f"- extractors: {', '.join(extractors)}",
        f"- evaluation cells: {len(table)} "
        f"({table['combo'].nunique()} distinct feature combinations)",
    ]
    if fit is not None and fit.notna().any():
        facts.append(f"- total SVM grid-search time: {fit.sum():.1f} s")
    if "solver" in table and table["solver"].notna().any():
        facts.append(
            f"- solver(s): {', '.join(sorted(map(str, table['solver'].dropna().unique())))}"
        )
    machine = extra.pop("machine", None)
    if machine:
        facts.append(f"- machine: {machine}")
    for key, value in extra.items():
        facts.append(f"- {key}: {value}")
    return facts
