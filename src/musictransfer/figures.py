"""Figures of the score table: one per task (the paper's Figures 3-9) and the summary (Figure 2).

Per task, a bar for every layer combination of each pre-trained extractor, the random
extractor's narrow grey bar beside it, then MFCC + 12345, MFCC and the reference; the
summary shows, per task, the best convnet combination, MFCC + 12345, MFCC and the
reference. Every figure is drawn from the paper protocol's rows
(:func:`musictransfer.reporting.paper_rows`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from musictransfer.constants import ALL_COMBOS
from musictransfer.files import atomic_path
from musictransfer.reporting import (
    COLOURS,
    RANDOM_EXTRACTOR,
    Reference,
    convnet_extractors,
    load_scores,
    paper_rows,
    parse_references,
    score_of,
    summarise_task,
)

PathLike = str | os.PathLike[str]


def _pyplot() -> Any:
    """Matplotlib's pyplot on the non-interactive Agg backend (jobs have no display)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _ylim(values: Sequence[float], metric: str) -> tuple[float, float]:
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return (0.0, 1.0)
    low, high = min(values), max(values)
    span = max(high - low, 0.05)
    bottom = low - 0.15 * span
    if metric == "accuracy":
        bottom = max(0.0, bottom)
        top = min(1.0, high + 0.12 * span) if high < 1.0 else 1.0 + 0.04 * span
    else:
        top = high + 0.12 * span
    return bottom, top


def plot_task(
    table: pd.DataFrame, task: str, out: PathLike, reference: Reference | None = None
) -> Path:
    """One task's figure in the style of the paper's Figures 3-9.

    A bar per layer combination of each pre-trained extractor (blue; the first one's
    ranking written in its bars), the random convnet's narrow grey bar beside it, then
    MFCC + 12345, MFCC and the reference (red bar and dashed line) where present.
    """
    plt = _pyplot()
    rows = table[table["task"] == task]
    extractors = convnet_extractors(rows)
    has_random = bool(len(rows[(rows["extractor"] == RANDOM_EXTRACTOR)]))
    combos = [c for c in ALL_COMBOS if c in set(rows["combo"])]
    metric = str(rows["metric"].iloc[0]) if len(rows) else ""
    fig, ax = plt.subplots(figsize=(max(6.0, 0.42 * (len(combos) + 4) + 1.5), 4.0))
    plotted: list[float] = []
    n_main = max(len(extractors), 1)
    width = 0.8 / (n_main + (0.5 if has_random else 0.0))
    for k, extractor in enumerate(extractors):
        scores = [score_of(rows, c, extractor) for c in combos]
        xs = [i + (k - (n_main - 1) / 2) * width - (0.25 * width if has_random else 0.0)
              for i in range(len(combos))]  # fmt: skip
        present = [(x, s) for x, s in zip(xs, scores, strict=True) if s is not None]
        if present:
            ax.bar(*zip(*present, strict=True), width=width, color=COLOURS["convnet"],
                   alpha=1.0 - 0.25 * k, label=extractor)  # fmt: skip
            plotted += [s for _, s in present]
        if k == 0:
            _annotate_ranks(ax, present)
    if has_random:
        scores = [score_of(rows, c, RANDOM_EXTRACTOR) for c in combos]
        xs = [i + 0.4 - 0.25 * width for i in range(len(combos))]
        present = [(x, s) for x, s in zip(xs, scores, strict=True) if s is not None]
        if present:
            ax.bar(*zip(*present, strict=True), width=width / 2, color=COLOURS["random"],
                   label="random convnet")  # fmt: skip
            plotted += [s for _, s in present]
    labels = list(combos)
    extras: list[tuple[str, float, str]] = []
    summary = summarise_task(table, task, reference)
    if summary.mfcc_plus is not None:
        extras.append(("MFCC+12345", summary.mfcc_plus, COLOURS["mfcc+12345"]))
    if summary.mfcc is not None:
        extras.append(("MFCC", summary.mfcc, COLOURS["mfcc"]))
    if reference is not None:
        extras.append((reference.label, reference.score, COLOURS["reference"]))
    for j, (name, score, colour) in enumerate(extras):
        ax.bar(len(combos) + 0.5 + j, score, width=0.8, color=colour)
        labels.append(name)
        plotted.append(score)
    if reference is not None:
        ax.axhline(reference.score, color=COLOURS["reference"], linestyle="--", linewidth=1)
    positions = [*range(len(combos)), *(len(combos) + 0.5 + j for j in range(len(extras)))]
    ax.set_xticks(positions, labels, rotation=90, fontsize=8)
    ax.set_ylim(*_ylim(plotted, metric))
    ax.set_ylabel(metric or "score")
    ax.set_title(task)
    if not len(rows):
        ax.text(0.5, 0.5, "no scores", transform=ax.transAxes, ha="center", va="center")
    if extractors or has_random:
        ax.legend(loc="lower right", fontsize=7, frameon=False)
    ax.grid(axis="y", linewidth=0.3)
    ax.set_axisbelow(True)
    fig.tight_layout()
    return _save(fig, out, plt)


