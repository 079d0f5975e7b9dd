"""Every figure of the workflow, drawn with matplotlib and seaborn.

- :func:`plot_scores`: one figure per task after the paper's Figures 3-9 (a bar for every
  layer combination of each extractor, the random extractor's narrow grey bar beside it,
  then MFCC + 12345, MFCC and the published score; bars from zero with their spread over
  folds) and the summary like Figure 2 (per task: each extractor's best combination,
  MFCC + 12345, MFCC, published score; one panel per metric),
  drawn from the paper protocol's rows of the score table
  (:func:`musictransfer.scores_table.paper_rows`);
- :func:`plot_comparison`: our scores against the authors' per-cell result files
  (:mod:`musictransfer.authors`);
- :func:`plot_protocols`: the paper's protocol beside today's fixed splits, per task
  (:mod:`musictransfer.protocols_report`);
- :func:`plot_batch_boundary`: separability of a class cut at a batch boundary against
  cuts within one batch (:mod:`musictransfer.batch_context`).

Each figure is drawn from a table that its own module computes; the figures depend on
those tables' columns, never on the modules, so that the modules that write a table and
its figure in one rule can call this one.

matplotlib and seaborn are imported when a figure is drawn (:func:`_pyplot`,
:func:`_seaborn`): about 4 s of start-up that the modules importing this one for their
rule's figure need not pay otherwise, and neither is in the environment of the
``batch-boundary`` rule (``envs/evaluation.yaml``), whose module draws the figure of
another rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from musictransfer._typing import PathLike
from musictransfer.outputs import atomic_path
from musictransfer.published import PublishedScore, parse_published
from musictransfer.readings import AUTHORS_SCRIPT_READING, PAPER_READING
from musictransfer.scores_table import (
    RANDOM_EXTRACTOR,
    convnet_extractors,
    load_scores,
    own_combos,
    paper_rows,
    score_of,
    summarise_task,
)

COLOURS = {
    "convnet": "#3b75af",
    "random": "#9a9a9a",
    "mfcc+12345": "#6a51a3",
    "mfcc": "#b39ddb",
    "published": "#c0392b",
}
"""Colours of the score figures' series."""


def _pyplot() -> Any:
    """Matplotlib's pyplot on the non-interactive Agg backend (jobs have no display)."""
    import matplotlib  # lazy: 1.2 s, and absent from envs/evaluation.yaml (module docstring)

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt  # lazy: as matplotlib, after its backend is chosen

    return plt


def _seaborn() -> Any:
    """Seaborn, for the figures drawn with it."""
    import seaborn as sns  # lazy: 2.9 s, and absent from envs/evaluation.yaml (docstring)

    return sns


# --- the score table: per task and the summary -----------------------------------------


METRIC_BOUNDS = {"accuracy": (0.0, 1.0), "r2": (None, 1.0)}
"""What a metric can take: a bar's spread is drawn within these."""


def _extractor_colours(extractors: Sequence[str]) -> dict[str, Any]:
    """One colour per convnet extractor: the first the paper's blue, then a qualitative set."""
    # No purple: MFCC's colours are purple; no grey: the random convnet's.
    others = ["#e08214", "#1b9e77", "#e7298a", "#66a61e", "#a6761d", "#17becf", "#8c564b"]
    palette = [COLOURS["convnet"], *others]
    return {e: palette[k % len(palette)] for k, e in enumerate(extractors)}


def _spread(rows: pd.DataFrame, combo: str, extractor: str, score: float, metric: str) -> list:
    """(below, above) of a bar: the standard deviation over folds, cut at the metric's bounds."""
    cell = rows[(rows["combo"] == combo) & (rows["extractor"] == extractor)]
    std = float(cell["fold_std"].iloc[0]) if "fold_std" in cell and len(cell) else 0.0
    std = std if np.isfinite(std) else 0.0
    low, high = METRIC_BOUNDS.get(metric, (None, None))
    below = std if low is None else min(std, max(score - low, 0.0))
    above = std if high is None else min(std, max(high - score, 0.0))
    return [below, above]


