"""Probes on fixed splits: fitted on train, chosen on valid only, scored once on test."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.preprocessing import StandardScaler

from musictransfer import probes
from musictransfer.errors import ConfigError, ManifestError
from musictransfer.probes import ProbeResult, fit_probe, make_probe, probe_settings


def linear_data(n: int, d: int, seed: int, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Features on varied scales and offsets, and a noisy linear target."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 10.0, size=d) + rng.uniform(-5, 5, size=d)
    w = rng.normal(size=d) / np.std(X, axis=0)
    return X, X @ w + noise * rng.normal(size=n)


def classes(n: int, d: int, seed: int, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Three classes, separable up to noise, with string labels."""
    X, t = linear_data(n, d, seed, noise)
    return X, np.array(["blues", "jazz", "rock"])[np.digitize(t, np.quantile(t, [1 / 3, 2 / 3]))]


def splits(X: np.ndarray, y: np.ndarray, n_train: int, n_valid: int) -> tuple[np.ndarray, ...]:
    tr, va = slice(0, n_train), slice(n_train, n_train + n_valid)
    te = slice(n_train + n_valid, None)
    return X[tr], y[tr], X[va], y[va], X[te], y[te]


CASES = [
    ("linear", "classification"),
    ("linear", "regression"),
    ("mlp", "classification"),
    ("mlp", "regression"),
]


def data_for(task_type: str, seed: int = 0) -> tuple[np.ndarray, ...]:
    make = classes if task_type == "classification" else linear_data
    X, y = make(360, 12, seed)
    return splits(X, y, 200, 80)


# --- Choice on valid only -------------------------------------------------------------
@pytest.mark.parametrize(("kind", "task_type"), CASES)
def test_test_labels_play_no_part_in_the_choice(kind: str, task_type: str) -> None:
    X_tr, y_tr, X_va, y_va, X_te, y_te = data_for(task_type)
    first = fit_probe(kind, X_tr, y_tr, X_va, y_va, X_te, y_te, task_type, seed=0)
    shuffled = np.random.default_rng(1).permutation(y_te)
    second = fit_probe(kind, X_tr, y_tr, X_va, y_va, X_te, shuffled, task_type, seed=0)

    assert second.valid_scores == first.valid_scores
    assert second.chosen == first.chosen
    np.testing.assert_array_equal(second.test_pred, first.test_pred)
    np.testing.assert_array_equal(second.y_test, shuffled)
    assert second.test_score != first.test_score  # the test labels are used: to score only


def test_the_best_on_valid_is_chosen_not_the_best_on_test() -> None:
    # Valid clips follow the train relation; test targets are noise around the train
    # mean, so on test the most shrunk ridge (the nearest to a constant) scores best.
    X, y = linear_data(500, 20, seed=3, noise=0.3)
    X_tr, y_tr, X_va, y_va, X_te, _ = splits(X, y, 200, 150)
    y_te = y_tr.mean() + np.std(y_tr) * np.random.default_rng(4).normal(size=len(X_te))
    result = fit_probe("linear", X_tr, y_tr, X_va, y_va, X_te, y_te, "regression")

    settings = probe_settings("linear", "regression")
    fitted = [make_probe("linear", "regression", s, 0).fit(X_tr, y_tr) for s in settings]
    valid = [r2_score(y_va, m.predict(X_va)) for m in fitted]
    test = [r2_score(y_te, m.predict(X_te)) for m in fitted]
    assert int(np.argmax(test)) != int(np.argmax(valid))  # the construction bites
    assert result.chosen == int(np.argmax(valid))
    assert result.valid_scores == pytest.approx(valid, abs=1e-12)
    assert result.test_score == pytest.approx(test[result.chosen], abs=1e-12)
    assert result.test_score < max(test)


def test_ties_on_valid_go_to_the_first_most_regularised_setting() -> None:
    # Two well separated classes: every C classifies the valid clips perfectly.
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-5, 1, (100, 4)), rng.normal(5, 1, (100, 4))])
    y = np.repeat([0, 1], 100)
    order = rng.permutation(200)
    X, y = X[order], y[order]
    result = fit_probe("linear", *splits(X, y, 120, 40), "classification")
    assert result.valid_scores == (1.0,) * len(probes.LOGISTIC_C)
    assert result.chosen == 0
    assert result.chosen_setting == {"C": probes.LOGISTIC_C[0]}


