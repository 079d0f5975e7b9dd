"""The authors' SVM grid search, computed fast but with the same results.

A plain ``GridSearchCV`` (:func:`musictransfer.evaluation.sklearn_grid_search`) fits
64 settings x the folds independently. Almost all of its time goes to two things:

- RBF fits that evaluate the kernel again and again (libsvm's row cache, 200 MB by
  default, is too small for UrbanSound8K's ~7,900 training clips);
- a few linear-kernel fits on unscaled features with large C, on which libsvm's SMO
  solver needs millions of iterations.

What this module does instead, per (fold, scaling):

1. Standardise exactly as the pipeline does (``StandardScaler`` fitted on the training
   part of the fold, or nothing).
2. Compute the squared distances between training clips once, and for every gamma
   fit libsvm on the *precomputed* kernel ``exp(-gamma * D)``: the same libsvm solver
   (called as ``SVC/SVR(kernel='precomputed')`` call it, see :class:`_PrecomputedLibsvm`),
   on kernel values equal to libsvm's own up to the last bits of floating-point rounding.
   The 4 C values share the kernel matrix.
   Multiclass problems with big class pairs (UrbanSound8K) are fitted one class pair
   at a time, as libsvm's one-vs-one does internally, each on its own contiguous
   kernel block (:func:`_one_vs_one`; ``ONE_VS_ONE_MIN_PAIR_CLIPS``).
3. Linear kernel: libsvm on the precomputed Gram matrix ``X X'``, with an iteration
   budget. A fit that exhausts it (the pathological ones) is solved instead by
   :mod:`musictransfer.interior_point`, an exact interior-point solver of the same dual problem
   that exploits the low rank of the linear kernel (n clips x d <= 280 features).
   libsvm stops at a KKT violation of 1e-3; the interior-point solution is the optimum
   to ~1e-10, so the two can disagree on clips whose decision value is within libsvm's
   tolerance of the boundary. The tests measure that on real cells. Multiclass linear
   fits always run one class pair at a time (item 2), so that budget and switch apply
   to the pair that needs them; and C ascending, a problem that exhausted the budget
   at one C goes straight to the interior-point solver at the larger ones
   (:func:`_linear_fits`).
4. Score with the estimator's own scorer (accuracy or r2) and pick the best setting
   exactly as ``GridSearchCV`` does: the mean over folds (``np.average``), first
   setting among ties in ``ParameterGrid`` order.

(fold, scaling) tasks run in parallel with joblib.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from scipy.spatial.distance import cdist
from sklearn import config_context
from sklearn.metrics import r2_score
from sklearn.model_selection import ParameterGrid
from sklearn.preprocessing import StandardScaler
from sklearn.svm import _libsvm as _libsvm_binding  # what SVC/SVR call: _PrecomputedLibsvm
from threadpoolctl import threadpool_limits

from musictransfer.errors import MusicTransferError
from musictransfer.interior_point import IPMLinear
from musictransfer.readings import Setting

LINEAR_ITER_PER_SAMPLE: int = 200
"""libsvm's iteration budget for a linear fit, per training clip (at least 20,000).

A converging linear fit on these features needs a few times n iterations; the
pathological ones need thousands of times n. Beyond the budget the exact
interior-point solver takes over."""

LINEAR_ITER_MIN: int = 20_000

DISTANCE_BLOCK_ROWS: int = 512
"""Rows of the distance matrix computed per matrix product (see :func:`squared_distances`)."""

ONE_VS_ONE_MIN_PAIR_CLIPS: int = 1000
"""Clips per class pair (on average) from which multiclass RBF fits go pair by pair.

