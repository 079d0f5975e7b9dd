"""Today's protocols beside the paper's: fixed splits, probes, intervals, paired tests.

The paper scores every cell by the best mean fold score of an SVM grid under random
cross-validation. The experiment's ``protocols`` block (:class:`~musictransfer.config.
ProtocolSettings`) adds what later work reports, on the same released features:

- :func:`split_table` maps a task's fixed split (GTZAN fault-filtered, EmoMusic's
  MediaEval 2013 split, or a column of the labels manifest such as Jamendo's official
  split) onto the rows of its labels manifest (rule ``fixed_split``);
- :func:`probe_cell_files` fits one probe (:func:`musictransfer.probes.fit_probe`: chosen
  on valid, scored once on test) on one feature combination and adds a seeded bootstrap
  interval of the test score (rule ``probe``);
- :mod:`musictransfer.protocols_report` reports them: the paper's cells and the probes in one
  table, paired comparisons with MFCC, the batch-context test and the report's section
  (rules ``protocols_table``, ``batch_boundary``), with the figures of
  :mod:`musictransfer.figures`.

Tasks without a fixed split keep the paper's cross-validation: their "protocols" numbers
are the spread of the paper cell's fold scores, not an invented split.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from musictransfer._typing import PathLike
from musictransfer.cell_files import load_cell
from musictransfer.config import FixedSplit, TaskSpec, task_spec, validated
from musictransfer.constants import SPLITS
from musictransfer.datasets.manifest import read_manifest
from musictransfer.datasets.protocols import split_files
from musictransfer.datasets.protocols.splits import (
    emomusic_fixed_split,
    gtzan_filtered_split,
    split_counts,
)
from musictransfer.errors import ManifestError, MusicTransferError
from musictransfer.outputs import atomic_path, write_json
from musictransfer.probes import fit_probe
from musictransfer.provenance import provenance
from musictransfer.stats import bootstrap_ci

log = logging.getLogger(__name__)


def _split(split: FixedSplit | Mapping[str, Any]) -> FixedSplit:
    """A :class:`FixedSplit` from itself or its JSON mapping (what the rules pass)."""
    if isinstance(split, FixedSplit):
        return split
    if "split" not in split:
        raise MusicTransferError(
            "the split has no 'split' key", "pass the experiment's protocols.tasks entry as JSON"
        )
    # The schema's defaults (train, valid, test), as for a configured split.
    return FixedSplit.from_entry(validated(split, "fixed_split"))


def split_table(
    split: FixedSplit | Mapping[str, Any],
    manifest: PathLike,
    released_csv: PathLike | None = None,
    files: Sequence[PathLike] = (),
) -> pd.DataFrame:
    """The split of every clip of a labels manifest: columns ``id`` and ``split``.

    ``split`` is ``train``, ``valid``, ``test`` or empty (the clip is in none: GTZAN's 70
    filtered clips, or a manifest value listed in no split).

    Parameters
    ----------
    split
        The task's entry of ``protocols.tasks``.
    manifest
        The labels manifest (``labels/<dataset>.csv``), whose rows are the released table's
        rows in order (:func:`musictransfer.datasets.paper.released_manifest`).
    released_csv
        The authors' metadata table the manifest was made from (published protocols only):
        the protocol functions match its ``filepath`` column.
    files
        The protocol's files, in :func:`split_files`'s order.

    Raises
    ------
    ManifestError
        A missing column or file, or a manifest that is not the released table's.
    """
    spec = _split(split)
    frame = read_manifest(manifest, required=("id",))
    needed = split_files(spec.split)
    if len(files) != len(needed):
        raise ManifestError(
            f"split {spec.split!r} needs {len(needed)} file(s) ({', '.join(needed) or 'none'}), "
            f"got {len(files)}",
            "pass the protocol's files in that order",
        )
    if spec.split == "column":
        column = str(spec.column)
        if column not in frame.columns:
            raise ManifestError(
                f"{manifest} has no column {column!r} for the split",
                "set protocols.tasks.<task>.column to one of: "
                + ", ".join(map(str, frame.columns)),
            )
        values = frame[column].astype(str)
        result = pd.Series(pd.NA, index=frame.index, dtype="string")
        for name, listed in zip(SPLITS, (spec.train, spec.valid, spec.test), strict=True):
            result[values.isin([str(v) for v in listed])] = name
    else:
        if released_csv is None:
            raise ManifestError(f"split {spec.split!r} needs the released metadata table")
        if spec.split == "gtzan_fault_filtered":
            by_row = gtzan_filtered_split(released_csv, dict(zip(SPLITS, files, strict=True)))
        else:
            by_row = emomusic_fixed_split(released_csv, files[0])
        if len(by_row) != len(frame):
            raise ManifestError(
                f"{manifest} has {len(frame)} rows but {released_csv} has {len(by_row)}",
                "the labels manifest was not imported from this table: rerun import_paper_features",
            )
        result = pd.Series(by_row.to_numpy(), index=frame.index, dtype="string")
    return pd.DataFrame({"id": frame["id"].astype(str).to_numpy(), "split": result.to_numpy()})


def write_split(
    split: FixedSplit | Mapping[str, Any],
    manifest: PathLike,
    out: PathLike,
    released_csv: PathLike | None = None,
    files: Sequence[PathLike] = (),
) -> dict[str, int]:
    """Write :func:`split_table` as CSV and return the clips per split (and excluded)."""
    table = split_table(split, manifest, released_csv, files)
    counts = split_counts(table["split"])
    empty = [s for s in SPLITS if counts[s] == 0]
    if empty:
        raise ManifestError(
            f"the split of {manifest} leaves {', '.join(empty)} empty ({counts})",
            "check protocols.tasks.<task>: its column and values, or its protocol files",
        )
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    log.info("%s: %s", out, counts)
    return counts


def read_split(path: PathLike, ids: Sequence[str]) -> np.ndarray:
    """The split of each clip in ``ids`` (feature-file order), '' for a clip in none.

    Raises
    ------
    ManifestError
        If the file lacks a column, or a clip of the features is not in it (the split was
        made for another dataset).
    """
    try:
        table = pd.read_csv(path, dtype={"id": str, "split": "string"}, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ManifestError(
            f"cannot read the split file {path}: {exc}", "rerun fixed_split"
        ) from None
    if not {"id", "split"} <= set(table.columns):
        raise ManifestError(f"{path} lacks column id or split", "rerun fixed_split")
    by_id = dict(zip(table["id"], table["split"].fillna(""), strict=True))
    missing = [i for i in ids if str(i) not in by_id]
    if missing:
        raise ManifestError(
            f"{len(missing)} clip(s) of the features are not in {path}, e.g. {missing[0]!r}",
            "the split was made for another dataset: rerun fixed_split",
        )
    return np.array([by_id[str(i)] for i in ids], dtype=object)


def probe_cell(
    spec: TaskSpec,
    extractor: str,
    combo: str,
    manifest: PathLike,
    convnet: PathLike | None,
    mfcc: PathLike | None,
    split: PathLike,
    kind: str,
    seed: int = 0,
    n_boot: int = 1000,
) -> dict[str, Any]:
    """Fit one probe on one cell's features and split; its record with a test interval.

    The features and targets are loaded as the paper's cell loads them
    (:func:`musictransfer.cell_files.load_cell`: rows aligned by clip id, the task checked
    first); the split file assigns each clip to train, valid, test or none. The record is
    :meth:`~musictransfer.probes.ProbeResult.to_dict` (test targets and predictions
    included, for the paired tests of :func:`paired_comparisons`), the cell's names, a
    percentile bootstrap interval of the test score (seeded with ``seed``) and the code's
    provenance.
    """
    X, y, _, ids = load_cell(spec, extractor, combo, manifest, convnet, mfcc)
    parts = read_split(split, [str(i) for i in ids])
    return probe_rows(spec, extractor, combo, X, y, ids, parts, kind, seed, n_boot)


def probe_rows(
    spec: TaskSpec,
    extractor: str,
    combo: str,
    X: np.ndarray,
    y: np.ndarray,
    ids: Sequence[str] | np.ndarray,
    parts: np.ndarray,
    kind: str,
    seed: int = 0,
    n_boot: int = 1000,
) -> dict[str, Any]:
    """:func:`probe_cell` once loaded: ``parts`` names each row's split (or none).

    The one place a probe is fitted and recorded, for the workflow and the Python API.
    """
    idx = {name: np.flatnonzero(parts == name) for name in SPLITS}
    result = fit_probe(
        kind,
        X[idx["train"]], y[idx["train"]],
        X[idx["valid"]], y[idx["valid"]],
        X[idx["test"]], y[idx["test"]],
        spec.type, seed=seed,
    )  # fmt: skip
    ci = bootstrap_ci(result.y_test, result.test_pred, result.metric, n_boot=n_boot, seed=seed)
    record = {
        "task": spec.name,
        "extractor": extractor,
        "combo": combo,
        "probe": kind,
        **result.to_dict(),
        "test_ids": [str(ids[i]) for i in idx["test"]],
        "n_excluded": int(len(ids) - sum(len(v) for v in idx.values())),
        "ci": ci.to_dict(),
        "provenance": provenance(),
    }
    log.info(
        "%s/%s/%s/%s: %s %.4f [%.4f, %.4f], valid %.4f, n = %d/%d/%d",
        spec.name, extractor, combo, kind, result.metric, result.test_score, ci.low, ci.high,
        result.valid_score, result.n_train, result.n_valid, result.n_test,
    )  # fmt: skip
    return record


def probe_cell_files(
    task: Mapping[str, Any] | TaskSpec,
    extractor: str,
    combo: str,
    manifest: PathLike,
    convnet: PathLike | None,
    mfcc: PathLike | None,
    split: PathLike,
    kind: str,
    out: PathLike,
    seed: int = 0,
    n_boot: int = 1000,
) -> dict[str, Any]:
    """:func:`probe_cell` from files, written to ``out`` as JSON (rule ``probe``)."""
    spec = task if isinstance(task, TaskSpec) else task_spec(task)
    record = probe_cell(spec, extractor, combo, manifest, convnet, mfcc, split, kind, seed, n_boot)
    write_json(out, record)
    return record
