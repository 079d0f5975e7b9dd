"""Probes on fixed train / valid / test splits: how music representations are compared today.

The paper's protocol (:mod:`musictransfer.evaluation`: 10-fold cross-validation, an SVM
grid, the best mean fold score) is what a replication needs. Later benchmarks of music
representations (JukeMIR, Castellon et al. 2021; MARBLE, Yuan et al. 2023; HEAR, Turian
et al. 2022) compare features differently: fixed train / valid / test splits, a simple
*probe* (a linear model or a small MLP) whose hyper-parameters are chosen on the valid
split only, and one score on the test split. Choosing the best setting by its score on the
very clips it is reported on (as the best mean fold score does) is optimistic; a probe
scored once on clips that played no part in any choice is not.

:func:`fit_probe` does that for one feature matrix:

- ``"linear"``: :class:`~sklearn.linear_model.LogisticRegression` (classification) or
  :class:`~sklearn.linear_model.Ridge` (regression);
- ``"mlp"``: one hidden layer (:class:`~sklearn.neural_network.MLPClassifier` or
  :class:`~sklearn.neural_network.MLPRegressor`), ReLU, Adam, seeded.

Every probe standardises the features with a :class:`~sklearn.preprocessing.StandardScaler`
inside its :class:`~sklearn.pipeline.Pipeline`, so the scaler is fitted on the train clips
only: valid and test clips are transformed with the train mean and scale, and nothing about
them reaches the model before it is scored. The grids are the module constants below; they
are small on purpose, so that a probe on about 1,000 clips of 160 features runs in seconds
on one core.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from musictransfer.config import TASK_TYPES
from musictransfer.errors import ConfigError, ManifestError

PROBE_KINDS = ("linear", "mlp")
"""The probes :func:`fit_probe` knows."""

LOGISTIC_C = (1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3)
"""Inverse regularisation strengths of the logistic-regression probe (classification).

Seven decades around scikit-learn's default (C = 1), strongest regularisation first: on
standardised features this spans a nearly constant model to a nearly unregularised one.
"""

LOGISTIC_MAX_ITER = 1000
"""L-BFGS iterations for the logistic probe: ten times scikit-learn's default, enough for
standardised features at every C of the grid (a fit that still stops early is recorded as
not converged in :attr:`ProbeResult.converged`)."""

RIDGE_ALPHA = (1e4, 1e3, 1e2, 1e1, 1.0, 1e-1, 1e-2)
"""Regularisation strengths of the ridge probe (regression), strongest first.

Ridge adds ``alpha * |w|^2`` to a *sum* of squared errors over the train clips (not a
mean), so the useful range grows with the number of clips: for about 1,000 clips of
standardised features, 1e4 shrinks the weights hard and 1e-2 is nearly least squares.
"""

MLP_HIDDEN = (128, 512)
"""Widths of the MLP probe's one hidden layer: a narrow and a wide one, narrowest first."""

MLP_ALPHA = (1e-1, 1e-3)
"""L2 penalties of the MLP probe, strongest first (scikit-learn's default is 1e-4)."""

MLP_MAX_ITER = 200
"""Adam epochs of the MLP probe (scikit-learn's default). Early stopping is off: it would
carve its own validation clips out of the train split, a second, random valid split beside
the one the probe selects on."""

METRICS = {"classification": "accuracy", "regression": "r2"}
"""The score of each task type: the paper's (and the estimators' default ``score``)."""


