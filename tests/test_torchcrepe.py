"""musictransfer.hear.torchcrepe: CREPE (torchcrepe 0.0.24) as a HEAR module.

What could go wrong: weights not loaded (a randomly initialised Crepe has the same
shapes), frames not made as torchcrepe makes them (the outputs would still look fine),
a sound's embedding depending on its batch or on the chunking, short sounds failing,
and the package's ``extract --representation`` path not taking the module.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from musictransfer.audio import load_audio
from musictransfer.errors import ConfigError, MusicTransferError
from musictransfer.hear import torchcrepe as hear_crepe  # imports torchcrepe only when used
from musictransfer.representations import extract_representation

torchcrepe = pytest.importorskip("torchcrepe", reason="the guests extra is not installed")

SR = 16_000
MODULE = "musictransfer.hear.torchcrepe"
TINY_DIMS = {
    "conv1": 128,
    "conv2": 16,
    "conv3": 16,
    "conv4": 16,
    "conv5": 32,
    "conv6": 64,
    "embedding": 256,
    "salience": 360,
}
RECORDINGS = (
    "sorohanro_-_solo-trumpet-06.ogg",  # 5.3 s
    "456440__inspectorj__bird-whistling-robin-single-13.ogg",  # 2.7 s
    "admiralbob77_-_Choice_-_Drum-bass.ogg",  # 25 s
)


@pytest.fixture(scope="module", autouse=True)
def _threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def model() -> hear_crepe.CrepeModel:
    return hear_crepe.load_model(model="tiny", hop_ms=50)


def sine(freq: float, seconds: float = 1.0, amplitude: float = 0.5) -> torch.Tensor:
    t = torch.arange(round(seconds * SR), dtype=torch.float64) / SR
    return (amplitude * torch.sin(2 * math.pi * freq * t)).float()


def pitch_cents(salience: torch.Tensor) -> torch.Tensor:
    """CREPE's decoding without dither: the salience-weighted cents of the 9 bins around
    the peak, per frame (``salience``: (n_frames, 360))."""
    cents = 20.0 * torch.arange(360, dtype=torch.float64) + 1997.3794084376191
    peak = salience.argmax(dim=1)
    out = []
    for row, k in zip(salience.double(), peak.tolist(), strict=True):
        lo, hi = max(0, k - 4), min(360, k + 5)
        out.append((row[lo:hi] * cents[lo:hi]).sum() / row[lo:hi].sum())
    return torch.stack(out)


def cents_off(salience: torch.Tensor, freq: float) -> float:
    """Median distance in cents of the decoded pitch from ``freq`` (inner frames only)."""
    target = 1200 * math.log2(freq / 10.0)
    return float((pitch_cents(salience[2:-2]) - target).abs().median())


@pytest.mark.parametrize("freq", [220.0, 440.0, 880.0])
def test_pretrained_weights_find_the_pitch_of_a_sine(model, freq):
    salience = hear_crepe.get_layer_embeddings(sine(freq)[None], model)["salience"][0]
    assert cents_off(salience, freq) < 10.0


def test_the_weights_are_torchcrepes_and_random_ones_would_fail(model):
    shipped = torch.load(hear_crepe.weights_file("tiny"), map_location="cpu", weights_only=True)
    mine = model.network.state_dict()
    assert shipped.keys() == mine.keys()
    assert all(torch.equal(shipped[k], mine[k]) for k in shipped)
    # The pitch test above discriminates: the same decoding with untrained weights is lost.
    torch.manual_seed(0)
    random = hear_crepe.CrepeModel(torchcrepe.Crepe("tiny"), "tiny", hop=800, chunk_frames=64)
    salience = hear_crepe.get_layer_embeddings(sine(440.0)[None], random)["salience"][0]
    assert cents_off(salience, 440.0) > 100.0


def test_embedding_and_salience_are_torchcrepes_own(model):
    audio = sine(330.0, seconds=0.7) + 0.05 * torch.randn(round(0.7 * SR))
    audio = audio[None].clamp(-1, 1)
    layers = hear_crepe.get_layer_embeddings(audio, model)
    with torch.no_grad():
        ref = torchcrepe.embed(audio, SR, hop_length=model.hop, model="tiny", pad=True)
        frames = next(torchcrepe.preprocess(audio, SR, hop_length=model.hop, pad=True))
        salience = model.network(frames)
    n = hear_crepe.n_frames(audio.shape[1], model.hop)
    assert ref.shape == (1, n, 32, 8)
    torch.testing.assert_close(layers["embedding"], ref.reshape(1, n, 256), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(layers["salience"][0], salience, rtol=1e-5, atol=1e-6)


def test_contract_shapes_dtypes_timestamps_and_scene_as_mean(model):
    audio = torch.stack([sine(261.6, 1.3), sine(392.0, 1.3, 0.2)])
    n = 1 + audio.shape[1] // 800
    scene = hear_crepe.get_scene_embeddings(audio, model)
    emb, ts = hear_crepe.get_timestamp_embeddings(audio, model)
    layers = hear_crepe.get_layer_embeddings(audio, model)
    assert model.sample_rate == SR
    assert model.scene_embedding_size == model.timestamp_embedding_size == 256
    assert scene.shape == (2, 256) and scene.dtype == torch.float32
    assert emb.shape == (2, n, 256) and emb.dtype == torch.float32
    assert ts.shape == (2, n) and ts.dtype == torch.float32
    np.testing.assert_allclose(ts[1].numpy(), 50.0 * np.arange(n))
    assert list(layers) == list(hear_crepe.LAYER_NAMES)
    assert {k: tuple(v.shape) for k, v in layers.items()} == {
        k: (2, n, d) for k, d in TINY_DIMS.items()
    }
    for value in [scene, emb, *layers.values()]:
        assert torch.isfinite(value).all()
    torch.testing.assert_close(emb, layers["embedding"], rtol=0, atol=0)
    torch.testing.assert_close(scene, emb.mean(dim=1), rtol=1e-6, atol=1e-6)
    assert 0.0 <= float(layers["salience"].min()) and float(layers["salience"].max()) <= 1.0
    assert not torch.allclose(scene[0], scene[1], atol=1e-3)  # two pitches, two embeddings
    # Loudness does not matter: every frame is normalised, so a quieter copy embeds alike.
    quiet = hear_crepe.get_scene_embeddings(0.1 * audio, model)
    torch.testing.assert_close(quiet, scene, rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def real_clips(shared_audio: Path) -> torch.Tensor:
    """Three real recordings, 2 s each at 16 kHz: float32 (3, 32000)."""
    rows = [load_audio(shared_audio / name, sr=SR, duration=2.0)[: 2 * SR] for name in RECORDINGS]
    return torch.from_numpy(np.stack(rows))


def test_a_sounds_embeddings_do_not_depend_on_its_batch_or_the_chunks(real_clips):
    model = hear_crepe.load_model(hop_ms=25)
    batch = hear_crepe.get_layer_embeddings(real_clips, model)
    small_chunks = hear_crepe.load_model(hop_ms=25, chunk_frames=7)
    chunked = hear_crepe.get_layer_embeddings(real_clips, small_chunks)
    for k in range(len(real_clips)):
        alone = hear_crepe.get_layer_embeddings(real_clips[k : k + 1], model)
        for name, value in alone.items():
            torch.testing.assert_close(value[0], batch[name][k], rtol=1e-5, atol=1e-5)
    for name, value in chunked.items():
        torch.testing.assert_close(value, batch[name], rtol=1e-5, atol=1e-5)
    scene = hear_crepe.get_scene_embeddings(real_clips, model)
    alone = hear_crepe.get_scene_embeddings(real_clips[1:2], model)
    torch.testing.assert_close(alone[0], scene[1], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(scene[0], scene[1], atol=1e-3)  # different sounds differ


@pytest.mark.parametrize("n_samples", [1, 100, 799, 800, 1023, 1024, 1025])
def test_sounds_shorter_than_a_frame(model, n_samples):
    audio = torch.stack([0.3 * torch.randn(n_samples).clamp(-3, 3), torch.zeros(n_samples)])
    emb, ts = hear_crepe.get_timestamp_embeddings(audio, model)
    n = 1 + n_samples // 800
    assert emb.shape == (2, n, 256) and ts.shape == (2, n)
    scene = hear_crepe.get_scene_embeddings(audio, model)
    layers = hear_crepe.get_layer_embeddings(audio, model)
    assert scene.shape == (2, 256)
    for value in [emb, scene, *layers.values()]:
        assert torch.isfinite(value).all()


def test_a_model_file_and_wrong_options(tmp_path):
    copy = tmp_path / "tiny.pth"
    shutil.copy(hear_crepe.weights_file("tiny"), copy)
    from_file = hear_crepe.load_model(str(copy), hop_ms=10)
    assert from_file.hop == 160 and from_file.hop_ms == 10.0
    audio = sine(440.0, 0.3)[None]
    torch.testing.assert_close(
        hear_crepe.get_scene_embeddings(audio, from_file),
        hear_crepe.get_scene_embeddings(audio, hear_crepe.load_model(hop_ms=10)),
        rtol=0,
        atol=0,
    )
    with pytest.raises(ConfigError, match="medium"):
        hear_crepe.load_model(model="medium")
    for hop_ms in (0, -10, 0.03, 10.01):
        with pytest.raises(ConfigError, match="hop_ms"):
            hear_crepe.load_model(hop_ms=hop_ms)
    with pytest.raises(ConfigError, match="chunk_frames"):
        hear_crepe.load_model(chunk_frames=0)
    with pytest.raises(MusicTransferError, match="cannot load CREPE full"):
        hear_crepe.load_model(str(copy), model="full")  # tiny weights, full network
    with pytest.raises(MusicTransferError, match="cannot load"):
        hear_crepe.load_model(str(tmp_path / "missing.pth"))


def test_bad_audio_is_refused(model):
    with pytest.raises(ValueError, match="sound 1"):
        hear_crepe.get_scene_embeddings(torch.tensor([[0.0, 0.1], [float("nan"), 0.0]]), model)
    with pytest.raises(TypeError, match="float32"):
        hear_crepe.get_scene_embeddings(torch.zeros(1, 100, dtype=torch.float64), model)
    with pytest.raises(ValueError, match="2-D"):
        hear_crepe.get_timestamp_embeddings(torch.zeros(100), model)


def test_full_capacity_loads_and_tracks_pitch():
    full = hear_crepe.load_model(model="full", hop_ms=50)
    assert full.scene_embedding_size == full.timestamp_embedding_size == 2048
    layers = hear_crepe.get_layer_embeddings(sine(440.0, 0.35)[None], full)
    assert layers["embedding"].shape == (1, 8, 2048)
    assert layers["conv1"].shape == (1, 8, 1024)
    assert cents_off(layers["salience"][0], 440.0) < 10.0


def test_extract_representation_on_real_recordings(shared_audio, tmp_path):
    files = [shared_audio / name for name in RECORDINGS]
    out = tmp_path / "crepe.npz"
    emb = extract_representation(MODULE, files, out, options={"hop_ms": 50}, progress=False)
    with np.load(out) as data:
        assert data["features"].shape == (3, 256) and data["features"].dtype == np.float32
        assert np.isfinite(data["features"]).all()
        assert list(data["ids"]) == [str(f) for f in files]
        assert str(data["extractor"]) == MODULE
        assert json.loads(str(data["options"])) == {"hop_ms": 50}
        for name, d in TINY_DIMS.items():
            assert data[f"layer_{name}"].shape == (3, d)
            assert np.isfinite(data[f"layer_{name}"]).all()
        np.testing.assert_allclose(data["layer_embedding"], data["features"], rtol=1e-5, atol=1e-6)
    # The whole file, decoded at 16 kHz, straight through the module: the same numbers.
    model = hear_crepe.load_model(hop_ms=50)
    trumpet = torch.from_numpy(load_audio(files[0], sr=SR, duration=None))[None]
    direct = hear_crepe.get_scene_embeddings(trumpet, model)[0].numpy()
    np.testing.assert_allclose(emb.features[0], direct, rtol=1e-5, atol=1e-6)
    assert len({tuple(np.round(row, 4)) for row in emb.features}) == 3
