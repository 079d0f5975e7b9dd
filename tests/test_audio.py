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


# --- questionable input (docs/audio.md) --------------------------------------


def _chop(path, n_bytes: int) -> None:
    """Cut the last ``n_bytes`` off a file, as an interrupted copy would."""
    data = path.read_bytes()
    path.write_bytes(data[:-n_bytes])


@pytest.mark.fault(
    item=9,
    case="a WAV whose header promises more data than the file holds",
    outcome="AudioError (exit 2) naming the file and the bytes promised and present",
)
@pytest.mark.parametrize(
    ("fmt", "subtype"), [("WAV", "PCM_16"), ("WAV", "FLOAT"), ("AIFF", "PCM_24")]
)
def test_truncated_file_is_an_error(tmp_path, fmt, subtype):
    path = tmp_path / f"cut.{fmt.lower()}"
    sf.write(path, _tone(16000, 2.0), 16000, format=fmt, subtype=subtype)
    full = path.stat().st_size
    load_audio(path)  # complete: fine
    _chop(path, full // 3)
    with pytest.raises(AudioError, match=rf"cut.{fmt.lower()} is truncated: .*promises"):
        load_audio(path)


def test_complete_files_with_chunks_after_the_data_and_streamed_headers_pass(tmp_path):
    path = tmp_path / "tagged.wav"
    with sf.SoundFile(path, "w", 16000, 1, subtype="PCM_16") as f:
        f.title = "a title in a LIST chunk after the data"
        f.write(_tone(16000, 1.0))
    assert load_audio(path).size == 12000
    # A WAV written to a pipe says "unknown length" (0xFFFFFFFF): not a truncated file.
    stream = tmp_path / "stream.wav"
    sf.write(stream, _tone(16000, 1.0), 16000, subtype="PCM_16")
    raw = bytearray(stream.read_bytes())
    at = raw.index(b"data")
    raw[at + 4 : at + 8] = (0xFFFFFFFF).to_bytes(4, "little")
    stream.write_bytes(bytes(raw))
    np.testing.assert_array_equal(load_audio(stream), load_audio(path))


def test_truncated_wav_fails_the_extract_command_with_exit_2(tmp_path, capsys):
    from musictransfer.cli import main
    from musictransfer.modelfile import save_random_convnet

    path = tmp_path / "cut.wav"
    sf.write(path, _tone(16000, 2.0), 16000)
    _chop(path, 1000)
    save_random_convnet(tmp_path / "random.pt")
    args = [
        "extract",
        str(path),
        "--model",
        str(tmp_path / "random.pt"),
        "-o",
        str(tmp_path / "f.npz"),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("musictransfer extract: error:") and f"{path} is truncated" in err
    assert not (tmp_path / "f.npz").exists()


@pytest.mark.fault(
    item=9,
    case="digital silence is decoded",
    outcome="one warning naming the file; an error (exit 2) where it would be tagged",
)
def test_silence_is_a_warning_once_or_an_error(tmp_path, caplog):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(16000), 16000)
    with caplog.at_level("WARNING", logger="musictransfer.audio"):
        first = load_audio(path)
        load_audio(path)  # read again (as two-pass extraction does): no second warning
    assert not first.any()
    assert [r.getMessage() for r in caplog.records] == [
        f"audio file {path} is silent (peak 0 in its first 29 s): its features are those of silence"
    ]
    with pytest.raises(AudioError, match=r"silence.wav is silent .*tags of silence"):
        load_audio(path, silence="error")
    # Dither alone (one 16-bit step) is silence too; a quiet recording is not.
    dither = tmp_path / "dither.wav"
    sf.write(dither, np.random.default_rng(0).integers(-1, 2, 16000).astype(np.int16), 16000)
    with pytest.raises(AudioError, match="is silent"):
        load_audio(dither, silence="error")
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, 1e-3 * _tone(16000, 1.0), 16000)
    caplog.clear()
    with caplog.at_level("WARNING", logger="musictransfer.audio"):
        load_audio(quiet, silence="error")
    assert not caplog.records


@pytest.mark.fault(
    item=9,
    case="float samples beyond full scale",
    outcome="up to 2.0: one warning naming the file and peak, clipped to [-1, 1]; beyond: error",
)
def test_float_samples_beyond_full_scale(tmp_path, caplog):
    x = _tone(12000, 2.0)
    x /= np.abs(x).max()  # peak 1.0
    hot = tmp_path / "hot.wav"
    sf.write(hot, 1.5 * x, 12000, subtype="FLOAT")
    with caplog.at_level("WARNING", logger="musictransfer.audio"):
        y = load_audio(hot)
    assert [r.getMessage() for r in caplog.records] == [
        f"audio file {hot} has float samples up to 1.5, beyond full scale (1.0): clipped to "
        "[-1, 1], as the 16-bit prepared store would"
    ]
    np.testing.assert_array_equal(y, np.clip(1.5 * x, -1, 1).astype(np.float32))
    wrong = tmp_path / "int-as-float.wav"
    sf.write(wrong, 32767 * x, 12000, subtype="FLOAT")
    with pytest.raises(
        AudioError, match=r"int-as-float.wav has float samples up to 32767.*wrongly"
    ):
        load_audio(wrong)
    # Within the tolerance, and any integer file, are read exactly as before.
    caplog.clear()
    edge = tmp_path / "edge.wav"
    sf.write(edge, 1.0005 * x, 12000, subtype="FLOAT")
    with caplog.at_level("WARNING", logger="musictransfer.audio"):
        np.testing.assert_array_equal(load_audio(edge), (1.0005 * x).astype(np.float32))
    assert not caplog.records


def test_lossy_overshoot_is_left_as_librosa_leaves_it(tmp_path, caplog):
    import librosa

    path = tmp_path / "loud.ogg"
    square = np.sign(np.sin(2 * np.pi * 220 * np.arange(24000) / 12000))
    sf.write(path, 0.999 * square, 12000, format="OGG", subtype="VORBIS")
    with caplog.at_level("WARNING", logger="musictransfer.audio"):
        ours = load_audio(path)
    assert not caplog.records
    assert np.abs(ours).max() > 1.0  # Vorbis overshoots full scale; nothing is clipped
    ref, _ = librosa.load(path, sr=12000, duration=29)
    np.testing.assert_allclose(ours[: ref.size], ref[: ours.size], atol=1e-5)
