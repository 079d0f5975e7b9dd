"""Convnet feature extraction: prepared datasets, audio files, BatchNorm calibration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from musictransfer.audio import load_audio, tile_to_length
from musictransfer.datasets.store import PreparedDataset, prepare_audio
from musictransfer.errors import AudioError
from musictransfer.featurefile import load_features
from musictransfer.features import (
    CALIBRATION_BATCH,
    calibrate_batchnorm,
    extract_convnet,
    extract_files,
)
from musictransfer.model import ConvNet, init_he_normal
from musictransfer.modelfile import load_model, save_model, save_random_convnet

SR = 8_000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(1)
    t = np.arange(SR // 2) / SR
    rows = []
    for i in range(4):
        y = 0.3 * np.sin(2 * np.pi * (150 * (i + 1)) * t) + 0.05 * rng.standard_normal(t.size)
        sf.write(root / f"c{i}.wav", y.astype(np.float32), SR)
        rows.append({"id": f"c{i}", "path": f"c{i}.wav"})
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    prepare_audio(root / "manifest.csv", root / "prepared", progress=False)
    save_random_convnet(root / "random.pt", seed=0)
    trained = init_he_normal(ConvNet(n_tags=3), seed=2)
    for block in trained.blocks:
        block.bn.running_mean.uniform_(-5, 5)
        block.bn.running_var.uniform_(1, 50)
    save_model(root / "tagger-x.pt", trained, tags=["a", "b", "c"], bn_statistics="running")
    return {"root": root, "store": root / "prepared"}


def test_extract_convnet_random(corpus: dict[str, Path], tmp_path: Path) -> None:
    extract_convnet(corpus["root"] / "random.pt", corpus["store"], tmp_path / "a.npz",
                    batch_size=3, progress=False)  # fmt: skip
    extract_convnet(corpus["root"] / "random.pt", corpus["store"], tmp_path / "b.npz",
                    batch_size=1, progress=False)  # fmt: skip
    feats, ids = load_features(tmp_path / "a.npz")
    assert feats.shape == (4, 160) and np.isfinite(feats).all()
    assert ids.tolist() == ["c0", "c1", "c2", "c3"]
    with np.load(tmp_path / "a.npz") as data:
        assert str(data["extractor"]) == "random"
    other, _ = load_features(tmp_path / "b.npz")
    # The batch size of the extraction does not change any clip's feature.
    np.testing.assert_allclose(other, feats, rtol=1e-4, atol=1e-5)
    # Calibrated statistics keep every layer's values of order one (identity BN does not).
    assert np.abs(feats).max() < 10


def test_extract_convnet_trained_matches_model(corpus: dict[str, Path], tmp_path: Path) -> None:
    path = corpus["root"] / "tagger-x.pt"
    extract_convnet(path, corpus["store"], tmp_path / "f.npz", batch_size=2, progress=False)
    extract_convnet(path, corpus["store"], tmp_path / "g.npz", batch_size=2, progress=False)
    feats, _ = load_features(tmp_path / "f.npz")
    again, _ = load_features(tmp_path / "g.npz")
    np.testing.assert_array_equal(feats, again)
    model = load_model(path)
    data = PreparedDataset(corpus["store"])
    with torch.inference_mode():
        direct = model.layer_features(torch.from_numpy(data.convnet_input(2))[None]).numpy()
    np.testing.assert_allclose(feats[2:3], direct, rtol=1e-4, atol=1e-5)
    with np.load(tmp_path / "f.npz") as npz:
        assert str(npz["extractor"]) == "tagger-x"


def test_int16_batches_give_the_float_paths_bits(corpus: dict[str, Path], tmp_path: Path) -> None:
    """Clips sent as stored (int16) and made float32 on the device: the same input and
    features, bit for bit, as float32 clips read through ``convnet_input``."""
    from musictransfer.features import _convnet_features
    from musictransfer.model import device_batch

    data = PreparedDataset(corpus["store"])
    stored = np.stack([data.stored_input(i) for i in range(len(data))])
    assert stored.dtype == np.int16
    floats = np.stack([data.convnet_input(i) for i in range(len(data))])
    assert torch.equal(device_batch(stored, torch.device("cpu")), torch.from_numpy(floats))
    path = corpus["root"] / "tagger-x.pt"
    extract_convnet(path, corpus["store"], tmp_path / "f.npz", batch_size=2, progress=False)
    feats, _ = load_features(tmp_path / "f.npz")
    float_path = _convnet_features(path, data.convnet_input, len(data), 2, progress=False)
    np.testing.assert_array_equal(feats, float_path)


def test_calibration_statistics_match_numpy(corpus: dict[str, Path]) -> None:
    """Layer 1's calibrated mean/var equal those of its conv output over the clips."""
    data = PreparedDataset(corpus["store"])
    x = torch.from_numpy(np.stack([data.convnet_input(i) for i in range(3)]))
    assert len(x) <= CALIBRATION_BATCH
    model = init_he_normal(ConvNet(), seed=0)
    calibrate_batchnorm(model, [x])
    assert not model.training
    with torch.no_grad():
        conv = model.blocks[0].conv(model.frontend(x)).double().numpy()
    bn = model.blocks[0].bn
    np.testing.assert_allclose(bn.running_mean.numpy(), conv.mean(axis=(0, 2, 3)), rtol=1e-4)
    var = conv.transpose(1, 0, 2, 3).reshape(32, -1).var(axis=1, ddof=1)
    np.testing.assert_allclose(bn.running_var.numpy(), var, rtol=1e-3)
    assert bn.momentum == 0.1  # restored after calibration


