"""Audio decoding, resampling and tiling, against librosa as the reference."""

import numpy as np
import pytest
import soundfile as sf

from musictransfer.audio import load_audio, resample, tile_to_length
from musictransfer.constants import N_SAMPLES
from musictransfer.errors import AudioError


def _tone(sr: int, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    x = 0.5 * np.sin(2 * np.pi * 440 * t) * np.linspace(0.2, 1, t.size)
    return np.stack([x, 0.5 * x], axis=1)[:, :channels] if channels > 1 else x


@pytest.mark.parametrize(("sr", "channels"), [(22050, 1), (16000, 2), (12000, 1)])
def test_load_audio_matches_librosa(tmp_path, sr, channels):
    import librosa

    path = tmp_path / "x.wav"
    sf.write(path, _tone(sr, 3.0, channels), sr, subtype="FLOAT")
    ours = load_audio(path)
    ref, _ = librosa.load(path, sr=12000, duration=29)
    assert ours.dtype == np.float32
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_duration_cuts_first_seconds(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, _tone(12000, 31.0), 12000)
    assert load_audio(path).size == 29 * 12000
    assert load_audio(path, duration=None).size == 31 * 12000


def test_ogg_is_decoded(shared_audio):
    import librosa

    path = shared_audio / "sorohanro_-_solo-trumpet-06.ogg"
    ours = load_audio(path)
    ref, _ = librosa.load(path, sr=12000, duration=29)
    assert abs(ours.size - ref.size) <= 1
    n = min(ours.size, ref.size)
    np.testing.assert_allclose(ours[:n], ref[:n], atol=1e-4)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(AudioError, match=r"not found: .*nope.wav"):
        load_audio(tmp_path / "nope.wav")


def test_garbage_file_names_the_file(tmp_path):
    path = tmp_path / "bad.mp3"
    path.write_bytes(b"this is not audio" * 10)
    with pytest.raises(AudioError, match=r"bad.mp3"):
        load_audio(path)


def test_empty_file_names_the_file(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0), 12000)
    with pytest.raises(AudioError, match=r"empty.wav.*no samples"):
        load_audio(path)


def test_resample_identity_and_length():
    x = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    assert resample(x, 12000, 12000) is not None
    np.testing.assert_array_equal(resample(x, 12000, 12000), x)
    assert resample(x, 22050, 12000).size == 12000


def test_tile_to_length_repeats_short_clips():
    x = np.arange(5.0)
    y = tile_to_length(x, 12)
    np.testing.assert_array_equal(y, [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1])
    assert tile_to_length(np.ones(400_000)).size == N_SAMPLES
    assert tile_to_length(np.ones(7)).size == N_SAMPLES


def test_tile_rejects_empty():
    with pytest.raises(ValueError, match=r"non-empty"):
        tile_to_length(np.zeros(0), 10)