@dataclass(frozen=True, eq=False)
class ProbeResult:
    """One probe fitted on train, chosen on valid, scored once on test.

    Attributes
    ----------
    kind
        ``"linear"`` or ``"mlp"``.
    task_type
        ``"classification"`` or ``"regression"``.
    metric
        ``"accuracy"`` or ``"r2"``.
    estimator
        The scikit-learn estimator of the probe (e.g. ``"LogisticRegression"``).
    settings
        Every hyper-parameter setting tried, in grid order.
    valid_scores
        The valid-split score of each setting, in the same order: the grid record, as the
        SVM cells keep theirs, so the choice can be checked and other readings made.
    converged
        Whether each setting's optimiser converged within its iteration budget.
    chosen
        Index of the chosen setting: the first with the highest valid score (ties go to the
        earlier, more regularised setting, as ``GridSearchCV`` keeps the first best).
    test_score
        The chosen setting's score on the test split: the one number to report.
    y_test, test_pred
        The test targets and the chosen model's predictions, in test-clip order, so that
        :mod:`musictransfer.stats` can resample clips for a confidence interval or compare
        two feature sets on the same clips.
    n_train, n_valid, n_test
        Clips in each split.
    seed
        The seed of the MLP's initialisation and batch order (unused by the linear probes,
        whose solvers are deterministic).
    """

    kind: str
    task_type: str
    metric: str
    estimator: str
    settings: tuple[dict[str, Any], ...]
    valid_scores: tuple[float, ...]
    converged: tuple[bool, ...]
    chosen: int
    test_score: float
    y_test: np.ndarray
    test_pred: np.ndarray
    n_train: int
    n_valid: int
    n_test: int
    seed: int

    @property
    def chosen_setting(self) -> dict[str, Any]:
        """The hyper-parameters chosen on the valid split."""
        return dict(self.settings[self.chosen])

    @property
    def valid_score(self) -> float:
        """The chosen setting's valid score."""
        return self.valid_scores[self.chosen]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (plain Python numbers, strings and lists)."""
        return {
            "kind": self.kind,
            "task_type": self.task_type,
            "metric": self.metric,
            "estimator": self.estimator,
            "protocol": "fit on train, choose on valid, score once on test",
            "settings": [dict(s) for s in self.settings],
            "valid_scores": [float(v) for v in self.valid_scores],
            "converged": [bool(c) for c in self.converged],
            "chosen": self.chosen,
            "chosen_setting": self.chosen_setting,
            "valid_score": float(self.valid_score),
            "test_score": float(self.test_score),
            "y_test": self.y_test.tolist(),
            "test_pred": self.test_pred.tolist(),
            "n_train": self.n_train,
            "n_valid": self.n_valid,
            "n_test": self.n_test,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> ProbeResult:
        """The result :meth:`to_dict` wrote (e.g. read back from JSON for statistics)."""
        return cls(
            kind=record["kind"],
            task_type=record["task_type"],
            metric=record["metric"],
            estimator=record["estimator"],
            settings=tuple(dict(s) for s in record["settings"]),
            valid_scores=tuple(float(v) for v in record["valid_scores"]),
            converged=tuple(bool(c) for c in record["converged"]),
            chosen=int(record["chosen"]),
            test_score=float(record["test_score"]),
            y_test=np.asarray(record["y_test"]),
            test_pred=np.asarray(record["test_pred"]),
            n_train=int(record["n_train"]),
            n_valid=int(record["n_valid"]),
            n_test=int(record["n_test"]),
            seed=int(record["seed"]),
        )


def probe_settings(kind: str, task_type: str) -> list[dict[str, Any]]:
    """The hyper-parameter grid of a probe, in the order it is searched.

    Parameters
    ----------
    kind
        ``"linear"`` or ``"mlp"``.
    task_type
        ``"classification"`` or ``"regression"``.

    Returns
    -------
    list of dict
        One dict per setting, most regularised first (so that ties on valid go to the
        simpler model): ``{"C": ...}`` (logistic), ``{"alpha": ...}`` (ridge), or
        ``{"hidden": ..., "alpha": ...}`` (MLP).
    """
    _check_kind(kind, task_type)
    if kind == "linear":
        if task_type == "classification":
            return [{"C": c} for c in LOGISTIC_C]
        return [{"alpha": a} for a in RIDGE_ALPHA]
    return [{"hidden": h, "alpha": a} for h, a in product(MLP_HIDDEN, MLP_ALPHA)]


def make_probe(kind: str, task_type: str, setting: Mapping[str, Any], seed: int) -> BaseEstimator:
    """An unfitted probe: a train-only standardiser, then the model of one setting.

    Parameters
    ----------
    kind, task_type
        As in :func:`probe_settings`.
    setting
        One of :func:`probe_settings`'s settings.
    seed
        ``random_state`` of the MLP (initial weights, batch order).

    Returns
    -------
    sklearn estimator
        A :class:`~sklearn.pipeline.Pipeline` of a :class:`StandardScaler` and the model.
        The MLP regressor is also wrapped in a
        :class:`~sklearn.compose.TransformedTargetRegressor` that standardises the target
        with the train mean and scale: Adam's step size and the L2 penalty assume targets of
        unit scale, and regression targets (e.g. arousal on a 1-9 scale) are not. Ridge needs
        no such wrapper: its fit is equivariant to the target's scale and offset.
    """
    _check_kind(kind, task_type)
    classification = task_type == "classification"
    model: BaseEstimator
    if kind == "linear":
        if classification:
            model = LogisticRegression(C=float(setting["C"]), max_iter=LOGISTIC_MAX_ITER)
        else:
            model = Ridge(alpha=float(setting["alpha"]))
    else:
        mlp_args = {
            "hidden_layer_sizes": (int(setting["hidden"]),),
            "alpha": float(setting["alpha"]),
            "max_iter": MLP_MAX_ITER,
            "early_stopping": False,
            "random_state": seed,
        }
        model = MLPClassifier(**mlp_args) if classification else MLPRegressor(**mlp_args)
    pipeline = Pipeline([("scaler", StandardScaler()), ("model", model)])
    if kind == "mlp" and not classification:
        return TransformedTargetRegressor(regressor=pipeline, transformer=StandardScaler())
    return pipeline


@threadpool_limits.wrap(limits=1)
def fit_probe(
    kind: str,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_valid: np.ndarray,
    y_valid: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    task_type: str,
    seed: int = 0,
) -> ProbeResult:
    """Fit a probe on train, choose its hyper-parameters on valid, score it once on test.

    Every setting of :func:`probe_settings` is fitted on the train clips and scored on the
    valid clips. The first setting with the best valid score is chosen, and *that* model,
    fitted on the train clips only, predicts the test clips once. It is not refitted on
    train + valid: that is the JukeMIR convention, and it keeps the model that was chosen
    the model that is scored. The test clips play no part in any choice (their targets are
    read only after the choice, to score it), so the test score is an honest estimate of
    the probe's accuracy or r2 on new clips, unlike the best mean fold score of a grid.

    The fits run on one BLAS thread, as the SVM folds do: a probe's matrices are small,
    so threads cost more than they save (on busy cores, far more), the workflow runs
    many probes side by side, and the numbers do not depend on how many cores a machine
    has.

    Parameters
    ----------
    kind
        ``"linear"`` (logistic regression / ridge) or ``"mlp"`` (one hidden layer).
    X_train, y_train, X_valid, y_valid, X_test, y_test
        Features ``(n_clips, n_features)`` and targets ``(n_clips,)`` of the three splits.
        Class labels may be any type ``==`` compares; regression targets are numbers.
    task_type
        ``"classification"`` (scored by accuracy) or ``"regression"`` (scored by r2).
    seed
        Seed of the MLP's initial weights and batch order. Same inputs and seed, same
        result; the linear probes are deterministic and ignore it.

    Returns
    -------
    ProbeResult
        The valid score of every setting, the choice, the test score, and the test
        predictions (for :func:`musictransfer.stats.bootstrap_ci` and
        :func:`musictransfer.stats.paired_test`).

    Raises
    ------
    ConfigError
        An unknown probe kind or task type.
    ManifestError
        An empty split, or a classification train split with a single class.
    ValueError
        Arrays of inconsistent shapes (a bug of the caller).
    """
    _check_kind(kind, task_type)
    splits = {
        "train": _split(X_train, y_train, "train"),
        "valid": _split(X_valid, y_valid, "valid"),
        "test": _split(X_test, y_test, "test"),
    }
    widths = {name: X.shape[1] for name, (X, _) in splits.items()}
    if len(set(widths.values())) != 1:
        raise ValueError(f"the splits have different numbers of features: {widths}")
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = splits.values()
    classification = task_type == "classification"
    if classification and np.unique(y_tr).size < 2:
        raise ManifestError(
            f"the train split has a single class ({y_tr[0]!r}), so no classifier can be fitted",
            "check the task's split column: every class needs train clips",
        )

    settings = probe_settings(kind, task_type)
    valid_scores: list[float] = []
    converged: list[bool] = []
    chosen, best_model = -1, None
    for i, setting in enumerate(settings):
        model = make_probe(kind, task_type, setting, seed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(X_tr, y_tr)
        converged.append(not any(issubclass(w.category, ConvergenceWarning) for w in caught))
        valid_scores.append(score(task_type, y_va, model.predict(X_va)))
        if chosen < 0 or valid_scores[i] > valid_scores[chosen]:
            chosen, best_model = i, model  # strictly better only: ties keep the earlier one
    assert best_model is not None
    # The only use of the test clips: the chosen model predicts them once.
    test_pred = np.asarray(best_model.predict(X_te))
    return ProbeResult(
        kind=kind,
        task_type=task_type,
        metric=METRICS[task_type],
        estimator=_estimator_name(best_model),
        settings=tuple(settings),
        valid_scores=tuple(valid_scores),
        converged=tuple(converged),
        chosen=chosen,
        test_score=score(task_type, y_te, test_pred),
        y_test=y_te,
        test_pred=test_pred,
        n_train=len(y_tr),
        n_valid=len(y_va),
        n_test=len(y_te),
        seed=seed,
    )


def score(task_type: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Accuracy (classification) or r2 (regression), as the paper's grid scores its folds."""
    if task_type == "classification":
        return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))
    return float(r2_score(y_true, y_pred))


def _check_kind(kind: str, task_type: str) -> None:
    if kind not in PROBE_KINDS:
        raise ConfigError(f"probe kind {kind!r} is unknown", f"use one of {', '.join(PROBE_KINDS)}")
    if task_type not in TASK_TYPES:
        raise ConfigError(
            f"task type {task_type!r} is unknown", f"use one of {', '.join(TASK_TYPES)}"
        )


def _split(X: np.ndarray, y: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A split's features and targets as arrays, checked for shape."""
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
        raise ValueError(
            f"the {name} split needs features (n, d) and targets (n,), got {X.shape} and {y.shape}"
        )
    if len(y) == 0:
        raise ManifestError(
            f"the {name} split has no clips", "check the task's split column and its values"
        )
    return X, y


def _estimator_name(model: BaseEstimator) -> str:
    """The name of the model inside a probe's pipeline (and target wrapper)."""
    if isinstance(model, TransformedTargetRegressor):
        model = model.regressor
    return type(model.named_steps["model"]).__name__  # type: ignore[attr-defined]
