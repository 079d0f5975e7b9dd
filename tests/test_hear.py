"""The HEAR 2021 modules (musictransfer.hear): the API, and the package's features through it.

The scene embedding of a sound must be the package's own feature of a file holding that
sound (to 1e-5 relative), under the same normalisation; the layer embeddings must average
to it; a sound's embeddings must not depend on its batch; and every rule of HEAR's
validator (hearvalidator 2021.0.2) must hold (:func:`_validate`, the same checks).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from musictransfer.audio import load_audio, tile_to_length
from musictransfer.choi2017 import extract
from musictransfer.choi2017.api import extract_files_choi2017
from musictransfer.choi2017.weights import import_paper_weights
from musictransfer.errors import ConfigError, MusicTransferError
from musictransfer.features import calibrate_batchnorm, extract_files
from musictransfer.hear import choi2017 as hear_choi2017
from musictransfer.hear import convnet as hear
from musictransfer.hear import random_convnet as hear_random
from musictransfer.hear import tagger as hear_tagger
from musictransfer.model import ConvNet, init_he_normal
from musictransfer.modelfile import BN_RUNNING, save_model, save_random_convnet

RTOL = 1e-5
SECONDS = 5
RECORDINGS = (
    "sorohanro_-_solo-trumpet-06.ogg",
    "Kevin_MacLeod_-_Vibe_Ace.ogg",
    "admiralbob77_-_Choice_-_Drum-bass.ogg",
)
HEAR_RATES = (16000, 22050, 32000, 44100, 48000)
"""Sample rates HEAR accepts (hearvalidator 2021.0.2 lists all but 32000)."""

MODULES = ("choi2017", "random", "tagger")


@pytest.fixture(scope="module", autouse=True)
def _threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def _read_16k(path: Path, seconds: float | None = None) -> np.ndarray:
    """A recording at 16 kHz, mono float32, as a HEAR task would hold it (soundfile + soxr)."""
    with sf.SoundFile(path) as f:
        frames = -1 if seconds is None else math.ceil(seconds * f.samplerate)
        data = f.read(frames=frames, dtype="float32", always_2d=True)
        rate = f.samplerate
    mono = data.mean(axis=1, dtype=np.float32)
    return soxr.resample(mono, rate, hear.HEAR_SAMPLE_RATE, quality="HQ").astype(np.float32)


@pytest.fixture(scope="module")
def sounds(shared_audio: Path) -> torch.Tensor:
    """The first 5 s of three recordings at 16 kHz: float32 (3, 80000), peaks below 1."""
    rows = []
    for name in RECORDINGS:
        x = _read_16k(shared_audio / name)[: SECONDS * hear.HEAR_SAMPLE_RATE]
        rows.append(x * min(1.0, 0.99 / float(np.abs(x).max())))  # no clipping by load_audio
    return torch.from_numpy(np.stack(rows))


@pytest.fixture(scope="module")
def wav_files(sounds: torch.Tensor, tmp_path_factory) -> list[Path]:
    """The same sounds as 16 kHz float WAV files, for the package's own extraction."""
    root = tmp_path_factory.mktemp("hear_wav")
    paths = []
    for k, row in enumerate(sounds.numpy()):
        path = root / f"sound{k}.wav"
        sf.write(path, row, hear.HEAR_SAMPLE_RATE, subtype="FLOAT")
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def random_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hear_models") / "random.pt"
    save_random_convnet(path, seed=0)
    return path


@pytest.fixture(scope="module")
def tagger_file(tmp_path_factory) -> Path:
    """A model file in a trained tagger's format: tags, running BatchNorm statistics.

    Training is not the point here: He-normal weights and statistics calibrated on noise
    give running statistics far from the identity, as training would.
    """
    model = init_he_normal(ConvNet(n_tags=4), seed=3)
    noise = torch.Generator().manual_seed(0)
    calibrate_batchnorm(model, [torch.rand(2, 348_000, generator=noise) * 0.5 - 0.25])
    path = tmp_path_factory.mktemp("hear_models") / "tagger-test.pt"
    save_model(path, model, ["a", "b", "c", "d"], BN_RUNNING, meta={"source": "test"})
    return path


@pytest.fixture(scope="module")
def choi2017_model(shared_paper: Path) -> hear.HearModel:
    return hear_choi2017.load_model(mirror=str(shared_paper))


