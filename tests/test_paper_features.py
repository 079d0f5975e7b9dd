"""The authors' released features: registry, download/mirror, conversion, scores, workflow.

Downloads are tested against a local HTTP server on 127.0.0.1 (no internet needed); the
released files themselves are read from ../shared/paper (the `shared_paper` fixture).
Scores are compared with a plain scikit-learn GridSearchCV built here, independently of
musictransfer.evaluation.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV, KFold, PredefinedSplit, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR

from conftest import QuietHandler
from musictransfer.datasets import paper
from musictransfer.datasets.paper import convert as paper_convert
from musictransfer.datasets.paper import fetch as paper_fetch
from musictransfer.datasets.paper import tables as paper_tables
from musictransfer.errors import DownloadError
from musictransfer.featurefile import load_features

CSV = "data_csv/gtzan_speechmusic.csv"


# --- an independent reference: the authors' protocol in plain scikit-learn ----------------


def plain_grid_search(X, y, regression, cv):
    """GridSearchCV(Pipeline([scaler or passthrough, SVC/SVR])) with the paper's grid."""
    scalers = [StandardScaler(), "passthrough"]
    grid = [
        {"scaler": scalers, "svm__kernel": ["rbf"], "svm__C": [0.1, 2, 8, 32],
         "svm__gamma": [2**-3, 2**-5, 2**-7, 2**-9, 2**-11, 2**-13, "auto"]},
        {"scaler": scalers, "svm__kernel": ["linear"], "svm__C": [0.1, 2, 8, 32]},
    ]  # fmt: skip
    model = Pipeline([("scaler", "passthrough"), ("svm", SVR() if regression else SVC())])
    return GridSearchCV(model, grid, cv=cv, refit=False).fit(X, y).best_score_


def released_matrix(shared, stem, combo):
    """A combination's feature matrix straight from the released .npy files."""
    layers = [] if combo == "mfcc" else combo.removeprefix("mfcc+")
    blocks = [np.load(shared / f"data_feats/{stem}_mfcc.npy")] if "mfcc" in combo else []
    blocks += [np.load(shared / f"data_feats/{stem}_layer_{int(k) - 1}.npy") for k in layers]
    return np.hstack(blocks).astype(np.float64)


# --- registry and fetching ------------------------------------------------------------------


def test_registry_matches_the_shared_checksums(shared_paper):
    lines = (shared_paper / "SHA256SUMS").read_text().split()
    assert dict(zip(lines[1::2], lines[0::2], strict=True)) == paper.REGISTRY
    assert paper.AUTHORS_COMMIT == "e1f83c389ff32ce48551f916414ae869cbe7f6e6"
    assert paper.url_of(CSV) == (
        "https://raw.githubusercontent.com/keunwoochoi/transfer_learning_music/"
        f"e1f83c389ff32ce48551f916414ae869cbe7f6e6/{CSV}"
    )
    assert paper.url_of("weights/weights_theano.hdf5").endswith(
        "/weights_transfer/weights_theano.hdf5"
    )


def test_datasets_and_missing_urbansound_mfcc():
    assert set(paper.RELEASED_DATASETS) == {
        "ballroom", "gtzan_genre", "gtzan_speech_music", "emomusic", "jamendo_vocal",
        "urbansound8k",
    }  # fmt: skip
    assert paper.released_dataset("urbansound8k").mfcc is None
    assert paper.released_dataset("gtzan_genre").layers[0].endswith("gtzan_genre_layer_0.npy")


RESULT_TASKS = {  # the authors' task name -> estimator of result_transfer/ (see shared README)
    "ballroom_extended": "SVC", "gtzan_genre": "SVC", "gtzan_speechmusic": "SVC",
    "emoMusic_a": "SVR", "emoMusic_v": "SVR", "jamendo_vd": "SVC", "urbansound": "SVC",
}  # fmt: skip


def authors_feature_name(combo):
    """The paper's combination ('12345', 'mfcc', 'mfcc+12345') as the authors named it."""
    if combo.startswith("mfcc"):
        return f"{combo}_4"
    return "mine_" + "".join(str(int(k) - 1) for k in combo)


