"""The score figures: bars from zero, spreads within the metric's bounds, ties share a rank,
one panel per metric in the summary."""

from __future__ import annotations

import pandas as pd

from musictransfer import figures


def test_ties_share_the_better_rank():
    assert figures._ranks([1.0, 0.9, 1.0, 0.8]) == [1, 3, 1, 4]


def test_bars_start_at_zero_and_accuracy_spans_zero_to_one():
    assert figures._ylim([0.976, 0.99, 1.0], "accuracy") == (0.0, 1.0)
    low, high = figures._ylim([-0.2, 0.4], "r2")
    assert low < -0.2 and 0.4 < high


def test_a_fold_spread_is_cut_at_the_metrics_bounds():
    rows = pd.DataFrame({"combo": ["1"], "extractor": ["e"], "fold_std": [0.05]})
    assert figures._spread(rows, "1", "e", 0.98, "accuracy") == [0.05, 0.020000000000000018]
    assert figures._spread(rows, "1", "e", -0.5, "r2") == [0.05, 0.05]


def test_the_summary_has_a_panel_per_metric(tmp_path):
    rows = [
        ("genre", "e", "12345", "accuracy", 0.9),
        ("genre", "e", "mfcc", "accuracy", 0.8),
        ("arousal", "e", "12345", "r2", 0.5),
        ("arousal", "e", "mfcc", "r2", -0.1),
    ]
    table = pd.DataFrame(rows, columns=["task", "extractor", "combo", "metric", "score"])
    table = table.assign(reading="paper", fold_std=0.01, n_layers=1)
    frame = figures.summary_frame(table, ["genre", "arousal"], {})
    assert dict(zip(frame["task"], frame["metric"], strict=False)) == {
        "genre": "accuracy",
        "arousal": "r2",
    }
    out = figures.plot_summary(table, ["genre", "arousal"], tmp_path / "s.png", {})
    assert out.stat().st_size > 10_000
