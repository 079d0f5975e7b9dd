"""Today's protocols in the workflow: the `protocols` config block, splits, probes, the table."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fake_cells import fake_cell
from musictransfer.cli import main
from musictransfer.config import FixedSplit, load_config, resolve_experiment, task_spec
from musictransfer.errors import ConfigError, ManifestError
from musictransfer.featurefile import save_features
from musictransfer.protocols import (
    probe_cell_files,
    read_split,
    split_files,
    split_table,
    write_split,
)
from musictransfer.protocols_report import (
    BATCH_CAUTION,
    FIXED_SPLIT,
    PAPER_CV,
    paired_comparisons,
    protocol_rows,
    protocols_markdown,
)
from musictransfer.report_markdown import write_report


def fixed(split, column=None, train=("train",), valid=("valid",), test=("test",)):
    """A FixedSplit with the schema's defaults for the parts a test does not set."""
    return FixedSplit(split, column, tuple(train), tuple(valid), tuple(test))


@pytest.fixture(scope="module")
def base_config(repo):
    return load_config(repo / "config.yaml")


def test_paper_features_has_the_protocols_block(base_config):
    exp = resolve_experiment(copy.deepcopy(base_config), "paper_features")
    assert exp.protocols is not None
    assert exp.protocols.tasks["gtzan_genre"].split == "gtzan_fault_filtered"
    assert exp.protocols.tasks["jamendo_vocal"].column == "category"
    assert exp.protocols.probes == ("linear", "mlp")
    assert exp.protocols.combos == ("1", "12345", "mfcc", "mfcc+12345")
    assert (exp.protocols.n_boot, exp.protocols.seed) == (1000, 0)
    assert "ballroom" not in exp.protocols.tasks  # keeps the paper's CV
    assert resolve_experiment(copy.deepcopy(base_config), "demo").protocols is None


def test_protocols_defaults_fill_in(base_config):
    config = copy.deepcopy(base_config)
    config["experiments"]["paper_features"]["protocols"] = {
        "tasks": {"gtzan_genre": {"split": "gtzan_fault_filtered"}}
    }
    protocols = resolve_experiment(config, "paper_features").protocols
    assert protocols.probes == ("linear", "mlp")
    assert protocols.combos == ("1", "12345", "mfcc", "mfcc+12345")
    assert protocols.n_boot == 1000


@pytest.mark.parametrize(
    "tasks, message",
    [
        ({"nope": {"split": "gtzan_fault_filtered"}}, "protocols.tasks.nope names a task"),
        (
            {"jamendo_vocal": {"split": "column"}},
            "protocols.tasks.jamendo_vocal.column is required",
        ),
        (
            {"jamendo_vocal": {"split": "column", "column": "category", "valid": ["train"]}},
            "more than one of train, valid and test",
        ),
        ({"gtzan_genre": {"split": "random"}}, "'random' in experiments.paper_features.protocols"),
    ],
)
def test_bad_protocols_blocks_name_the_key(base_config, tasks, message):
    config = copy.deepcopy(base_config)
    config["experiments"]["paper_features"]["protocols"] = {"tasks": tasks}
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("'", "'")):
        resolve_experiment(config, "paper_features")


def test_protocols_mirror_must_exist(base_config, tmp_path):
    config = copy.deepcopy(base_config)
    config["protocols_mirror"] = str(tmp_path / "missing")
    with pytest.raises(ConfigError, match="protocols_mirror"):
        resolve_experiment(config, "paper_features")
    config["protocols_mirror"] = str(tmp_path)
    assert resolve_experiment(config, "paper_features").protocols_mirror is not None


# --- module functions on small synthetic data ------------------------------------------------