Going pair by pair (:func:`_one_vs_one`) gives libsvm each pair's kernel as one
contiguous block, on which its solver runs faster, but the blocks must first be copied
out of the full matrices. On big pairs (UrbanSound8K's, about 1,600 clips) the solver
time saved outweighs the copies; on small ones (Extended Ballroom's, GTZAN's) the copies
cost more than they save, so those stay one multiclass fit. Linear fits go pair by pair
whatever the size."""


SVR_EPSILON: float = 0.1
"""scikit-learn's SVR default epsilon, which the authors kept."""

LIBSVM_C_SVC: int = 0
LIBSVM_EPSILON_SVR: int = 3
"""libsvm's numbers for the two problems (scikit-learn's ``LIBSVM_IMPL`` order)."""

LIBSVM_KERNEL_ARGS: Mapping[str, Any] = MappingProxyType(
    {"kernel": "precomputed", "degree": 3, "coef0": 0.0, "cache_size": 200.0, "gamma": 0.0}
)
"""The kernel arguments SVC/SVR pass to libsvm (gamma is unused by a precomputed kernel)."""


def grid_settings(grid: Sequence[dict[str, list[Any]]]) -> list[Setting]:
    """The settings of a ``GridSearchCV`` grid, in ``ParameterGrid``'s order.

    The order matters: ``GridSearchCV`` keeps the first of several equally good
    settings, so we enumerate exactly as it does.
    """
    return [
        Setting(
            scale=not isinstance(p["scaler"], str),
            kernel=p["svm__kernel"],
            C=float(p["svm__C"]),
            gamma=p.get("svm__gamma"),
        )
        for p in ParameterGrid(list(grid))
    ]


@dataclass
class GridResult:
    """Fold scores of every setting, and which solver produced each."""

    settings: list[Setting]
    scores: np.ndarray  # (n_settings, n_folds)
    solvers: np.ndarray  # (n_settings, n_folds) of str: 'libsvm' or 'ipm'
    n_ipm_fits: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    fold_sizes: np.ndarray | None = None  # (n_folds,) test clips per fold

    @property
    def mean_scores(self) -> np.ndarray:
        """Mean over folds, computed as ``GridSearchCV`` does (``np.average``)."""
        return np.average(self.scores, axis=1)

    @property
    def best_index(self) -> int:
        """The first setting with the highest mean (GridSearchCV's ``best_index_``)."""
        return int(np.argmax(self.mean_scores))


def _score(is_classifier: bool, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The estimator's default ``score``: accuracy or r2.

    Accuracy is the mean of ``y_true == y_pred``, the very expression ``accuracy_score``
    evaluates (``np.average`` of the matches) without its label checks, which cost far
    more than the mean itself and would run 640 times a cell (64 settings x 10 folds).
    """
    if is_classifier:
        return float(np.mean(y_true == y_pred))
    return float(r2_score(y_true, y_pred))


def squared_distances(A: np.ndarray, B: np.ndarray | None = None) -> np.ndarray:
    """Squared Euclidean distances, as libsvm forms them during training.

    libsvm's training kernel is ``exp(-gamma * (|a|^2 + |b|^2 - 2 a.b))``; computing the
    same expression (with a matrix product for the dot products) gives equal values
    up to rounding. For ``B is None`` the diagonal is exactly 0 as in libsvm.
    """
    sq_a = np.einsum("ij,ij->i", A, A)
    other, sq_b = (A, sq_a) if B is None else (B, np.einsum("ij,ij->i", B, B))
    D = np.add.outer(sq_a, sq_b)
    # Dot products by blocks of rows: no n x n temporaries besides D itself. A fresh
    # n x n array costs page faults (UrbanSound8K: 500 MB).
    for start in range(0, len(A), DISTANCE_BLOCK_ROWS):
        rows = slice(start, start + DISTANCE_BLOCK_ROWS)
        D[rows] -= 2.0 * (A[rows] @ other.T)
    if B is None:
        np.fill_diagonal(D, 0.0)
    return D


class _PrecomputedLibsvm:
    """libsvm on a precomputed kernel, called exactly as ``SVC``/``SVR`` call it.

    The same compiled binding (``sklearn.svm._libsvm``), the same arguments (C, and
    scikit-learn's defaults for everything else: tol 1e-3, epsilon 0.1 for SVR,
    shrinking, a 200 MB cache, classes numbered in sorted order with unit weights), so
    the same model and predictions; without the estimator's checks of its input, which
    on a demo-sized fold take longer than libsvm's fit itself. The grid's input is
    checked once, in :func:`fast_grid_search`; the tests compare these fits with
    ``SVC``/``SVR`` directly.
    """

    def __init__(self, is_classifier: bool, C: float, max_iter: int = -1) -> None:
        self.svm_type = LIBSVM_C_SVC if is_classifier else LIBSVM_EPSILON_SVR
        self.C, self.max_iter = C, max_iter
        self.is_classifier = is_classifier

    def fit(self, K: np.ndarray, y: np.ndarray) -> _PrecomputedLibsvm:
        """Train on the (n, n) kernel of the training clips (C-ordered float64)."""
        if self.is_classifier:
            self.classes_, codes = np.unique(y, return_inverse=True)
            target = codes.astype(np.float64)
            class_weight = np.ones(len(self.classes_))
        else:
            target = np.ascontiguousarray(y, dtype=np.float64)
            class_weight = np.empty(0)
        _libsvm_binding.set_verbosity_wrap(0)  # libsvm prints every fit unless told not to
        *self.model_, status, _ = _libsvm_binding.fit(
            K, target, svm_type=self.svm_type, C=self.C, tol=1e-3, nu=0.0,
            epsilon=SVR_EPSILON if not self.is_classifier else 0.0, shrinking=1,
            probability=0, class_weight=class_weight, sample_weight=np.empty(0),
            max_iter=self.max_iter, random_seed=0, **LIBSVM_KERNEL_ARGS,
        )  # fmt: skip
        # 1: stopped at max_iter (SVC would warn with a ConvergenceWarning).
        self.converged = status == 0
        return self

    def predict(self, K: np.ndarray) -> np.ndarray:
        """Predict from the (m, n) kernel between test and training clips."""
        out = _libsvm_binding.predict(K, *self.model_, svm_type=self.svm_type, **LIBSVM_KERNEL_ARGS)
        return self.classes_.take(out.astype(np.intp)) if self.is_classifier else out


def _fit_linear(
    is_classifier: bool,
    C: float,
    X_tr: np.ndarray,
    y_tr: np.ndarray,
    X_te: np.ndarray,
    G_tr: np.ndarray,
    G_te: np.ndarray,
    linear_solver: str,
) -> tuple[np.ndarray, str]:
    """Predictions of a linear SVM: libsvm within its budget, else the exact IPM."""
    if linear_solver == "ipm":
        return IPMLinear(is_classifier, C, epsilon=SVR_EPSILON).fit(X_tr, y_tr).predict(X_te), "ipm"
    budget = -1
    if linear_solver == "auto":
        budget = max(LINEAR_ITER_MIN, LINEAR_ITER_PER_SAMPLE * len(y_tr))
    model = _PrecomputedLibsvm(is_classifier, C, budget).fit(G_tr, y_tr)
    if not model.converged:
        return IPMLinear(is_classifier, C, epsilon=SVR_EPSILON).fit(X_tr, y_tr).predict(X_te), "ipm"
    return model.predict(G_te), "libsvm"


def _linear_fits(
    is_classifier: bool,
    X_tr: np.ndarray,
    y_tr: np.ndarray,
    X_te: np.ndarray,
    linear: list[tuple[int, Setting]],
    linear_solver: str,
) -> Iterator[tuple[int, np.ndarray, str]]:
    """(index, predictions, solver) of every linear setting of one problem, C ascending.

    libsvm's iterations on the linear dual grow steeply with C, so once a fit has
    exhausted libsvm's budget, the larger C values of the same problem go straight to
    the interior-point solver instead of exhausting it again first. Which solver a fit
    gets is recorded, as for any other switch.
    """
    G_tr = X_tr @ X_tr.T
    G_te = X_te @ X_tr.T
    exceeded = False
    for i, s in sorted(linear, key=lambda item: item[1].C):
        solver = "ipm" if exceeded and linear_solver == "auto" else linear_solver
        pred, used = _fit_linear(is_classifier, s.C, X_tr, y_tr, X_te, G_tr, G_te, solver)
        exceeded = exceeded or used == "ipm"
        yield i, pred, used


@threadpool_limits.wrap(limits=1)
def _fold_task(
    X: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    scale: bool,
    settings: list[tuple[int, Setting]],
    is_classifier: bool,
    linear_solver: str,
) -> list[tuple[int, float, str]]:
    """Fit every setting of one scaling on one fold; (index, score, solver) each.

    BLAS runs single-threaded here (the decorator): the parallelism is across fold
    tasks, and the matrices of the interior-point solver are small enough that threads
    only add overhead (and compete with the other workers for the cores).
    scikit-learn's checks of parameters and finiteness are skipped
    (:func:`fast_grid_search` checks the data once): on a demo-sized fold they cost
    more than libsvm's fit itself.
    """
    with config_context(skip_parameter_validation=True, assume_finite=True):
        return _fit_fold(X, y, train, test, scale, settings, is_classifier, linear_solver)


def _fit_fold(
    X: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    scale: bool,
    settings: list[tuple[int, Setting]],
    is_classifier: bool,
    linear_solver: str,
) -> list[tuple[int, float, str]]:
    """The body of :func:`_fold_task`."""
    X_tr, X_te = X[train], X[test]
    if scale:
        scaler = StandardScaler().fit(X_tr)
        X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    # libsvm works in float64 whatever the input; so do we.
    X_tr = np.ascontiguousarray(X_tr, dtype=np.float64)
    X_te = np.ascontiguousarray(X_te, dtype=np.float64)
    y_tr, y_te = y[train], y[test]
    n_classes = len(np.unique(y_tr)) if is_classifier else 0
    rbf, linear = _by_kernel(settings)
    out: list[tuple[int, float, str]] = []
    n_features = X.shape[1]
    if linear and n_classes > 2:
        # Linear fits always pair by pair: libsvm's budget, and the switch to the
        # interior-point solver, then apply to the class pair that needs it.
        out += _one_vs_one(X_tr, y_tr, X_te, y_te, linear, n_features, linear_solver)
    elif linear:
        fits = _linear_fits(is_classifier, X_tr, y_tr, X_te, linear, linear_solver)
        out += [(i, _score(is_classifier, y_te, pred), solver) for i, pred, solver in fits]
    if rbf and n_classes > 2 and 2 * len(y_tr) / n_classes >= ONE_VS_ONE_MIN_PAIR_CLIPS:
        out += _one_vs_one(X_tr, y_tr, X_te, y_te, rbf, n_features, linear_solver)
    elif rbf:
        # Passed unnamed, so that the generator frees the distances (n x n: 500 MB for
        # UrbanSound8K) as soon as the kernels exist.
        fits = _rbf_settings(
            (squared_distances(X_tr), _sq_diff_distances(X_te, X_tr)), rbf, n_features
        )
        for i, s, K_tr, K_te in fits:
            model = _PrecomputedLibsvm(is_classifier, s.C).fit(K_tr, y_tr)
            out.append((i, _score(is_classifier, y_te, model.predict(K_te)), "libsvm"))
    return out


def _one_vs_one(
    X_tr: np.ndarray,
    y_tr: np.ndarray,
    X_te: np.ndarray,
    y_te: np.ndarray,
    settings: list[tuple[int, Setting]],
    n_features: int,
    linear_solver: str,
) -> list[tuple[int, float, str]]:
    """A multiclass fold, fitted one class pair at a time: libsvm's own one-vs-one.

    libsvm trains a multiclass SVC as one binary problem per class pair (i < j), on the
    clips of class i (label +1) then class j, each in their original order, and predicts
    by votes (decision > 0 votes for i; the first class with most votes wins). Doing the
    same here changes what each pair costs, not what it computes:

    - every pair gets its own contiguous kernel block. On a ``precomputed`` multiclass
      problem libsvm reads each pair's kernel values scattered across rows of the full
      n x n matrix, and its solver runs markedly slower on big pairs (UrbanSound8K);
    - a linear fit's iteration budget, and the switch to the interior-point solver,
      apply to the pair that needs it (the problem libsvm actually solves), not to all
      pairs of the fit at once.

    Pairs solved by libsvm are the very binary problems of the multiclass fit (same
    clips, same order, same kernel values, same solver), so their votes are libsvm's.
    Memory: the distance matrix plus one pair's blocks, not the full kernel matrix too.
    """
    classes = np.unique(y_tr)
    members = [np.flatnonzero(y_tr == c) for c in classes]
    rbf, linear = _by_kernel(settings)
    if rbf:
        D_tr = squared_distances(X_tr)
        D_te = _sq_diff_distances(X_te, X_tr)
    votes = {i: np.zeros((len(y_te), len(classes)), dtype=np.int32) for i, _ in settings}
    solvers = dict.fromkeys(votes, "libsvm")
    for a in range(len(classes)):
        for b in range(a + 1, len(classes)):
            pair = np.concatenate([members[a], members[b]])
            y_pair = y_tr[pair]

            def vote(i: int, pred: np.ndarray, a: int = a, b: int = b) -> None:
                for_a = pred == classes[a]
                votes[i][for_a, a] += 1
                votes[i][~for_a, b] += 1

            if rbf:
                # Both blocks C-ordered: libsvm's predict would copy an F-ordered one.
                blocks = (D_tr[np.ix_(pair, pair)], np.ascontiguousarray(D_te[:, pair]))
                for i, s, K_tr, K_te in _rbf_settings(blocks, rbf, n_features):
                    vote(i, _PrecomputedLibsvm(True, s.C).fit(K_tr, y_pair).predict(K_te))
            if linear:
                fits = _linear_fits(True, X_tr[pair], y_pair, X_te, linear, linear_solver)
                for i, pred, solver in fits:
                    vote(i, pred)
                    if solver == "ipm":
                        solvers[i] = "ipm"
    # np.argmax takes the first maximum: libsvm's tie rule.
    return [
        (i, _score(True, y_te, classes[np.argmax(v, axis=1)]), solvers[i]) for i, v in votes.items()
    ]


def _by_kernel(
    settings: list[tuple[int, Setting]],
) -> tuple[list[tuple[int, Setting]], list[tuple[int, Setting]]]:
    """The (index, setting) pairs of the RBF kernel, and those of the linear one."""
    rbf = [(i, s) for i, s in settings if s.kernel == "rbf"]
    linear = [(i, s) for i, s in settings if s.kernel == "linear"]
    return rbf, linear


def _rbf_settings(
    distances: tuple[np.ndarray, np.ndarray],
    rbf: list[tuple[int, Setting]],
    n_features: int,
) -> Iterator[tuple[int, Setting, np.ndarray, np.ndarray]]:
    """Each RBF setting with its (train, test) kernels, gamma by gamma.

    The C values of a gamma share its kernel matrices, which :func:`rbf_kernels` reuses
    in place for the next gamma: fit before advancing. The distances are handed on and
    dropped here, so that only the generator holds them (and frees them when it can).
    """
    gammas = _unique([s.gamma_value(n_features) for _, s in rbf])
    kernels = rbf_kernels(distances, gammas)
    del distances
    for gamma, (K_tr, K_te) in kernels:
        for i, s in rbf:
            if s.gamma_value(n_features) == gamma:
                yield i, s, K_tr, K_te


def rbf_kernels(
    distances: tuple[np.ndarray, ...], gammas: Sequence[float]
) -> Iterator[tuple[float, tuple[np.ndarray, ...]]]:
    """``exp(-gamma * D)`` of each distance matrix, for every gamma, computed cheaply.

    The authors' gammas are a ladder 2^-13, 2^-11, ..., 2^-3: each is 4 times the
    previous, so ``exp(-4 g D) = exp(-g D)^4`` is two squarings of the previous kernel,
    a few times cheaper than ``exp`` on an n x n matrix (UrbanSound8K: 62 million
    values per gamma). Rounding grows by about 4x per rung: at most ~1e-13 relative
    after five rungs, far below the float32 (6e-8) in which libsvm caches kernel rows.
    Gammas off the ladder (``'auto'``, 1/n_features) get their own ``exp``.

    The yielded matrices are reused in place for the next gamma: use them before
    advancing the iterator. The distance matrices are released once no longer needed.
    """
    base = min(gammas)
    ladder = sorted(g for g in gammas if _power_of_two(g / base))
    for gamma in (g for g in gammas if g not in ladder):
        yield gamma, tuple(np.exp(-gamma * D) for D in distances)
    kernels = tuple(np.exp(-base * D) for D in distances)
    del distances
    previous = base
    for gamma in ladder:
        for _ in range(round(np.log2(gamma / previous))):
            for K in kernels:
                np.square(K, out=K)
        previous = gamma
        yield gamma, kernels


def _power_of_two(ratio: float) -> bool:
    """Whether ``ratio`` is exactly 2^k for an integer k >= 0."""
    mantissa, _ = np.frexp(ratio)
    return bool(ratio >= 1.0 and mantissa == 0.5)


def _sq_diff_distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Squared distances as libsvm forms them at prediction: sum of squared differences."""
    return cdist(A, B, "sqeuclidean")


def _unique(values: list[float]) -> list[float]:
    seen: list[float] = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


def fold_tasks(
    splits: list[tuple[np.ndarray, np.ndarray]], settings: list[Setting]
) -> Iterator[tuple[int, bool, list[tuple[int, Setting]]]]:
    """(fold, scaling, settings) work units, biggest folds first for load balance."""
    order = sorted(range(len(splits)), key=lambda k: -len(splits[k][0]))
    for k in order:
        for scale in (True, False):
            chosen = [(i, s) for i, s in enumerate(settings) if s.scale == scale]
            if chosen:
                yield k, scale, chosen


def check_features(X: np.ndarray) -> None:
    """Refuse features no SVM grid can score: non-finite values, or overflowing distances.

    Both evaluation methods call it first: a NaN would fail inside libsvm, and values
    whose squared norms overflow (1e200) give kernels of NaN or 0, from which a score
    would still come out.

    Raises
    ------
    MusicTransferError
        Saying which, and what to do.
    """
    if not np.all(np.isfinite(X)):
        raise MusicTransferError(
            "the features contain NaN or infinite values", "recompute the feature file"
        )
    with np.errstate(over="ignore"):
        norms = np.einsum("ij,ij->i", X, X)
    if not np.all(np.isfinite(norms)):
        raise MusicTransferError(
            f"the features are too large for the SVM's kernels: a row's squared norm "
            f"overflows (largest value {np.max(np.abs(X)):.3g})",
            "rescale the features (their unscaled distances must be finite)",
        )


def fast_grid_search(
    X: np.ndarray,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    settings: list[Setting],
    is_classifier: bool,
    n_jobs: int = 1,
    linear_solver: str = "auto",
) -> GridResult:
    """Fold scores of every setting: the grid search with shared kernels.

    Parameters
    ----------
    splits
        (train, test) index arrays, as the task's cv splitter yields them.
    linear_solver
        'auto': libsvm, and the exact interior-point solver for fits that exceed
        libsvm's iteration budget; 'libsvm': libsvm only (as slow as the plain grid
        search on pathological fits, but the same solver everywhere); 'ipm': the
        interior-point solver for every linear fit.
    """
    if linear_solver not in ("auto", "libsvm", "ipm"):
        raise ValueError(f"linear_solver must be auto, libsvm or ipm, not {linear_solver!r}")
    X = np.asarray(X)
    y = np.asarray(y)
    check_features(X)
    if is_classifier:
        # Integer codes in the sorted order of the labels: libsvm sees the same classes
        # in the same order as with the labels themselves, and scikit-learn's per-fit
        # label handling is cheaper on integers than on strings.
        y = np.unique(y, return_inverse=True)[1]
    tasks = list(fold_tasks(splits, settings))
    results = Parallel(n_jobs=n_jobs)(
        delayed(_fold_task)(
            X, y, splits[k][0], splits[k][1], scale, chosen, is_classifier, linear_solver
        )
        for k, scale, chosen in tasks
    )
    scores = np.full((len(settings), len(splits)), np.nan)
    solvers = np.full((len(settings), len(splits)), "", dtype=object)
    for (k, _, _), part in zip(tasks, results, strict=True):
        for i, score, solver in part:
            scores[i, k] = score
            solvers[i, k] = solver
    return GridResult(
        settings=settings,
        scores=scores,
        solvers=solvers,
        n_ipm_fits=int(np.sum(solvers == "ipm")),
        fold_sizes=np.array([len(test) for _, test in splits]),
    )
