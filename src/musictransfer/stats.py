"""Error bars and paired comparisons for scores of music representations.

A score without its uncertainty cannot say whether one feature set beats another. This
module gives each protocol the uncertainty it supports:

- cross-validation (the paper's protocol): the spread of the fold scores
  (:func:`fold_spread`), and a paired comparison of two feature sets scored on the same
  folds (:func:`paired_fold_test`: a sign-flip permutation test over folds);
- fixed splits (:mod:`musictransfer.probes`): a bootstrap confidence interval of the test
  score, test clips resampled with replacement (:func:`bootstrap_ci`), and a paired
  comparison of two feature sets' predictions on the same test clips
  (:func:`paired_test`: a paired bootstrap interval of the difference, and a paired
  permutation test that swaps the two predictions of each clip).

Scores are accuracy (classification) or r2 (regression), as in the paper. Every random
procedure takes a seed: same inputs and seed, same numbers. Resampling is vectorised with
numpy (1,000 replicates of a few hundred clips take milliseconds), in blocks of at most
:data:`BLOCK_ELEMENTS` entries so that memory stays bounded on large test sets.

What these numbers assume: clips are independent draws from the population of interest.
Clips cut from the same recording, or many songs of one artist, are not; intervals then are
too narrow, and the cure is a split that keeps them together, not a different statistic.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

METRICS = ("accuracy", "r2")
"""The scores these statistics resample: the paper's accuracy and r2."""

BOOTSTRAP_REPLICATES = 1000
"""Default number of bootstrap replicates: enough for the 2.5 % and 97.5 % percentiles of a
95 % interval to rest on 25 replicates each."""

PERMUTATIONS = 10_000
"""Default number of random sign patterns of a permutation test: p-values resolve to 1e-4.
Where all patterns number no more than this (10 folds: 1,024), they are enumerated and the
p-value is exact."""

BLOCK_ELEMENTS = 1 << 22
"""Largest (replicates x clips) block resampled at once (32 MiB of float64)."""


@dataclass(frozen=True)
class FoldSpread:
    """Summary of the fold scores of one setting under cross-validation.

    Attributes
    ----------
    mean
        The plain mean over folds (the paper's score under the best setting).
    std
        Sample standard deviation over folds (``ddof=1``); None with a single fold.
    min, max
        The worst and best fold.
    n
        Number of folds.
    """

    mean: float
    std: float | None
    min: float
    max: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record."""
        return asdict(self)


@dataclass(frozen=True)
class Interval:
    """A point estimate and its confidence interval.

    Attributes
    ----------
    estimate
        The statistic on the clips as given (not the mean of the replicates).
    low, high
        The interval's bounds.
    level
        Nominal coverage, e.g. 0.95.
    n_boot
        Bootstrap replicates the bounds rest on.
    n
        Clips resampled.
    method
        How the interval was made, e.g. ``"percentile bootstrap over clips"``.
    """

    estimate: float
    low: float
    high: float
    level: float
    n_boot: int
    n: int
    method: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record."""
        return asdict(self)


@dataclass(frozen=True)
class PairedResult:
    """Two sets of predictions of the same test clips, compared.

    Attributes
    ----------
    metric
        ``"accuracy"`` or ``"r2"``.
    score_a, score_b
        Each set's score on all clips.
    effect
        ``score_a - score_b``: positive when ``a`` is better.
    ci
        Paired bootstrap interval of the effect (the same resampled clips score both sets).
    p_value
        Two-sided p-value of the paired permutation test: under the null hypothesis that
        the two predictions of each clip are exchangeable, how often swapping them clip by
        clip at random gives an effect at least as large in size as the one observed.
    n_perm
        Sign patterns the p-value rests on (all ``2**n`` of them when ``exact``).
    exact
        Whether every pattern was enumerated (tiny test sets only).
    n
        Test clips.
    """

    metric: str
    score_a: float
    score_b: float
    effect: float
    ci: Interval
    p_value: float
    n_perm: int
    exact: bool
    n: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (the interval nested under ``ci``)."""
        return asdict(self)


@dataclass(frozen=True)
class FoldComparison:
    """Two feature sets scored on the same cross-validation folds, compared.

    Attributes
    ----------
    differences
        ``scores_a - scores_b`` fold by fold.
    mean_difference
        Their mean: the difference of the two mean fold scores.
    std_difference
        Sample standard deviation of the differences; None with a single fold.
    p_value
        Two-sided sign-flip permutation p-value over folds.
    n_perm
        Sign patterns the p-value rests on (``2**n`` when ``exact``).
    exact
        Whether every pattern was enumerated.
    n
        Folds.
    """

    differences: tuple[float, ...]
    mean_difference: float
    std_difference: float | None
    p_value: float
    n_perm: int
    exact: bool
    n: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record."""
        record = asdict(self)
        record["differences"] = list(self.differences)
        return record