@pytest.fixture(scope="module")
def models(choi2017_model, random_file, tagger_file, sounds) -> dict[str, hear.HearModel]:
    """One model per module, each batch-independent (the random one calibrated on ``sounds``)."""
    return {
        "choi2017": choi2017_model,
        "random": hear_random.load_model(str(random_file), calibration=sounds),
        "tagger": hear_tagger.load_model(str(tagger_file)),
    }


MODULE_OF: dict[str, ModuleType] = {
    "choi2017": hear_choi2017,
    "random": hear_random,
    "tagger": hear_tagger,
}


def _rel(actual: torch.Tensor | np.ndarray, expected: torch.Tensor | np.ndarray) -> float:
    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    return float(np.max(np.abs(a - e)) / np.max(np.abs(e)))


def _assert_close(actual, expected, rtol: float = RTOL) -> None:
    """Agreement to ``rtol`` of the largest value, and elementwise to ``rtol``.

    Elementwise, values near zero get an absolute floor of ``rtol / 10`` of the largest
    value: float32 sums of a few hundred terms of size ~10 differ by ~1e-6 with the order
    of summation (a batch of 1 and of 3 take different kernels on some CPUs: 3e-6 on an
    AMD EPYC for a value of 0.03 beside values of 10), which is not a batch dependence.
    """
    assert _rel(actual, expected) < rtol
    scale = float(np.max(np.abs(np.asarray(expected))))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * 0.1 * max(scale, 1.0))


# --- the API as HEAR's validator checks it ------------------------------------------------------


def _validate(module: ModuleType, model: hear.HearModel, n_sounds: int = 3) -> None:
    """hearvalidator 2021.0.2's rules, on fewer sounds (it uses 16 of 2 s and 8 of 3.74 s)."""
    assert isinstance(model, torch.nn.Module)
    assert model.sample_rate in HEAR_RATES
    assert isinstance(model.scene_embedding_size, int)
    assert isinstance(model.timestamp_embedding_size, int)
    noise = torch.Generator().manual_seed(1)
    audio = torch.rand((n_sounds, int(2.0 * model.sample_rate)), generator=noise) * 2 - 1
    embeddings, timestamps = module.get_timestamp_embeddings(audio, model)
    assert embeddings.dtype == torch.float32
    assert embeddings.shape[0] == n_sounds
    assert embeddings.shape[:2] == timestamps.shape
    assert embeddings.shape[2] == model.timestamp_embedding_size
    diff = torch.diff(timestamps)
    assert torch.all(torch.abs(diff - diff.float().mean()) < 1e-3)
    audio = torch.rand((n_sounds, int(3.74 * model.sample_rate)), generator=noise) * 2 - 1
    scene = module.get_scene_embeddings(audio, model)
    assert scene.dtype == torch.float32
    assert scene.shape == (n_sounds, model.scene_embedding_size)


@pytest.mark.parametrize("name", MODULES)
def test_module_passes_the_validators_rules(name, models):
    module, model = MODULE_OF[name], models[name]
    assert model.sample_rate == 16000
    assert model.scene_embedding_size == model.timestamp_embedding_size == 160
    _validate(module, model)


@pytest.mark.parametrize("name", MODULES)
def test_shapes_dtypes_and_timestamps(name, models, sounds):
    module, model = MODULE_OF[name], models[name]
    audio = sounds[:2, : 16000 * 3]
    embeddings, timestamps = module.get_timestamp_embeddings(audio, model)
    n_frames = math.ceil(3 * audio.shape[1] / 4096)  # frames starting within the sound
    assert embeddings.shape == (2, n_frames, 160) and embeddings.dtype == torch.float32
    assert timestamps.shape == (2, n_frames) and timestamps.dtype == torch.float32
    expected = 32.0 + np.arange(n_frames) * 1024 / 12.0  # first-layer frame centres, ms
    np.testing.assert_allclose(timestamps[1].numpy(), expected, rtol=1e-6)
    assert torch.isfinite(embeddings).all()
    layers = module.get_layer_embeddings(audio, model)
    assert list(layers) == ["1", "2", "3", "4", "5"]
    assert [tuple(v.shape) for v in layers.values()] == [(2, t, 32) for t in (340, 85, 17, 4, 1)]
    assert all(v.dtype == torch.float32 for v in layers.values())


# --- the package's feature ------------------------------------------------------------------


def test_resampling_is_the_packages_path_bit_for_bit(sounds, wav_files):
    """network_clips of a 16 kHz sound = load_audio + tile_to_length of its 16 kHz file."""
    clips = hear.network_clips(sounds)
    for row, path in zip(clips, wav_files, strict=True):
        np.testing.assert_array_equal(row, tile_to_length(load_audio(path)))