def _ylim(values: Sequence[float], metric: str) -> tuple[float, float]:
    """From zero (a bar's length is its score): accuracy on [0, 1], r2 down to its lowest."""
    values = [v for v in values if v is not None and np.isfinite(v)]
    if metric == "accuracy" or not values:
        return (0.0, 1.0)
    low, high = min(min(values), 0.0), max(max(values), 0.0)
    margin = 0.05 * max(high - low, 0.1)
    return low - margin, high + margin


def _ranks(scores: Sequence[float]) -> list[int]:
    """Competition ranks, highest first: equal scores (to 1e-9) share the better rank."""
    order = sorted(scores, reverse=True)
    return [1 + sum(o > s + 1e-9 for o in order) for s in scores]


def plot_task(
    table: pd.DataFrame, task: str, out: PathLike, published: PublishedScore | None = None
) -> Path:
    """One task's figure, after the paper's Figures 3-9, drawn to be read as it is.

    A bar per layer combination of each extractor (a colour each; the random convnet
    narrow and grey), then MFCC + 12345, MFCC and the published score (red, and a dashed
    line) where present. Bars start at zero, accuracy on [0, 1]; each carries its
    standard deviation over the folds (cut at the metric's bounds); the first extractor's
    ranks are written above its bars, equal scores sharing a rank. The legend sits below
    the axes, never over a bar.
    """
    plt = _pyplot()
    rows = table[table["task"] == task]
    extractors = convnet_extractors(rows)
    colours = _extractor_colours(extractors)
    has_random = bool(len(rows[(rows["extractor"] == RANDOM_EXTRACTOR)]))
    combos = own_combos(rows)
    metric = str(rows["metric"].iloc[0]) if len(rows) else ""
    fig, ax = plt.subplots(figsize=(max(6.5, 0.45 * (len(combos) + 4) + 1.5), 4.6))
    plotted: list[float] = []
    n_main = max(len(extractors), 1)
    width = 0.8 / (n_main + (0.5 if has_random else 0.0))
    bars = {"capsize": 1.5, "error_kw": {"elinewidth": 0.6, "ecolor": "#333333"}}
    for k, extractor in enumerate(extractors):
        xs = [i + (k - (n_main - 1) / 2) * width - (0.25 * width if has_random else 0.0)
              for i in range(len(combos))]  # fmt: skip
        present = [(x, c, s) for x, c in zip(xs, combos, strict=True)
                   if (s := score_of(rows, c, extractor)) is not None]  # fmt: skip
        if not present:
            continue
        x, cs, ys = zip(*present, strict=True)
        spread = np.array(
            [_spread(rows, c, extractor, y, metric) for c, y in zip(cs, ys, strict=True)]
        )
        ax.bar(x, ys, width=width, color=colours[extractor], label=extractor, yerr=spread.T, **bars)
        plotted += [*(np.asarray(ys) + spread[:, 1]), *(np.asarray(ys) - spread[:, 0])]
        if k == 0:
            for xi, yi, up, rank in zip(x, ys, spread[:, 1], _ranks(ys), strict=True):
                bold = "bold" if rank <= 7 else "normal"
                ax.annotate(str(rank), (xi, max(yi, 0.0) + up), xytext=(0, 1.5),
                            textcoords="offset points", ha="center", va="bottom", fontsize=6,
                            color="#222222", fontweight=bold)  # fmt: skip
    if has_random:
        xs = [i + 0.4 - 0.25 * width for i in range(len(combos))]
        present = [(x, s) for x, c in zip(xs, combos, strict=True)
                   if (s := score_of(rows, c, RANDOM_EXTRACTOR)) is not None]  # fmt: skip
        if present:
            ax.bar(*zip(*present, strict=True), width=width / 2, color=COLOURS["random"],
                   label="random convnet")  # fmt: skip
            plotted += [s for _, s in present]
    labels = list(combos)
    extras: list[tuple[str, float, str, str]] = []
    summary = summarise_task(table, task, published)
    if summary.mfcc_plus is not None:
        extras.append(("MFCC+12345", summary.mfcc_plus, COLOURS["mfcc+12345"], "mfcc+12345"))
    if summary.mfcc is not None:
        extras.append(("MFCC", summary.mfcc, COLOURS["mfcc"], "mfcc"))
    for j, (name, score, colour, combo) in enumerate(extras):
        owner = rows[rows["combo"] == combo]["extractor"]
        spread = _spread(rows, combo, str(owner.iloc[0]), score, metric) if len(owner) else [0, 0]
        ax.bar(len(combos) + 0.5 + j, score, width=0.8, color=colour,
               yerr=np.array([spread]).T, **bars)  # fmt: skip
        labels.append(name)
        plotted += [score + spread[1], score - spread[0]]
    if published is not None:
        j = len(extras)
        ax.bar(len(combos) + 0.5 + j, published.score, width=0.8, color=COLOURS["published"])
        ax.axhline(published.score, color=COLOURS["published"], linestyle="--", linewidth=1)
        labels.append(published.label)
        plotted.append(published.score)
        extras.append((published.label, published.score, COLOURS["published"], ""))
    positions = [*range(len(combos)), *(len(combos) + 0.5 + j for j in range(len(extras)))]
    ax.set_xticks(positions, labels, rotation=90, fontsize=8)
    bottom, top = _ylim(plotted, metric)
    ax.set_ylim(bottom, top + 0.06 * (top - bottom))  # room for the ranks above the bars
    if metric == "accuracy":
        ax.set_yticks(np.linspace(0, 1, 6))
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set_ylabel(f"{metric or 'score'} (bars: ± std over folds)", fontsize=9)
    ax.set_xlabel("layer combination (convnet layers 1-5; scene: the whole embedding)", fontsize=8)
    ax.set_title(task)
    if not len(rows):
        ax.text(0.5, 0.5, "no scores", transform=ax.transAxes, ha="center", va="center")
    if extractors or has_random:
        fig.legend(loc="lower center", ncol=min(5, n_main + has_random), fontsize=7,
                   frameon=False, bbox_to_anchor=(0.5, 0.0))  # fmt: skip
    ax.grid(axis="y", linewidth=0.3)
    ax.set_axisbelow(True)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return _save(fig, out, plt)