def fold_spread(scores: Sequence[float] | np.ndarray) -> FoldSpread:
    """Mean, spread and range of fold scores.

    The paper reports the mean over 10 folds alone. The standard deviation over folds says
    how much the score moves with the clips a fold happens to hold; it is not a standard
    error of the mean (the folds share training clips, so they are not independent, and
    no simple formula corrects for that).

    Parameters
    ----------
    scores
        One score per fold (e.g. a row of an SVM cell's grid).

    Returns
    -------
    FoldSpread
    """
    s = _finite_1d(scores, "scores")
    return FoldSpread(
        mean=float(np.mean(s)),
        std=float(np.std(s, ddof=1)) if s.size > 1 else None,
        min=float(np.min(s)),
        max=float(np.max(s)),
        n=int(s.size),
    )


def metric_score(metric: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Accuracy or r2 of predictions, as the bootstrap computes them on each replicate.

    r2 follows scikit-learn's ``r2_score`` (``force_finite``): 1 for perfect predictions
    of constant targets, 0 for imperfect ones, instead of an undefined ratio.
    """
    y, p = _pair(metric, y_true, y_pred)
    return float(_replicate_scores(metric, y, p, np.arange(y.size)[None, :])[0])


def bootstrap_ci(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    metric: str,
    n_boot: int = BOOTSTRAP_REPLICATES,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap confidence interval of a test score, clips resampled.

    The test clips are drawn ``n_boot`` times with replacement, the score is computed on
    each draw, and the interval is the central ``level`` fraction of those scores. This is
    the uncertainty due to *which* clips the test split holds, with the model fixed (it is
    not refitted): the error bar of a probe's single test score. The percentile interval
    is used because it needs no variance formula for r2, respects the [0, 1] range of
    accuracy, and reaches its nominal coverage on test sets of a few hundred clips (the
    tests check that on simulated classifiers).

    Parameters
    ----------
    y_true, y_pred
        Targets and predictions of the test clips, ``(n,)`` each, ``n >= 2``.
    metric
        ``"accuracy"`` or ``"r2"``.
    n_boot
        Replicates (1,000 or more for a 95 % interval).
    level
        Nominal coverage, in (0, 1).
    seed
        Seed of the resampling.

    Returns
    -------
    Interval
        ``estimate`` is the score on the clips as given.
    """
    y, p = _pair(metric, y_true, y_pred)
    _check_resampling(n_boot, level)
    rng = np.random.default_rng(seed)
    replicates = np.concatenate(
        [_replicate_scores(metric, y, p, idx) for idx in _bootstrap_indices(rng, y.size, n_boot)]
    )
    low, high = _percentiles(replicates, level)
    return Interval(
        estimate=metric_score(metric, y, p),
        low=low,
        high=high,
        level=level,
        n_boot=n_boot,
        n=int(y.size),
        method="percentile bootstrap over clips",
    )


def paired_test(
    y_true: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    metric: str,
    n_perm: int = PERMUTATIONS,
    n_boot: int = BOOTSTRAP_REPLICATES,
    level: float = 0.95,
    seed: int = 0,
) -> PairedResult:
    """Compare two feature sets by their predictions of the same test clips.

    Pairing matters: two feature sets scored on the same clips share the luck of the draw
    (easy and hard clips), so their difference is far less uncertain than two separate
    intervals suggest. Two paired procedures, both seeded:

    - the effect's confidence interval: a percentile bootstrap that resamples clips and
      scores *both* prediction sets on each resample;
    - the p-value: a permutation test that, for each clip, swaps the two predictions with
      probability 1/2. Both accuracy and r2 differences are sums of per-clip terms (r2's
      denominator depends on the targets only, which a swap leaves alone), so a swap flips
      the sign of that clip's term and the test is a sign-flip test on them. The p-value is
      two-sided, ``(1 + hits) / (1 + n_perm)`` with random patterns (never 0, valid at any
      ``n_perm``), or the exact fraction when all ``2**n`` patterns are enumerated.

    Parameters
    ----------
    y_true
        Targets of the test clips, ``(n,)``.
    pred_a, pred_b
        The two sets of predictions, ``(n,)`` each, in the same clip order.
    metric
        ``"accuracy"`` or ``"r2"``.
    n_perm
        Random sign patterns of the permutation test.
    n_boot
        Bootstrap replicates of the effect's interval.
    level
        Nominal coverage of the interval.
    seed
        Seed of both the bootstrap and the permutations.

    Returns
    -------
    PairedResult
        ``effect = score_a - score_b``, its interval, and the p-value.
    """
    y, a = _pair(metric, y_true, pred_a)
    _, b = _pair(metric, y_true, pred_b)
    _check_resampling(n_boot, level)
    if n_perm < 1:
        raise ValueError(f"n_perm must be at least 1, got {n_perm}")
    boot_rng, perm_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    effects = np.concatenate(
        [
            _replicate_scores(metric, y, a, idx) - _replicate_scores(metric, y, b, idx)
            for idx in _bootstrap_indices(boot_rng, y.size, n_boot)
        ]
    )
    low, high = _percentiles(effects, level)
    score_a, score_b = metric_score(metric, y, a), metric_score(metric, y, b)

    if metric == "accuracy":
        # Integer terms: ties between patterns are exact, not up to rounding.
        terms = (y == a).astype(np.float64) - (y == b).astype(np.float64)
    else:
        if np.all(y == y[0]):
            raise ValueError("r2 is undefined for constant targets: no permutation test")
        # (r2_a - r2_b) * ss_tot, clip by clip.
        terms = (y - b) ** 2 - (y - a) ** 2
    p_value, used, exact = _sign_flip_p(terms, n_perm, perm_rng)
    return PairedResult(
        metric=metric,
        score_a=score_a,
        score_b=score_b,
        effect=score_a - score_b,
        ci=Interval(
            estimate=score_a - score_b,
            low=low,
            high=high,
            level=level,
            n_boot=n_boot,
            n=int(y.size),
            method="paired percentile bootstrap over clips",
        ),
        p_value=p_value,
        n_perm=used,
        exact=exact,
        n=int(y.size),
    )


def paired_fold_test(
    scores_a: Sequence[float] | np.ndarray,
    scores_b: Sequence[float] | np.ndarray,
    n_perm: int = PERMUTATIONS,
    seed: int = 0,
) -> FoldComparison:
    """Compare two feature sets scored on the same cross-validation folds.

    The fold differences ``a - b`` are tested with a two-sided sign-flip permutation test:
    under the null hypothesis, each difference is as likely to be negative as positive.
    With 10 folds all ``2**10 = 1,024`` sign patterns are enumerated, so the p-value is
    exact, and its smallest possible value is ``2 / 1024`` (every fold in favour of the same
    side; two patterns reach that size). More folds than ``log2(n_perm)`` use ``n_perm``
    random patterns instead.

    Caveat: the folds share training clips, so their differences are not independent,
    which this test (like the paired t-test over folds) assumes. Its p-values lean
    optimistic (Dietterich 1998; Nadeau and Bengio 2003); read them as a guide, and prefer
    :func:`paired_test` on a held-out test split where one exists.

    Parameters
    ----------
    scores_a, scores_b
        Fold scores of the two feature sets, on the same folds, in the same order.
    n_perm
        Random sign patterns where enumeration would need more.
    seed
        Seed of the random patterns (unused when enumerating).

    Returns
    -------
    FoldComparison
    """
    a = _finite_1d(scores_a, "scores_a")
    b = _finite_1d(scores_b, "scores_b")
    if a.shape != b.shape:
        raise ValueError(f"scores_a and scores_b differ in length: {a.size} and {b.size}")
    if n_perm < 1:
        raise ValueError(f"n_perm must be at least 1, got {n_perm}")
    d = a - b
    p_value, used, exact = _sign_flip_p(d, n_perm, np.random.default_rng(seed))
    return FoldComparison(
        differences=tuple(float(x) for x in d),
        mean_difference=float(np.mean(d)),
        std_difference=float(np.std(d, ddof=1)) if d.size > 1 else None,
        p_value=p_value,
        n_perm=used,
        exact=exact,
        n=int(d.size),
    )


def _sign_flip_p(
    terms: np.ndarray, n_perm: int, rng: np.random.Generator
) -> tuple[float, int, bool]:
    """Two-sided sign-flip p-value of ``|sum(terms)|``: exact, or from random patterns.

    Returns the p-value, the number of patterns and whether they were all enumerated.
    A pattern counts as extreme when its sum is at least the observed one in size, within a
    relative tolerance: sums of the same terms in another order may differ in the last bits.
    """
    n = terms.size
    observed = abs(float(terms.sum()))
    tolerance = 1e-9 * float(np.abs(terms).sum())
    if n < 63 and (1 << n) <= n_perm:
        patterns = np.arange(1 << n, dtype=np.int64)[:, None] >> np.arange(n) & 1
        sums = np.abs((2.0 * patterns - 1.0) @ terms)
        return float(np.mean(sums >= observed - tolerance)), 1 << n, True
    hits = 0
    rows = max(1, BLOCK_ELEMENTS // n)
    for start in range(0, n_perm, rows):
        signs = 2.0 * rng.integers(0, 2, size=(min(rows, n_perm - start), n)) - 1.0
        hits += int(np.count_nonzero(np.abs(signs @ terms) >= observed - tolerance))
    return (1 + hits) / (1 + n_perm), n_perm, False


def _replicate_scores(metric: str, y: np.ndarray, p: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The score of each row of clip indices ``idx`` (replicates x clips)."""
    if metric == "accuracy":
        return (y == p).astype(np.float64)[idx].mean(axis=1)
    yt, yp = y[idx], p[idx]
    ss_res = np.sum((yt - yp) ** 2, axis=1)
    ss_tot = np.sum((yt - yt.mean(axis=1, keepdims=True)) ** 2, axis=1)
    # scikit-learn's force_finite: constant targets score 1 if predicted exactly, else 0.
    defined = ss_tot != 0
    r2 = np.where(ss_res == 0, 1.0, 0.0)
    r2[defined] = 1.0 - ss_res[defined] / ss_tot[defined]
    return r2


def _bootstrap_indices(rng: np.random.Generator, n: int, n_boot: int) -> Iterator[np.ndarray]:
    """Blocks of bootstrap draws: rows of ``n`` clip indices drawn with replacement."""
    rows = max(1, BLOCK_ELEMENTS // n)
    for start in range(0, n_boot, rows):
        yield rng.integers(0, n, size=(min(rows, n_boot - start), n))


def _percentiles(replicates: np.ndarray, level: float) -> tuple[float, float]:
    """The central ``level`` interval of the replicates."""
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(replicates, [tail, 1.0 - tail])
    return float(low), float(high)


def _pair(metric: str, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Targets and predictions as 1-D arrays of equal length (floats for r2), checked."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    y, p = np.asarray(y_true), np.asarray(y_pred)
    if y.ndim != 1 or y.shape != p.shape:
        raise ValueError(f"targets and predictions must be (n,) each, got {y.shape} and {p.shape}")
    if y.size < 2:
        raise ValueError(f"at least 2 clips are needed, got {y.size}")
    if metric == "r2":
        y, p = y.astype(np.float64), p.astype(np.float64)
        if not (np.all(np.isfinite(y)) and np.all(np.isfinite(p))):
            raise ValueError("targets and predictions must be finite for r2")
    return y, p


def _finite_1d(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    """Scores as a non-empty 1-D float array without NaN or infinity."""
    s = np.asarray(values, dtype=np.float64)
    if s.ndim != 1 or s.size == 0 or not np.all(np.isfinite(s)):
        raise ValueError(f"{name} must be a non-empty 1-D array of finite numbers")
    return s


def _check_resampling(n_boot: int, level: float) -> None:
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
