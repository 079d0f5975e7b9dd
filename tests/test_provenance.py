"""Which code made a result: recorded in every output, reported, and warned about."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest

from musictransfer import __version__, provenance
from musictransfer.featurefile import save_features
from musictransfer.report_markdown import write_report


def test_code_version_names_the_checkout_commit(repo):
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
        )
    except OSError:
        pytest.skip("no git")
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    record = provenance.provenance()
    assert record["git_commit"] == head.stdout.strip()
    assert record["code"].startswith(f"{__version__}+g{head.stdout.strip()[:7]}")
    assert record["libraries"]["scikit-learn"] and record["libraries"]["numpy"]


def test_an_installed_package_without_git_is_its_version(monkeypatch):
    monkeypatch.setattr(provenance, "git_state", lambda: (None, None))
    assert provenance.code_version() == __version__


def test_feature_files_record_their_provenance(tmp_path):
    out = tmp_path / "f.npz"
    save_features(out, np.ones((2, 3)), ["a", "b"], extractor="mfcc")
    with np.load(out) as data:
        record = json.loads(str(data["provenance"]))
    assert record == json.loads(json.dumps(provenance.provenance()))


def _table(codes):
    rows = []
    for i, code in enumerate(codes):
        rows.append(
            {
                "task": "t",
                "extractor": "choi2017",
                "combo": str(i + 1),
                "n_layers": 1,
                "metric": "accuracy",
                "score": 0.5,
                "reading": "paper",
                "code": code,
                "libraries": "numpy 2.4.6",
            }
        )
    return pd.DataFrame(rows)


def test_report_lists_the_code_and_warns_when_cells_mix_versions(tmp_path):
    one = write_report(_table(["0.2.0+gaaaaaaa"] * 2), tmp_path, tmp_path / "r.md", "x")
    assert "`0.2.0+gaaaaaaa` (2 rows)" in one and "Warning" not in one
    mixed = write_report(
        _table(["0.2.0+gaaaaaaa", "0.2.0+gbbbbbbb.dirty"]), tmp_path, tmp_path / "r.md", "x"
    )
    assert "made by 2 versions of the code" in mixed
    assert "uncommitted changes" in mixed