def test_extract_files(corpus: dict[str, Path], tmp_path: Path) -> None:
    paths = [corpus["root"] / "c1.wav", corpus["root"] / "c3.wav"]
    extract_files(corpus["root"] / "tagger-x.pt", paths, tmp_path / "files.npz", batch_size=1,
                  progress=False)  # fmt: skip
    feats, ids = load_features(tmp_path / "files.npz")
    assert ids.tolist() == [str(p) for p in paths]
    assert feats.shape == (2, 160) and np.isfinite(feats).all()
    model = load_model(corpus["root"] / "tagger-x.pt")
    x = torch.from_numpy(np.stack([tile_to_length(load_audio(p)) for p in paths]))
    with torch.inference_mode():
        np.testing.assert_allclose(feats, model.layer_features(x).numpy(), rtol=1e-4, atol=1e-5)


_WITHOUT_LIGHTNING = """
import sys

for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
    sys.modules[name] = None  # `import lightning` now raises ImportError
try:
    import musictransfer.training  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("Lightning was not blocked")
from musictransfer.cli import main

code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("lightning", "torchmetrics"))
print("lightning modules:", [m for m in loaded if sys.modules[m] is not None])
sys.exit(code)
"""


def test_extract_command_needs_no_lightning(
    corpus: dict[str, Path], repo: Path, tmp_path: Path
) -> None:
    """`musictransfer extract --model` reads a model file with PyTorch alone.

    Lightning is the training's dependency; a user who only extracts features (or an
    extraction job's environment) need not have it.
    """
    wav, out = corpus["root"] / "c2.wav", tmp_path / "out.npz"
    argv = ["extract", "--model", str(corpus["root"] / "random.pt"), str(wav), "-o", str(out)]
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    run = subprocess.run(
        [sys.executable, "-c", _WITHOUT_LIGHTNING, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "lightning modules: []" in run.stdout
    feats, ids = load_features(out)
    assert ids.tolist() == [str(wav)]
    extract_files(corpus["root"] / "random.pt", [wav], tmp_path / "here.npz", progress=False)
    here, _ = load_features(tmp_path / "here.npz")
    np.testing.assert_allclose(feats, here, rtol=1e-5, atol=1e-6)


def test_the_authors_network_is_not_extracted_as_a_convnet(
    corpus: dict[str, Path], tmp_path: Path
) -> None:
    """A choi2017 model file needs the choi2017 extractor (its own statistics modes)."""
    from musictransfer.choi2017_network import build_choi2017
    from musictransfer.errors import MusicTransferError
    from musictransfer.modelfile import ARCH_CHOI2017, BN_BATCH, save_model

    path = tmp_path / "choi2017.pt"
    save_model(path, build_choi2017(), [], BN_BATCH, architecture=ARCH_CHOI2017)
    with pytest.raises(MusicTransferError, match="holds the authors' network") as info:
        extract_convnet(path, corpus["store"], tmp_path / "f.npz", progress=False)
    assert "extract-choi2017" in info.value.hint
    assert not (tmp_path / "f.npz").exists()


def test_extract_files_names_bad_file(corpus: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(AudioError, match=r"broken\.wav"):
        extract_files(corpus["root"] / "random.pt", [corpus["root"] / "c0.wav", bad],
                      tmp_path / "x.npz", progress=False)  # fmt: skip
    assert not (tmp_path / "x.npz").exists()


def test_extract_real_recordings(corpus: dict[str, Path], shared_audio: Path,
                                 tmp_path: Path) -> None:  # fmt: skip
    paths = sorted(shared_audio.glob("*.ogg"))[:2]
    extract_files(corpus["root"] / "random.pt", paths, tmp_path / "real.npz", progress=False)
    feats, _ = load_features(tmp_path / "real.npz")
    assert feats.shape == (2, 160) and np.isfinite(feats).all()
    assert not np.allclose(feats[0], feats[1])


@pytest.mark.fault(
    item=9,
    case="an extraction that produces NaN features",
    outcome="error (exit 2) naming the clip; no feature file written",
)
def test_non_finite_features_are_never_written(corpus: dict[str, Path], tmp_path: Path) -> None:
    from musictransfer.errors import MusicTransferError
    from musictransfer.featurefile import save_features

    broken = init_he_normal(ConvNet(n_tags=3), seed=2)
    broken.blocks[1].bn.running_var[0] = -1.0  # sqrt of a negative variance: NaN from layer 2 on
    save_model(tmp_path / "tagger-broken.pt", broken, tags=["a", "b", "c"], bn_statistics="running")
    with pytest.raises(
        MusicTransferError,
        match=r"tagger-broken features of clip c0 are not finite .*\(and 3 more clip\(s\)\)",
    ):
        extract_convnet(tmp_path / "tagger-broken.pt", corpus["store"], tmp_path / "f.npz",
                        progress=False)  # fmt: skip
    assert not list(tmp_path.glob("*.npz")) and not list(tmp_path.glob(".f.npz*"))
    features = np.ones((3, 160))
    features[2, 7] = np.nan
    with pytest.raises(MusicTransferError, match=r"of clip song-b.wav are not finite"):
        save_features(tmp_path / "g.npz", features, ["a.wav", "x", "song-b.wav"], extractor="x")
    assert not (tmp_path / "g.npz").exists()
