"""The PyTorch port of the authors' Keras 1 / Theano / Kapre tagger (musictransfer.choi2017).

Every fact the port relies on is checked against something independent of it: the
stored arrays against textbook formulas and librosa, the front end against an FFT, the
convolutions against an impulse response, and the whole network against the NumPy
reference in tests/numpy_keras1.py (written from the Keras 1 / Kapre semantics).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from musictransfer import constants as c
from musictransfer.choi2017 import Statistics, extract, load_pretrained, tag_files, top_tags
from musictransfer.choi2017.weights import authors_weights_kind, import_paper_weights
from musictransfer.choi2017_network import Keras1BatchNorm
from musictransfer.datasets.paper import WEIGHTS_THEANO, url_of
from musictransfer.datasets.paper.fetch import fetch_released
from musictransfer.errors import DownloadError
from musictransfer.fetching import file_hash
from musictransfer.modelfile import (
    ARCH_CHOI2017,
    BN_BATCH,
    LEGACY_CHOI2017_FORMAT,
    MODEL_FORMAT_VERSION,
    read_model_file,
)

sys.path.insert(0, str(Path(__file__).parent))
import numpy_keras1 as ref_np

RTOL = 1e-4


@pytest.fixture(scope="module", autouse=True)
def _threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def weights_file(shared_paper: Path) -> Path:
    return shared_paper / "weights" / "weights_theano.hdf5"


@pytest.fixture(scope="module")
def raw(weights_file: Path) -> dict[str, np.ndarray]:
    return ref_np.read_weights(weights_file)


@pytest.fixture(scope="module")
def model(weights_file: Path) -> torch.nn.Module:
    return load_pretrained(weights=weights_file, bn_mode="batch", device="cpu")


@pytest.fixture(scope="module")
def recordings(shared_audio: Path) -> dict[str, np.ndarray]:
    """Every shared recording, first 29 s at 12 kHz tiled to 348,000 samples."""
    from musictransfer.audio import load_audio, tile_to_length

    paths = sorted(shared_audio.glob("*.ogg"))
    return {p.name: tile_to_length(load_audio(p)) for p in paths}


def _key(recordings: dict[str, np.ndarray], prefix: str) -> str:
    (name,) = [n for n in recordings if n.startswith(prefix)]
    return name


def _assert_close(actual: np.ndarray, expected: np.ndarray) -> float:
    """Relative agreement: max |a - e| / max |e| below RTOL, and elementwise rtol."""
    rel = float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))
    assert rel < RTOL
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=RTOL * 0.1)
    return rel


# --- the stored arrays -------------------------------------------------------------------------


def test_stored_dft_kernels_are_periodic_hann_dft(raw):
    n = np.arange(c.N_FFT)[:, None]
    k = np.arange(c.N_FFT // 2 + 1)[None, :]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(c.N_FFT) / c.N_FFT)
    angle = 2 * np.pi * k * n / c.N_FFT
    np.testing.assert_allclose(
        raw["melgram/param_0"][:, 0, 0], window[:, None] * np.cos(angle), atol=1e-6
    )
    np.testing.assert_allclose(
        raw["melgram/param_1"][:, 0, 0], window[:, None] * np.sin(angle), atol=1e-6
    )


def test_stored_filterbank_is_librosa_slaney_mel(raw):
    import librosa

    expected = librosa.filters.mel(
        sr=c.SAMPLE_RATE, n_fft=c.N_FFT, n_mels=c.N_MELS, fmin=c.F_MIN, fmax=c.F_MAX
    ).T
    np.testing.assert_allclose(raw["melgram/param_2"], expected, atol=1e-7)


def test_stored_running_statistics_are_unused_defaults(raw):
    for k in range(1, 6):
        assert np.all(raw[f"ConvBNEluDr/batchnormalization_{k}_running_mean"] == 0)
        assert np.all(raw[f"ConvBNEluDr/batchnormalization_{k}_running_std"] == 1)


# --- front end ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n_samples", [5000, 5120])
def test_kapre_framing_is_a_centred_stft_delayed_by_one_sample(model, raw, n_samples):
    """Theano's flipped, 'half'-padded, cropped conv = a centred STFT of x delayed 1 sample."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(n_samples)
    delayed = np.concatenate([[0.0], x])
    padded = np.pad(delayed, (c.N_FFT // 2, c.N_FFT))
    n_frames = -(-n_samples // c.HOP_LENGTH)  # Keras 'same': ceil(n / hop)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(c.N_FFT) / c.N_FFT)
    frames = np.stack(
        [padded[t * c.HOP_LENGTH : t * c.HOP_LENGTH + c.N_FFT] for t in range(n_frames)]
    )
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2  # (T, 257)
    mel_db = 10 * np.log10(np.maximum(power @ raw["melgram/param_2"], 1e-10)).T
    ours = model.frontend.decibels(torch.from_numpy(x[None]).float())[0, 0].numpy()
    assert ours.shape == (c.N_MELS, n_frames)
    np.testing.assert_allclose(ours, mel_db, atol=2e-3)
    # and NOT the undelayed STFT: the flip matters
    undelayed = np.pad(x, (c.N_FFT // 2, c.N_FFT))
    frames0 = np.stack(
        [undelayed[t * c.HOP_LENGTH : t * c.HOP_LENGTH + c.N_FFT] for t in range(n_frames)]
    )
    power0 = np.abs(np.fft.rfft(frames0 * window, axis=1)) ** 2
    mel0 = 10 * np.log10(np.maximum(power0 @ raw["melgram/param_2"], 1e-10)).T
    assert np.max(np.abs(ours - mel0)) > 0.1


def test_full_input_gives_1360_frames(model):
    out = model.frontend(torch.zeros(1, c.N_SAMPLES))
    assert out.shape == (1, 1, c.N_MELS, c.N_FRAMES)


def test_decibels_are_referenced_to_the_batch_maximum_and_floored(model):
    rng = np.random.default_rng(2)
    loud = rng.standard_normal(4096)
    quiet = 1e-3 * rng.standard_normal(4096)
    both = model.frontend(torch.from_numpy(np.stack([loud, quiet])).float())
    alone = model.frontend(torch.from_numpy(quiet[None]).float())
    assert float(both.max()) == 0.0 and float(both[0].max()) == 0.0
    assert float(both[1].max()) == pytest.approx(-60.0, abs=1.0)  # 1e-3 amplitude: -60 dB
    assert float(alone.max()) == 0.0  # alone, the quiet clip is its own reference
    assert float(both.min()) >= -c.DYNAMIC_RANGE_DB


# --- convolution, blocks, BN --------------------------------------------------------------------


def test_conv_is_a_true_convolution(model, raw):
    """An impulse's response is the stored kernel itself (not its mirror image)."""
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 4, 4] = 1.0
    conv = model.blocks[0].conv
    with torch.no_grad():
        y = (conv(x) - conv.bias[None, :, None, None])[0, :, 3:6, 3:6].numpy()
    np.testing.assert_allclose(y, raw["ConvBNEluDr/convolution2d_1_W"][:, 0], atol=1e-7)


def test_block_order_pools_and_elu(model):
    shapes = [(48, 340), (16, 85), (8, 17), (4, 4), (1, 1)]
    outs = model.block_outputs(torch.randn(2, c.N_SAMPLES) * 0.1)
    assert [tuple(o.shape[-2:]) for o in outs] == shapes
    assert [b.pool.kernel_size for b in model.blocks] == list(c.POOL_SIZES)
    for block in model.blocks:
        assert isinstance(block.act, torch.nn.ELU) and block.act.alpha == 1.0
        assert list(block.children()) == [block.conv, block.bn, block.act, block.pool]


def test_bn_mode2_normalises_with_the_current_batch():
    bn = Keras1BatchNorm(3)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
        bn.bias.copy_(torch.tensor([0.0, 1.0, -1.0]))
    x = torch.randn(4, 3, 5, 6, dtype=torch.float64).float() * 3 + 2
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = ((x - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)  # biased, as Theano
    expected = bn.weight[None, :, None, None] * (x - mean) / torch.sqrt(var + 1e-3)
    expected = expected + bn.bias[None, :, None, None]
    torch.testing.assert_close(bn(x), expected, rtol=1e-5, atol=1e-5)
    bn.eval()  # still batch statistics at inference (mode 2)
    torch.testing.assert_close(bn(x), expected, rtol=1e-5, atol=1e-5)
    assert bn.eps == c.BN_EPSILON == 1e-3


# --- whole network against the NumPy reference ------------------------------------------------


def test_port_matches_numpy_reference_on_random_audio_batch_mode(model, raw):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, c.N_SAMPLES)) * np.array([[0.3], [0.02]])
    ref = ref_np.forward(x, raw)
    feats, probs, _ = extract(model, lambda i: x[i], 2, "batch")
    _assert_close(feats, ref["features"])
    _assert_close(probs, ref["probs"])


@pytest.mark.slow  # the NumPy reference over four 29 s recordings, three modes
def test_port_matches_numpy_reference_on_real_audio_all_modes(model, raw, recordings):
    names = [_key(recordings, p) for p in ("sorohanro", "442789", "Karissa", "198-209")]
    x = np.stack([recordings[n] for n in names])
    # batch: one batch of the four
    ref = ref_np.forward(x, raw)
    feats, probs, _ = extract(model, lambda i: x[i], 4, "batch")
    _assert_close(feats, ref["features"])
    _assert_close(probs, ref["probs"])
    # batch mode with a batch larger than a chunk: streamed statistics, same result
    feats_chunked, _, _ = extract(model, lambda i: x[i], 4, "batch", chunk_size=3)
    _assert_close(feats_chunked, ref["features"])
    # dataset: statistics of the four, frozen; equal to the reference's batch statistics
    feats_ds, _, stats = extract(model, lambda i: x[i], 4, "dataset", chunk_size=3)
    assert stats.db_max == pytest.approx(ref["db_max"], rel=1e-6)
    _assert_close(stats.mean, ref["mean"])
    _assert_close(stats.var, ref["var"])
    _assert_close(feats_ds, ref["features"])
    # reference: shipped statistics applied to each clip, as the NumPy pass does with them
    shipped = Statistics.load()
    frozen = {"db_max": shipped.db_max, "mean": shipped.mean, "var": shipped.var}
    ref_frozen = ref_np.forward(x[:2], raw, frozen=frozen)
    feats_ref, probs_ref, _ = extract(model, lambda i: x[i], 2, "reference")
    _assert_close(feats_ref, ref_frozen["features"])
    _assert_close(probs_ref, ref_frozen["probs"])


# --- behaviour on real recordings ---------------------------------------------------------------


@pytest.fixture(scope="module")
def batch_of_all(model, recordings):
    names = list(recordings)
    x = np.stack([recordings[n] for n in names])
    feats, probs, _ = extract(model, lambda i: x[i], len(names), "batch")
    top = {n: [t for t, _ in top_tags(p, 3)] for n, p in zip(names, probs, strict=True)}
    return names, feats, probs, top


def test_tags_a_listener_would_accept(batch_of_all, recordings):
    _, _, _, top = batch_of_all
    assert "jazz" in top[_key(recordings, "sorohanro")]  # solo trumpet
    assert "jazz" in top[_key(recordings, "442789")]  # ragtime piano
    assert "instrumental" in top[_key(recordings, "442789")]
    for speech in ("198-209", "3436-172162"):  # read speech: the tagger's nearest is rap
        assert top[_key(recordings, speech)][0] == "Hip-Hop"
    assert {"ambient", "experimental", "electronic"} <= set(top[_key(recordings, "glacier")])
    assert top[_key(recordings, "Karissa")][:2] == ["rock", "pop"]  # a pop song


def test_features_finite_and_deterministic(batch_of_all, model, recordings):
    names, feats, _, _ = batch_of_all
    assert feats.shape == (len(names), c.FEATURE_DIM) and np.all(np.isfinite(feats))
    x = np.stack([recordings[n] for n in names])
    again, _, _ = extract(model, lambda i: x[i], len(names), "batch")
    np.testing.assert_array_equal(again, feats)


def test_shipped_reference_is_the_batch_of_all_recordings(batch_of_all, model, recordings):
    """The shipped statistics are those of the 14 shared recordings as one batch."""
    names, feats, _, _ = batch_of_all
    stats = Statistics.load()
    assert stats.n_clips == len(names)
    i = names.index(_key(recordings, "sorohanro"))
    alone, probs, _ = extract(model, lambda _: recordings[names[i]], 1, "reference")
    np.testing.assert_allclose(alone[0], feats[i], rtol=RTOL, atol=1e-5)
    assert "jazz" in [t for t, _ in top_tags(probs[0], 3)]


def test_batch_of_one_collapses_and_frozen_modes_do_not_depend_on_neighbours(model, recordings):
    trumpet = recordings[_key(recordings, "sorohanro")]
    other = recordings[_key(recordings, "Karissa")]
    _, probs_one, _ = extract(model, lambda _: trumpet, 1, "batch")
    assert "jazz" not in [t for t, _ in top_tags(probs_one[0], 3)]
    assert probs_one.max() < 0.3  # low-probability rock/pop, whatever the clip
    pair = [trumpet, other]
    with_neighbour, _, _ = extract(model, lambda i: pair[i], 2, "batch")
    alone, _, _ = extract(model, lambda _: trumpet, 1, "batch")
    assert np.max(np.abs(with_neighbour[0] - alone[0])) > 0.1
    ref_pair, _, _ = extract(model, lambda i: pair[i], 2, "reference")
    ref_alone, _, _ = extract(model, lambda _: trumpet, 1, "reference")
    np.testing.assert_allclose(ref_pair[0], ref_alone[0], rtol=1e-5, atol=1e-6)


# --- files, import, CLI ---------------------------------------------------------------------


def _assert_same_network(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (k, x), (j, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert k == j
        torch.testing.assert_close(x, y, equal_nan=True, msg=k, rtol=0, atol=0)


def test_import_paper_weights_round_trip(tmp_path, shared_paper, weights_file, model):
    out = import_paper_weights(tmp_path / "choi2017.pt", mirror=shared_paper)
    # A model file like the project's own networks, read by the one reader.
    payload = read_model_file(out)
    assert payload["format_version"] == MODEL_FORMAT_VERSION
    assert payload["architecture"] == ARCH_CHOI2017 and payload["bn_statistics"] == BN_BATCH
    assert payload["tags"] == list(c.MSD_TAGS)
    assert payload["meta"] == {
        "name": "choi2017",
        "source_url": url_of(WEIGHTS_THEANO),
        "source_sha256": file_hash(weights_file),
    }
    assert authors_weights_kind(out) == "the authors' network imported by import-paper-weights"
    again = load_pretrained(weights=out, bn_mode="batch", device="cpu")
    _assert_same_network(model, again)


def test_legacy_choi2017_file_loads_as_the_same_network(tmp_path, weights_file, model):
    """A choi2017.pt written before the single model-file format still loads, unchanged."""
    legacy = tmp_path / "choi2017.pt"
    torch.save(
        {
            "format": LEGACY_CHOI2017_FORMAT,
            "name": "choi2017",
            "source_url": url_of(WEIGHTS_THEANO),
            "source_sha256": file_hash(weights_file),
            "tags": list(c.MSD_TAGS),
            "state_dict": model.state_dict(),
        },
        legacy,
    )
    again = load_pretrained(weights=legacy, bn_mode="batch", device="cpu")
    _assert_same_network(model, again)
    payload = read_model_file(legacy)
    assert payload["architecture"] == ARCH_CHOI2017 and payload["bn_statistics"] == BN_BATCH
    assert payload["meta"]["source_sha256"] == file_hash(weights_file)
    assert authors_weights_kind(legacy) == "the authors' network imported by import-paper-weights"


def test_mirror_with_wrong_checksum_is_refused(tmp_path):
    bad = tmp_path / "weights" / "weights_theano.hdf5"
    bad.parent.mkdir()
    bad.write_bytes(b"not the weights")
    with pytest.raises(DownloadError, match="SHA-256"):
        fetch_released(WEIGHTS_THEANO, mirror=tmp_path)


def test_missing_weights_without_download_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("MUSICTRANSFER_MIRROR", raising=False)
    monkeypatch.delenv("MUSICTRANSFER_DATA_DIR", raising=False)
    monkeypatch.setattr("pooch.os_cache", lambda name: tmp_path)
    with pytest.raises(DownloadError, match="neither in the mirror"):
        load_pretrained(download=False)


@pytest.mark.slow  # two fresh processes load torch and the network
def test_cli_extract_and_tag(tmp_path, repo, shared_paper, shared_audio):
    files = [shared_audio / "sorohanro_-_solo-trumpet-06.ogg", shared_audio / "pibble.ogg"]
    env = {"PYTHONPATH": str(repo / "src"), "MUSICTRANSFER_MIRROR": str(shared_paper)}
    run = [sys.executable, "-m", "musictransfer"]
    out = tmp_path / "f.npz"
    subprocess.run(
        [*run, "extract", "--extractor", "choi2017", *map(str, files), "-o", str(out)],
        check=True,
        env=env,
        capture_output=True,
    )
    with np.load(out) as data:
        assert data["features"].shape == (2, c.FEATURE_DIM)
        assert list(data["ids"]) == [str(f) for f in files]
        assert str(data["bn_mode"]) == "reference" and str(data["extractor"]) == "choi2017"
    tagged = subprocess.run(
        [*run, "tag", "--top", "3", str(files[0])],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    assert tagged.stdout.splitlines()[0] == str(files[0])
    assert "jazz" in tagged.stdout.splitlines()[1]


@pytest.mark.fault(
    item=9,
    case="tagging digital silence or float samples far beyond full scale",
    outcome="exit 2 naming the file; a float file somewhat over full scale is clipped, warned",
)
def test_tag_refuses_silence_and_wrongly_scaled_files(
    tmp_path, weights_file, shared_audio, capsys, caplog
):
    import soundfile as sf

    from musictransfer.audio import load_audio
    from musictransfer.cli import main

    source = shared_audio / "sorohanro_-_solo-trumpet-06.ogg"
    x = load_audio(source, duration=10.0)  # 12 kHz: written at 12 kHz, nothing is resampled
    x = x / np.abs(x).max()
    sf.write(tmp_path / "silence.wav", np.zeros(12000), 12000)
    sf.write(tmp_path / "scaled.wav", 32767 * x, 12000, subtype="FLOAT")
    for name, message in [("silence.wav", "is silent"), ("scaled.wav", "wrongly scaled")]:
        args = ["tag", str(tmp_path / name), "--weights", str(weights_file)]
        assert main(args) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith(f"musictransfer tag: error: audio file {tmp_path / name}")
        assert message in captured.err
    # Somewhat over full scale: warned and clipped, so tagged like the clipped file.
    sf.write(tmp_path / "hot.wav", 1.6 * x, 12000, subtype="FLOAT")
    sf.write(tmp_path / "clipped.wav", np.clip(1.6 * x, -1, 1), 12000, subtype="FLOAT")
    with caplog.at_level("WARNING", logger="musictransfer.audio"):
        hot, clipped = tag_files(
            [tmp_path / "hot.wav", tmp_path / "clipped.wav"], weights=weights_file
        )
    assert hot == clipped
    assert [r.getMessage() for r in caplog.records] == [
        f"audio file {tmp_path / 'hot.wav'} has float samples up to 1.6, beyond full scale "
        "(1.0): clipped to [-1, 1], as the 16-bit prepared store would"
    ]


def test_the_documented_python_snippet_runs(shared_paper, shared_audio, monkeypatch, tmp_path):
    """docs/choi2017.md's snippet, run as written on a shared recording (`x` was undefined)."""
    import re

    text = (Path(__file__).resolve().parents[1] / "docs" / "choi2017.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.DOTALL).group(1)
    song = shared_audio / "Kevin_MacLeod_-_Vibe_Ace.ogg"
    code = code.replace('"song.mp3"', repr(str(song)))
    monkeypatch.setenv("MUSICTRANSFER_MIRROR", str(shared_paper))
    namespace: dict = {}
    exec(compile(code, "docs/choi2017.md", "exec"), namespace)
    assert tuple(namespace["features"].shape) == (1, 160)
    assert len(namespace["top"]) == 5 and namespace["top"][0][0] in namespace["MSD_TAGS"]
