"""Today's protocols, reported: tables, paired comparisons, figures, the report's section.

Rules ``protocols_table`` and ``plot_batch_boundary``: :func:`protocol_rows` puts the paper cells
(fold mean and spread) and the probes (test score and bootstrap interval) in one table,
:func:`paired_comparisons` compares the best convnet combination with MFCC on the same
test clips (:func:`musictransfer.figures.plot_protocols` draws both protocols per task),
and :func:`protocols_markdown` writes the report's section, with the batch-context test of
the released features (:mod:`musictransfer.batch_context`, summarised by
:func:`summarise_batch_boundary`). The computations they report are in
:mod:`musictransfer.protocols` and :mod:`musictransfer.batch_context`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from musictransfer._typing import PathLike
from musictransfer.config.specs import SCENE
from musictransfer.constants import AUTHORS_BATCH_SIZE
from musictransfer.errors import MusicTransferError
from musictransfer.figures import plot_batch_boundary, plot_protocols
from musictransfer.outputs import atomic_path, read_json_object
from musictransfer.stats import fold_spread, paired_test

PAPER_CV = "paper_cv"
"""Protocol of the table rows read from the paper's cross-validated cells."""

FIXED_SPLIT = "fixed_split"
"""Protocol of the table rows of probes on a fixed split."""

TABLE_COLUMNS = ["task", "extractor", "combo", "protocol", "probe", "metric", "score",
                 "ci_low", "ci_high", "interval", "fold_std", "n_test", "valid_score",
                 "code"]  # fmt: skip
"""Columns of ``tables/protocols.csv`` (:func:`protocol_rows`)."""

COMPARISON_COLUMNS = ["task", "extractor", "probe", "metric", "best_combo", "baseline",
                      "score_best", "score_baseline", "effect", "effect_low", "effect_high",
                      "p_value", "n_test"]  # fmt: skip
"""Columns of ``tables/protocols_paired.csv`` (:func:`paired_comparisons`)."""

BASELINE = "mfcc"
"""The feature set every task's best convnet combination is compared with."""


def _read_json(path: PathLike, what: str) -> dict[str, Any]:
    return read_json_object(path, what, "run its rule first", "delete it and rerun its rule")


def _code(data: Mapping[str, Any]) -> str:
    return str((data.get("provenance") or {}).get("code", "unknown"))


def cv_row(cell: Mapping[str, Any]) -> dict[str, Any]:
    """A paper cell (its JSON) as a row: the fold mean and the spread of its folds.

    ``ci_low`` / ``ci_high`` are the mean minus / plus one standard deviation over folds
    (``interval`` says so), which describes how the score moves with the fold, not a
    confidence interval; the band is cut at the metric's bounds (an accuracy's [0, 1], an
    r2's upper 1; ``interval`` says so too);
    with a single fold (Jamendo's predefined split) they are the score itself.
    """
    folds = cell.get("fold_scores") or [cell["score"]]
    spread = fold_spread(folds)
    std = spread.std
    low, high = (spread.mean - std, spread.mean + std) if std is not None else (math.nan,) * 2
    clipped = ""
    floor = 0.0 if str(cell["metric"]) == "accuracy" else -math.inf
    if std is not None and (low < floor or high > 1):
        # A band past 1.0 (0.95 +- 0.065) reads as a score above 1: cut at the bounds the
        # metric has (an accuracy's [0, 1], an r2's 1 from above), and say so.
        low, high = max(low, floor), min(high, 1.0)
        clipped = ", cut to [0, 1]" if floor == 0 else ", cut at 1"
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
        "interval": f"fold mean +- std over {spread.n} folds{clipped} (min {spread.min:.3f}, "
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
        "protocol": FIXED_SPLIT,
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