def test_registry_holds_every_file_the_code_asks_for():
    from musictransfer.constants import MFCC_COMBOS, PAPER_COMBOS
    from musictransfer.datasets.registry import MODULES, get_spec

    wanted = {paper.WEIGHTS_THEANO, *paper.REMOTE_PATHS}
    for spec in paper.RELEASED_DATASETS.values():
        wanted.update(spec.files)
    for name in MODULES:
        if get_spec(name).authors_csv is not None:
            wanted.add(f"data_csv/{get_spec(name).authors_csv}")
    # The authors' per-cell scores: 7 tasks x (28 combinations, mfcc, mfcc+12345).
    combos = [*PAPER_COMBOS, *MFCC_COMBOS]
    assert len(combos) == 30
    results = {
        f"result_transfer/T_{task}_F_{authors_feature_name(c)}_CL_{cl}.npy"
        for task, cl in RESULT_TASKS.items()
        for c in combos
    }
    assert len(results) == 210
    assert wanted | results <= set(paper.REGISTRY)
    assert {p for p in paper.REGISTRY if p.startswith("result_transfer/")} == results
    assert len(paper.REGISTRY) == 253
    assert all(len(d) == 64 and int(d, 16) >= 0 for d in paper.REGISTRY.values())


def test_every_registry_file_can_be_asked_of_the_workflow(repo):
    """download_paper_features' wildcard constraints admit every file of the registry."""
    import re

    rule = (repo / "workflow/rules/paper.smk").read_text().split("rule download_paper_features")[1]
    kind = re.search(r'kind="([^"]+)"', rule).group(1)
    file = re.search(r'file=r"([^"]+)"', rule).group(1)
    pattern = re.compile(f"({kind})/({file})")
    assert all(pattern.fullmatch(p) for p in paper.REGISTRY), [
        p for p in paper.REGISTRY if not pattern.fullmatch(p)
    ]
    assert not pattern.fullmatch("result_transfer/../weights/x.npy")