def test_choi2017_scene_embedding_is_the_packages_feature(
    models, sounds, wav_files, shared_paper, tmp_path
):
    """``extract --extractor choi2017`` of the files, under the same (reference) statistics."""
    out = tmp_path / "choi2017.npz"
    extract_files_choi2017(wav_files, out, bn_mode="reference", mirror=shared_paper)
    expected = np.load(out)["features"]
    _assert_close(hear_choi2017.get_scene_embeddings(sounds, models["choi2017"]), expected)


@pytest.mark.parametrize("name", ["random", "tagger"])
def test_convnet_scene_embedding_is_the_packages_feature(
    name, models, sounds, wav_files, random_file, tagger_file, tmp_path
):
    """``extract --model`` of the files: the random one calibrates on the same sounds."""
    out = tmp_path / "features.npz"
    path = random_file if name == "random" else tagger_file
    extract_files(path, wav_files, out, batch_size=3, progress=False)
    expected = np.load(out)["features"]
    _assert_close(MODULE_OF[name].get_scene_embeddings(sounds, models[name]), expected)


def test_double_resampling_stays_close_to_the_packages_direct_path(shared_audio, choi2017_model):
    """A recording resampled to 16 kHz, then 12 kHz, against the package's one step.

    The two soxr paths differ by up to ~1e-3 of the waveform; the features by under 2e-3
    of their largest value (measured: 1e-4 to 5e-4 on these recordings).
    """
    name = RECORDINGS[1]
    audio = torch.from_numpy(_read_16k(shared_audio / name, seconds=29)[None])
    embedding = hear_choi2017.get_scene_embeddings(audio, choi2017_model)[0].numpy()
    clip = tile_to_length(load_audio(shared_audio / name))
    direct, _, _ = extract(choi2017_model.network, lambda i: clip, 1, "reference")
    assert _rel(embedding, direct[0]) < 2e-3


def test_a_choi2017_pt_file_gives_the_same_embeddings(shared_paper, sounds, models, tmp_path):
    path = import_paper_weights(tmp_path / "choi2017.pt", mirror=shared_paper)
    model = hear_choi2017.load_model(str(path))
    expected = hear_choi2017.get_scene_embeddings(sounds[:1], models["choi2017"])
    _assert_close(hear_choi2017.get_scene_embeddings(sounds[:1], model), expected)


# --- layer embeddings, batches, long sounds ------------------------------------------------------


@pytest.mark.parametrize("name", MODULES)
def test_layer_embeddings_average_to_the_scene_embedding(name, models, sounds):
    module, model = MODULE_OF[name], models[name]
    layers = module.get_layer_embeddings(sounds, model)
    averaged = torch.cat([layers[k].mean(dim=1) for k in hear.LAYER_NAMES], dim=1)
    scene = module.get_scene_embeddings(sounds, model)
    assert _rel(averaged, scene) < 1e-6  # float32 rounding of the two orders of averaging


@pytest.mark.parametrize("name", MODULES)
def test_a_sound_does_not_depend_on_its_batch(name, models, sounds):
    module, model = MODULE_OF[name], models[name]
    together = module.get_scene_embeddings(sounds, model)
    alone = torch.cat([module.get_scene_embeddings(sounds[k : k + 1], model) for k in range(3)])
    _assert_close(alone, together)
    short = sounds[:, :16000]
    together_t, _ = module.get_timestamp_embeddings(short, model)
    alone_t, _ = module.get_timestamp_embeddings(short[2:], model)
    _assert_close(alone_t[0], together_t[2])


def test_batch_mode_is_the_packages_batch_mode(shared_paper, sounds):
    """``bn_mode="batch"``: a call is one Keras batch, as ``extract(..., "batch")``."""
    model = hear_choi2017.load_model(bn_mode="batch", mirror=str(shared_paper))
    clips = hear.network_clips(sounds)
    expected, _, _ = extract(model.network, lambda i: clips[i], 3, "batch", batch_size=3)
    together = hear_choi2017.get_scene_embeddings(sounds, model)
    assert _rel(together, expected) < 1e-4  # float64 vs float32 moments
    alone = hear_choi2017.get_scene_embeddings(sounds[:1], model)
    assert _rel(alone[0], together[0]) > 1e-2  # the batch matters, as it did for the authors