def _save(fig: Any, out: PathLike, plt: Any) -> Path:
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=150, format="png")
    plt.close(fig)
    return out


def summary_frame(
    table: pd.DataFrame, tasks: Sequence[str], published: Mapping[str, PublishedScore]
) -> pd.DataFrame:
    """Tidy rows (task, metric, series, score, detail) for the summary figure (Figure 2)."""
    rows = []
    for task in tasks:
        s = summarise_task(table, task, published.get(task))
        metric = table[table["task"] == task]["metric"]
        metric = str(metric.iloc[0]) if len(metric) else ""
        for extractor, (combo, score) in s.best.items():
            if extractor != RANDOM_EXTRACTOR:
                rows.append((task, metric, f"best {extractor}", score, combo))
        if s.mfcc_plus is not None:
            rows.append((task, metric, "MFCC+12345", s.mfcc_plus, "mfcc+12345"))
        if s.mfcc is not None:
            rows.append((task, metric, "MFCC", s.mfcc, "mfcc"))
        if s.published is not None:
            rows.append((task, metric, "published", s.published.score, s.published.label))
    return pd.DataFrame(rows, columns=["task", "metric", "series", "score", "detail"])


def plot_summary(
    table: pd.DataFrame,
    tasks: Sequence[str],
    out: PathLike,
    published: Mapping[str, PublishedScore],
) -> Path:
    """The summary over tasks, as the paper's Figure 2: one panel per metric.

    Accuracy and r2 are different scales, so each has its own panel and axis (accuracy
    on [0, 1]); each extractor's best combination has its own colour, as in the tasks'
    figures. The published score appears only where a task has one, and the title says
    so only then.
    """
    plt = _pyplot()
    sns = _seaborn()
    frame = summary_frame(table, tasks, published)
    metrics = list(dict.fromkeys(frame["metric"])) if not frame.empty else [""]
    widths = [max(1, frame[frame["metric"] == m]["task"].nunique()) for m in metrics]
    fig, axes = plt.subplots(1, len(metrics), figsize=(max(6.5, 1.4 * sum(widths) + 2.5), 4.4),
                             gridspec_kw={"width_ratios": widths}, squeeze=False)  # fmt: skip
    series = list(dict.fromkeys(frame["series"])) if not frame.empty else []
    colours = _extractor_colours([s.removeprefix("best ") for s in series if s.startswith("best ")])
    palette = {
        s: COLOURS["published"] if s == "published"
        else COLOURS["mfcc+12345"] if s == "MFCC+12345"
        else COLOURS["mfcc"] if s == "MFCC"
        else colours[s.removeprefix("best ")]
        for s in series
    }  # fmt: skip
    for ax, metric in zip(axes[0], metrics, strict=True):
        part = frame[frame["metric"] == metric]
        if part.empty:
            ax.text(0.5, 0.5, "no scores", transform=ax.transAxes, ha="center", va="center")
            continue
        order = [t for t in tasks if t in set(part["task"])]
        sns.barplot(part, x="task", y="score", hue="series", hue_order=series, order=order,
                    palette=palette, ax=ax, legend=ax is axes[0][0])  # fmt: skip
        ax.set_ylim(*_ylim(list(part["score"]), metric))
        ax.axhline(0.0, color="black", linewidth=0.6)
        ax.set_xlabel("")
        ax.set_ylabel(metric)
        ax.tick_params(axis="x", rotation=30, labelsize=8)
        ax.grid(axis="y", linewidth=0.3)
        ax.set_axisbelow(True)
    if axes[0][0].get_legend() is not None:
        handles, labels = axes[0][0].get_legend_handles_labels()
        axes[0][0].get_legend().remove()
        fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=7,
                   frameon=False)  # fmt: skip
    parts = "Best combination of each extractor, MFCC + 12345 and MFCC"
    if "published" in series:
        parts += ", and the published score"
    fig.suptitle(parts, fontsize=11)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return _save(fig, out, plt)


