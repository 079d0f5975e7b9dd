"""Error bars and paired comparisons: coverage, exactness, reproducibility."""

from __future__ import annotations

import itertools
import json
import time

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, r2_score

from musictransfer.stats import (
    bootstrap_ci,
    fold_spread,
    metric_score,
    paired_fold_test,
    paired_test,
)


def bernoulli_classifier(
    rng: np.random.Generator, n: int, p: float, n_classes: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Labels, and predictions right with probability p (wrong ones: another class)."""
    y = rng.integers(0, n_classes, n)
    right = rng.random(n) < p
    return y, np.where(right, y, (y + rng.integers(1, n_classes, n)) % n_classes)


def noisy_regression(
    rng: np.random.Generator, n: int, noise: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """y = f + noise with f ~ N(0, 1), predicted by f: population r2 = 1 / (1 + noise^2)."""
    f = rng.normal(size=n)
    return f + noise * rng.normal(size=n), f


# --- Fold spread ----------------------------------------------------------------------
def test_fold_spread() -> None:
    scores = [0.7, 0.8, 0.9, 0.6]
    spread = fold_spread(scores)
    assert spread.mean == pytest.approx(0.75)
    assert spread.std == pytest.approx(np.std(scores, ddof=1))
    assert (spread.min, spread.max, spread.n) == (0.6, 0.9, 4)
    assert json.loads(json.dumps(spread.to_dict())) == spread.to_dict()
    assert fold_spread([0.5]).std is None
    with pytest.raises(ValueError, match="finite"):
        fold_spread([0.5, float("nan")])


# --- Bootstrap interval ---------------------------------------------------------------
def test_bootstrap_accuracy_interval_covers_at_its_nominal_rate() -> None:
    rng = np.random.default_rng(2017)
    p, trials = 0.7, 200
    covered = 0
    for trial in range(trials):
        y, pred = bernoulli_classifier(rng, 300, p)
        interval = bootstrap_ci(y, pred, "accuracy", n_boot=1000, level=0.95, seed=trial)
        covered += interval.low <= p <= interval.high
    assert 0.90 <= covered / trials <= 0.98


def test_bootstrap_r2_interval_covers_at_its_nominal_rate() -> None:
    rng = np.random.default_rng(2024)
    population_r2, trials = 0.5, 200  # noise 1: r2 = 1 / (1 + 1)
    covered = 0
    for trial in range(trials):
        y, pred = noisy_regression(rng, 300)
        interval = bootstrap_ci(y, pred, "r2", n_boot=1000, level=0.95, seed=trial)
        covered += interval.low <= population_r2 <= interval.high
    assert 0.90 <= covered / trials <= 0.98


def test_bootstrap_estimate_is_the_score_of_the_clips_as_given() -> None:
    rng = np.random.default_rng(0)
    y, pred = bernoulli_classifier(rng, 120, 0.6)
    interval = bootstrap_ci(y, pred, "accuracy")
    assert interval.estimate == accuracy_score(y, pred)
    assert interval.low < interval.estimate < interval.high
    assert (interval.n, interval.n_boot, interval.level) == (120, 1000, 0.95)
    yr, pr = noisy_regression(rng, 120)
    assert bootstrap_ci(yr, pr, "r2").estimate == pytest.approx(r2_score(yr, pr), abs=1e-12)
    assert json.loads(json.dumps(interval.to_dict())) == interval.to_dict()


def test_r2_of_constant_targets_follows_scikit_learn() -> None:
    y = np.array([2.0, 2.0, 2.0])
    assert metric_score("r2", y, y) == r2_score(y, y) == 1.0
    assert metric_score("r2", y, y + 1) == r2_score(y, y + 1) == 0.0


def test_bootstrap_is_seeded_and_wider_at_higher_level() -> None:
    rng = np.random.default_rng(1)
    y, pred = bernoulli_classifier(rng, 300, 0.8)
    assert bootstrap_ci(y, pred, "accuracy", seed=5) == bootstrap_ci(y, pred, "accuracy", seed=5)
    # Accuracy's percentiles sit on multiples of 1 / n, so seeds may agree; r2's do not.
    yr, pr = noisy_regression(rng, 300)
    assert bootstrap_ci(yr, pr, "r2", seed=5) == bootstrap_ci(yr, pr, "r2", seed=5)
    assert bootstrap_ci(yr, pr, "r2", seed=5) != bootstrap_ci(yr, pr, "r2", seed=6)
    narrow = bootstrap_ci(y, pred, "accuracy", level=0.8)
    wide = bootstrap_ci(y, pred, "accuracy", level=0.99)
    assert wide.low < narrow.low < narrow.high < wide.high


def test_bootstrap_of_1000_replicates_on_300_clips_is_fast() -> None:
    rng = np.random.default_rng(0)
    y, pred = bernoulli_classifier(rng, 300, 0.7)
    yr, pr = noisy_regression(rng, 300)
    bootstrap_ci(y, pred, "accuracy")  # warm-up
    start = time.perf_counter()
    bootstrap_ci(y, pred, "accuracy", n_boot=1000)
    bootstrap_ci(yr, pr, "r2", n_boot=1000)
    assert time.perf_counter() - start < 1.0


def test_bootstrap_rejects_bad_input() -> None:
    y = np.array([0, 1, 1])
    with pytest.raises(ValueError, match="metric"):
        bootstrap_ci(y, y, "f1")
    with pytest.raises(ValueError, match=r"must be \(n,\) each"):
        bootstrap_ci(y, y[:2], "accuracy")
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci(y, y, "accuracy", level=95)
    with pytest.raises(ValueError, match="finite"):
        bootstrap_ci(np.array([1.0, np.nan]), np.array([1.0, 2.0]), "r2")


# --- Paired comparison on test clips --------------------------------------------------
def test_paired_test_is_seeded_and_reproducible() -> None:
    rng = np.random.default_rng(3)
    y, a = bernoulli_classifier(rng, 300, 0.75)
    _, b = bernoulli_classifier(np.random.default_rng(4), 300, 0.7)
    b = np.where(rng.random(300) < 0.7, y, b)
    first = paired_test(y, a, b, "accuracy", seed=11)
    again = paired_test(y, a, b, "accuracy", seed=11)
    assert first == again
    assert first.to_dict() == json.loads(json.dumps(again.to_dict()))
    other = paired_test(y, a, b, "accuracy", seed=12)
    assert other.p_value != first.p_value  # another draw of patterns ...
    assert other.p_value == pytest.approx(first.p_value, abs=0.02)  # ... close to the same
    assert other.effect == first.effect
    assert other.ci.low == pytest.approx(first.ci.low, abs=0.015)
    assert other.ci.high == pytest.approx(first.ci.high, abs=0.015)


@pytest.mark.parametrize("metric", ["accuracy", "r2"])
def test_paired_test_detects_a_clearly_better_prediction_set(metric: str) -> None:
    rng = np.random.default_rng(5)
    if metric == "accuracy":
        y, a = bernoulli_classifier(rng, 300, 0.85)
        b = np.where(rng.random(300) < 0.7, y, (y + 1) % 10)
    else:
        f = rng.normal(size=300)
        y = f + 0.7 * rng.normal(size=300)
        a, b = f, f + 0.7 * rng.normal(size=300)
    result = paired_test(y, a, b, metric, seed=0)
    assert result.effect == pytest.approx(metric_score(metric, y, a) - metric_score(metric, y, b))
    assert result.effect > 0.1
    assert result.p_value < 0.01
    assert 0 < result.ci.low < result.effect < result.ci.high
    flipped = paired_test(y, b, a, metric, seed=0)
    assert flipped.effect == -result.effect
    assert flipped.p_value == result.p_value  # two-sided: the same patterns, negated sums
    assert flipped.ci.low == pytest.approx(-result.ci.high, abs=1e-12)


def test_paired_test_of_equally_good_predictions_is_not_significant() -> None:
    rng = np.random.default_rng(6)
    p_values = []
    for trial in range(60):
        y, a = bernoulli_classifier(rng, 300, 0.7)
        b = np.where(rng.random(300) < 0.7, y, (y + 1) % 10)
        p_values.append(
            paired_test(y, a, b, "accuracy", n_perm=2000, n_boot=200, seed=trial).p_value
        )
    p_values = np.array(p_values)
    # Under the null the p-value is uniform: about 5 % below 0.05, mean about 1/2.
    assert np.mean(p_values < 0.05) <= 0.15
    assert 0.35 < np.mean(p_values) < 0.65
    y, a = bernoulli_classifier(rng, 300, 0.7)
    same = paired_test(y, a, a.copy(), "accuracy")
    assert (same.effect, same.p_value, same.ci.low, same.ci.high) == (0.0, 1.0, 0.0, 0.0)


@pytest.mark.parametrize("metric", ["accuracy", "r2"])
def test_paired_permutation_equals_swapping_predictions_clip_by_clip(metric: str) -> None:
    # 9 clips: 512 swap patterns, enumerated by brute force with scikit-learn's scores.
    rng = np.random.default_rng(8)
    if metric == "accuracy":
        y = rng.integers(0, 3, 9)
        a, b = rng.integers(0, 3, 9), rng.integers(0, 3, 9)
        score = accuracy_score
    else:
        y, a, b = rng.normal(size=9), rng.normal(size=9), rng.normal(size=9)
        score = r2_score
    observed = abs(score(y, a) - score(y, b))
    hits = 0
    for swap in itertools.product([False, True], repeat=9):
        s = np.array(swap)
        a2, b2 = np.where(s, b, a), np.where(s, a, b)
        hits += abs(score(y, a2) - score(y, b2)) >= observed - 1e-12
    result = paired_test(y, a, b, metric, n_perm=512)
    assert result.exact
    assert result.n_perm == 512
    assert result.p_value == hits / 512


def test_paired_test_rejects_constant_targets_for_r2() -> None:
    y = np.ones(10)
    with pytest.raises(ValueError, match="constant targets"):
        paired_test(y, y + 1, y - 1, "r2")


# --- Paired comparison on folds -------------------------------------------------------
def test_ten_folds_all_in_favour_give_exactly_two_in_1024() -> None:
    rng = np.random.default_rng(9)
    a = 0.8 + 0.02 * rng.random(10)
    b = a - 0.01 - 0.01 * rng.random(10)
    result = paired_fold_test(a, b)
    assert result.exact
    assert result.n_perm == 1024
    assert result.p_value == 2 / 1024
    assert result.mean_difference == pytest.approx(np.mean(a - b))
    assert paired_fold_test(b, a).p_value == 2 / 1024  # two-sided
    record = json.loads(json.dumps(result.to_dict()))
    assert record["differences"] == pytest.approx(list(a - b))


def test_fold_test_equals_brute_force_enumeration() -> None:
    d = np.array([0.03, -0.01, 0.02, 0.005, -0.002, 0.04, 0.01])
    observed = abs(d.sum())
    sums = [abs(np.dot(s, d)) for s in itertools.product([-1, 1], repeat=d.size)]
    expected = np.mean(np.array(sums) >= observed - 1e-12)
    result = paired_fold_test(d, np.zeros_like(d))
    assert result.p_value == expected
    assert 2 / 128 < result.p_value < 1


def test_many_folds_use_random_patterns_close_to_the_exact_value() -> None:
    rng = np.random.default_rng(10)
    d = rng.normal(0.3, 1.0, 16)
    exact = paired_fold_test(d, np.zeros(16), n_perm=1 << 16)
    sampled = paired_fold_test(d, np.zeros(16), n_perm=20_000, seed=1)
    assert exact.exact and not sampled.exact
    assert sampled.n_perm == 20_000
    assert sampled.p_value == pytest.approx(exact.p_value, abs=0.01)
    assert sampled == paired_fold_test(d, np.zeros(16), n_perm=20_000, seed=1)


def test_fold_test_rejects_unpaired_scores() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        paired_fold_test([0.1, 0.2, 0.3], [0.1, 0.2])
