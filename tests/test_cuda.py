"""The GPU path: the same features on CUDA as on the CPU, and mixed-precision training.

The workflow trains and extracts on CUDA whenever a GPU is present. These tests are
skipped without one (CI has none); on a GPU machine run ``pytest -m cuda``. Each
compares the GPU's result with the CPU's, which the rest of the suite checks against
independent references (librosa, a NumPy forward pass, the authors' Keras 1 semantics).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from musictransfer import features as feats
from musictransfer.constants import N_SAMPLES
from musictransfer.model import ConvNet, ieee_float32, init_he_normal
from musictransfer.modelfile import load_model, save_random_convnet
from musictransfer.training import train_tagger

# Relative agreement of float32 features computed by different kernels (cuDNN vs oneDNN,
# cuFFT vs pocketfft): max |gpu - cpu| / max |cpu|. TF32 would be ~1e-3.
RTOL = 1e-4

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _relative(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def _waves(n: int, seed: int = 0) -> torch.Tensor:
    """Noise with a few tones: non-trivial maps in every block."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(N_SAMPLES) / 12_000.0
    tones = torch.stack([torch.sin(2 * math.pi * (110.0 * (i + 1)) * t) for i in range(n)])
    return 0.3 * tones + 0.05 * torch.randn(n, N_SAMPLES, generator=generator)


def test_ieee_float32_sets_and_restores_precision() -> None:
    conv, matmul = torch.backends.cudnn.conv, torch.backends.cuda.matmul
    before = conv.fp32_precision, matmul.fp32_precision
    with ieee_float32():
        assert conv.fp32_precision == "ieee" and matmul.fp32_precision == "ieee"
    assert (conv.fp32_precision, matmul.fp32_precision) == before
    with pytest.raises(RuntimeError), ieee_float32():
        raise RuntimeError("restored even when the extraction fails")
    assert (conv.fp32_precision, matmul.fp32_precision) == before


@pytest.mark.cuda
@cuda
def test_network_on_cuda_matches_cpu() -> None:
    model = init_he_normal(ConvNet(n_tags=50), seed=0).eval()
    waves = _waves(4)
    with torch.inference_mode():
        on_cpu = model.layer_features(waves).numpy()
        with ieee_float32():
            on_gpu = model.cuda().layer_features(waves.cuda()).cpu().numpy()
    assert on_gpu.shape == (4, 160)
    assert _relative(on_gpu, on_cpu) < RTOL


@pytest.mark.cuda
@cuda
def test_extracted_features_on_cuda_match_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workflow's extraction (BatchNorm calibration included) is device-independent."""
    path = tmp_path / "random.pt"
    save_random_convnet(path, seed=0)
    waves = _waves(6, seed=1).numpy()
    on_gpu = feats._convnet_features(path, lambda i: waves[i], len(waves), 4, progress=False)
    monkeypatch.setattr(feats, "_device", lambda: torch.device("cpu"))
    on_cpu = feats._convnet_features(path, lambda i: waves[i], len(waves), 4, progress=False)
    assert _relative(on_gpu, on_cpu) < RTOL


@pytest.mark.cuda
@cuda
def test_train_tagger_on_cuda_in_mixed_precision(tmp_path: Path) -> None:
    from test_training import SETTINGS, make_tagging_source

    (tmp_path / "src").mkdir()
    source = make_tagging_source(
        tmp_path / "src",
        {"train": ["low", "noisy", "low;noisy", "noisy"], "valid": ["low", "noisy"],
         "test": ["noisy", "low"]},
    )  # fmt: skip
    out = tmp_path / "out"
    metrics = train_tagger(source, out / "tagger.pt", settings=SETTINGS,
                           checkpoint_dir=out / "ckpt", threads=2)  # fmt: skip
    assert metrics["device"] == torch.cuda.get_device_name(0)
    assert metrics["precision"] in {"bf16-mixed", "16-mixed"}
    assert metrics["epochs_run"] == SETTINGS["max_epochs"]
    assert 0.0 <= metrics["best_val_auc"] <= 1.0 and 0.0 <= metrics["test_auc"] <= 1.0
    # The model file is device-free: it loads and extracts on the CPU.
    model = load_model(out / "tagger.pt", device="cpu")
    assert all(p.device.type == "cpu" for p in model.parameters())
    with torch.inference_mode():
        assert torch.isfinite(model.layer_features(_waves(2))).all()
    # A retried job resumes from the GPU run's last checkpoint.
    again = train_tagger(source, out / "tagger2.pt",
                         settings={**SETTINGS, "max_epochs": SETTINGS["max_epochs"] + 1},
                         checkpoint_dir=out / "ckpt", threads=2)  # fmt: skip
    assert again["resumed_from"] == str(out / "ckpt" / "last.ckpt")
    assert again["epochs_run"] == SETTINGS["max_epochs"] + 1


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize(
    ("bn_mode", "chunk_size"),
    [("batch", 16), ("batch", 4), ("dataset", 4), ("reference", 16)],
    ids=["batch", "batch-chunked", "dataset", "reference"],
)
def test_choi2017_on_cuda_matches_cpu(
    shared_paper: Path, shared_audio: Path, bn_mode: str, chunk_size: int
) -> None:
    """The authors' network on real recordings, under each statistics mode.

    ``batch`` with a chunk smaller than the batch and ``dataset`` compute their statistics
    over chunks on the device (:func:`~musictransfer.choi2017.stats.compute_statistics`),
    the path the workflow takes for batches of 32 and whole datasets.
    """
    from musictransfer.audio import load_audio, tile_to_length
    from musictransfer.choi2017 import extract, load_pretrained

    paths = sorted(shared_audio.glob("*.ogg"))[:6]
    clips = [tile_to_length(load_audio(p)) for p in paths]
    weights = shared_paper / "weights" / "weights_theano.hdf5"
    results = {}
    for device in ("cpu", "cuda"):
        # As the workflow loads it: ``extract`` sets the statistics of every mode.
        model = load_pretrained(weights=weights, bn_mode="batch", device=device)
        results[device] = extract(model, lambda i: clips[i], len(clips), bn_mode,
                                  batch_size=len(clips), chunk_size=chunk_size)  # fmt: skip
    assert _relative(results["cuda"][0], results["cpu"][0]) < RTOL
    np.testing.assert_allclose(results["cuda"][1], results["cpu"][1], atol=1e-4)
    stats_cpu, stats_gpu = results["cpu"][2], results["cuda"][2]
    assert (stats_cpu is None) == (stats_gpu is None) == (bn_mode == "batch")
    if bn_mode == "dataset":  # the statistics themselves, computed on each device
        assert math.isclose(stats_gpu.db_max, stats_cpu.db_max, rel_tol=RTOL)
        assert _relative(np.asarray(stats_gpu.mean), np.asarray(stats_cpu.mean)) < RTOL
        assert _relative(np.asarray(stats_gpu.var), np.asarray(stats_cpu.var)) < RTOL
