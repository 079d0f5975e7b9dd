"""Job sizing of evaluation cells (musictransfer.sizing)."""

from __future__ import annotations

import pytest

from musictransfer.sizing import count_rows, grid_memory_mb, grid_runtime_min


def test_urbansound8k_cell_fits_the_4_gb_budget():
    """Issue 5: a single-worker UrbanSound8K cell (8,732 clips) stays under 4 GB."""
    assert 3000 < grid_memory_mb(8732, workers=1) < 4000
    assert grid_memory_mb(8732, workers=2) > 4000  # two workers hold two folds


def test_estimates_grow_with_the_square_of_the_clips():
    small, big = grid_memory_mb(2000) - 1000, grid_memory_mb(4000) - 1000
    assert big == pytest.approx(4 * small, rel=0.01)
    assert grid_runtime_min(8732) > grid_runtime_min(4180) > grid_runtime_min(130)
    assert grid_runtime_min(8732, workers=4) < grid_runtime_min(8732, workers=1)


def test_count_rows(tmp_path):
    path = tmp_path / "manifest.csv"
    path.write_text("id,label\na,x\nb,y\nc,z\n")
    assert count_rows(path) == 3
    path.write_text("id,label\n")
    assert count_rows(path) == 0