def _annotate_ranks(ax: Any, present: list[tuple[float, float]]) -> None:
    """Write each bar's rank inside it, top-7 in bold (as the paper's figures)."""
    if not present:
        return
    order = sorted(range(len(present)), key=lambda i: -present[i][1])
    rank = {i: r + 1 for r, i in enumerate(order)}
    for i, (x, score) in enumerate(present):
        ax.annotate(str(rank[i]), (x, score), xytext=(0, -2), textcoords="offset points",
                    ha="center", va="top", fontsize=6, color="white",
                    fontweight="bold" if rank[i] <= 7 else "normal")  # fmt: skip


def _save(fig: Any, out: PathLike, plt: Any) -> Path:
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return out


def summary_frame(
    table: pd.DataFrame, tasks: Sequence[str], references: Mapping[str, Reference]
) -> pd.DataFrame:
    """Tidy rows (task, series, score, detail) for the summary figure (Figure 2)."""
    rows = []
    for task in tasks:
        s = summarise_task(table, task, references.get(task))
        for extractor, (combo, score) in s.best.items():
            if extractor != RANDOM_EXTRACTOR:
                rows.append((task, f"best {extractor}", score, combo))
        if s.mfcc_plus is not None:
            rows.append((task, "MFCC+12345", s.mfcc_plus, "mfcc+12345"))
        if s.mfcc is not None:
            rows.append((task, "MFCC", s.mfcc, "mfcc"))
        if s.reference is not None:
            rows.append((task, "reference", s.reference.score, s.reference.label))
    return pd.DataFrame(rows, columns=["task", "series", "score", "detail"])


def plot_summary(
    table: pd.DataFrame, tasks: Sequence[str], out: PathLike, references: Mapping[str, Reference]
) -> Path:
    """The summary over tasks, as the paper's Figure 2 (seaborn grouped bars)."""
    import seaborn as sns

    plt = _pyplot()
    frame = summary_frame(table, tasks, references)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(tasks) + 2), 4.0))
    if frame.empty:
        ax.text(0.5, 0.5, "no scores", transform=ax.transAxes, ha="center", va="center")
    else:
        series = list(dict.fromkeys(frame["series"]))
        palette = {
            s: COLOURS["reference"] if s == "reference"
            else COLOURS["mfcc+12345"] if s == "MFCC+12345"
            else COLOURS["mfcc"] if s == "MFCC"
            else COLOURS["convnet"]
            for s in series
        }  # fmt: skip
        sns.barplot(frame, x="task", y="score", hue="series", hue_order=series,
                    order=list(tasks), palette=palette, ax=ax)  # fmt: skip
        low = min(0.0, float(frame["score"].min()))
        ax.set_ylim(low, max(1.0, float(frame["score"].max())) + 0.02)
        ax.legend(fontsize=7, frameon=False, loc="lower right")
    ax.set_xlabel("")
    ax.set_ylabel("score (accuracy or r2)")
    ax.tick_params(axis="x", rotation=30, labelsize=8)
    ax.set_title("Best convnet feature, MFCC + 12345, MFCC and the reference")
    fig.tight_layout()
    return _save(fig, out, plt)


def plot_scores(
    scores: PathLike | pd.DataFrame,
    out_dir: PathLike,
    tasks: Sequence[str] | None = None,
    references: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Draw ``<task>.png`` for every task and ``summary.png`` into ``out_dir``.

    Parameters
    ----------
    scores
        ``scores.csv`` or the table itself.
    out_dir
        Directory of the figures.
    tasks
        Tasks to draw, in order (default: those in the table). A task without rows
        still gets a figure saying so, so that the workflow's outputs always exist.
    references
        ``{task: number | {score, combo, label, scores}}``.

    Returns
    -------
    list of Path
        The figures written, the summary last.
    """
    table = paper_rows(scores if isinstance(scores, pd.DataFrame) else load_scores(scores))
    tasks = list(tasks) if tasks else list(dict.fromkeys(table["task"]))
    refs = parse_references(references)
    out_dir = Path(out_dir)
    written = [plot_task(table, t, out_dir / f"{t}.png", refs.get(t)) for t in tasks]
    written.append(plot_summary(table, tasks, out_dir / "summary.png", refs))
    return written