def protocol_rows(
    cells: Sequence[PathLike], probes: Sequence[PathLike], tasks: Sequence[str] | None = None
) -> pd.DataFrame:
    """The protocols table: paper cells (protocol paper_cv) and probes (fixed_split).

    Rows by task (in ``tasks``' order where given), extractor, protocol, probe, combo.
    """
    rows = [cv_row(_read_json(p, "score cell")) for p in cells]
    rows += [probe_row(_read_json(p, "probe result")) for p in probes]
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    order = list(tasks or dict.fromkeys(table["task"]))
    keys = {
        "_task": table["task"].map({t: i for i, t in enumerate(order)}).fillna(len(order)),
        "_protocol": table["protocol"].map({PAPER_CV: 0, FIXED_SPLIT: 1}),
    }
    table = table.assign(**keys).sort_values(
        ["_task", "task", "extractor", "_protocol", "probe", "combo"], kind="stable"
    )
    table = table.drop(columns=list(keys))
    return table.reset_index(drop=True)


def is_convnet(combo: str) -> bool:
    """Whether a combination is a network's own: layers ('12345', not 'mfcc+12345') or scene."""
    return combo.isdigit() or combo == SCENE


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
    statistics modes, on the same clips. Two extractors with no combination in common (a
    representation brought by the user and the paper's convnet) are compared best
    against best, each chosen on valid (``baseline``: the first extractor and its
    combination). A representation without an MFCC probe is compared with its task's
    first one: the MFCC features do not depend on the extractor.

    Raises
    ------
    MusicTransferError
        If the two probes' test clips differ (they were made from different splits).
    """
    records = [p if isinstance(p, Mapping) else _read_json(p, "probe result") for p in probes]
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["task"], r["extractor"], r["probe"]), []).append(r)

    def compare(a: Mapping[str, Any], b: Mapping[str, Any], baseline: str) -> dict[str, Any]:
        if a.get("test_ids") != b.get("test_ids"):
            raise MusicTransferError(
                f"{a['task']}: the {a['extractor']} {a['combo']} and {b['extractor']} "
                f"{b['combo']} {a['probe']} probes were scored on different test clips",
                "rerun fixed_split and the probes of the task",
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

    def best(members: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
        own = [r for r in members if is_convnet(str(r["combo"]))]
        # chosen on valid, first best on ties
        return max(own, key=lambda r: float(r["valid_score"])) if own else None

    # MFCC is the same features whichever extractor's cell holds it: a representation
    # without an MFCC probe of its own is compared with the task's first one.
    any_mfcc: dict[tuple[str, str], Mapping[str, Any]] = {}
    for r in records:
        if r["combo"] == BASELINE:
            any_mfcc.setdefault((r["task"], r["probe"]), r)
    rows = []
    for (task, _, kind), members in groups.items():
        base = next((r for r in members if r["combo"] == BASELINE), any_mfcc.get((task, kind)))
        chosen = best(members)
        if base is not None and chosen is not None:
            rows.append(compare(chosen, base, BASELINE))
    first: dict[tuple[str, str], str] = {}
    for task, extractor, kind in groups:
        first.setdefault((task, kind), extractor)
    for (task, extractor, kind), members in groups.items():
        reference = first[(task, kind)]
        if extractor == reference:
            continue
        by_combo = {str(r["combo"]): r for r in groups[(task, reference, kind)]}
        shared = [r for r in members if str(r["combo"]) in by_combo and r["combo"] != BASELINE]
        for r in shared:
            rows.append(compare(r, by_combo[str(r["combo"])], reference))
        # Networks with no combination in common (a representation brought by the user
        # and the paper's convnet): each one's best, chosen on valid, on the same clips.
        mine, theirs = best(members), best(list(by_combo.values()))
        if not shared and mine is not None and theirs is not None:
            rows.append(compare(mine, theirs, f"{reference} {theirs['combo']}"))
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def protocols_table_files(
    cells: Sequence[PathLike],
    probes: Sequence[PathLike],
    out: PathLike,
    paired_out: PathLike,
    figure: PathLike,
    tasks: Sequence[str] | None = None,
    seed: int = 0,
    n_boot: int = 1000,
) -> pd.DataFrame:
    """Rule ``protocols_table``: the table, the paired comparisons and the figure."""
    table = protocol_rows(cells, probes, tasks)
    paired = paired_comparisons(probes, seed=seed, n_boot=n_boot)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(paired_out) as tmp:
        paired.to_csv(tmp, index=False)
    plot_protocols(table, figure)
    return table


# --- the batch context of convnet features -----------------------------------------------


def plot_batch_boundary_file(table: PathLike, out_png: PathLike) -> Path:
    """Rule ``plot_batch_boundary``: the figure of the ``batch_boundary`` rule's table."""
    return plot_batch_boundary(pd.read_csv(table), out_png)


def summarise_batch_boundary(table: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Count, median, min and max per dataset and extractor (where given) and kind of cut.

    ``table`` is :func:`musictransfer.batch_context.batch_boundary_tables`'s (the
    ``batch_boundary`` rule's CSV).
    """
    keys = [k for k in ("dataset", "extractor") if k in table.columns] + ["at_boundary"]
    summary = table.groupby(keys, sort=False)[metric].agg(["count", "median", "min", "max"])
    return summary.reset_index()


# --- the report's section -----------------------------------------------------------------

BATCH_CAUTION = (
    "The authors' features were extracted with Keras 1's BatchNorm mode 2, which "
    f"normalises each batch of {AUTHORS_BATCH_SIZE} consecutive clips with that batch's own "
    "statistics, and their tables are sorted by label, so a clip's features carry a trace "
    "of its batch and "
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


SMALL_TEST_SPLIT = 100
"""Test splits below this many clips are named in the report: one clip is over 1 % there."""


def _small_test_splits(t: pd.DataFrame) -> str:
    """A sentence naming the tasks whose fixed test split is small, and what one clip weighs."""
    fixed = t[(t["protocol"] == "fixed_split") & (t["n_test"] < SMALL_TEST_SPLIT)]
    if fixed.empty:
        return ""
    sizes = fixed.groupby("task", sort=False).agg(n=("n_test", "min"), metric=("metric", "first"))
    named = ", ".join(
        f"{task} {int(r.n)} clips"
        + (f" (one clip: {100 / r.n:.1f} points of accuracy)" if r.metric == "accuracy" else "")
        for task, r in sizes.iterrows()
    )
    return (
        f"Small test splits: {named}. Their intervals are wide for that reason; a difference "
        "of a clip or two between extractors is within them."
    )


def protocols_markdown(
    table: PathLike | pd.DataFrame,
    paired: PathLike | pd.DataFrame | None = None,
    batch: PathLike | pd.DataFrame | None = None,
    figures: Sequence[str] = (),
) -> list[str]:
    """The report section "Today's protocols": the table, the paired tests, batch context.

    Parameters
    ----------
    table, paired, batch
        ``tables/protocols.csv``, ``tables/protocols_paired.csv`` and
        ``tables/batch_boundary.csv`` (or their frames); the last two optional.
    figures
        Markdown image links to add at the end of the section.
    """

    def frame(x: Any) -> pd.DataFrame:
        return x if isinstance(x, pd.DataFrame) else pd.read_csv(x)

    t = frame(table)
    lines = [
        "## Today's protocols",
        "",
        "Beside the paper's protocol (*paper_cv*: the best mean fold score of the SVM grid, "
        "with the standard deviation over folds), tasks with a fixed split are evaluated as "
        "later work does (*fixed_split*): a probe fitted on train, its hyper-parameters "
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
        "is the clips cross-validated; for *fixed_split* it is the bootstrap interval of "
        "the test score, and n the test clips.",
        "",
    ]
    small = _small_test_splits(t)
    if small:
        lines += [small, ""]
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
