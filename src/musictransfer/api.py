"""Evaluate your own features from Python, without Snakemake: the workflow's numbers.

>>> import musictransfer
>>> cell = musictransfer.evaluate_features(X, "labels.csv", ids=ids,
...     task={"type": "classification", "target": "genre",
...           "cv": {"scheme": "stratified_kfold", "n_splits": 10}})
>>> cell["score"], cell["best_params"]

:func:`evaluate_features` runs the paper's protocol (the authors' 64-setting SVM grid,
cross-validated, the best mean fold score) and returns the dictionary the workflow writes
as a cell file, both readings of the grid included; :func:`probe_features` fits one probe
of today's protocol on a fixed train / valid / test split and returns the probe's record
with its bootstrap interval. Both join features to labels by clip id and check the task
exactly as the workflow does (:func:`musictransfer.cell_files.cell_data`,
:func:`musictransfer.protocols.probe_rows` are the code the workflow's jobs run), so a
number from here and the workflow's number for the same features are the same number.

Labels are a CSV file or a :class:`pandas.DataFrame`: a manifest (``id`` column), or a
labels file with a ``path`` column whose ids are the paths without extension, as for a
dataset of the configuration. Features are a feature file (``.npz`` written by the
workflow, ``musictransfer extract`` or ``import-features``), or an array ``(n, d)`` with
``ids`` naming its rows (without ``ids``, rows are taken to follow the labels' order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from musictransfer._typing import PathLike
from musictransfer.cell_files import cell_data
from musictransfer.config import TaskSpec, task_spec
from musictransfer.constants import SPLITS
from musictransfer.datasets.labelled_folder import PATH_COLUMN, clip_id
from musictransfer.errors import ConfigError
from musictransfer.evaluation import evaluate_cell
from musictransfer.featurefile import FeatureSet, load_feature_set
from musictransfer.protocols import probe_rows
from musictransfer.taskdata import check_task

DEFAULT_TASK = "task"


def _task(task: Mapping[str, Any] | TaskSpec) -> TaskSpec:
    """A task from its configuration keys (``dataset`` and ``name`` optional)."""
    if isinstance(task, TaskSpec):
        return task
    raw = {"dataset": "user", **task}
    return task_spec(raw, str(raw.get("name", DEFAULT_TASK)), where="task")


def _labels(labels: PathLike | pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """A labels table with an ``id`` column, and how messages name it."""
    if isinstance(labels, pd.DataFrame):
        frame, source = labels.copy(), "the labels table"
    else:
        frame = pd.read_csv(labels, keep_default_na=False, dtype={"id": str, PATH_COLUMN: str})
        source = str(labels)
    if "id" not in frame.columns:
        if PATH_COLUMN not in frame.columns:
            raise ConfigError(f"{source} has neither an 'id' nor a 'path' column")
        frame.insert(0, "id", [clip_id(str(p)) for p in frame[PATH_COLUMN]])
    duplicated = frame["id"][frame["id"].astype(str).duplicated()]
    if len(duplicated):
        raise ConfigError(f"{source} lists clip {str(duplicated.iloc[0])!r} twice")
    return frame.reset_index(drop=True), source


def _features(
    features: PathLike | np.ndarray | FeatureSet, ids: Sequence[str] | None, frame: pd.DataFrame
) -> FeatureSet:
    if isinstance(features, FeatureSet):
        return features
    if not isinstance(features, np.ndarray):
        return load_feature_set(features)
    X = np.asarray(features)
    if X.ndim != 2:
        raise ConfigError(f"features are of shape {X.shape}: expected (n_clips, n_features)")
    if ids is None:
        if len(X) != len(frame):
            raise ConfigError(
                f"{len(X)} feature rows for {len(frame)} labelled clips, and no ids",
                "give ids=..., naming the clip of each row",
            )
        ids = frame["id"].astype(str).tolist()
    if len(ids) != len(X):
        raise ConfigError(f"{len(ids)} ids for {len(X)} feature rows")
    return FeatureSet(
        "the features array", np.asarray(ids, dtype=str), X, [], [], "", {"layers": []}
    )


def evaluate_features(
    features: PathLike | np.ndarray | FeatureSet,
    labels: PathLike | pd.DataFrame,
    task: Mapping[str, Any] | TaskSpec,
    *,
    ids: Sequence[str] | None = None,
    combo: str = "scene",
    name: str = "features",
    method: str = "fast",
    threads: int = 1,
) -> dict[str, Any]:
    """Score features on a task under the paper's protocol, as the workflow's cell does.

    Parameters
    ----------
    features
        A feature file, a :class:`~musictransfer.featurefile.FeatureSet`, or an array
        ``(n, d)`` (rows named by ``ids``).
    labels
        The clips' labels (see the module's docstring); every clip must have features.
    task
        The task's keys as in the configuration: ``type``, ``target``, ``cv``.
    combo
        'scene' (the whole array), or layer digits of a file with layers.
    name
        The extractor's name in the result.
    method
        'fast' (the workflow's) or 'sklearn' (plain ``GridSearchCV``, slower, equal).

    Returns
    -------
    dict
        The cell: ``score``, ``best_params``, ``fold_scores``, ``grid`` (every setting's
        fold scores), ``readings`` ... as in ``results/<experiment>/scores/``.
    """
    spec = _task(task)
    frame, source = _labels(labels)
    check_task(spec, frame, source)
    fs = _features(features, ids, frame)
    X, y, groups, _ = cell_data(spec, combo, frame, source, fs)
    return evaluate_cell(
        X, y, spec, name, combo, groups=groups, n_jobs=threads, method=method
    ).to_dict()


def probe_features(
    features: PathLike | np.ndarray | FeatureSet,
    labels: PathLike | pd.DataFrame,
    task: Mapping[str, Any] | TaskSpec,
    split: str | Mapping[str, str],
    *,
    ids: Sequence[str] | None = None,
    kind: str = "linear",
    combo: str = "scene",
    name: str = "features",
    seed: int = 0,
    n_boot: int = 1000,
) -> dict[str, Any]:
    """Fit one probe of today's protocol on a fixed split, as the workflow's probe does.

    Parameters
    ----------
    split
        A column of ``labels`` whose values are 'train', 'valid' and 'test' (other values:
        the clip is left out), or a mapping of clip id to one of those.
    kind
        'linear' or 'mlp' (:mod:`musictransfer.probes`).

    Returns
    -------
    dict
        The probe's record: ``test_score``, ``valid_score``, ``ci`` (the bootstrap
        interval), the chosen setting, and the test clips' targets and predictions.
    """
    spec = _task(task)
    frame, source = _labels(labels)
    check_task(spec, frame, source)
    fs = _features(features, ids, frame)
    X, y, _, row_ids = cell_data(spec, combo, frame, source, fs)
    if isinstance(split, str):
        if split not in frame.columns:
            raise ConfigError(f"{source} has no column {split!r} (the split)")
        parts = frame[split].astype(str).to_numpy()
    else:
        parts = np.array([split.get(i, "") for i in row_ids], dtype=object)
    parts = np.where(np.isin(parts, SPLITS), parts, "none").astype(object)
    for part in SPLITS:
        if not np.any(parts == part):
            raise ConfigError(f"the split gives no clip to {part!r}", "give every part clips")
    return probe_rows(spec, name, combo, X, y, row_ids, parts, kind, seed, n_boot)


__all__ = ["evaluate_features", "probe_features"]