def plot_scores(
    scores: PathLike | pd.DataFrame,
    out_dir: PathLike,
    tasks: Sequence[str] | None = None,
    published: Mapping[str, Any] | None = None,
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
    published
        ``{task: number | {score, combo, label, scores}}``.

    Returns
    -------
    list of Path
        The figures written, the summary last.
    """
    table = paper_rows(scores if isinstance(scores, pd.DataFrame) else load_scores(scores))
    tasks = list(tasks) if tasks else list(dict.fromkeys(table["task"]))
    refs = parse_published(published)
    out_dir = Path(out_dir)
    written = [plot_task(table, t, out_dir / f"{t}.png", refs.get(t)) for t in tasks]
    written.append(plot_summary(table, tasks, out_dir / "summary.png", refs))
    return written


# --- ours against the authors' result files ---------------------------------------


def plot_comparison(table: pd.DataFrame, out: PathLike, groups: Sequence[str]) -> Path:
    """Ours against the authors' per cell: one panel per task, a colour per reading.

    Parameters
    ----------
    table
        :func:`musictransfer.authors.compare_with_authors`'s table.
    out
        The figure (PNG), written atomically.
    groups
        The groups of cells in legend order (:data:`musictransfer.authors.GROUPS`): a
        group keeps its marker in a table that lacks another.
    """
    plt = _pyplot()
    sns = _seaborn()
    from matplotlib.ticker import MaxNLocator  # lazy: as matplotlib (_pyplot)

    long = table.melt(
        id_vars=["task", "combo", "group", "authors"],
        value_vars=[PAPER_READING, AUTHORS_SCRIPT_READING],
        var_name="reading",
        value_name="ours",
    )
    tasks = list(dict.fromkeys(table["task"])) or ["(none)"]
    grid = sns.FacetGrid(
        long,
        col="task",
        col_order=tasks,
        col_wrap=min(4, len(tasks)),
        height=3.0,
        sharex=False,
        sharey=False,
    )
    grid.map_dataframe(
        sns.scatterplot,
        x="authors",
        y="ours",
        hue="reading",
        style="group",
        hue_order=[PAPER_READING, AUTHORS_SCRIPT_READING],
        style_order=list(groups),
        s=28,
    )
    for ax in grid.axes.flat:
        lo = min(ax.get_xlim()[0], ax.get_ylim()[0])
        hi = max(ax.get_xlim()[1], ax.get_ylim()[1])
        ax.plot([lo, hi], [lo, hi], color="#888888", linewidth=0.8, zorder=0)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        # Few ticks, slanted: on a narrow range their labels would run together.
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.yaxis.set_major_locator(MaxNLocator(5))
        ax.tick_params(axis="x", labelrotation=35, labelsize=7)
        ax.tick_params(axis="y", labelsize=7)
    grid.set_axis_labels("authors' result file", "ours")
    grid.set_titles("{col_name}")
    grid.add_legend()
    grid.figure.suptitle("Our scores against the authors' per-cell results", y=1.02)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        grid.figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(grid.figure)
    return out


# --- the paper's protocol beside today's ---------------------------------------------


def plot_protocols(table: pd.DataFrame, out_png: PathLike) -> Path:
    """Paper protocol vs today's, per task: each score with its interval.

    One panel per task; the y axis lists (protocol, probe) and each combination is a
    point with a horizontal bar (fold mean +- std for the paper's cross-validation, 95 %
    bootstrap interval for the probes).
    """
    plt = _pyplot()
    sns = _seaborn()
    tasks = list(dict.fromkeys(table["task"]))
    n = max(len(tasks), 1)
    cols = min(n, 3)
    rows_ = math.ceil(n / cols)
    fig, axes = plt.subplots(rows_, cols, figsize=(4.6 * cols, 0.6 + 2.8 * rows_), squeeze=False)
    combos = list(dict.fromkeys(table["combo"]))
    palette = dict(zip(combos, sns.color_palette("colorblind", len(combos)), strict=False))
    for ax, task in zip(axes.flat, tasks, strict=False):
        rows = table[table["task"] == task].copy()
        rows["method"] = rows["protocol"].str.replace("_", " ") + "\n" + rows["probe"]
        methods = list(dict.fromkeys(rows["method"]))
        offsets = {c: (i - (len(combos) - 1) / 2) * 0.14 for i, c in enumerate(combos)}
        for _, r in rows.iterrows():
            y = methods.index(r["method"]) + offsets[r["combo"]]
            if not (math.isnan(r["ci_low"]) or math.isnan(r["ci_high"])):
                ax.plot([r["ci_low"], r["ci_high"]], [y, y], color=palette[r["combo"]], lw=1.2)
            ax.plot(r["score"], y, "o", ms=4, color=palette[r["combo"]])
        ax.set_yticks(range(len(methods)), methods, fontsize=7)
        ax.set_ylim(len(methods) - 0.5, -0.5)  # first method on top, room for the offsets
        ax.set_title(task, fontsize=9)
        ax.set_xlabel(str(rows["metric"].iloc[0]), fontsize=8)
        ax.grid(axis="x", linewidth=0.3)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    handles = [plt.Line2D([], [], marker="o", ls="-", color=palette[c], label=c) for c in combos]
    fig.legend(handles=handles, loc="lower center", ncol=len(combos), fontsize=7, frameon=False)
    fig.suptitle("The paper's protocol (fold mean +- std) beside today's fixed splits "
                 "(test score, 95 % bootstrap interval)", fontsize=9)  # fmt: skip
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    out = Path(out_png)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=120, format="png", bbox_inches="tight")
    plt.close(fig)
    return out


# --- the batch context of convnet features -------------------------------------------


def plot_batch_boundary(table: pd.DataFrame, out_png: PathLike, metric: str = "accuracy") -> Path:
    """Separability at boundary cuts vs within-batch cuts, one panel per dataset (and extractor).

    Each cut is a point (within-batch grey, boundary red; the boundary cuts are listed
    under the panel with their sides' sizes); for accuracy, a short line beside each group
    marks each cut's majority share, the score of a classifier that ignores the features.

    Parameters
    ----------
    table
        :func:`batch_boundary_test`'s table, or :func:`batch_boundary_tables`'s.
    out_png
        The figure (PNG), written atomically.
    metric
        'accuracy' or 'balanced_accuracy'.
    """
    plt = _pyplot()
    if "dataset" not in table.columns:
        table = table.assign(dataset="")
    if "extractor" not in table.columns:
        table = table.assign(extractor="")
    names = list(dict.fromkeys(table["dataset"]))
    extractors = list(dict.fromkeys(table["extractor"])) or [""]
    ncols, nrows = max(len(names), 1), len(extractors)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols + 0.6, 4.2 * nrows),
                             sharey=True, squeeze=False)  # fmt: skip
    kinds = {False: "within one batch", True: "at a batch boundary"}
    panels = [(axes[r][c], name, extractor) for r, extractor in enumerate(extractors)
              for c, name in enumerate(names)]  # fmt: skip
    for ax, name, extractor in panels:
        rows = table[(table["dataset"] == name) & (table["extractor"] == extractor)]
        if rows.empty:
            ax.text(0.5, 0.5, "no cuts", ha="center", va="center", transform=ax.transAxes)
            ax.set_title(" / ".join(filter(None, (str(name), str(extractor)))), fontsize=9)
            continue
        # Each cut at its category's position (0 within a batch, 1 at a boundary), spread
        # evenly across a narrow band so that no two cover each other; its majority share
        # is a short dash at the same x, so point and baseline read as a pair.
        for at_boundary, group in rows.groupby("at_boundary", sort=True):
            k = int(bool(at_boundary))
            xs = k + (np.linspace(-0.18, 0.18, len(group)) if len(group) > 1 else np.zeros(1))
            ax.scatter(xs, group[metric], s=22, zorder=3,
                       color="#c0392b" if k else "0.45", label=None)  # fmt: skip
            if metric == "accuracy":
                ax.scatter(xs, group["majority"], marker="_", s=70, color="0.2",
                           linewidths=1, zorder=2)  # fmt: skip
        if metric == "accuracy":
            ax.scatter([], [], marker="_", s=70, color="0.2", label="majority share")
            ax.legend(loc="lower right", fontsize=6, frameon=False)
        ax.set_xticks([0, 1], list(kinds.values()))
        ax.set_xlim(-0.5, 1.5)
        ax.text(0.0, -0.1, _boundary_note(rows, metric), transform=ax.transAxes, fontsize=6,
                va="top", ha="left", family="monospace")  # fmt: skip
        ax.set_title(" / ".join(filter(None, (str(name), str(extractor)))), fontsize=9)
        ax.set_xlabel("")
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="y", linewidth=0.3)
    if not names:
        axes[0][0].text(0.5, 0.5, "no cuts", ha="center", va="center")
    for row in axes:
        row[0].set_ylabel(f"separability of the two halves ({metric})")
    fig.suptitle("A class cut in two: at a batch boundary vs within one batch", fontsize=9)
    fig.tight_layout()
    out = Path(out_png)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=120, format="png", bbox_inches="tight")
    plt.close(fig)
    return out


def _boundary_note(rows: pd.DataFrame, metric: str, most: int = 8) -> str:
    """The boundary cuts of one panel as text lines: class, sides' sizes, score."""
    cuts = rows[rows["at_boundary"]].sort_values(metric, ascending=False)
    lines = [f"{str(r['class'])[:14]:<14} {r['n_before']:>3}|{r['n_after']:<3} {r[metric]:.2f}"
             for _, r in cuts.head(most).iterrows()]  # fmt: skip
    if len(cuts) > most:
        lines.append(f"... {len(cuts) - most} more, lowest {cuts[metric].min():.2f}")
    return "\n".join(["boundary cuts:", *lines]) if lines else "no boundary cuts"