# --- Standardisation on train only ----------------------------------------------------
def test_scaler_is_fitted_on_train_only() -> None:
    X_tr, y_tr, X_va, y_va, X_te, y_te = data_for("regression")
    shift = 3.0 * X_tr.std(axis=0)  # test clips far from the train clips
    plain = fit_probe("linear", X_tr, y_tr, X_va, y_va, X_te, y_te, "regression")
    shifted = fit_probe("linear", X_tr, y_tr, X_va, y_va, X_te + shift, y_te, "regression")
    assert shifted.valid_scores == plain.valid_scores  # test features choose nothing either
    assert shifted.chosen == plain.chosen

    alpha = shifted.chosen_setting["alpha"]
    train_scaler = StandardScaler().fit(X_tr)
    ridge = Ridge(alpha=alpha).fit(train_scaler.transform(X_tr), y_tr)
    expected = ridge.predict(train_scaler.transform(X_te + shift))
    np.testing.assert_allclose(shifted.test_pred, expected, rtol=1e-10, atol=1e-10)
    # A scaler that had seen the test clips would undo the shift: the check can tell.
    leaky = ridge.predict(StandardScaler().fit(X_te + shift).transform(X_te + shift))
    assert np.max(np.abs(leaky - expected)) > 1.0


@pytest.mark.parametrize("task_type", ["classification", "regression"])
def test_every_probe_standardises_inside_its_pipeline(task_type: str) -> None:
    for kind in probes.PROBE_KINDS:
        for setting in probe_settings(kind, task_type):
            model = make_probe(kind, task_type, setting, seed=0)
            pipeline = getattr(model, "regressor", model)
            assert isinstance(pipeline.named_steps["scaler"], StandardScaler)


# --- Determinism ----------------------------------------------------------------------
@pytest.mark.parametrize("task_type", ["classification", "regression"])
def test_same_seed_same_result_other_seed_other_mlp(task_type: str) -> None:
    data = data_for(task_type)
    one = fit_probe("mlp", *data, task_type, seed=7)
    two = fit_probe("mlp", *data, task_type, seed=7)
    assert one.to_dict() == two.to_dict()
    other = fit_probe("mlp", *data, task_type, seed=8)
    if task_type == "regression":
        assert other.valid_scores != one.valid_scores
    else:
        assert not np.array_equal(other.test_pred, one.test_pred) or (
            other.valid_scores != one.valid_scores
        )


def test_linear_probes_ignore_the_seed() -> None:
    data = data_for("classification")
    one = fit_probe("linear", *data, "classification", seed=0)
    two = fit_probe("linear", *data, "classification", seed=123)
    assert one.valid_scores == two.valid_scores
    np.testing.assert_array_equal(one.test_pred, two.test_pred)


# --- Both task types, both probes -----------------------------------------------------
@pytest.mark.parametrize(("kind", "task_type"), CASES)
def test_probes_learn_a_learnable_task(kind: str, task_type: str) -> None:
    result = fit_probe(kind, *data_for(task_type), task_type, seed=0)
    assert result.metric == probes.METRICS[task_type]
    assert len(result.valid_scores) == len(result.settings) == len(result.converged)
    assert result.valid_scores[result.chosen] == max(result.valid_scores)
    assert (result.n_train, result.n_valid, result.n_test) == (200, 80, 80)
    assert result.test_pred.shape == result.y_test.shape == (80,)
    # Noise 1 against a signal of variance about d = 12: r2 near 0.9; classes near 0.8.
    assert result.test_score > (0.6 if task_type == "classification" else 0.7)
    expected = {
        ("linear", "classification"): "LogisticRegression",
        ("linear", "regression"): "Ridge",
        ("mlp", "classification"): "MLPClassifier",
        ("mlp", "regression"): "MLPRegressor",
    }
    assert result.estimator == expected[kind, task_type]


def test_the_mlp_probe_is_not_linear() -> None:
    # XOR of two signs: no linear probe beats chance, one hidden layer does.
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(-1, 1, (600, 2)), rng.normal(size=(600, 3))])
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    data = splits(X, y, 400, 100)
    linear = fit_probe("linear", *data, "classification")
    mlp = fit_probe("mlp", *data, "classification", seed=0)
    assert linear.test_score < 0.65
    assert mlp.test_score > 0.85


