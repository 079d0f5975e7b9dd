"""Bring your own, through the workflow: a labelled folder, a HEAR module, a features file.

One small experiment of the user's kind, run end to end by Snakemake: its cells equal
plain scikit-learn on the same features, record what made them, get probes and paired
tests beside the paper's random convnet and MFCC, and a change to one representation's
options reruns that representation's jobs only. The checkout, the results, the data
folder (`data`, where a registry dataset's receipt goes), a registry dataset read in place
(`data_dir`), the user's audio folder and the mirror of the authors' files all live under
paths with spaces, quotes and Unicode: every path a rule's shell command takes must reach it
whole.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml
from sklearn.model_selection import LeaveOneGroupOut

from musictransfer.featurefile import load_feature_set
from test_byo import make_folder, plain_sklearn
from test_workflow import snakemake

pytestmark = pytest.mark.slow


SPEECH_MUSIC = "gtzan 'copy' é"
"""A registry dataset's folder, read in place (datasets.gtzan_speech_music.data_dir)."""
DATA = "data 'd' é"
"""The config's `data` folder (registry datasets' receipts)."""


def write_speech_music(root, n=4, sr=8000):
    """gtzan_speech_music's layout, n clips a class: tones as music, noise as speech."""
    rng = np.random.default_rng(1)
    ids = []
    for folder, kind in (("music_wav", "m"), ("speech_wav", "s")):
        (root / "music_speech" / folder).mkdir(parents=True)
        for k in range(n):
            t = np.arange(sr) / sr
            x = (0.3 * np.sin(2 * np.pi * (220 + 40 * k) * t) if kind == "m"
                 else 0.2 * rng.standard_normal(sr))  # fmt: skip
            sf.write(root / "music_speech" / folder / f"{kind} {k:02d}.wav",
                     x.astype(np.float32), sr)  # fmt: skip
            ids.append(f"{kind} {k:02d}")
    return ids


def byo_config(tmp_path, audio, labels, features, mirror, toy_options=None):
    toy = {"hear": "hear_toy", "layers": ["frames", "second"], "batch_size": 4,
           "sample_rate": 16000}  # fmt: skip
    if toy_options:
        toy["options"] = toy_options
    return {
        "experiment": "mine",
        "results": str(tmp_path / "results"),
        "data": str(tmp_path / DATA),
        "mirror": str(mirror),
        "representations": {"toy": toy, "precomputed": {"features": str(features)}},
        "experiments": {"mine": {
            "datasets": {"my_set": {"audio_dir": str(audio), "labels": str(labels)},
                         "gtzan_speech_music": {"data_dir": str(tmp_path / SPEECH_MUSIC),
                                                "paper_order": False}},
            "extractors": {"random": ["12345", "mfcc"], "toy": ["all"], "precomputed": ["all"],
                           "choi2017-reference": ["12345"]},
            "tasks": {"kind": {"dataset": "my_set", "type": "classification", "target": "kind",
                               "cv": {"scheme": "predefined_folds", "column": "fold"}},
                      "sm": {"dataset": "gtzan_speech_music", "type": "classification",
                             "target": "label", "cv": {"scheme": "stratified_kfold",
                                                       "n_splits": 2}}},
            "protocols": {"tasks": {"kind": {"split": "column", "column": "part"}},
                          "probes": ["linear"], "combos": ["12345", "mfcc"], "n_boot": 100},
        }},
    }  # fmt: skip


