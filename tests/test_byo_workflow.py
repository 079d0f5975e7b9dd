"""Bring your own, through the workflow: a labelled folder, a HEAR module, a features file.

One small experiment of the user's kind, run end to end by Snakemake: its cells equal
plain scikit-learn on the same features, record what made them, get probes and paired
tests beside the paper's random convnet and MFCC, and a change to one representation's
options reruns that representation's jobs only.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.model_selection import LeaveOneGroupOut

from musictransfer.featurefile import load_feature_set
from test_byo import make_folder, plain_sklearn
from test_workflow import snakemake

pytestmark = pytest.mark.slow


def byo_config(tmp_path, audio, labels, features, toy_options=None):
    toy = {"hear": "hear_toy", "layers": ["frames", "second"], "batch_size": 4}
    if toy_options:
        toy["options"] = toy_options
    return {
        "experiment": "mine",
        "results": str(tmp_path / "results"),
        "representations": {"toy": toy, "precomputed": {"features": str(features)}},
        "experiments": {"mine": {
            "datasets": {"my_set": {"audio_dir": str(audio), "labels": str(labels)}},
            "extractors": {"random": ["12345", "mfcc"], "toy": ["all"], "precomputed": ["all"]},
            "tasks": {"kind": {"dataset": "my_set", "type": "classification", "target": "kind",
                               "cv": {"scheme": "predefined_folds", "column": "fold"}}},
            "protocols": {"tasks": {"kind": {"split": "column", "column": "part"}},
                          "probes": ["linear"], "combos": ["12345", "mfcc"], "n_boot": 100},
        }},
    }  # fmt: skip


@pytest.fixture(scope="module")
def byo_run(repo, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("byo dir é")  # spaces and Unicode in every path
    audio, labels = make_folder(tmp_path, n=24)
    frame = pd.read_csv(labels)
    frame["part"] = frame["fold"].map({0: "train", 1: "train", 2: "valid", 3: "test"})
    frame.to_csv(labels, index=False)
    ids = [p.rsplit(".", 1)[0] for p in frame["path"]]
    X = (
        np.random.default_rng(5).standard_normal((len(ids), 5))
        + (frame["kind"] == "tone").to_numpy()[:, None]
    )
    order = np.random.default_rng(6).permutation(len(ids))  # rows in another order than labels
    np.savez(tmp_path / "pre computed.npz", ids=np.array(ids)[order], X=X[order])
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            byo_config(tmp_path, audio, labels, tmp_path / "pre computed.npz"), sort_keys=False
        )
    )
    env_path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(repo / "tests")  # hear_toy, importable in the jobs
    try:
        snakemake(repo, "--configfile", str(config))
    finally:
        if env_path is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = env_path
    return tmp_path, config, tmp_path / "results" / "mine", frame, ids, X


def test_cells_of_every_representation_and_combination(byo_run):
    *_, root, _, ids, _ = byo_run
    scores = pd.read_csv(root / "tables" / "scores.csv")
    paper = scores[scores["reading"] == "paper"]
    cells = set(zip(paper["extractor"], paper["combo"], strict=True))
    assert cells == {("random", "12345"), ("random", "mfcc"), ("toy", "scene"), ("toy", "1"),
                     ("toy", "2"), ("toy", "12"), ("precomputed", "scene")}  # fmt: skip
    toy = load_feature_set(root / "features" / "toy" / "my_set.npz")
    assert toy.layer_names == ["frames", "second"] and toy.scene.shape == (24, 16)
    assert toy.ids.tolist() == ids  # the manifest's ids: paths without the extension


def test_cells_equal_plain_sklearn_and_say_what_made_them(byo_run):
    *_, root, frame, _, X = byo_run
    y, groups = frame["kind"].to_numpy(), frame["fold"].to_numpy()
    pre = json.loads((root / "scores" / "kind" / "precomputed" / "scene.json").read_text())
    assert abs(pre["score"] - plain_sklearn(X, y, LeaveOneGroupOut(), groups).best_score_) < 1e-6
    assert len(pre["inputs"][0]["representation"]["sha256"]) == 64
    toy = json.loads((root / "scores" / "kind" / "toy" / "12.json").read_text())
    fs = load_feature_set(root / "features" / "toy" / "my_set.npz")
    ref = plain_sklearn(fs.combo("12"), y, LeaveOneGroupOut(), groups)
    assert abs(toy["score"] - ref.best_score_) < 1e-6
    assert toy["n_features"] == 16 + 8
    assert toy["inputs"][0]["representation"]["hear"] == "hear_toy"
    assert toy["inputs"][0]["representation"]["batch_size"] == 4


def test_probes_and_paired_tests_compare_with_the_first_extractor_and_mfcc(byo_run):
    *_, root, _, _, _ = byo_run
    paired = pd.read_csv(root / "tables" / "protocols_paired.csv")
    toy = paired[paired["extractor"] == "toy"]
    assert set(toy["baseline"]) == {"mfcc", "random 12345"}
    assert set(paired[paired["extractor"] == "precomputed"]["baseline"]) == {"mfcc", "random 12345"}
    assert (paired["n_test"] == 6).all()
    report = (root / "report.md").read_text()
    assert "## Representations brought by the user" in report
    toy_row = next(line for line in report.splitlines() if line.startswith("| toy |"))
    assert "HEAR module `hear_toy`" in toy_row and "4 clips alone vs in one call" in toy_row


def test_a_new_option_reruns_that_representation_only(repo, byo_run):
    tmp_path, config, *_ = byo_run
    audio, labels = tmp_path / "audio", tmp_path / "labels.csv"
    changed = byo_config(
        tmp_path, audio, labels, tmp_path / "pre computed.npz", {"output": "numpy"}
    )
    config.write_text(yaml.safe_dump(changed, sort_keys=False))
    out = snakemake(repo, "-n", "--configfile", str(config))
    jobs = [line for line in out.stdout.splitlines() if "output:" in line]
    outputs = " ".join(jobs)
    assert "features/toy/my_set.npz" in outputs
    assert "scores/kind/toy/" in outputs
    assert "precomputed" not in outputs and "/random/" not in outputs, jobs
