"""The Markdown report (``report.md``): what was run, the best combinations, the differences.

:func:`write_report` (the ``report`` rule) writes, from the score table
(:mod:`musictransfer.scores_table`): the experiment's facts and the code that made its
cells; per task, the best combination of each extractor against the MFCC baselines and
the published score (:mod:`musictransfer.published`), and the difference; every
further published score; notes on which tasks match their published score; and links to the
figures (:mod:`musictransfer.figures`). With the optional tables it adds the sections
comparing every cell with the authors' own results (:mod:`musictransfer.authors`) and
on today's protocols (:mod:`musictransfer.protocols_report`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from musictransfer._typing import PathLike
from musictransfer.authors import comparison_markdown, load_comparison
from musictransfer.featurefile import load_feature_set
from musictransfer.outputs import atomic_path
from musictransfer.protocols_report import protocols_markdown
from musictransfer.published import PublishedScore, parse_published
from musictransfer.scores_table import (
    RANDOM_EXTRACTOR,
    TaskSummary,
    convnet_extractors,
    load_scores,
    paper_rows,
    score_of,
    summarise_task,
)

DIFFERENCE_TOLERANCE = 0.005
"""Differences to a published score up to this size count as a match in the report's notes
(the paper prints scores with one decimal of a percent, i.e. to 0.001-0.0005)."""


_MARKUP = re.compile(r"([\\`*_\[\]<>#|~])")


def as_text(value: object) -> str:
    """User text (a description, a note, a label) as Markdown that renders it as written.

    Every character Markdown or HTML would read as markup is escaped, and line breaks
    become spaces, so the text can neither format the report nor, inside a table, move a
    number into another column (a ``|`` in a label did).
    """
    return _MARKUP.sub(r"\\\1", " ".join(str(value).split()))


def _fmt(value: float | None) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    return f"{value:.3f}"


def _fmt_diff(value: float | None) -> str:
    return "–" if value is None else f"{value:+.3f}"


def _task_table(
    table: pd.DataFrame, tasks: Sequence[str], refs: Mapping[str, PublishedScore]
) -> tuple[list[str], list[TaskSummary]]:
    """Markdown rows: best combination per extractor, baselines, published, difference.

    A column that no task fills (no MFCC + 12345 run, no published score configured) is
    left out rather than shown as a column of dashes.
    """
    extractors = convnet_extractors(table)
    has_random = RANDOM_EXTRACTOR in set(table["extractor"])
    summaries = [summarise_task(table, task, refs.get(task)) for task in tasks]
    any_plus = any(s.mfcc_plus is not None for s in summaries)
    any_mfcc = any(s.mfcc is not None for s in summaries)
    any_published = any(s.published is not None for s in summaries)
    head = ["task", "metric", *(f"best {e}" for e in extractors)]
    head += ["best random"] if has_random else []
    head += ["MFCC+12345"] if any_plus else []
    head += ["MFCC"] if any_mfcc else []
    head += ["published", "ours (compared)", "difference"] if any_published else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for task, s in zip(tasks, summaries, strict=True):
        cells = [task, s.metric or "–"]
        for e in [*extractors, *([RANDOM_EXTRACTOR] if has_random else [])]:
            b = s.best.get(e)
            cells.append(f"{b[1]:.3f} ({b[0]})" if b else "–")
        cells += [_fmt(s.mfcc_plus)] if any_plus else []
        cells += [_fmt(s.mfcc)] if any_mfcc else []
        if any_published and s.published is not None:
            ref = s.published
            cells.append(f"{ref.score:.3f} ({as_text(ref.label)})")
            cells.append(f"{_fmt(s.compared)} ({s.compared_what})" if s.compared else "–")
            cells.append(_fmt_diff(s.difference))
        elif any_published:
            cells += ["–", "–", "–"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines, summaries


def _published_table(
    table: pd.DataFrame, tasks: Sequence[str], refs: Mapping[str, PublishedScore]
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


def _figure_links(figures_dir: Path, out: Path, names: Sequence[str]) -> list[str]:
    """A Markdown link to each figure, relative to the report (each figure once)."""
    lines = []
    for name in names:
        fig = figures_dir / f"{name}.png"
        rel = os.path.relpath(fig, out.parent)
        lines.append(f"- [{name}]({rel})" + ("" if fig.is_file() else " (not drawn)"))
    return lines


def _difference_notes(summaries: Sequence[TaskSummary]) -> list[str]:
    """Plain statements of which tasks match their published score and which do not."""
    matched, differ = [], []
    for s in summaries:
        if s.difference is None:
            continue
        text = f"{s.task} ({s.compared_what}: {s.compared:.3f} vs {s.published.score:.3f})"
        (matched if abs(s.difference) <= DIFFERENCE_TOLERANCE else differ).append(text)
    notes = []
    if matched:
        notes.append(
            f"Within {DIFFERENCE_TOLERANCE} of the published score: " + "; ".join(matched) + "."
        )
    if differ:
        notes.append(f"Differ by more than {DIFFERENCE_TOLERANCE}: " + "; ".join(differ) + ".")
    return notes


def write_report(
    scores: PathLike | pd.DataFrame,
    figures_dir: PathLike,
    out: PathLike,
    experiment: str,
    extra: Mapping[str, Any] | None = None,
    published: Mapping[str, Any] | None = None,
    tasks: Sequence[str] | None = None,
    authors: PathLike | None = None,
    protocols: PathLike | None = None,
    protocols_paired: PathLike | None = None,
    batch_boundary: PathLike | None = None,
    representations: Sequence[PathLike] = (),
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
    published
        ``{task: number | {score, combo, label, scores}}``.
    tasks
        Task order (default: the table's).
    authors
        ``tables/authors.csv`` (:mod:`musictransfer.authors`): adds the section comparing
        every cell with the authors' own result files.
    protocols, protocols_paired, batch_boundary
        ``tables/protocols.csv``, ``tables/protocols_paired.csv`` and
        ``tables/batch_boundary.csv`` (:mod:`musictransfer.protocols`): add the section on
        today's protocols (the last two are optional within it).
    """
    full = scores if isinstance(scores, pd.DataFrame) else load_scores(scores)
    table = paper_rows(full)
    extra = dict(extra or {})
    refs = parse_published(published)
    tasks = list(tasks) if tasks else list(dict.fromkeys(table["task"]))
    out = Path(out)
    rows, summaries = _task_table(table, tasks, refs)
    description = str(extra.pop("description", "") or "").strip()
    given_notes = [as_text(n) for n in extra.pop("notes", []) or [] if str(n).strip()]
    skipped = extra.pop("skipped", []) or []
    lines = [f"# musictransfer report: experiment `{experiment}`", ""]
    if description:
        lines += [as_text(description), ""]
    lines += _facts(table, tasks, extra)
    lines += _provenance_lines(full)
    lines += ["", "## Best combination per task", "", *rows, ""]
    explained = (
        "Scores are the mean over cross-validation folds of the best SVM setting "
        "(accuracy, or r2 for regression); in brackets, the layer combination."
    )
    if any(s.published is not None for s in summaries):
        explained += (
            " *ours (compared)* is our score for the published score's combination where it "
            "was run, otherwise our best convnet combination; *difference* is ours minus "
            "the published score."
        )
    lines += [explained, ""]
    further = _published_table(table, tasks, refs)
    if further:
        lines += ["## Further published scores", "", *further, ""]
    notes = _difference_notes(summaries) + given_notes
    if skipped:
        notes.append("Cells not run: " + "; ".join(map(str, skipped)) + ".")
    if notes:
        lines += ["## Notes", "", *(f"- {n}" for n in notes), ""]
    lines += representations_markdown(representations)
    figures = _figure_links(Path(figures_dir), out, ["summary", *tasks])
    if authors is not None:
        lines += comparison_markdown(load_comparison(authors))
        figures += _figure_links(Path(figures_dir), out, ["authors"])
    if protocols is not None:
        lines += protocols_markdown(protocols, protocols_paired, batch_boundary)
        names = ["protocols", *(["batch_boundary"] if batch_boundary is not None else [])]
        figures += _figure_links(Path(figures_dir), out, names)
    lines += ["## Figures", "", *figures, ""]
    text = "\n".join(lines)
    with atomic_path(out) as tmp:
        tmp.write_text(text)
    return text