def test_long_sound_windows_continue_the_frame_grid(models, shared_audio):
    """A 40 s sound: window 1 is the sound from 28.93 s on, its frames on the same grid."""
    model = models["choi2017"]
    audio = torch.from_numpy(_read_16k(shared_audio / RECORDINGS[1], seconds=40)[None])
    audio = audio[:, : 40 * 16000]
    embeddings, timestamps = hear_choi2017.get_timestamp_embeddings(audio, model)
    n_frames = math.ceil(3 * audio.shape[1] / 4096)
    assert embeddings.shape == (1, n_frames, 160) and n_frames > hear.FRAMES_PER_WINDOW
    diff = torch.diff(timestamps.double())
    assert torch.all(torch.abs(diff - 1024 / 12) < 1e-2)
    first = hear_choi2017.get_layer_embeddings(audio, model)["1"]
    _assert_close(embeddings[0, : hear.FRAMES_PER_WINDOW, :32], first[0, : hear.FRAMES_PER_WINDOW])
    start = hear.WINDOW_HOP * 4 // 3  # 462,848 samples at 16 kHz
    rest, _ = hear_choi2017.get_timestamp_embeddings(audio[:, start:], model)
    _assert_close(embeddings[0, hear.FRAMES_PER_WINDOW :], rest[0])


# --- inputs and options -------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_sample_names_its_sound(models, bad):
    audio = torch.zeros(3, 8000)
    audio[1, 100] = bad
    with pytest.raises(ValueError, match="sound 1 of the batch"):
        hear_choi2017.get_scene_embeddings(audio, models["choi2017"])
    with pytest.raises(ValueError, match="sound 1 of the batch"):
        hear_choi2017.get_timestamp_embeddings(audio, models["choi2017"])


def test_inputs_outside_the_contract_are_refused(models):
    model = models["choi2017"]
    with pytest.raises(TypeError, match="float32"):
        hear_choi2017.get_scene_embeddings(torch.zeros(2, 8000, dtype=torch.float64), model)
    with pytest.raises(ValueError, match="2-D"):
        hear_choi2017.get_scene_embeddings(torch.zeros(8000), model)
    with pytest.raises(ValueError, match="no sound or no sample"):
        hear_choi2017.get_scene_embeddings(torch.zeros(2, 0), model)


def test_the_random_convnet_calibrates_on_its_first_call(random_file, sounds, caplog, tmp_path):
    """Without calibration sounds, the first call's; then frozen, and savable."""
    lazy = hear_random.load_model(str(random_file))
    with caplog.at_level(logging.WARNING, logger="musictransfer.hear.random_convnet"):
        first = hear_random.get_scene_embeddings(sounds, lazy)
    assert "first call" in caplog.text
    assert not lazy.needs_calibration
    given = hear_random.load_model(str(random_file), calibration=sounds)
    _assert_close(first, hear_random.get_scene_embeddings(sounds, given))
    saved = tmp_path / "random-calibrated.pt"
    hear_random.save_calibrated(lazy, saved)
    reloaded = hear_random.load_model(str(saved))
    assert not reloaded.needs_calibration
    _assert_close(hear_random.get_scene_embeddings(sounds[:1], reloaded), first[:1])
    with pytest.raises(ValueError, match="only a 'calibrate' file"):
        hear_random.load_model(str(saved), calibration=sounds)


def test_the_default_random_convnet_is_random_convnet_seed_0(random_file, sounds):
    default = hear_random.load_model(calibration=sounds[:2])
    from_file = hear_random.load_model(str(random_file), calibration=sounds[:2])
    for a, b in zip(default.state_dict().values(), from_file.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_calibration_from_files_is_the_same(random_file, sounds, wav_files):
    from_files = hear_random.load_model(str(random_file), calibration=wav_files)
    from_tensor = hear_random.load_model(str(random_file), calibration=sounds)
    for a, b in zip(
        from_files.state_dict().values(), from_tensor.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)


def test_wrong_files_and_options_are_refused(shared_paper, random_file, tmp_path):
    with pytest.raises(MusicTransferError, match="needs a model file"):
        hear_tagger.load_model()
    with pytest.raises(MusicTransferError, match="not a trained tagger"):
        hear_tagger.load_model(str(random_file))
    with pytest.raises(ConfigError, match="bn_mode"):
        hear_choi2017.load_model(bn_mode="dataset", mirror=str(shared_paper))
    with pytest.raises(ConfigError, match="frozen statistics"):
        hear_choi2017.load_model(bn_mode="batch", statistics="x.json", mirror=str(shared_paper))
    choi = import_paper_weights(tmp_path / "choi2017.pt", mirror=shared_paper)
    with pytest.raises(MusicTransferError, match=r"hear\.choi2017"):
        hear_random.load_model(str(choi))