def checkout_copy(repo, where):
    """The repository's files (tracked, and new ones not ignored) copied to ``where``."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=repo, check=True,
        capture_output=True, text=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        if (repo / name).is_file():
            (where / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / name, where / name)
    return where


@pytest.fixture(scope="module")
def byo_run(repo, shared_paper, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp('byo it\'s "odd" é')  # spaces, quotes, Unicode
    checkout = checkout_copy(repo, tmp_path / "check out 'q' é")
    mirror = tmp_path / 'mirror "m" é'
    mirror.symlink_to(shared_paper, target_is_directory=True)
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
    np.savez(tmp_path / "pre computed my_set.npz", ids=np.array(ids)[order], X=X[order])
    sm_ids = write_speech_music(tmp_path / SPEECH_MUSIC)
    sm_X = np.random.default_rng(7).standard_normal((len(sm_ids), 5))
    np.savez(tmp_path / "pre computed gtzan_speech_music.npz", ids=np.array(sm_ids), X=sm_X)
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            byo_config(tmp_path, audio, labels, tmp_path / "pre computed {dataset}.npz", mirror),
            sort_keys=False,
        )
    )
    env_path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(repo / "tests")  # hear_toy, importable in the jobs
    try:
        snakemake(checkout, "--configfile", str(config))
    finally:
        if env_path is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = env_path
    return tmp_path, config, tmp_path / "results" / "mine", frame, ids, X, checkout, mirror


def test_cells_of_every_representation_and_combination(byo_run):
    root, ids = byo_run[2], byo_run[4]
    scores = pd.read_csv(root / "tables" / "scores.csv")
    paper = scores[scores["reading"] == "paper"]
    cells = set(zip(paper["extractor"], paper["combo"], strict=True))
    assert cells == {("random", "12345"), ("random", "mfcc"), ("toy", "scene"), ("toy", "1"),
                     ("toy", "2"), ("toy", "12"), ("precomputed", "scene"),
                     ("choi2017-reference", "12345")}  # fmt: skip
    toy = load_feature_set(root / "features" / "toy" / "my_set.npz")
    assert toy.layer_names == ["frames", "second"] and toy.scene.shape == (24, 16)
    assert toy.ids.tolist() == ids  # the manifest's ids: paths without the extension


def test_paths_with_spaces_quotes_and_unicode_reach_the_rules_whole(byo_run):
    tmp_path, root, mirror = byo_run[0], byo_run[2], byo_run[7]
    # An unquoted `> {log}` would have written to a file named by the path's first word.
    assert not list(tmp_path.parent.glob("byo")) and not (tmp_path / "check").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["audio", "check out 'q' é", "config.yaml", "labels.csv", mirror.name, DATA,
         SPEECH_MUSIC, "pre computed my_set.npz", "pre computed gtzan_speech_music.npz",
         "results"]
    )  # fmt: skip
    # The registry dataset, read in place, its receipt in the data folder, scored.
    assert (tmp_path / DATA / "gtzan_speech_music" / "dataset.json").is_file()
    sm = json.loads((root / "scores" / "sm" / "random" / "mfcc.json").read_text())
    assert sm["n_clips"] == 8 and np.isfinite(sm["score"])
    cell = json.loads((root / "scores" / "kind" / "choi2017-reference" / "12345.json").read_text())
    assert np.isfinite(cell["score"])
    logs = " ".join(p.read_text() for p in (root / "logs").rglob("*.log"))
    assert str(mirror) in logs  # the authors' weights came from the mirror


def test_cells_equal_plain_sklearn_and_say_what_made_them(byo_run):
    root, frame, X = byo_run[2], byo_run[3], byo_run[5]
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
    root = byo_run[2]
    paired = pd.read_csv(root / "tables" / "protocols_paired.csv")
    toy = paired[paired["extractor"] == "toy"]
    assert set(toy["baseline"]) == {"mfcc", "random 12345"}
    assert set(paired[paired["extractor"] == "precomputed"]["baseline"]) == {"mfcc", "random 12345"}
    assert (paired["n_test"] == 6).all()
    report = (root / "report.md").read_text()
    assert "## Representations brought by the user" in report
    toy_row = next(line for line in report.splitlines() if line.startswith("| toy |"))
    assert "HEAR module `hear_toy`" in toy_row and "4 clips alone vs in one call" in toy_row


def test_a_new_option_reruns_that_representation_only(byo_run):
    tmp_path, config, *_, checkout, mirror = byo_run
    audio, labels = tmp_path / "audio", tmp_path / "labels.csv"
    changed = byo_config(
        tmp_path,
        audio,
        labels,
        tmp_path / "pre computed {dataset}.npz",
        mirror,
        {"output": "numpy"},
    )
    config.write_text(yaml.safe_dump(changed, sort_keys=False))
    out = snakemake(checkout, "-n", "--configfile", str(config))
    jobs = [line for line in out.stdout.splitlines() if line.strip().startswith("output:")]
    outputs = " ".join(jobs)
    assert "features/toy/my_set.npz" in outputs
    assert "scores/kind/toy/" in outputs
    assert "precomputed" not in outputs and "/random/" not in outputs, jobs
    assert "choi2017" not in outputs and "decoded" not in outputs, jobs


def test_one_decoding_per_rate_for_every_representation_of_that_rate(byo_run):
    tmp_path, _, *_, checkout, mirror = byo_run
    config = byo_config(tmp_path, tmp_path / "audio", tmp_path / "labels.csv",
                        tmp_path / "pre computed {dataset}.npz", mirror)  # fmt: skip
    toy = config["representations"]["toy"]
    config["representations"]["toy2"] = toy | {"options": {"scene_embedding_size": 8}}
    config["representations"]["toy3"] = toy | {"sample_rate": 22050,
                                               "options": {"sample_rate": 22050}}  # fmt: skip
    config["experiments"]["mine"]["extractors"] |= {"toy2": ["scene"], "toy3": ["scene"]}
    config["results"] = str(tmp_path / "other results")
    path = tmp_path / "rates.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        out = snakemake(checkout, "-n", "--configfile", str(path))
    finally:
        path.unlink()
    # Three representations at two rates, two datasets: one decoding per dataset and rate.
    decoded = re.findall(r"output: [^\n]*?/decoded/(\w+)/(\d+)hz/manifest.csv", out.stdout)
    assert sorted(decoded) == [("gtzan_speech_music", "16000"), ("gtzan_speech_music", "22050"),
                               ("my_set", "16000"), ("my_set", "22050")]  # fmt: skip
    assert out.stdout.count("rule decode_audio:") == 4