def test_a_bad_registry_line_is_refused(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text(
        "# comment\n\ndata_csv/a.csv sha256:" + "AB" * 32 + "\nb.npy " + "0" * 64 + "\n"
    )
    assert paper.read_registry(good) == {"data_csv/a.csv": "ab" * 32, "b.npy": "0" * 64}
    bad = tmp_path / "bad.txt"
    bad.write_text("data_csv/a.csv " + "0" * 63 + "\n")
    with pytest.raises(ValueError, match="line 1"):
        paper.read_registry(bad)


def test_download_verifies_the_checksum(http_root, shared_paper, tmp_path):
    root, url = http_root
    (root / "data_csv").mkdir()
    shutil.copy(shared_paper / CSV, root / CSV)
    out = tmp_path / "dl" / CSV
    got = paper_fetch.fetch_released_file(CSV, out, base_url=url, retries=0)
    assert got == out and out.read_bytes() == (shared_paper / CSV).read_bytes()
    # Cached: a second fetch does not need the server.
    (root / CSV).unlink()
    assert paper_fetch.fetch_released_file(CSV, out, base_url=url, retries=0) == out


def test_download_checksum_mismatch_leaves_nothing(http_root, tmp_path):
    root, url = http_root
    (root / "data_csv").mkdir()
    (root / CSV).write_text("id,filepath,label\n0,x,y,0\n")
    out = tmp_path / "dl" / CSV
    with pytest.raises(DownloadError, match="checksum mismatch for data_csv/gtzan_speechmusic"):
        paper_fetch.fetch_released_file(CSV, out, base_url=url, retries=0)
    assert not out.exists()
    assert list(out.parent.iterdir()) == []


def test_failed_download_says_what_to_do(http_root, tmp_path):
    _, url = http_root  # serves nothing: 404
    with pytest.raises(DownloadError) as info:
        paper_fetch.fetch_released_file(CSV, tmp_path / "x.csv", base_url=url, retries=0)
    assert "could not download" in str(info.value) and "mirror" in str(info.value)
    with pytest.raises(DownloadError, match="not one of the authors"):
        paper_fetch.fetch_released_file("data_csv/nope.csv", tmp_path / "y.csv")


class FlakyHandler(QuietHandler):
    """Answers 503 to the first request for each path, then serves the file."""

    seen: dict[str, int]

    def do_GET(self):  # noqa: N802 (http.server names the method)
        self.seen[self.path] = self.seen.get(self.path, 0) + 1
        if self.seen[self.path] == 1:
            self.send_error(503, "try again")
            return
        super().do_GET()


def test_a_failed_transfer_is_retried(shared_paper, tmp_path):
    root = tmp_path / "served"
    (root / "data_csv").mkdir(parents=True)
    shutil.copy(shared_paper / CSV, root / CSV)
    seen: dict[str, int] = {}
    handler = type("Flaky", (FlakyHandler,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with pytest.raises(DownloadError, match="could not download"):
            paper_fetch.fetch_released_file(CSV, tmp_path / "a.csv", base_url=url, retries=0)
        seen.clear()
        out = paper_fetch.fetch_released_file(CSV, tmp_path / "b.csv", base_url=url, retries=1)
        assert out.read_bytes() == (shared_paper / CSV).read_bytes()
        assert seen == {f"/{CSV}": 2}
        assert sorted(p.name for p in tmp_path.iterdir()) == ["b.csv", "served"]
    finally:
        server.shutdown()
        server.server_close()


def test_cache_is_moved_by_the_environment(http_root, shared_paper, tmp_path, monkeypatch):
    root, url = http_root
    (root / "data_csv").mkdir()
    shutil.copy(shared_paper / CSV, root / CSV)
    cache = tmp_path / "cache"
    monkeypatch.setenv(paper_fetch.DATA_DIR_ENV, str(cache))
    monkeypatch.delenv(paper_fetch.MIRROR_ENV, raising=False)
    got = paper_fetch.fetch_released(CSV, base_url=url, retries=0)
    assert got == cache / CSV and got.read_bytes() == (shared_paper / CSV).read_bytes()
    (root / CSV).unlink()  # cached: the server is not asked again
    assert paper_fetch.fetch_released(CSV, base_url=url, retries=0, download=False) == got
    other = "data_csv/gtzan_genre.csv"
    with pytest.raises(DownloadError, match=f"{other} is neither in the mirror"):
        paper_fetch.fetch_released(other, base_url=url, download=False)
    # An explicit cache wins over the environment; the mirror over both.
    with pytest.raises(DownloadError, match="neither in the mirror"):
        paper_fetch.fetch_released(CSV, cache=tmp_path / "elsewhere", download=False)
    assert paper_fetch.fetch_released(other, mirror=shared_paper) == shared_paper / other
    assert not (cache / other).exists()


def test_cli_fetches_an_authors_result_file(shared_paper, tmp_path, capsys):
    from musictransfer.cli import main

    name = "result_transfer/T_gtzan_genre_F_mine_01234_CL_SVC.npy"
    out = tmp_path / "r.npy"
    assert main(["fetch-paper-file", name, "-o", str(out), "--mirror", str(shared_paper)]) == 0
    assert out.read_bytes() == (shared_paper / name).read_bytes()
    assert float(np.load(out)) == pytest.approx(0.898, abs=5e-4)
    bad = tmp_path / "mirror" / "result_transfer"
    bad.mkdir(parents=True)
    (bad / Path(name).name).write_bytes(b"not it")
    capsys.readouterr()
    code = main(["fetch-paper-file", name, "-o", str(tmp_path / "s.npy"),
                 "--mirror", str(tmp_path / "mirror")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "checksum mismatch" in err and Path(name).name in err
    assert "Traceback" not in err and not (tmp_path / "s.npy").exists()


def test_mirror_copy_and_corrupt_mirror(shared_paper, tmp_path):
    out = tmp_path / "a" / CSV
    paper_fetch.fetch_released_file(CSV, out, mirror=shared_paper, base_url="http://127.0.0.1:9/")
    assert out.read_bytes() == (shared_paper / CSV).read_bytes()
    bad = tmp_path / "mirror"
    (bad / "data_csv").mkdir(parents=True)
    (bad / CSV).write_bytes((shared_paper / CSV).read_bytes() + b"\n")
    out2 = tmp_path / "b" / CSV
    with pytest.raises(DownloadError, match=r"checksum mismatch for .*gtzan_speechmusic\.csv"):
        paper_fetch.fetch_released_file(CSV, out2, mirror=bad, base_url="http://127.0.0.1:9/")
    assert not out2.exists()
    assert not out2.parent.exists() or not any(out2.parent.iterdir())


# --- conversion -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dataset", "stem", "columns"),
    [
        ("gtzan_genre", "gtzan_genre", {"label": "label"}),
        ("emomusic", "emoMusic", {"label_arousal": "arousal", "label_valence": "valence"}),
        ("jamendo_vocal", "jamendo_vd", {"label": "label", "category": "category"}),
        ("urbansound8k", "urbansound", {"label": "label", "fold": "fold"}),
    ],
)
def test_conversion_keeps_rows_and_makes_unique_ids(shared_paper, tmp_path, dataset, stem,
                                                     columns):  # fmt: skip
    spec = paper.released_dataset(dataset)
    layers = [shared_paper / p for p in spec.layers]
    mfcc = shared_paper / spec.mfcc if spec.mfcc else None
    out = tmp_path / dataset
    manifest = paper_convert.import_released(
        dataset, shared_paper / spec.csv, layers=layers, mfcc=mfcc,
        features_out=out / "conv.npz", mfcc_out=out / "mfcc.npz" if mfcc else None,
        manifest_out=out / "labels.csv",
    )  # fmt: skip
    table = pd.read_csv(shared_paper / f"data_csv/{stem}.csv", index_col=0)
    features, ids = load_features(out / "conv.npz")
    assert features.shape == (len(table), 160)
    assert len(set(ids)) == len(ids)
    # Row order is the CSV's: ids are the file names, in order; layer k is file _layer_{k-1}.
    assert list(ids) == [Path(p).stem for p in table["filepath"]]
    for k in range(5):
        np.testing.assert_array_equal(features[:, 32 * k : 32 * (k + 1)], np.load(layers[k]))
    written = pd.read_csv(out / "labels.csv", dtype={"id": str})
    assert list(written["id"]) == list(ids) == list(manifest["id"])
    for source, target in columns.items():
        np.testing.assert_array_equal(written[target].to_numpy(), table[source].to_numpy())
    if mfcc is not None:
        mf, mf_ids = load_features(out / "mfcc.npz")
        assert mf.shape == (len(table), 120) and list(mf_ids) == list(ids)
        np.testing.assert_array_equal(mf, np.load(mfcc))


def test_gtzan_genre_ids_are_not_the_genre_column(shared_paper):
    manifest = paper_tables.released_manifest(
        shared_paper / "data_csv/gtzan_genre.csv", paper.released_dataset("gtzan_genre")
    )
    assert manifest["id"].is_unique and manifest["id"].iloc[0] == "blues.00000"


# --- scores against plain scikit-learn ----------------------------------------------------------


@pytest.mark.slow
def test_gtzan_genre_12345_scores_the_papers_898(shared_paper, tmp_path):
    """The paper's Task 2 number, 89.8%, from the released features (about a minute)."""
    from musictransfer.cell_files import evaluate_cell_files

    spec = paper.released_dataset("gtzan_genre")
    paper_convert.import_released(
        "gtzan_genre", shared_paper / spec.csv, layers=[shared_paper / p for p in spec.layers],
        features_out=tmp_path / "f.npz", manifest_out=tmp_path / "m.csv",
    )  # fmt: skip
    task = {"name": "gtzan_genre", "dataset": "gtzan_genre", "type": "classification",
            "target": "label", "cv": {"scheme": "stratified_kfold", "n_splits": 10}}  # fmt: skip
    result = evaluate_cell_files(task, "choi2017", "12345", tmp_path / "m.csv",
                                 tmp_path / "f.npz", None, tmp_path / "s.json")  # fmt: skip
    assert result["score"] == pytest.approx(0.898, abs=1e-12)


@pytest.mark.slow
def test_jamendo_predefined_split_equals_plain_gridsearch(shared_paper, tmp_path):
    """Second task (one train/test split): the pipeline's score equals plain scikit-learn."""
    from musictransfer.cell_files import evaluate_cell_files

    spec = paper.released_dataset("jamendo_vocal")
    paper_convert.import_released(
        "jamendo_vocal", shared_paper / spec.csv,
        layers=[shared_paper / p for p in spec.layers],
        features_out=tmp_path / "f.npz", manifest_out=tmp_path / "m.csv",
    )  # fmt: skip
    split = {"scheme": "predefined_split", "column": "category", "test": ["test"]}
    task = {"name": "jamendo_vocal", "dataset": "jamendo_vocal", "type": "classification",
            "target": "label", "cv": split}  # fmt: skip
    table = pd.read_csv(shared_paper / spec.csv, index_col=0)
    cv = PredefinedSplit(np.where(table["category"] == "test", 0, -1))
    combo = "4"
    ours = evaluate_cell_files(task, "choi2017", combo, tmp_path / "m.csv", tmp_path / "f.npz",
                               None, tmp_path / "s.json")["score"]  # fmt: skip
    expected = plain_grid_search(released_matrix(shared_paper, "jamendo_vd", combo),
                                 table["label"].to_numpy(), False, cv)  # fmt: skip
    assert abs(ours - expected) < 1e-9


# --- the workflow -------------------------------------------------------------------------------


def run_snakemake(repo, *args):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    snakemake = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or "snakemake"
    out = subprocess.run([snakemake, "--cores", "2", *args], cwd=repo, env=env,
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert out.returncode == 0, f"{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


def test_dry_run_of_the_full_replication(repo, shared_paper, tmp_path):
    out = run_snakemake(repo, "-n", "--config", "experiment=paper_features",
                        f"mirror={shared_paper}", f"results={tmp_path}")  # fmt: skip
    text = out.stdout
    # 7 tasks x 33 feature sets, less UrbanSound8K's two MFCC cells (no released file).
    assert "evaluate                   229" in text or " 229" in text
    for rule in ("download_paper_features", "import_paper_features", "import_paper_mfcc"):
        assert rule in text, rule
    assert "prepare_audio" not in text and "extract_convnet" not in text


def test_weights_reach_the_import_through_the_dag(repo, shared_paper, tmp_path):
    """import_paper_weights reads the weights download_paper_features made, not a cache."""
    target = f"{tmp_path}/paper_audio/models/choi2017.pt"
    out = run_snakemake(repo, "-n", target, "--config", "experiment=paper_audio",
                        f"mirror={shared_paper}", f"results={tmp_path}")  # fmt: skip
    text = out.stdout
    assert "download_paper_features" in text and "import_paper_weights" in text
    assert f"{tmp_path}/paper_audio/downloads/paper/weights/weights_theano.hdf5" in text


@pytest.mark.slow
def test_small_real_run_matches_plain_gridsearch(repo, shared_paper, tmp_path):
    """gtzan_speech_music, two cells, through snakemake with the mirror (about a minute)."""
    combos = ["1", "mfcc+12345"]
    cfg = tmp_path / "small.yaml"
    cfg.write_text(json.dumps({"only_tasks": ["gtzan_speech_music"],
                               "experiments": {"paper_features": {"extractors": {
                                   "choi2017": combos}}}}))  # fmt: skip
    results = tmp_path / "results"
    run_snakemake(repo, "--configfile", str(cfg), "--config", "experiment=paper_features",
                  f"mirror={shared_paper}", f"results={results}")  # fmt: skip
    root = results / "paper_features"
    scores = pd.read_csv(root / "tables" / "scores.csv", dtype={"combo": str})
    assert set(scores["reading"]) == {"paper", "authors_script"}
    as_run = scores[scores["reading"] == "authors_script"].set_index("combo")["score"]
    scores = scores[scores["reading"] == "paper"]
    assert set(scores["task"]) == {"gtzan_speech_music"}
    assert set(scores["extractor"]) == {"choi2017"} and sorted(scores["combo"]) == sorted(combos)
    table = pd.read_csv(shared_paper / CSV, index_col=0)
    y = table["label"].to_numpy()
    # The paper presets use the authors' folds (scikit-learn < 0.22's StratifiedKFold),
    # written out here independently of musictransfer.folds: each class cut in row order,
    # its first count % 10 folds one clip larger.
    folds = np.empty(len(y), dtype=int)
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        sizes = np.full(10, len(rows) // 10)
        sizes[: len(rows) % 10] += 1
        folds[rows] = np.repeat(np.arange(10), sizes)
    for combo in combos:
        X = released_matrix(shared_paper, "gtzan_speechmusic", combo)
        expected = plain_grid_search(X, y, False, PredefinedSplit(folds))
        ours = scores.set_index("combo").loc[combo, "score"]
        assert abs(ours - expected) < 1e-9, combo
    # Read as the authors' script ran, the cells are their saved results.
    assert as_run["1"] == pytest.approx(0.9921875, abs=1e-12)  # T_..._mine_0_CL_SVC.npy
    assert (root / "figures" / "gtzan_speech_music.png").is_file()
    assert (root / "figures" / "summary.png").is_file()
    report = (root / "report.md").read_text()
    assert "gtzan_speech_music" in report and "1.000 (paper)" in report


def test_plain_reference_helpers_are_sound():
    """The test's own reference agrees with a hand check on a separable toy problem."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-3, 1, (20, 2)), rng.normal(3, 1, (20, 2))])
    y = np.repeat([0, 1], 20)
    assert plain_grid_search(X, y, False, StratifiedKFold(n_splits=4)) == 1.0
    r2 = plain_grid_search(X, X[:, 0] * 0.5, True, KFold(n_splits=4))
    assert r2 > 0.9
