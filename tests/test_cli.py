"""The command line: help, info, and clear errors (exit 2, file named, no traceback)."""

import json
import logging
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
    # Each task's own cross-validation, not the paper's 10 folds for every task.
    assert "  dance: dance, classification (accuracy), stratified_kfold, 10 folds" in out
    assert "  sound_events: sound_events, classification (accuracy), predefined folds" in out
    overlay = str(repo / ".test" / "config.yaml")
    assert main(["info", "--config", str(repo / "config.yaml"), "--config", overlay]) == 0
    assert "  dance: dance, classification (accuracy), stratified_kfold, 3 folds" in (
        capsys.readouterr().out
    )


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


# What two evaluations of the same cell must agree on.
RESULT_KEYS = ("score", "fold_scores", "best_params", "n_clips", "n_features")


def classification_task(n_splits: int) -> str:
    """A task specification as the rules pass it: label classification, stratified k-fold."""
    return json.dumps(
        {"name": "t", "dataset": "d", "type": "classification", "target": "label",
         "cv": {"scheme": "stratified_kfold", "n_splits": n_splits}}
    )  # fmt: skip


def test_evaluate_by_fold_parts_then_merge(tmp_path):
    """`evaluate --fold-part K/N` x N, then `merge-folds`: the one-job result exactly."""
    from musictransfer.featurefile import save_features

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 160)).astype(np.float32)
    ids = [f"c{i}" for i in range(40)]
    labels = np.where(X[:, 0] + 0.5 * rng.normal(size=40) > 0, "a", "b")
    save_features(tmp_path / "f.npz", X, ids, extractor="random")
    pd.DataFrame({"id": ids, "label": labels}).to_csv(tmp_path / "m.csv", index=False)
    spec = classification_task(n_splits=4)
    cell = ["--task", spec, "--extractor", "random", "--combo", "12"]
    common = [*cell, "--manifest", str(tmp_path / "m.csv"), "--features", str(tmp_path / "f.npz")]
    assert main(["evaluate", *common, "-o", str(tmp_path / "whole.json")]) == 0
    parts = [str(tmp_path / f"p{k}.json") for k in range(3)]
    for k, part in enumerate(parts):
        assert main(["evaluate", *common, "--fold-part", f"{k}/3", "-o", part]) == 0
    assert main(["merge-folds", *parts, *cell, "-o", str(tmp_path / "merged.json")]) == 0
    whole = json.loads((tmp_path / "whole.json").read_text())
    merged = json.loads((tmp_path / "merged.json").read_text())
    for key in RESULT_KEYS:
        assert merged[key] == whole[key], key
    # A missing part is an error naming the cell, and writes nothing.
    assert main(["merge-folds", *parts[:2], *cell, "-o", str(tmp_path / "bad.json")]) == 2
    assert not (tmp_path / "bad.json").exists()


def test_library_log_lines_reach_the_jobs_log(tmp_path, repo):
    """Rules run `musictransfer ... > {log} 2>&1`: the library's log lines must be in it."""
    from musictransfer.featurefile import save_features

    rng = np.random.default_rng(2)
    conv = rng.normal(size=(24, 160)).astype(np.float32)
    ids = [f"c{i}" for i in range(24)]
    save_features(tmp_path / "f.npz", conv, ids, extractor="tagger-x")
    labels = np.where(conv[:, 3] > 0, "a", "b")
    pd.DataFrame({"id": ids, "label": labels}).to_csv(tmp_path / "m.csv", index=False)
    out = run_cli(
        "evaluate", "--task", classification_task(n_splits=3), "--extractor", "tagger-x",
        "--manifest", str(tmp_path / "m.csv"), "--features", str(tmp_path / "f.npz"),
        "--combo", "2", "-o", str(tmp_path / "r.json"), cwd=repo,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [line for line in out.stderr.splitlines() if line.startswith("t/tagger-x/2: ")]
    assert len(lines) == 1 and " accuracy " in lines[0], out.stderr[-3000:]


def test_evaluate_several_cells_in_one_job_equals_one_job_per_cell(tmp_path, capsys, caplog):
    """`evaluate --combo A B C -o a b c` (batch_cells) writes what three jobs would."""
    from musictransfer.featurefile import save_features

    rng = np.random.default_rng(1)
    conv = rng.normal(size=(36, 160)).astype(np.float32)
    mfcc = rng.normal(size=(36, 120)).astype(np.float32)
    ids = [f"c{i}" for i in range(36)]
    labels = np.where(conv[:, 40] + mfcc[:, 0] + 0.5 * rng.normal(size=36) > 0, "a", "b")
    save_features(tmp_path / "f.npz", conv, ids, extractor="tagger-x")
    save_features(tmp_path / "m.npz", mfcc, ids, extractor="mfcc")
    pd.DataFrame({"id": ids, "label": labels}).to_csv(tmp_path / "m.csv", index=False)
    spec = classification_task(n_splits=3)
    files = ["--manifest", str(tmp_path / "m.csv"), "--features", str(tmp_path / "f.npz"),
             "--mfcc", str(tmp_path / "m.npz")]  # fmt: skip
    head = ["evaluate", "--task", spec, "--extractor", "tagger-x", *files]
    combos = ["2", "mfcc", "mfcc+12345"]
    batch = [tmp_path / f"batch-{c}.json" for c in combos]
    caplog.set_level(logging.INFO, logger="musictransfer")
    assert main([*head, "--combo", *combos, "-o", *map(str, batch)]) == 0
    # The job's log: one line per cell.
    log = [r.getMessage() for r in caplog.records if r.name == "musictransfer.cell_files"]
    assert [line.split(":")[0] for line in log] == [f"t/tagger-x/{c}" for c in combos]
    assert all(" accuracy " in line for line in log)
    for combo, path in zip(combos, batch, strict=True):
        single = tmp_path / f"single-{combo}.json"
        assert main([*head, "--combo", combo, "-o", str(single)]) == 0
        ours, alone = json.loads(path.read_text()), json.loads(single.read_text())
        assert ours["combo"] == combo
        for key in RESULT_KEYS:
            assert ours[key] == alone[key], (combo, key)
    assert json.loads(batch[2].read_text())["n_features"] == 280
    # As many files as combinations, and a fold part is of one cell only.
    assert main([*head, "--combo", "1", "2", "-o", str(tmp_path / "x.json")]) == 2
    assert "2 --combo values but 1 -o files" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
    two = [str(tmp_path / "y1.json"), str(tmp_path / "y2.json")]
    assert main([*head, "--combo", "1", "2", "--fold-part", "0/2", "-o", *two]) == 2
    assert "single --combo" in capsys.readouterr().err