def representations_markdown(files: Sequence[PathLike]) -> list[str]:
    """The section on representations brought by the user: what made them, batch check.

    Read from a feature file of each (its ``representation`` record): the module, its
    version, options and model file, or the imported file's SHA-256; and whether a clip's
    embedding depended on the other clips of its call (measured at extraction).
    """
    if not files:
        return []
    lines = ["## Representations brought by the user", ""]
    lines += ["| representation | made by | batch check |", "|---|---|---|"]
    for path in files:
        fs = load_feature_set(path)
        made = fs.info.get("representation", {})
        name = as_text(Path(path).parent.name)
        if "hear" in made:
            what = f"HEAR module `{made['hear']}`" + (
                f" {made['version']}" if made.get("version") else ""
            )
            if made.get("options"):
                what += f", options `{json.dumps(made['options'], sort_keys=True)}`"
            if made.get("model_file_sha256"):
                what += f", model file SHA-256 {made['model_file_sha256'][:12]}"
            check = made.get("batch_check")
            if check is None:
                batch = "not recorded (extracted by code before the check)"
            elif not check["clips"]:
                batch = "not measured (one clip per call)"
            else:
                verdict = "**depends on its batch**" if check["batch_dependent"] else "none"
                batch = (
                    f"{verdict}: {check['clips']} clips alone vs in one call, relative "
                    f"difference {check['max_relative_difference']:.1e}"
                )
        else:
            what = (
                f"features file ({made.get('pooling', 'mean')} pooling), SHA-256 "
                + str(made.get("sha256", "?"))[:12]
            )
            batch = "not applicable (computed elsewhere)"
        lines.append(f"| {name} | {what} | {batch} |")
    return [*lines, ""]


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
        facts.append(f"- machine: {as_text(machine)}")
    for key, value in extra.items():
        facts.append(f"- {as_text(key)}: {as_text(value)}")
    return facts
