"""Readings of a cell's full grid: which settings count, and how folds are averaged.

An evaluation cell keeps the fold scores of all 64 settings of the SVM grid and the size of
every test fold (:func:`grid_record`), so that its score under a protocol is a read-out of
the grid, never a second computation (:func:`read_grid`, :data:`READINGS`): the paper as
written (all 64 settings, plain mean over folds) and the authors' script as it ran (their
scaler never scaled, so only the 32 unscaled settings; and the scikit-learn of 2017
weighted the fold mean by test-fold size). NumPy only: the report reads grids without
scikit-learn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from musictransfer.constants import SCALING
from musictransfer.errors import MusicTransferError


@dataclass(frozen=True)
class Setting:
    """One point of the grid: scaling on/off, kernel, C and gamma (None for linear)."""

    scale: bool
    kernel: str
    C: float
    gamma: float | str | None = None

    def gamma_value(self, n_features: int) -> float:
        """Gamma as a number ('auto' is 1 / n_features, as in scikit-learn)."""
        if self.gamma == "auto":
            return 1.0 / n_features
        return float(self.gamma)  # type: ignore[arg-type]


@dataclass(frozen=True)
class GridReading:
    """A way of reading a cell's score off its full grid of fold scores.

    Attributes
    ----------
    scaling
        The standardisation settings that count (``(True, False)``: all 64 settings).
    weighted
        Fold means weighted by the number of test clips of each fold (scikit-learn's
        ``GridSearchCV(iid=True)``, the default until 0.22, removed in 0.24) instead of
        the plain mean.
    """

    name: str
    description: str
    scaling: tuple[bool, ...]
    weighted: bool


PAPER_READING = "paper"
"""The reading the paper describes, and the one every table and figure shows first."""

AUTHORS_SCRIPT_READING = "authors_script"

READINGS: Mapping[str, GridReading] = {
    PAPER_READING: GridReading(
        PAPER_READING,
        "the paper as written: best of all 64 settings, plain mean over folds",
        scaling=SCALING,
        weighted=False,
    ),
    AUTHORS_SCRIPT_READING: GridReading(
        AUTHORS_SCRIPT_READING,
        "the authors' script as it ran: best of the 32 unscaled settings (their "
        "OptionalStandardScaler never scaled), fold mean weighted by test-fold size "
        "(scikit-learn 0.18/0.19's iid=True)",
        scaling=(False,),
        weighted=True,
    ),
}
"""Readings of a cell's grid, by name (the ``protocol`` column of the score table)."""


def grid_record(
    settings: Sequence[Setting], scores: np.ndarray, fold_sizes: Sequence[int], ipm: np.ndarray
) -> dict[str, Any]:
    """The JSON form of a full grid: settings, their fold scores, test-fold sizes.

    ``ipm`` marks the (setting, fold) fits solved by the interior-point solver; they are
    stored as index pairs (few, usually none).
    """
    return {
        "settings": [asdict(s) for s in settings],
        "fold_scores": np.asarray(scores, dtype=float).tolist(),
        "fold_sizes": [int(n) for n in fold_sizes],
        "ipm_fits": [[int(i), int(k)] for i, k in np.argwhere(ipm)],
    }


@dataclass(frozen=True)
class ReadOut:
    """A cell's score under one :class:`GridReading`."""

    reading: str
    score: float
    best_index: int
    best_params: dict[str, Any]
    fold_scores: list[float]
    n_settings: int


def read_grid(grid: Mapping[str, Any], reading: GridReading | str, n_features: int) -> ReadOut:
    """The best setting and its score under a reading of a cell's full grid.

    The best is chosen as ``GridSearchCV`` chooses it: the highest (weighted) fold mean
    among the settings the reading admits, the first in the grid's order among ties.

    Raises
    ------
    MusicTransferError
        If the grid is absent (a cell file from before grids were kept), or malformed.
    """
    spec = READINGS[reading] if isinstance(reading, str) else reading
    try:
        settings = [Setting(**s) for s in grid["settings"]]
        scores = np.asarray(grid["fold_scores"], dtype=float)
        sizes = np.asarray(grid["fold_sizes"], dtype=float)
    except (KeyError, TypeError) as exc:
        raise MusicTransferError(
            f"the cell has no full grid ({exc})", "rerun its evaluation with this version"
        ) from exc
    if scores.shape != (len(settings), len(sizes)) or not np.all(np.isfinite(scores)):
        raise MusicTransferError(
            f"the cell's grid is malformed: scores {scores.shape} for {len(settings)} settings "
            f"and {len(sizes)} folds, or non-finite scores",
            "rerun its evaluation",
        )
    admitted = np.array([s.scale in spec.scaling for s in settings])
    means = np.average(scores, axis=1, weights=sizes if spec.weighted else None)
    means = np.where(admitted, means, -np.inf)
    best = int(np.argmax(means))
    return ReadOut(
        reading=spec.name,
        score=float(means[best]),
        best_index=best,
        best_params=describe_setting(settings[best], n_features),
        fold_scores=[float(v) for v in scores[best]],
        n_settings=int(admitted.sum()),
    )


def describe_setting(setting: Setting, n_features: int) -> dict[str, Any]:
    """Readable parameters of a grid setting, as :func:`describe_params` gives them."""
    gamma = setting.gamma
    return {
        "scale": setting.scale,
        "kernel": setting.kernel,
        "C": float(setting.C),
        "gamma": None if gamma is None else setting.gamma_value(n_features),
    }
