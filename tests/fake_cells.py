"""Cell files made up for the tests of tables and reports, each with a consistent grid.

A cell's numbers are read from its grid (musictransfer.scores_table refuses a cell whose
score, fold scores or counts are not its grid's), so a made-up cell carries a grid whose
paper reading is the score it states: the best setting's fold scores are the cell's, the
others lower.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from musictransfer.evaluation import param_grid
from musictransfer.readings import grid_record
from musictransfer.svm_grid import grid_settings

BEST = {"scale": True, "kernel": "rbf", "C": 2.0, "gamma": 0.125}


def fake_cell(
    task: str,
    extractor: str,
    combo: str,
    score: float,
    metric: str = "accuracy",
    folds: Sequence[float] | None = None,
    n_clips: int = 20,
    n_features: int | None = None,
) -> dict[str, Any]:
    """A cell of ``score`` (the mean of ``folds``, by default two folds around it)."""
    folds = [score - 0.1, score + 0.1] if folds is None else [float(f) for f in folds]
    assert abs(np.mean(folds) - score) < 1e-12, "the paper reading is the plain fold mean"
    n_features = 32 * len(combo) if n_features is None else n_features
    settings = grid_settings(param_grid())
    best = next(
        i
        for i, s in enumerate(settings)
        if (s.scale, s.kernel, s.C, s.gamma) == tuple(BEST.values())
    )
    scores = np.tile(np.asarray(folds) - 0.2, (len(settings), 1))
    scores[best] = folds
    sizes = [n_clips // len(folds)] * len(folds)
    sizes[-1] += n_clips - sum(sizes)
    return {
        "task": task, "extractor": extractor, "combo": combo, "metric": metric,
        "score": score, "best_params": BEST, "fold_scores": folds, "n_clips": n_clips,
        "n_features": n_features, "cv": {"scheme": "kfold", "n_splits": len(folds)},
        "fit_time_s": 1.5, "n_settings": 64, "solver": "libsvm",
        "grid": grid_record(settings, scores, sizes, np.zeros(scores.shape, bool)),
    }  # fmt: skip