def make_cell_data(tmp_path: Path, n: int = 120, seed: int = 0):
    """A two-class task whose convnet features carry the label and MFCC only noise."""
    rng = np.random.default_rng(seed)
    ids = [f"clip{i:03d}" for i in range(n)]
    labels = np.array(["a", "b"] * (n // 2))
    conv = rng.normal(size=(n, 160)).astype(np.float32)
    conv[:, :32] += (labels == "b")[:, None] * 2.0
    mfcc = rng.normal(size=(n, 120)).astype(np.float32)
    parts = np.array((["train"] * 3 + ["valid", "test"]) * (n // 5))
    manifest = tmp_path / "labels.csv"
    pd.DataFrame({"id": ids, "label": labels, "category": parts}).to_csv(manifest, index=False)
    save_features(tmp_path / "conv.npz", conv, ids, extractor="choi2017")
    save_features(tmp_path / "mfcc.npz", mfcc, ids, extractor="mfcc")
    task = task_spec(
        {"dataset": "toy", "type": "classification", "target": "label",
         "cv": {"scheme": "predefined_split", "column": "category", "test": ["test"]}},
        "toy",
    )  # fmt: skip
    return task, manifest, ids


def test_column_split_maps_values_and_leaves_others_out(tmp_path):
    _, manifest, ids = make_cell_data(tmp_path)
    frame = pd.read_csv(manifest)
    frame.loc[0, "category"] = "unused"
    frame.to_csv(manifest, index=False)
    split = fixed("column", column="category")
    table = split_table(split, manifest)
    assert list(table["id"]) == ids
    assert pd.isna(table.loc[0, "split"])
    counts = write_split(split, manifest, tmp_path / "split.csv")
    assert counts == {"train": 71, "valid": 24, "test": 24, "excluded": 1}
    parts = read_split(tmp_path / "split.csv", ids[::-1])
    assert parts[-1] == "" and parts[0] == "test"  # feature order, '' for excluded


def test_split_errors_name_the_file(tmp_path):
    _, manifest, ids = make_cell_data(tmp_path)
    with pytest.raises(ManifestError, match="no column 'fold'"):
        split_table(fixed("column", column="fold"), manifest)
    with pytest.raises(ManifestError, match="needs 3 file"):
        split_table(fixed("gtzan_fault_filtered"), manifest)
    with pytest.raises(ManifestError, match="leaves valid, test empty"):
        write_split(fixed("column", column="category", valid=("x",), test=("y",)),
                    manifest, tmp_path / "s.csv")  # fmt: skip
    pd.DataFrame({"id": ids[:5], "split": ["train"] * 5}).to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(ManifestError, match=r"not in .*s\.csv"):
        read_split(tmp_path / "s.csv", ids)


def test_split_files_of_each_protocol():
    assert split_files("gtzan_fault_filtered") == [
        f"gtzan_fault_filtered/{s}_filtered.txt" for s in ("train", "valid", "test")
    ]
    assert split_files("emomusic_mediaeval") == ["emomusic_split.csv"]
    assert split_files("column") == []


@pytest.fixture
def probes(tmp_path):
    """Linear probes of combos 1, 12345 and mfcc on the toy task, and the split."""
    task, manifest, _ = make_cell_data(tmp_path)
    write_split(fixed("column", column="category"), manifest, tmp_path / "split.csv")
    out = {}
    for combo in ("1", "12345", "mfcc"):
        conv = None if combo == "mfcc" else tmp_path / "conv.npz"
        mfcc = tmp_path / "mfcc.npz" if combo == "mfcc" else None
        path = tmp_path / f"probe_{combo}.json"
        probe_cell_files(task, "choi2017", combo, manifest, conv, mfcc, tmp_path / "split.csv",
                         "linear", path, seed=3, n_boot=200)  # fmt: skip
        out[combo] = path
    return out


def test_probe_record_has_interval_predictions_and_provenance(probes):
    record = json.loads(probes["1"].read_text())
    assert (record["task"], record["combo"], record["probe"]) == ("toy", "1", "linear")
    assert record["n_train"] == 72 and record["n_valid"] == 24 and record["n_test"] == 24
    assert len(record["test_pred"]) == len(record["test_ids"]) == 24
    assert record["ci"]["low"] <= record["test_score"] <= record["ci"]["high"]
    assert record["ci"]["n_boot"] == 200
    assert record["test_score"] > 0.9  # the label is in layer 1
    assert "code" in record["provenance"]
    mfcc = json.loads(probes["mfcc"].read_text())
    assert mfcc["test_score"] < 0.85  # MFCC is noise here


def test_probe_is_seeded(probes, tmp_path):
    record = json.loads(probes["1"].read_text())
    task, manifest, _ = make_cell_data(tmp_path)
    again = probe_cell_files(task, "choi2017", "1", manifest, tmp_path / "conv.npz", None,
                             tmp_path / "split.csv", "linear", tmp_path / "again.json",
                             seed=3, n_boot=200)  # fmt: skip
    assert again["ci"] == record["ci"] and again["test_pred"] == record["test_pred"]


def paper_cell(tmp_path, combo, folds):
    path = tmp_path / f"cell_{combo}.json"
    cell = fake_cell("toy", "choi2017", combo, float(np.mean(folds)), folds=folds, n_clips=120)
    path.write_text(json.dumps({**cell, "provenance": {"code": "x"}}))
    return path


def test_protocol_rows_and_paired_comparison(probes, tmp_path):
    cells = [paper_cell(tmp_path, "12345", [0.8, 0.9, 1.0]), paper_cell(tmp_path, "mfcc", [0.5])]
    table = protocol_rows(cells, list(probes.values()), tasks=["toy"])
    assert list(table["protocol"][:2]) == [PAPER_CV, PAPER_CV]
    cv = table[(table["protocol"] == PAPER_CV) & (table["combo"] == "12345")].iloc[0]
    assert cv["probe"] == "svm_grid"
    assert cv["ci_low"] == pytest.approx(0.8) and cv["ci_high"] == pytest.approx(1.0)
    single = table[(table["protocol"] == PAPER_CV) & (table["combo"] == "mfcc")].iloc[0]
    assert np.isnan(single["ci_low"])  # one fold: no spread, none invented
    probe = table[table["protocol"] == FIXED_SPLIT]
    assert set(probe["combo"]) == {"1", "12345", "mfcc"} and set(probe["n_test"]) == {24}
    paired = paired_comparisons(list(probes.values()), seed=0, n_boot=200)
    assert len(paired) == 1
    row = paired.iloc[0]
    assert row["best_combo"] in ("1", "12345") and row["baseline"] == "mfcc"
    assert row["effect"] == pytest.approx(row["score_best"] - row["score_baseline"])
    assert row["effect"] > 0 and row["p_value"] < 0.05
    text = "\n".join(protocols_markdown(table, paired))
    assert "## Today's protocols" in text and "| toy | choi2017 | linear |" in text
    # A test split of 24 clips is named, with what one clip weighs.
    assert "Small test splits: toy 24 clips (one clip: 4.2 points of accuracy)." in text


def test_paired_comparison_refuses_different_test_clips(probes):
    records = [json.loads(p.read_text()) for p in probes.values()]
    records[-1]["test_ids"] = records[-1]["test_ids"][::-1]
    with pytest.raises(Exception, match="different test clips"):
        paired_comparisons(records)


def test_report_gets_the_protocols_section(probes, tmp_path):
    cells = [paper_cell(tmp_path, "12345", [0.8, 0.9, 1.0])]
    from musictransfer.protocols_report import protocols_table_files
    from musictransfer.scores_table import aggregate_scores

    figures = tmp_path / "figures"
    protocols_table_files(cells, list(probes.values()), tmp_path / "protocols.csv",
                       tmp_path / "paired.csv", figures / "protocols.png", seed=0,
                       n_boot=200)  # fmt: skip
    assert (figures / "protocols.png").stat().st_size > 1000
    batch = pd.DataFrame({"dataset": ["d", "d"], "extractor": ["choi2017", "choi2017"],
                          "class": ["a", "a"], "cut_row": [256, 100],
                          "at_boundary": [True, False], "batch": [1, 0], "n_before": [20, 50],
                          "n_after": [30, 50], "accuracy": [0.9, 0.55],
                          "balanced_accuracy": [0.9, 0.55], "majority": [0.6, 0.5]})  # fmt: skip
    batch.to_csv(tmp_path / "batch.csv", index=False)
    scores = aggregate_scores(cells, tmp_path / "scores.csv")
    text = write_report(scores, figures, tmp_path / "report.md", "toy",
                        protocols=tmp_path / "protocols.csv",
                        protocols_paired=tmp_path / "paired.csv",
                        batch_boundary=tmp_path / "batch.csv")  # fmt: skip
    assert "## Today's protocols" in text and BATCH_CAUTION in text
    assert "| d | choi2017 | batch boundary | 1 | 0.900 |" in text
    assert "[protocols](figures/protocols.png)" in text
    assert "[batch_boundary](figures/batch_boundary.png) (not drawn)" in text
    plain = write_report(scores, figures, tmp_path / "plain.md", "toy")
    assert "Today's protocols" not in plain


def test_cli_probe_and_split_errors_exit_2(tmp_path, capsys):
    _, manifest, _ = make_cell_data(tmp_path)
    out = tmp_path / "s.csv"
    code = main(["fixed-split", "--split", '{"split": "column", "column": "nope"}',
                 "--manifest", str(manifest), "-o", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "has no column 'nope'" in err and len(err.strip().splitlines()) == 2
    code = main(["probe", "--task", '{"name": "t", "dataset": "d", "type": "classification", '
                 '"target": "label", "cv": {"scheme": "kfold"}}', "--extractor", "choi2017",
                 "--combo", "1", "--kind", "linear", "--manifest", str(manifest), "--split",
                 str(out), "-o", str(tmp_path / "p.json")])  # fmt: skip
    assert code == 2 and "no feature file" in capsys.readouterr().err


def test_cli_batch_boundary(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    ids = [f"c{i}" for i in range(n)]
    labels = np.repeat(["a", "b"], n // 2)
    X = rng.normal(size=(n, 8))
    X[256:] += 3.0  # a batch offset from row 256 on
    save_features(tmp_path / "f.npz", X, ids, extractor="choi2017")
    pd.DataFrame({"id": ids, "label": labels}).to_csv(tmp_path / "m.csv", index=False)
    out = tmp_path / "b.csv"
    assert main(["batch-boundary", "--dataset", "toy", "--features", str(tmp_path / "f.npz"),
                 "--manifest", str(tmp_path / "m.csv"), "-o", str(out)]) == 0  # fmt: skip
    table = pd.read_csv(out)
    at = table[table["at_boundary"]]
    assert len(at) == 1 and at["accuracy"].iloc[0] > 0.9
    assert table.loc[~table["at_boundary"], "accuracy"].max() < 0.9
    assert main(["plot-batch-boundary", str(out), "-o", str(tmp_path / "b.png")]) == 0
    assert (tmp_path / "b.png").stat().st_size > 1000


# --- the workflow ---------------------------------------------------------------------------

SNAKEMAKE = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or "snakemake"


def run_snakemake(repo, *args):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([SNAKEMAKE, "--cores", "2", *args], cwd=repo, env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip


def paper_config(shared_paper, tmp_path, *extra):
    protocols = shared_paper.parent / "protocols"
    if not protocols.is_dir():
        pytest.skip(f"{protocols} not found (set MUSICTRANSFER_SHARED)")
    return ["--config", "experiment=paper_features", f"mirror={shared_paper}",
            f"protocols_mirror={protocols}", f"results={tmp_path}", *extra]  # fmt: skip


def test_dry_run_has_the_protocols_rules(repo, shared_paper, tmp_path):
    out = run_snakemake(repo, "-n", *paper_config(shared_paper, tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout + out.stderr
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", text, flags=re.M))
    assert counts["fetch_protocol_file"] == "4"  # 3 GTZAN lists, 1 EmoMusic table
    assert counts["fixed_split"] == "4"
    assert counts["probe"] == str(4 * 4 * 2)  # tasks x combos x probes
    assert counts["protocols_table"] == counts["batch_boundary"] == "1"
    assert counts["plot_batch_boundary"] == "1"
    assert "--protocols " in text and "--batch-boundary " in text


def test_demo_dry_run_has_no_protocols_rules(repo, tmp_path):
    out = run_snakemake(repo, "-n", "--config", f"results={tmp_path}")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "probe" not in out.stdout and "protocols_table" not in out.stdout


@pytest.mark.slow
def test_small_protocols_run(repo, shared_paper, tmp_path):
    """GTZAN only, combination 1, the linear probe: the real files end to end."""
    overlay = tmp_path / "small.yaml"
    overlay.write_text(
        "experiments:\n  paper_features:\n    extractors: {choi2017: ['1']}\n"
        "    protocols: {probes: [linear], combos: ['1'], n_boot: 200}\n"
    )
    args = [
        "protocols_table",
        "--configfile",
        str(overlay),
        *paper_config(shared_paper, tmp_path, "only_tasks=[gtzan_genre]"),
    ]
    out = run_snakemake(repo, *args)
    assert out.returncode == 0, (out.stdout[-3000:], out.stderr[-3000:])
    root = tmp_path / "paper_features"
    split = pd.read_csv(root / "splits" / "gtzan_genre.csv", keep_default_na=False)
    assert split["split"].value_counts().to_dict() == {"train": 443, "test": 290, "valid": 197,
                                                       "": 70}  # fmt: skip
    table = pd.read_csv(root / "tables" / "protocols.csv")
    assert list(table["protocol"]) == [PAPER_CV, FIXED_SPLIT]
    probe = table.iloc[1]
    assert probe["n_test"] == 290 and probe["ci_low"] < probe["score"] < probe["ci_high"]
    assert 0.4 < probe["score"] < 0.9
