"""Reporting: the score table from cell JSONs, the figures and the Markdown report."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from fake_cells import fake_cell
from musictransfer.errors import MusicTransferError
from musictransfer.figures import plot_scores
from musictransfer.published import parse_published
from musictransfer.report_markdown import write_report
from musictransfer.scores_table import aggregate_scores, load_scores, paper_rows, summarise_task

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _cell(tmp_path, task, extractor, combo, score, metric="accuracy", folds=None):
    path = tmp_path / "scores" / task / extractor / f"{combo}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fake_cell(task, extractor, combo, score, metric, folds)))
    return path


@pytest.fixture
def cells(tmp_path):
    """A small fabricated experiment: two tasks; 'vocal' has neither random nor MFCC cells."""
    made = [
        _cell(tmp_path, "genre", "tagger-x", "12345", 0.80),
        _cell(tmp_path, "genre", "tagger-x", "1", 0.60),
        _cell(tmp_path, "genre", "tagger-x", "23", 0.85),
        _cell(tmp_path, "genre", "tagger-x", "mfcc", 0.55),
        _cell(tmp_path, "genre", "tagger-x", "mfcc+12345", 0.70),
        _cell(tmp_path, "genre", "random", "12345", 0.50),
        _cell(tmp_path, "genre", "random", "1", 0.40),
        _cell(tmp_path, "vocal", "tagger-x", "5", 0.30, metric="r2"),
        _cell(tmp_path, "vocal", "tagger-x", "45", -0.10, metric="r2"),
    ]
    return list(reversed(made))  # order of the input must not matter


def test_aggregate_writes_a_sorted_tidy_table(cells, tmp_path):
    out = tmp_path / "tables" / "scores.csv"
    aggregate_scores(cells, out)
    table = paper_rows(load_scores(out))  # every cell gives a row per reading of its grid
    expected = ["task", "extractor", "combo", "n_layers", "metric", "score", "best_params"]
    expected += ["fold_mean", "fold_std", "n_clips", "n_features", "fit_time_s", "solver"]
    for col in expected:
        assert col in table.columns, col
    assert len(table) == len(cells)
    genre = table[(table.task == "genre") & (table.extractor == "tagger-x")]
    # Combinations in the paper's order (single layers first), MFCC ones last.
    assert list(genre.combo) == ["1", "23", "12345", "mfcc", "mfcc+12345"]
    assert list(table.task.unique()) == ["genre", "vocal"]
    row = genre.set_index("combo").loc["23"]
    assert row.n_layers == 2 and row.fold_mean == pytest.approx(0.85)  # folds 0.75, 0.95
    assert row.fold_std == pytest.approx(0.1)
    assert json.loads(row.best_params)["C"] == 2.0
    assert genre.set_index("combo").loc["mfcc"].n_layers == 0
    # The combination '1' stays the string '1' when read back.
    assert table.combo.map(type).eq(str).all()


def test_aggregate_rejects_duplicates_and_broken_cells(cells, tmp_path):
    with pytest.raises(MusicTransferError, match="two score cells"):
        aggregate_scores([cells[0], cells[0]])
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(MusicTransferError, match=r"broken\.json"):
        aggregate_scores([broken])


def test_summary_compares_the_reference_combination(cells):
    table = aggregate_scores(cells)
    refs = parse_published({"genre": {"score": 0.9, "combo": "12345"}, "vocal": 0.5})
    genre = summarise_task(table, "genre", refs["genre"])
    assert genre.best["tagger-x"] == ("23", 0.85)
    assert genre.best["random"] == ("12345", 0.50)
    assert genre.compared == 0.80 and genre.difference == pytest.approx(-0.10)
    vocal = summarise_task(table, "vocal", refs["vocal"])
    assert vocal.mfcc is None and vocal.mfcc_plus is None and "random" not in vocal.best
    assert vocal.compared == 0.30 and vocal.compared_what.startswith("best")


def test_plot_writes_one_figure_per_task_and_a_summary(cells, tmp_path):
    table = aggregate_scores(cells)
    out_dir = tmp_path / "figures"
    written = plot_scores(table, out_dir, tasks=["genre", "vocal", "absent"],
                          published={"genre": {"score": 0.9, "combo": "12345"}})  # fmt: skip
    names = sorted(p.name for p in written)
    assert names == ["absent.png", "genre.png", "summary.png", "vocal.png"]
    for path in written:
        assert path.read_bytes()[:8] == PNG_MAGIC
    assert not list(out_dir.glob(".*")), "no temporary files left"


def test_plot_reads_the_csv_from_the_cli(cells, tmp_path):
    from musictransfer.cli import main

    scores = tmp_path / "scores.csv"
    aggregate_scores(cells, scores)
    rc = main(["plot", str(scores), "--out-dir", str(tmp_path / "fig"), "--published",
               '{"vocal": 0.4}'])  # fmt: skip
    assert rc == 0
    assert {p.name for p in (tmp_path / "fig").iterdir()} == {
        "genre.png",
        "vocal.png",
        "summary.png",
    }


def test_report_has_the_table_differences_and_links(cells, tmp_path):
    table = aggregate_scores(cells)
    figures = tmp_path / "results" / "figures"
    plot_scores(table, figures)
    out = tmp_path / "results" / "report.md"
    text = write_report(
        table, figures, out, experiment="fab",
        extra={"machine": "test box", "notes": ["a note"], "skipped": ["vocal/x/mfcc (why)"]},
        published={"genre": {"score": 0.9, "combo": "12345", "label": "paper",
                              "scores": {"mfcc": 0.5}}},
    )  # fmt: skip
    assert out.read_text() == text
    assert "experiment `fab`" in text
    assert "| genre | accuracy | 0.850 (23) | 0.500 (12345) | 0.700 | 0.550 | 0.900 (paper)" in text
    assert "-0.100" in text  # 0.80 (12345) - 0.90
    assert "| genre | mfcc | 0.500 | 0.550 | +0.050 |" in text
    assert "machine: test box" in text and "a note" in text and "vocal/x/mfcc (why)" in text
    assert "(figures/genre.png)" in text and "(figures/summary.png)" in text
    # A task without random, MFCC or published-score cells has dashes, not errors.
    vocal = next(line for line in text.splitlines() if line.startswith("| vocal |"))
    assert "0.300 (5)" in vocal and "–" in vocal


def test_report_of_an_extractor_only_table(tmp_path):
    """The paper_features experiment has a single extractor and no random convnet."""
    table = pd.DataFrame(
        {"task": ["t"], "extractor": ["choi2017"], "combo": ["12345"], "metric": ["accuracy"],
         "score": [0.9], "fit_time_s": [1.0]}
    )  # fmt: skip
    text = write_report(table, tmp_path, tmp_path / "r.md", experiment="p")
    assert "best random" not in text and "0.900 (12345)" in text
    # Columns no task fills are left out, not shown as dashes in every row.
    header = next(line for line in text.splitlines() if line.startswith("| task | metric"))
    assert header == "| task | metric | best choi2017 |"
    assert "ours (compared)" not in text
