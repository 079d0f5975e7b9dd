"""Today's protocols, reported: tables, paired comparisons, figures, the report's section.

Rules ``modern_table`` and ``batch_boundary``: :func:`modern_rows` puts the paper cells
(fold mean and spread) and the probes (test score and bootstrap interval) in one table,
:func:`paired_comparisons` compares the best convnet combination with MFCC on the same
test clips, :func:`plot_modern` draws both protocols per task, and
:func:`modern_markdown` writes the report's section, with the batch-context test of the
released features (:mod:`musictransfer.batch_context`). The computations they report are
in :mod:`musictransfer.modern`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from musictransfer.errors import MusicTransferError
from musictransfer.files import atomic_path, read_json_object
from musictransfer.modern import BASELINE, COMPARISON_COLUMNS, MODERN_SPLIT, PAPER_CV, TABLE_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

PathLike = str | os.PathLike[str]


def _read_json(path: PathLike, what: str) -> dict[str, Any]:
    return read_json_object(path, what, "run its rule first", "delete it and rerun its rule")


def _code(data: Mapping[str, Any]) -> str:
    return str((data.get("provenance") or {}).get("code", "unknown"))


def cv_row(cell: Mapping[str, Any]) -> dict[str, Any]:
    """A paper cell (its JSON) as a row: the fold mean and the spread of its folds.

    ``ci_low`` / ``ci_high`` are the mean minus / plus one standard deviation over folds
    (``interval`` says so), which describes how the score moves with the fold, not a
    confidence interval; with a single fold (Jamendo's predefined split) they are the
    score itself.
    """
    from musictransfer.stats import fold_spread

    folds = cell.get("fold_scores") or [cell["score"]]
    spread = fold_spread(folds)
    std = spread.std
    low, high = (spread.mean - std, spread.mean + std) if std is not None else (math.nan,) * 2
    return {
        "task": str(cell["task"]),
        "extractor": str(cell["extractor"]),
        "combo": str(cell["combo"]),
        "protocol": PAPER_CV,
        "probe": "svm_grid",
        "metric": str(cell["metric"]),
        "score": float(cell["score"]),
        "ci_low": low,
        "ci_high": high,
        "interval": f"fold mean +- std over {spread.n} folds (min {spread.min:.3f}, "
        f"max {spread.max:.3f})"
        if std is not None
        else "one split: no spread",
        "fold_std": std if std is not None else math.nan,
        "n_test": int(cell.get("n_clips") or 0),
        "valid_score": math.nan,
        "code": _code(cell),
    }


def probe_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """A probe's record as a row: its test score and bootstrap interval."""
    ci = record.get("ci") or {}
    return {
        "task": str(record["task"]),
        "extractor": str(record["extractor"]),
        "combo": str(record["combo"]),
        "protocol": MODERN_SPLIT,
        "probe": str(record["probe"]),
        "metric": str(record["metric"]),
        "score": float(record["test_score"]),
        "ci_low": float(ci.get("low", math.nan)),
        "ci_high": float(ci.get("high", math.nan)),
        "interval": f"{100 * float(ci.get('level', 0.95)):g} % bootstrap over "
        f"{ci.get('n', record.get('n_test'))} test clips",
        "fold_std": math.nan,
        "n_test": int(record["n_test"]),
        "valid_score": float(record["valid_score"]),
        "code": _code(record),
    }


def modern_rows(
    cells: Sequence[PathLike], probes: Sequence[PathLike], tasks: Sequence[str] | None = None
) -> pd.DataFrame:
    """The modern table: paper cells (protocol paper_cv) and probes (modern_split).

    Rows by task (in ``tasks``' order where given), extractor, protocol, probe, combo.
    """
    import pandas as pd

    rows = [cv_row(_read_json(p, "score cell")) for p in cells]
    rows += [probe_row(_read_json(p, "probe result")) for p in probes]
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    order = list(tasks or dict.fromkeys(table["task"]))
    keys = {
        "_task": table["task"].map({t: i for i, t in enumerate(order)}).fillna(len(order)),
        "_protocol": table["protocol"].map({PAPER_CV: 0, MODERN_SPLIT: 1}),
    }
    table = table.assign(**keys).sort_values(
        ["_task", "task", "extractor", "_protocol", "probe", "combo"], kind="stable"
    )
    table = table.drop(columns=list(keys))
    return table.reset_index(drop=True)


def is_convnet(combo: str) -> bool:
    """Whether a combination is of convnet layers only ('12345', not 'mfcc+12345')."""
    return combo.isdigit()


def paired_comparisons(
    probes: Sequence[PathLike | Mapping[str, Any]], seed: int = 0, n_boot: int = 1000
) -> pd.DataFrame:
    """Paired comparisons on the same test clips: against MFCC, and between extractors.

    Per (task, extractor, probe), the best convnet combination is chosen by its *valid*
    score (the test clips choose nothing), then compared with the MFCC probe on the same
    test clips with :func:`musictransfer.stats.paired_test`: the effect (best minus MFCC),
    its paired bootstrap interval and the permutation p-value. Groups without an MFCC
    probe or without a convnet one are left out.

    Where several extractors have probes, each one after the first (in the order the
    probes come, the experiment's) is also compared with the first, combination by
    combination (``best_combo`` is then that combination, ``baseline`` the first
    extractor): the same layers of two networks, or of one network under two BatchNorm
    statistics modes, on the same clips.

    Raises
    ------
    MusicTransferError
        If the two probes' test clips differ (they were made from different splits).
    """
    import numpy as np
    import pandas as pd

    from musictransfer.stats import paired_test

    records = [p if isinstance(p, Mapping) else _read_json(p, "probe result") for p in probes]
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["task"], r["extractor"], r["probe"]), []).append(r)

    def compare(a: Mapping[str, Any], b: Mapping[str, Any], baseline: str) -> dict[str, Any]:
        if a.get("test_ids") != b.get("test_ids"):
            raise MusicTransferError(
                f"{a['task']}: the {a['extractor']} {a['combo']} and {b['extractor']} "
                f"{b['combo']} {a['probe']} probes were scored on different test clips",
                "rerun modern_split and the probes of the task",
            )
        result = paired_test(np.asarray(a["y_test"]), np.asarray(a["test_pred"]),
                             np.asarray(b["test_pred"]), a["metric"], n_boot=n_boot,
                             seed=seed)  # fmt: skip
        return {
            "task": a["task"], "extractor": a["extractor"], "probe": a["probe"],
            "metric": result.metric, "best_combo": str(a["combo"]), "baseline": baseline,
            "score_best": result.score_a, "score_baseline": result.score_b,
            "effect": result.effect, "effect_low": result.ci.low, "effect_high": result.ci.high,
            "p_value": result.p_value, "n_test": result.n,
        }  # fmt: skip

    rows = []
    for members in groups.values():
        base = next((r for r in members if r["combo"] == BASELINE), None)
        convnet = [r for r in members if is_convnet(str(r["combo"]))]
        if base is None or not convnet:
            continue
        best = max(convnet, key=lambda r: float(r["valid_score"]))  # first best on ties
        rows.append(compare(best, base, BASELINE))
    first: dict[tuple[str, str], str] = {}
    for task, extractor, kind in groups:
        first.setdefault((task, kind), extractor)
    for (task, extractor, kind), members in groups.items():
        reference = first[(task, kind)]
        if extractor == reference:
            continue
        by_combo = {str(r["combo"]): r for r in groups[(task, reference, kind)]}
        for r in members:
            other = by_combo.get(str(r["combo"]))
            if other is not None and str(r["combo"]) != BASELINE:
                rows.append(compare(r, other, reference))
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def plot_modern(table: pd.DataFrame, out_png: PathLike) -> Path:
    """Paper protocol vs today's, per task: each score with its interval.

    One panel per task; the y axis lists (protocol, probe) and each combination is a
    point with a horizontal bar (fold mean +- std for the paper's cross-validation, 95 %
    bootstrap interval for the probes).
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import seaborn as sns

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


def modern_table_files(
    cells: Sequence[PathLike],
    probes: Sequence[PathLike],
    out: PathLike,
    paired_out: PathLike,
    figure: PathLike,
    tasks: Sequence[str] | None = None,
    seed: int = 0,
    n_boot: int = 1000,
) -> pd.DataFrame:
    """Rule ``modern_table``: the table, the paired comparisons and the figure."""
    table = modern_rows(cells, probes, tasks)
    paired = paired_comparisons(probes, seed=seed, n_boot=n_boot)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(paired_out) as tmp:
        paired.to_csv(tmp, index=False)
    plot_modern(table, figure)
    return table


# --- the batch context of convnet features -----------------------------------------------


def batch_boundary_files(
    entries: Sequence[tuple[str, str, PathLike, PathLike, str]],
    out: PathLike,
    batch_size: int,
) -> pd.DataFrame:
    """Rule ``batch_boundary``: the cut table of each (dataset, extractor)'s convnet features.

    Parameters
    ----------
    entries
        (dataset, extractor, convnet feature file, labels manifest, label column) each.
        The rows are taken in the feature file's order, which is the order they were
        extracted, and so batched, in: the released tables' for the authors' features,
        the extraction order (``choi2017.batch_order``) for features extracted here.
    out
        The table (CSV) of :func:`musictransfer.batch_context.batch_boundary_tables`, with
        ``dataset`` and ``extractor`` columns.
    batch_size
        Clips per extraction batch (the authors' 256 for their released features). Under
        frozen statistics (``dataset``, ``reference``) no batch is involved: the same
        positions are then a control, where the boundary cuts should look like the others.
    """
    from musictransfer.batch_context import batch_boundary_tables
    from musictransfer.datasets.manifest import read_manifest
    from musictransfer.featurefile import load_features
    from musictransfer.taskdata import align_rows

    loaded = {}
    for dataset, extractor, features, manifest, column in entries:
        X, ids = load_features(features)
        frame = read_manifest(manifest, required=("id", column))
        rows = align_rows(ids, frame, manifest)
        loaded[(dataset, extractor)] = (X, rows[column].astype(str).to_numpy())
    table = batch_boundary_tables(loaded, batch_size=batch_size)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    return table


def plot_batch_boundary_file(table: PathLike, out_png: PathLike) -> Path:
    """Rule ``plot_batch_boundary``: the figure of :func:`batch_boundary_files`'s table."""
    import pandas as pd

    from musictransfer.batch_context import plot_batch_boundary

    return plot_batch_boundary(pd.read_csv(table), out_png)


# --- the report's section -----------------------------------------------------------------

BATCH_CAUTION = (
    "The authors' features were extracted with Keras 1's BatchNorm mode 2, which "
    "normalises each batch of 256 consecutive clips with that batch's own statistics, and "
    "their tables are sorted by label, so a clip's features carry a trace of its batch and "
    "the batch correlates with the class. A reader may conclude how much a class's rows "
    "differ across a batch boundary compared with inside one batch (the figure's red "
    "against grey points); a reader may not conclude from it that a score owes any given "
    "amount to the batch, nor that a dataset without boundary cuts is free of the effect "
    "(its classes may each sit inside one batch). For features extracted here under "
    "frozen statistics (choi2017-dataset, choi2017-reference) the same positions are no "
    "boundary at all: they are the control."
)


def _fmt(value: Any, digits: int = 3) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "-"
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def modern_markdown(
    table: PathLike | pd.DataFrame,
    paired: PathLike | pd.DataFrame | None = None,
    batch: PathLike | pd.DataFrame | None = None,
    figures: Sequence[str] = (),
) -> list[str]:
    """The report section "Today's protocols": the table, the paired tests, batch context.

    Parameters
    ----------
    table, paired, batch
        ``tables/modern.csv``, ``tables/modern_paired.csv`` and
        ``tables/batch_boundary.csv`` (or their frames); the last two optional.
    figures
        Markdown image links to add at the end of the section.
    """
    import pandas as pd

    def frame(x: Any) -> pd.DataFrame:
        return x if isinstance(x, pd.DataFrame) else pd.read_csv(x)

    t = frame(table)
    lines = [
        "## Today's protocols",
        "",
        "Beside the paper's protocol (*paper_cv*: the best mean fold score of the SVM grid, "
        "with the standard deviation over folds), tasks with a fixed split are evaluated as "
        "later work does (*modern_split*): a probe fitted on train, its hyper-parameters "
        "chosen on valid, scored once on test, with a 95 % percentile bootstrap interval "
        "over the test clips. Tasks without a fixed split keep the paper's protocol only. "
        "See docs/protocols.md.",
        "",
        "| task | extractor | combo | protocol | probe | score | interval | n |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, r in t.iterrows():
        interval = (f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
                    if _fmt(r["ci_low"]) != "-" else "-")  # fmt: skip
        lines.append(
            f"| {r['task']} | {r['extractor']} | {r['combo']} | {r['protocol']} | "
            f"{r['probe']} | {_fmt(r['score'])} | {interval} | {int(r['n_test'])} |"
        )
    lines += [
        "",
        "For *paper_cv* the interval is the fold mean plus and minus one standard deviation "
        "over folds (how the score moves with the fold; not a confidence interval), and n "
        "is the clips cross-validated; for *modern_split* it is the bootstrap interval of "
        "the test score, and n the test clips.",
        "",
    ]
    if paired is not None:
        p = frame(paired)
        if len(p):
            lines += [
                "Paired comparisons on the same test clips (paired bootstrap interval of "
                "the difference, permutation p-value): the best convnet combination (chosen "
                "on valid) against MFCC, and each extractor's combination against the same "
                "combination of the first extractor:",
                "",
                "| task | extractor | probe | combo | score | against | its score | "
                "difference | interval | p |",
                "|---|---|---|---|---|---|---|---|---|---|",
            ]
            for _, r in p.iterrows():
                lines.append(
                    f"| {r['task']} | {r['extractor']} | {r['probe']} | {r['best_combo']} | "
                    f"{_fmt(r['score_best'])} | {r['baseline']} | {_fmt(r['score_baseline'])} | "
                    f"{_fmt(r['effect'])} | [{_fmt(r['effect_low'])}, {_fmt(r['effect_high'])}]"
                    f" | {_fmt(r['p_value'], 4)} |"
                )
            lines.append("")
    if batch is not None:
        from musictransfer.batch_context import summarise_batch_boundary

        b = frame(batch)
        lines += ["### Batch context of the convnet features", ""]
        if len(b):
            summary = summarise_batch_boundary(b)
            lines += [
                "Separability (cross-validated accuracy) of a class's rows cut in two, at a "
                "batch boundary and inside one batch:",
                "",
                "| dataset | extractor | cut | cuts | median | min | max |",
                "|---|---|---|---|---|---|---|",
            ]
            for _, r in summary.iterrows():
                kind = "batch boundary" if bool(r["at_boundary"]) else "within a batch"
                lines.append(
                    f"| {r.get('dataset', '')} | {r.get('extractor', '')} | {kind} | "
                    f"{int(r['count'])} | "
                    f"{_fmt(r['median'])} | {_fmt(r['min'])} | {_fmt(r['max'])} |"
                )
            lines.append("")
        else:
            lines += ["No class of these datasets spans a batch boundary.", ""]
        lines += [BATCH_CAUTION, ""]
    if figures:
        lines += [*figures, ""]
    return lines