def test_mlp_regression_works_on_the_targets_scale() -> None:
    # Targets far from unit scale (e.g. arousal in the hundreds): the target scaler keeps
    # the MLP's fit as good as on standardised targets.
    X_tr, y_tr, X_va, y_va, X_te, y_te = data_for("regression")
    unit = fit_probe("mlp", X_tr, y_tr, X_va, y_va, X_te, y_te, "regression", seed=0)
    big = fit_probe(
        "mlp", X_tr, 500 + 100 * y_tr, X_va, 500 + 100 * y_va, X_te, 500 + 100 * y_te,
        "regression", seed=0,
    )  # fmt: skip
    assert big.valid_scores == pytest.approx(unit.valid_scores, abs=1e-6)
    assert big.test_score == pytest.approx(unit.test_score, abs=1e-6)


# --- Records ---------------------------------------------------------------------------
@pytest.mark.parametrize("task_type", ["classification", "regression"])
def test_to_dict_is_json_and_reads_back(task_type: str) -> None:
    result = fit_probe("linear", *data_for(task_type), task_type)
    record = json.loads(json.dumps(result.to_dict()))
    assert record["chosen_setting"] == result.chosen_setting
    assert record["valid_score"] == max(record["valid_scores"])
    assert record["protocol"] == "fit on train, choose on valid, score once on test"
    back = ProbeResult.from_dict(record)
    assert back.to_dict() == result.to_dict()
    np.testing.assert_array_equal(back.y_test, result.y_test)


def test_grid_constants_are_the_documented_grid() -> None:
    assert probe_settings("linear", "classification") == [{"C": c} for c in probes.LOGISTIC_C]
    assert probe_settings("linear", "regression") == [{"alpha": a} for a in probes.RIDGE_ALPHA]
    mlp = probe_settings("mlp", "classification")
    assert len(mlp) == len(probes.MLP_HIDDEN) * len(probes.MLP_ALPHA)
    assert mlp[0] == {"hidden": probes.MLP_HIDDEN[0], "alpha": probes.MLP_ALPHA[0]}
    # Most regularised first, so that ties on valid go to the simpler model.
    assert list(probes.LOGISTIC_C) == sorted(probes.LOGISTIC_C)
    assert list(probes.RIDGE_ALPHA) == sorted(probes.RIDGE_ALPHA, reverse=True)
    assert list(probes.MLP_ALPHA) == sorted(probes.MLP_ALPHA, reverse=True)
    model = make_probe("mlp", "classification", mlp[0], seed=0)
    assert model.named_steps["model"].early_stopping is False


# --- Bad input ------------------------------------------------------------------------
def test_unknown_kind_or_task_type_is_a_config_error() -> None:
    data = data_for("classification")
    with pytest.raises(ConfigError, match="probe kind 'svm' is unknown"):
        fit_probe("svm", *data, "classification")
    with pytest.raises(ConfigError, match="task type 'ranking' is unknown"):
        fit_probe("linear", *data, "ranking")


def test_single_class_train_split_or_empty_split_is_a_manifest_error() -> None:
    X_tr, y_tr, X_va, y_va, X_te, y_te = data_for("classification")
    with pytest.raises(ManifestError, match="train split has a single class"):
        fit_probe(
            "linear", X_tr, np.full_like(y_tr, "jazz"), X_va, y_va, X_te, y_te, "classification"
        )
    with pytest.raises(ManifestError, match="valid split has no clips"):
        fit_probe("linear", X_tr, y_tr, X_va[:0], y_va[:0], X_te, y_te, "classification")


def test_inconsistent_shapes_are_value_errors() -> None:
    X_tr, y_tr, X_va, y_va, X_te, y_te = data_for("regression")
    with pytest.raises(ValueError, match="different numbers of features"):
        fit_probe("linear", X_tr, y_tr, X_va[:, :5], y_va, X_te, y_te, "regression")
    with pytest.raises(ValueError, match="test split needs features"):
        fit_probe("linear", X_tr, y_tr, X_va, y_va, X_te, y_te[:-1], "regression")
