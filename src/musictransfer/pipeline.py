"""Glue between workflow files and the package's functions: one function per rule.

The functions here read a step's input files, call the logic in the stage modules and
write the step's output, so that the CLI stays a thin argument parser and the stage
modules stay free of file-layout concerns.
"""

from __future__ import annotations

import os
from typing import Any

from musictransfer.config import CVSpec, TaskSpec
from musictransfer.datasets.manifest import read_manifest
from musictransfer.errors import ConfigError
from musictransfer.evaluation import align_rows, evaluate_cell, task_targets
from musictransfer.features import load_features, select_combo
from musictransfer.files import write_json

PathLike = str | os.PathLike[str]


def task_from_dict(raw: dict[str, Any]) -> TaskSpec:
    """Rebuild a :class:`TaskSpec` from its JSON form (as the rules pass it)."""
    try:
        cv = dict(raw["cv"])
        cv["test"] = tuple(cv.get("test", ()))
        return TaskSpec(
            name=raw["name"],
            dataset=raw["dataset"],
            type=raw["type"],
            target=raw["target"],
            cv=CVSpec(**cv),
            reference=raw.get("reference"),
        )
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"invalid task specification: {exc}") from exc


def evaluate_cell_files(
    task: dict[str, Any] | TaskSpec,
    extractor: str,
    combo: str,
    manifest: PathLike,
    convnet: PathLike | None,
    mfcc: PathLike | None,
    out: PathLike,
    threads: int = 1,
) -> dict[str, Any]:
    """Evaluate one cell from feature files and a manifest; write its JSON result."""
    spec = task if isinstance(task, TaskSpec) else task_from_dict(task)
    frame = read_manifest(manifest, required=("id",))
    conv = ids = mf = None
    if convnet is not None:
        conv, ids = load_features(convnet)
    if mfcc is not None:
        mf, mfcc_ids = load_features(mfcc)
        if ids is not None and list(ids) != list(mfcc_ids):
            raise ConfigError(f"{convnet} and {mfcc} list different clips or orders")
        ids = mfcc_ids
    if ids is None:
        raise ConfigError(f"cell {spec.name}/{extractor}/{combo} has no feature file")
    X = select_combo(combo, conv, mf)
    rows = align_rows(ids, frame, manifest)
    y, groups = task_targets(spec, rows, manifest)
    result = evaluate_cell(X, y, spec, extractor, combo, groups=groups, n_jobs=threads)
    data = result.to_dict()
    write_json(out, data)
    return data
