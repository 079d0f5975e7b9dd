"""Cross-validation splitters beyond scikit-learn's current ones.

The authors ran ``GridSearchCV(cv=10)`` under scikit-learn 0.18/0.19, whose
``StratifiedKFold`` (no shuffling) assigned folds differently from today's. Since 0.22
the class-wise remainders are spread over the folds so that fold sizes differ by at most
one clip; before, every class was cut by ``KFold`` on its own, in row order, so the
first ``count % n_splits`` folds of *each* class got the extra clip. With 100 clips per
class (GTZAN genre) the two agree; with unequal classes they do not (110 of Extended
Ballroom's 4,180 clips and 16 of GTZAN speech/music's 128 change fold), and which clips
share a test fold changes the scores. :class:`LegacyStratifiedKFold` is the old
assignment, so the paper's protocol runs on the authors' folds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from sklearn.model_selection import (
    BaseCrossValidator,
    GroupKFold,
    KFold,
    PredefinedSplit,
    StratifiedGroupKFold,
    StratifiedKFold,
)

from musictransfer.config import CVSpec
from musictransfer.datasets.manifest import MISSING_HINT, missing_mask
from musictransfer.errors import ManifestError


def legacy_stratified_folds(y: np.ndarray, n_splits: int) -> np.ndarray:
    """The test fold of every clip, as scikit-learn < 0.22's ``StratifiedKFold`` gave it.

    Each class's clips, in row order, are split by ``KFold(n_splits)``: a class of
    ``c`` clips puts ``c // n_splits + 1`` clips in each of its first ``c % n_splits``
    folds and ``c // n_splits`` in the others. A class with fewer than ``n_splits``
    clips fills only its first folds (scikit-learn then warned; it did not fail).
    """
    _, codes = np.unique(np.asarray(y), return_inverse=True)
    folds = np.zeros(len(codes), dtype=int)
    for k in range(codes.max(initial=-1) + 1):
        rows = np.flatnonzero(codes == k)
        padded = np.zeros(max(len(rows), n_splits))
        for fold, (_, test) in enumerate(KFold(n_splits).split(padded)):
            folds[rows[test[test < len(rows)]]] = fold
    return folds


class LegacyStratifiedKFold(BaseCrossValidator):
    """``StratifiedKFold(n_splits)`` without shuffling, with scikit-learn < 0.22's folds.

    See :func:`legacy_stratified_folds`. Folds are yielded in order 0 .. n_splits - 1,
    as ``StratifiedKFold`` yields them.
    """

    def __init__(self, n_splits: int = 10) -> None:
        self.n_splits = n_splits

    def _iter_test_masks(
        self, X: object = None, y: np.ndarray | None = None, groups: object = None
    ) -> Iterator[np.ndarray]:
        if y is None:
            raise ValueError("LegacyStratifiedKFold needs the labels y")
        folds = legacy_stratified_folds(np.asarray(y), self.n_splits)
        for fold in range(self.n_splits):
            yield folds == fold

    def get_n_splits(self, X: object = None, y: object = None, groups: object = None) -> int:
        """The number of folds."""
        return self.n_splits


class _Grouped:
    """A group splitter with its groups bound: every caller splits as with any other.

    The grid search, ``GridSearchCV`` and the checks call ``split(X, y)``; bound here, the
    groups (clips cut from one recording) go wherever the splitter goes.
    """

    def __init__(self, splitter: Any, groups: np.ndarray) -> None:
        self.splitter = splitter
        self.groups = np.asarray(groups)

    def split(
        self, X: object, y: object = None, groups: object = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The folds: no group on both sides of any of them."""
        return self.splitter.split(X, y, self.groups)

    def get_n_splits(self, X: object = None, y: object = None, groups: object = None) -> int:
        """The number of folds."""
        return self.splitter.get_n_splits(X, y, self.groups)


def cv_splitter(cv: CVSpec, task_type: str, groups: np.ndarray | None = None) -> Any:
    """A scikit-learn splitter for the task's cross-validation scheme.

    ``groups`` holds the manifest column named by ``cv.column`` for the predefined
    schemes: for ``predefined_split`` rows whose value is in ``cv.test`` form the test
    set and all others train; for ``predefined_folds`` each value is a fold. With
    ``cv.group`` it holds that column instead, and ``stratified_kfold`` and ``kfold``
    become scikit-learn's ``StratifiedGroupKFold`` and ``GroupKFold`` (unshuffled): clips
    of one group (segments of one recording) are never on both sides of a fold.
    """
    if cv.group is not None:
        if groups is None:
            raise ValueError(f"grouped folds need the {cv.group!r} column")
        if cv.scheme == "stratified_kfold":
            return _Grouped(StratifiedGroupKFold(n_splits=cv.n_splits), groups)
        if cv.scheme == "kfold":
            return _Grouped(GroupKFold(n_splits=cv.n_splits), groups)
        raise ValueError(f"cv.group does not go with the {cv.scheme} scheme")
    if cv.scheme == "stratified_kfold":
        return StratifiedKFold(n_splits=cv.n_splits)
    if cv.scheme == "stratified_kfold_legacy":
        return LegacyStratifiedKFold(n_splits=cv.n_splits)
    if cv.scheme == "kfold":
        return KFold(n_splits=cv.n_splits)
    if groups is None:
        raise ValueError(f"the {cv.scheme} scheme needs the {cv.column!r} column")
    if missing_mask(groups).any():
        # astype(str) would turn a missing value into a split or fold of its own ('nan').
        raise ManifestError(f"the {cv.column!r} column has missing values", MISSING_HINT)
    values = np.asarray(groups).astype(str)
    if cv.scheme == "predefined_split":
        return PredefinedSplit(np.where(np.isin(values, list(cv.test)), 0, -1))
    if cv.scheme == "predefined_folds":
        _, fold_index = np.unique(values, return_inverse=True)
        return PredefinedSplit(fold_index)
    raise ValueError(f"unknown cv scheme {cv.scheme!r}")
