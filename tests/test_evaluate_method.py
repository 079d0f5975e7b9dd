"""`musictransfer evaluate --method sklearn`: plain GridSearchCV, reachable from the CLI."""

import json

import numpy as np
import pandas as pd
import pytest

from musictransfer.cli import build_parser, main


def write_cell(tmp_path, task_type: str) -> list[str]:
    """A small synthetic cell (features + manifest) and the `evaluate` options naming it."""
    from musictransfer.featurefile import save_features

    rng = np.random.default_rng(7)
    X = rng.normal(size=(40, 160)).astype(np.float32)
    ids = [f"c{i}" for i in range(40)]
    signal = X[:, 0] + 0.5 * rng.normal(size=40)
    target = np.where(signal > 0, "a", "b") if task_type == "classification" else signal
    save_features(tmp_path / "f.npz", X, ids, extractor="random")
    pd.DataFrame({"id": ids, "y": target}).to_csv(tmp_path / "m.csv", index=False)
    scheme = "stratified_kfold" if task_type == "classification" else "kfold"
    task = {"name": "t", "dataset": "d", "type": task_type, "target": "y",
            "cv": {"scheme": scheme, "n_splits": 4}}  # fmt: skip
    files = ["--manifest", str(tmp_path / "m.csv"), "--features", str(tmp_path / "f.npz")]
    return [
        "evaluate",
        "--task",
        json.dumps(task),
        "--extractor",
        "random",
        "--combo",
        "12",
        *files,
    ]


@pytest.mark.parametrize("task_type", ["classification", "regression"])
def test_sklearn_method_gives_the_fast_score(tmp_path, task_type):
    """Both methods search the same grid on the same folds: same score, setting, folds."""
    args = write_cell(tmp_path, task_type)
    assert main([*args, "-o", str(tmp_path / "fast.json")]) == 0
    assert main([*args, "--method", "sklearn", "-o", str(tmp_path / "ref.json")]) == 0
    fast = json.loads((tmp_path / "fast.json").read_text())
    ref = json.loads((tmp_path / "ref.json").read_text())
    assert ref["score"] == pytest.approx(fast["score"], abs=1e-9)
    assert ref["fold_scores"] == pytest.approx(fast["fold_scores"], abs=1e-9)
    assert ref["best_params"] == fast["best_params"]
    assert (ref["n_settings"], ref["n_clips"]) == (fast["n_settings"], fast["n_clips"]) == (64, 40)
    # The file says which method made it: plain GridSearchCV is 'libsvm'; the fast search
    # 'libsvm-precomputed' (+ipm where the interior-point solver took over linear fits).
    assert ref["solver"] == "libsvm"
    assert fast["solver"].startswith("libsvm-precomputed")


def test_fast_is_the_default_method(tmp_path):
    """Without --method the cell is the fast search's, as before the option existed."""
    args = write_cell(tmp_path, "classification")
    assert main([*args, "--method", "fast", "-o", str(tmp_path / "fast.json")]) == 0
    assert main([*args, "-o", str(tmp_path / "default.json")]) == 0
    fast = json.loads((tmp_path / "fast.json").read_text())
    default = json.loads((tmp_path / "default.json").read_text())
    for key in ("score", "fold_scores", "best_params", "solver", "grid"):
        assert default[key] == fast[key], key


def test_method_choices_are_the_evaluation_methods():
    """The parser offers the evaluation's methods (declared without scikit-learn)."""
    from musictransfer.constants import EVALUATION_METHODS

    parser = build_parser()
    sub = next(a for a in parser._actions if a.choices and "evaluate" in a.choices)
    method = next(a for a in sub.choices["evaluate"]._actions if a.dest == "method")
    assert tuple(method.choices) == EVALUATION_METHODS
    assert method.default == "fast"


def test_unknown_method_and_sklearn_fold_part_exit_2(tmp_path, capsys):
    args = write_cell(tmp_path, "classification")
    with pytest.raises(SystemExit) as stop:
        main([*args, "--method", "liblinear", "-o", str(tmp_path / "x.json")])
    assert stop.value.code == 2
    assert "argument --method: invalid choice: 'liblinear'" in capsys.readouterr().err
    # Fold parts are parts of the fast search: asking for them from sklearn is one line.
    out = tmp_path / "p.json"
    assert main([*args, "--method", "sklearn", "--fold-part", "0/2", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "error: fold parts split the fast method's search only, not method 'sklearn'" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_the_old_method_name_still_works(tmp_path, caplog):
    """`--method reference` (its name before 'sklearn') runs the same search, with a warning."""
    from musictransfer.cli.evaluate import evaluation_method

    assert evaluation_method("reference") == "sklearn"
    assert "now called --method sklearn" in caplog.text
    assert evaluation_method("fast") == "fast"
