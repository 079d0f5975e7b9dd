"""The command line: help, info, and clear errors (exit 2, file named, no traceback)."""

import subprocess
import sys

import numpy as np
import pandas as pd
import soundfile as sf

from musictransfer.cli import main


def run_cli(*args, cwd=None):
    import os

    env = {**os.environ, "PYTHONPATH": "src"}
    return subprocess.run(
        [sys.executable, "-m", "musictransfer", *args],
        capture_output=True, text=True, cwd=cwd, env=env, check=False,
    )  # fmt: skip


def test_help_lists_commands(repo):
    out = run_cli("--help", cwd=repo)
    assert out.returncode == 0
    for cmd in ("info", "prepare", "train", "extract", "evaluate", "aggregate", "plot", "report"):
        assert cmd in out.stdout


def test_info_with_config(repo, capsys):
    assert main(["info", "--config", str(repo / "config.yaml")]) == 0
    out = capsys.readouterr().out
    assert "348000 samples" in out
    assert "96 x 1360" in out
    assert "experiment demo: 7 tasks" in out
    assert "448 evaluation cells" in out


def test_bad_audio_exit_code_and_message(tmp_path, repo):
    (tmp_path / "bad.wav").write_bytes(b"not a wav at all")
    sf.write(tmp_path / "ok.wav", np.zeros(1200), 12000)
    pd.DataFrame({"id": ["ok", "bad"], "path": ["ok.wav", "bad.wav"]}).to_csv(
        tmp_path / "m.csv", index=False
    )
    out = run_cli("prepare", str(tmp_path / "m.csv"), "--out-dir", str(tmp_path / "p"), cwd=repo)
    assert out.returncode == 2
    assert "bad.wav" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "p" / "manifest.csv").exists()
    assert not (tmp_path / "p" / "audio.npy").exists()


def test_wrong_manifest_columns(tmp_path, capsys):
    (tmp_path / "m.csv").write_text("file,label\na.wav,x\n")
    assert main(["prepare", str(tmp_path / "m.csv"), "--out-dir", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "m.csv lacks column(s) id, path" in err


def test_unknown_experiment(repo, capsys):
    assert main(["info", "--config", str(repo / "config.yaml"), "--experiment", "nope"]) == 2
    assert "experiment 'nope' is not defined" in capsys.readouterr().err


def test_evaluate_by_fold_parts_then_merge(tmp_path):
    """`evaluate --fold-part K/N` x N, then `merge-folds`: the one-job result exactly."""
    import json

    from musictransfer.features import save_features

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 160)).astype(np.float32)
    ids = [f"c{i}" for i in range(40)]
    labels = np.where(X[:, 0] + 0.5 * rng.normal(size=40) > 0, "a", "b")
    save_features(tmp_path / "f.npz", X, ids, extractor="random")
    pd.DataFrame({"id": ids, "label": labels}).to_csv(tmp_path / "m.csv", index=False)
    spec = json.dumps(
        {"name": "t", "dataset": "d", "type": "classification", "target": "label",
         "cv": {"scheme": "stratified_kfold", "n_splits": 4}}
    )  # fmt: skip
    cell = ["--task", spec, "--extractor", "random", "--combo", "12"]
    common = [*cell, "--manifest", str(tmp_path / "m.csv"), "--features", str(tmp_path / "f.npz")]
    assert main(["evaluate", *common, "-o", str(tmp_path / "whole.json")]) == 0
    parts = [str(tmp_path / f"p{k}.json") for k in range(3)]
    for k, part in enumerate(parts):
        assert main(["evaluate", *common, "--fold-part", f"{k}/3", "-o", part]) == 0
    assert main(["merge-folds", *parts, *cell, "-o", str(tmp_path / "merged.json")]) == 0
    whole = json.loads((tmp_path / "whole.json").read_text())
    merged = json.loads((tmp_path / "merged.json").read_text())
    for key in ("score", "fold_scores", "best_params", "n_clips", "n_features"):
        assert merged[key] == whole[key], key
    # A missing part is an error naming the cell, and writes nothing.
    assert main(["merge-folds", *parts[:2], *cell, "-o", str(tmp_path / "bad.json")]) == 2
    assert not (tmp_path / "bad.json").exists()
