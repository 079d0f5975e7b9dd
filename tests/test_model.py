"""The ConvNet against the paper's shapes and an independent librosa front end."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from musictransfer.constants import (
    FEATURE_DIM,
    HOP_LENGTH,
    N_FFT,
    N_FRAMES,
    N_MELS,
    N_SAMPLES,
    SAMPLE_RATE,
)
from musictransfer.model import ConvNet, init_he_normal


@pytest.fixture(scope="module")
def waves() -> torch.Tensor:
    """Three different 29 s signals: a chirp, noise, and a plucked-like decaying tone."""
    t = np.arange(N_SAMPLES) / SAMPLE_RATE
    rng = np.random.default_rng(0)
    chirp = 0.5 * np.sin(2 * np.pi * (100 + 50 * t) * t)
    noise = 0.1 * rng.standard_normal(N_SAMPLES)
    pluck = np.sin(2 * np.pi * 440 * t) * np.exp(-3 * (t % 1.0))
    return torch.tensor(np.stack([chirp, noise, pluck]), dtype=torch.float32)


@pytest.fixture(scope="module")
def net() -> ConvNet:
    torch.manual_seed(0)
    model = init_he_normal(ConvNet(), seed=1)
    # Non-trivial running statistics, so that eval-mode BatchNorm is not the identity.
    for block in model.blocks:
        block.bn.running_mean.uniform_(-1, 1)
        block.bn.running_var.uniform_(0.5, 2)
    return model.eval()


def test_shapes(net: ConvNet, waves: torch.Tensor) -> None:
    with torch.inference_mode():
        spec = net.frontend(waves)
        outs = net.block_outputs(waves)
        logits = net(waves)
        feats = net.layer_features(waves)
    assert spec.shape == (3, 1, N_MELS, N_FRAMES) == (3, 1, 96, 1360)
    assert [tuple(o.shape[-2:]) for o in outs] == [(48, 340), (16, 85), (8, 17), (4, 4), (1, 1)]
    assert all(o.shape[:2] == (3, 32) for o in outs)
    assert feats.shape == (3, FEATURE_DIM) == (3, 160)
    assert logits.shape == (3, 50)


def test_frontend_matches_librosa(net: ConvNet, waves: torch.Tensor) -> None:
    librosa = pytest.importorskip("librosa")
    with torch.inference_mode():
        spec = net.frontend(waves).numpy()[:, 0]
    for i, y in enumerate(waves.numpy()):
        power = librosa.feature.melspectrogram(
            y=y.astype(np.float64), sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP_LENGTH,
            n_mels=N_MELS, fmin=0.0, fmax=SAMPLE_RATE / 2, power=2.0, center=True,
            pad_mode="constant", window="hann", htk=False, norm="slaney",
        )  # fmt: skip
        ref = librosa.power_to_db(power, ref=np.max, amin=1e-10, top_db=80.0)
        assert ref.shape == spec[i].shape
        assert np.abs(ref - spec[i]).max() < 0.01  # dB


def test_he_normal_std() -> None:
    model = init_he_normal(ConvNet(), seed=3)
    for block in model.blocks:
        w = block.conv.weight.detach().numpy()
        fan_in = w.shape[1] * w.shape[2] * w.shape[3]
        assert w.std() == pytest.approx(np.sqrt(2.0 / fan_in), rel=0.12)
        assert abs(w.mean()) < 3 * np.sqrt(2.0 / fan_in) / np.sqrt(w.size)
        assert not block.conv.bias.detach().any()
        assert torch.equal(block.bn.running_var, torch.ones(32))
    w = model.head.weight.detach().numpy()
    assert w.std() == pytest.approx(np.sqrt(2.0 / 32), rel=0.15)
    again = init_he_normal(ConvNet(), seed=3)
    other = init_he_normal(ConvNet(), seed=4)
    assert torch.equal(model.blocks[1].conv.weight, again.blocks[1].conv.weight)
    assert not torch.equal(model.blocks[1].conv.weight, other.blocks[1].conv.weight)


def test_features_independent_of_batch(net: ConvNet, waves: torch.Tensor) -> None:
    with torch.inference_mode():
        together = net.layer_features(waves)
        alone = torch.cat([net.layer_features(waves[i : i + 1]) for i in range(3)])
        # A quiet copy of clip 0 in another batch: the per-clip dB reference cancels gain.
        quiet = net.layer_features(torch.stack([waves[0] * 0.01, waves[1]]))
    torch.testing.assert_close(alone, together, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(quiet[0], together[0], rtol=1e-3, atol=1e-3)


def test_feature_is_per_block_mean(net: ConvNet, waves: torch.Tensor) -> None:
    with torch.inference_mode():
        feats = net.layer_features(waves).numpy()
        outs = [o.numpy() for o in net.block_outputs(waves)]
    expected = np.concatenate([o.mean(axis=(2, 3)) for o in outs], axis=1)
    np.testing.assert_allclose(feats, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(feats[:, 128:], outs[4][:, :, 0, 0], rtol=1e-6)


def test_block_against_numpy(net: ConvNet, waves: torch.Tensor) -> None:
    """Block 1 (conv 3x3 same -> BN -> ELU -> max-pool 2x4) by a NumPy forward pass."""
    with torch.inference_mode():
        spec = net.frontend(waves[:1]).numpy()[0, 0].astype(np.float64)
        out = net.block_outputs(waves[:1])[0].numpy()[0]
    block = net.blocks[0]
    w = block.conv.weight.detach().numpy()[:, 0].astype(np.float64)
    b = block.conv.bias.detach().numpy()
    padded = np.pad(spec, 1)
    conv = np.zeros((32, *spec.shape))
    for di in range(3):
        for dj in range(3):
            shifted = padded[di : di + spec.shape[0], dj : dj + spec.shape[1]]
            conv += w[:, di, dj, None, None] * shifted
    conv += b[:, None, None]
    bn = block.bn
    mean, var = bn.running_mean.numpy(), bn.running_var.numpy()
    x = (conv - mean[:, None, None]) / np.sqrt(var[:, None, None] + bn.eps)
    x = x * bn.weight.detach().numpy()[:, None, None] + bn.bias.detach().numpy()[:, None, None]
    x = np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
    pooled = x[:, :96, :1360].reshape(32, 48, 2, 340, 4).max(axis=(2, 4))
    np.testing.assert_allclose(out, pooled, rtol=1e-4, atol=1e-4)
