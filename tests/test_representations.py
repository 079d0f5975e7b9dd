"""Any HEAR 2021 module on audio files: ``extract --representation`` and its Python API.

The toy module (tests/hear_toy.py) is a fixed random projection of a spectrogram; it
checks the plumbing: whole clips at the module's rate, rows in the order of the inputs,
clips of one length batched together, every output checked. The authors' network through
its own HEAR module checks the numbers against the package's own extraction.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

import hear_toy
from musictransfer import clip_sources
from musictransfer.audio import load_audio
from musictransfer.cli import main
from musictransfer.errors import ConfigError
from musictransfer.representations import embed_files, load_representation

REPO = Path(__file__).resolve().parents[1]


def _write(
    path: Path,
    seconds: float,
    rate: int,
    freq: float = 440.0,
    amp: float = 0.5,
    channels: int = 1,
    change_at: float | None = None,
) -> Path:
    """A tone with a little noise; from ``change_at`` s on, a tone an octave up."""
    t = np.arange(round(seconds * rate)) / rate
    f = np.where(t < (change_at or seconds), freq, 2 * freq)
    noise = np.random.default_rng(int(freq)).standard_normal((t.size, channels))
    x = amp * (0.9 * np.sin(2 * np.pi * f * t)[:, None] + 0.1 * noise)
    sf.write(path, x, rate)
    return path


def _alone(model, path: Path, rate: int = 16000, **load) -> np.ndarray:
    """The toy's scene embedding of one file decoded here, in a batch of its own."""
    audio = torch.from_numpy(load_audio(path, rate, **load)[None])
    return hear_toy.get_scene_embeddings(audio, model)[0].numpy()


@pytest.fixture
def clips(tmp_path) -> list[Path]:
    """Four 16 kHz files: lengths 1, 2, 1 and 2 s."""
    return [_write(tmp_path / f"c{k}.wav", 1 + k % 2, 16000, 200 + 100 * k) for k in range(4)]


def test_extract_of_whole_clips_at_any_rate(tmp_path, capsys):
    files = [
        _write(tmp_path / "short.wav", 2.0, 16000),
        _write(tmp_path / "stereo.flac", 3.0, 44100, channels=2, freq=330),
        _write(tmp_path / "long.wav", 35.0, 22050, freq=220, change_at=30.0),
    ]
    out = tmp_path / "out.npz"
    args = ["extract", "--representation", "hear_toy", *map(str, files), "-o", str(out)]
    assert main(args) == 0
    assert capsys.readouterr().out == f"wrote 3 clips x 16 and 2 layers' averages to {out}\n"
    with np.load(out) as data:
        assert list(data["ids"]) == [str(f) for f in files]
        assert str(data["extractor"]) == "hear_toy"
        assert json.loads(str(data["provenance"]))
        assert int(data["sample_rate"]) == 16000
        features, frames, second = data["features"], data["layer_frames"], data["layer_second"]
    assert features.dtype == np.float32 and features.shape == (3, 16)
    model = hear_toy.load_model()
    expected = [_alone(model, f, duration=None) for f in files]
    np.testing.assert_allclose(features, np.stack(expected), rtol=1e-5, atol=1e-7)
    # The long clip whole: 35 s, not its first 29 s.
    assert load_audio(files[2], 16000, duration=None).size == 35 * 16000
    assert np.abs(features[2] - _alone(model, files[2], duration=29)).max() > 1e-3
    # The toy's scene embedding is its first layer's average.
    np.testing.assert_allclose(frames, features, rtol=1e-5, atol=1e-7)
    assert second.shape == (3, 8) and second.dtype == np.float32


@pytest.mark.parametrize("max_waiting", [None, 1])
def test_equal_lengths_share_a_batch_and_rows_follow_the_inputs(clips, monkeypatch, max_waiting):
    """Batches of 2 of equal length, or one clip at a time when no memory may wait."""
    if max_waiting is not None:
        monkeypatch.setattr(clip_sources, "MAX_WAITING_SAMPLES", max_waiting)
    files = [*clips, clips[0].with_name("c4.wav")]
    _write(files[4], 1, 16000, 700)  # lengths 1, 2, 1, 2, 1 s
    rep = load_representation("hear_toy")
    hear_toy.CALLS.clear()
    emb = embed_files(rep, files, batch_size=2)
    shapes = [shape for _, shape in hear_toy.CALLS]
    if max_waiting is None:
        assert shapes == [(2, 16000), (2, 32000), (1, 16000)]
    else:
        assert shapes == [(1, 16000), (1, 32000), (1, 16000), (1, 32000), (1, 16000)]
    assert emb.ids == [str(f) for f in files]
    expected = np.stack([_alone(rep.model, f, duration=None) for f in files])
    np.testing.assert_allclose(emb.features, expected, rtol=1e-5, atol=1e-7)
    backwards = embed_files(rep, files[::-1], batch_size=2)
    np.testing.assert_allclose(backwards.features, expected[::-1], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("output", ["numpy", "tensorish", "float64", "list"])
def test_numpy_tensorflow_like_float64_and_list_outputs(clips, output):
    expected = embed_files(load_representation("hear_toy"), clips, layers=True)
    rep = load_representation("hear_toy", options={"output": output})
    emb = embed_files(rep, clips, layers=True)
    assert emb.features.dtype == np.float32
    np.testing.assert_allclose(emb.features, expected.features, rtol=1e-6)
    assert emb.layers.keys() == expected.layers.keys() == {"frames", "second"}
    for name, values in emb.layers.items():
        np.testing.assert_allclose(values, expected.layers[name], rtol=1e-6)


def test_any_integer_rate_and_the_model_file(tmp_path):
    """12 kHz (HEAR's validator would refuse it), given as a float; the file goes first."""
    rep = load_representation("hear_toy", "weights.bin", {"sample_rate": 12000.0})
    assert rep.sample_rate == 12000 and type(rep.sample_rate) is int
    assert rep.model.model_file == "weights.bin"
    assert rep.device == ("cuda" if torch.cuda.is_available() else "cpu")
    path = _write(tmp_path / "a.wav", 1.0, 22050)
    emb = embed_files(rep, [path])
    np.testing.assert_allclose(emb.features[0], _alone(rep.model, path, 12000), rtol=1e-5)


def test_a_nan_embedding_stops_the_run_naming_its_file(tmp_path, capsys):
    loud = _write(tmp_path / "loud.wav", 1.0, 16000)
    quiet = _write(tmp_path / "quiet.wav", 1.0, 16000, amp=0.001)  # not silent: -60 dBFS
    out = tmp_path / "out.npz"
    options = json.dumps({"nan_below": 0.01})
    args = ["extract", "--representation", "hear_toy", "--options", options, "-o", str(out)]
    assert main([*args, str(loud), str(quiet)]) == 2
    err = capsys.readouterr().err
    assert f"scene embeddings of hear_toy of {quiet} are not finite" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_without_layers(clips, tmp_path, monkeypatch, capsys):
    """A module without get_layer_embeddings, or --no-layers: the scene embedding only."""
    out = tmp_path / "out.npz"
    args = ["extract", "--representation", "hear_toy", *map(str, clips), "-o", str(out)]
    more = ["--model-file", "toy.bin", "--options", '{"output": "numpy"}', "--batch-size", "3"]
    assert main([*args, *more, "--no-layers"]) == 0
    assert capsys.readouterr().out == f"wrote 4 clips x 16 to {out}\n"
    with np.load(out) as data:
        assert not [k for k in data.files if k.startswith("layer_")]
        assert str(data["model_file"]) == "toy.bin" and int(data["batch_size"]) == 3
        assert json.loads(str(data["options"])) == {"output": "numpy"}
    monkeypatch.delattr(hear_toy, "get_layer_embeddings")
    assert main(args) == 0
    assert capsys.readouterr().out == f"wrote 4 clips x 16 to {out}\n"
    rep = load_representation("hear_toy")
    with pytest.raises(ConfigError, match="hear_toy has no get_layer_embeddings"):
        embed_files(rep, clips, layers=True)


BAD_CALLS = {
    "not importable": (["--representation", "no_such_module_xyz"], "cannot import repr"),
    "not a HEAR module": (
        ["--representation", "json"],
        "json is not a HEAR module: it has no load_model and no get_scene_embeddings",
    ),
    "a file path": (["--representation", "hear_toy.py"], "is not a module's dotted name"),
    "an unknown option": (
        ["--representation", "hear_toy", "--options", '{"colour": 1}'],
        "hear_toy.load_model does not take these arguments",
    ),
    "a fractional rate": (
        ["--representation", "hear_toy", "--options", '{"sample_rate": 22050.5}'],
        "has sample_rate 22050.5: expected a positive integer",
    ),
    "no rate": (
        ["--representation", "hear_toy", "--options", '{"sample_rate": 0}'],
        "has sample_rate 0: expected a positive integer",
    ),
    "the wrong size": (
        ["--representation", "hear_toy", "--options", '{"scene_embedding_size": 15}'],
        "are float32 of shape (1, 16): expected real numbers of shape (1, 15)",
    ),
    "with --model": (
        ["--representation", "hear_toy", "--model", "tagger.pt"],
        "--representation runs a HEAR module: it does not go with --model",
    ),
    "with --extractor": (
        ["--representation", "hear_toy", "--extractor", "choi2017"],
        "it does not go with --extractor",
    ),
    "--options alone": (
        ["--options", "{}"],
        "--options is for the HEAR module of --representation",
    ),
    "a file twice": (["--representation", "hear_toy", "TWICE"], "is given twice (inputs 1 and 2)"),
}


@pytest.mark.parametrize("case", BAD_CALLS)
def test_user_errors_are_one_line_and_exit_2(case, tmp_path, capsys):
    args, message = BAD_CALLS[case]
    path = str(_write(tmp_path / "a.wav", 1.0, 16000))
    args = [path if a == "TWICE" else a for a in args]
    out = tmp_path / "out.npz"
    assert main(["extract", *args, path, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("musictransfer extract: error: ")
    assert message in err.splitlines()[0]
    assert len(err.splitlines()) <= 2 and "Traceback" not in err  # the message and its hint
    assert not out.exists()


def test_the_command_line_names_a_module_it_cannot_import(tmp_path):
    path = _write(tmp_path / "a.wav", 1.0, 16000)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO / "tests")])}
    out = subprocess.run(
        [sys.executable, "-m", "musictransfer", "extract", "--representation", "my_pkg.hear",
         str(path), "-o", str(tmp_path / "out.npz")],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        "musictransfer extract: error: cannot import representation module my_pkg.hear: "
        "No module named 'my_pkg'",
        f"  -> install it in this Python ({sys.executable}), or add its folder to PYTHONPATH",
    ]


SHORT_RECORDINGS = ("456440__inspectorj__bird-whistling-robin-single-13.ogg", "198-209-0000.ogg")
"""Recordings of 2.7 and 13.9 s: under the 29 s that the authors' network takes."""


def test_the_authors_network_as_a_hear_module_gives_the_packages_feature(
    shared_audio, shared_paper, tmp_path
):
    """``--representation musictransfer.hear.choi2017`` = ``--extractor choi2017``.

    Exactly (1e-5) on 16 kHz files, the module's rate; on the 22.05 kHz recordings
    themselves to 2e-3, the two resampling paths' difference (tests/test_hear.py).
    """
    wavs = []
    for name in SHORT_RECORDINGS:
        x, rate = sf.read(shared_audio / name, dtype="float32")
        x = soxr.resample(x, rate, 16000, quality="HQ")
        wavs.append(tmp_path / f"{Path(name).stem}.wav")
        sf.write(wavs[-1], x * min(1.0, 0.99 / np.abs(x).max()), 16000, subtype="FLOAT")
    oggs = [shared_audio / name for name in SHORT_RECORDINGS]
    options = json.dumps({"mirror": str(shared_paper)})
    for files, rtol in ((wavs, 1e-5), (oggs, 2e-3)):
        inputs = [str(f) for f in files]
        ours, theirs = tmp_path / "ours.npz", tmp_path / "theirs.npz"
        module = "musictransfer.hear.choi2017"
        assert main(["extract", "--representation", module, "--options", options, *inputs,
                     "-o", str(ours)]) == 0  # fmt: skip
        assert main(["extract", "--extractor", "choi2017", "--mirror", str(shared_paper),
                     *inputs, "-o", str(theirs)]) == 0  # fmt: skip
        with np.load(ours) as a, np.load(theirs) as b:
            assert list(a["ids"]) == list(b["ids"]) == inputs
            scale = np.abs(b["features"]).max()
            np.testing.assert_allclose(a["features"], b["features"], atol=rtol * scale)
            layers = np.hstack([a[f"layer_{k}"] for k in "12345"])
            np.testing.assert_allclose(layers, a["features"], atol=1e-5 * scale)


def _manifest(tmp_path: Path, files: list[Path]) -> Path:
    rows = "\n".join(f"{f.stem},{f.name}" for f in files)
    (tmp_path / "m.csv").write_text(f"id,path\n{rows}\n")
    return tmp_path / "m.csv"


def test_a_dataset_decoded_once_gives_the_same_features_as_each_job_decoding(tmp_path, capsys):
    """`prepare --whole` at the module's rate, then `extract --decoded`: identical numbers."""
    files = [_write(tmp_path / f"d{k}.wav", 1.5 + k / 3, 22050, 300 + 50 * k) for k in range(3)]
    manifest = _manifest(tmp_path, files)
    assert main(["prepare", str(manifest), "--out-dir", str(tmp_path / "16k"),
                 "--sample-rate", "16000", "--whole"]) == 0  # fmt: skip
    common = ["extract", "--representation", "hear_toy", "--features-of", str(manifest)]
    assert main([*common, "-o", str(tmp_path / "own.npz")]) == 0
    assert (
        main([*common, "--decoded", str(tmp_path / "16k"), "-o", str(tmp_path / "shared.npz")]) == 0
    )
    with np.load(tmp_path / "own.npz") as own, np.load(tmp_path / "shared.npz") as shared:
        assert own["features"].shape == (3, 16)
        assert np.array_equal(own["features"], shared["features"])
        assert np.array_equal(own["layer_frames"], shared["layer_frames"])
    # A store at another rate, or of other clips, never reaches the module.
    slow = [*common, "--options", '{"sample_rate": 22050}', "--decoded", str(tmp_path / "16k")]
    assert main([*slow, "-o", str(tmp_path / "x.npz")]) == 2
    assert "hear_toy runs at 22050 Hz, but the decoded audio" in capsys.readouterr().err
    other = _manifest(tmp_path, files[::-1])
    args = ["extract", "--representation", "hear_toy", "--features-of", str(other)]
    assert main([*args, "--decoded", str(tmp_path / "16k"), "-o", str(tmp_path / "x.npz")]) == 2
    assert "does not hold the clips asked for (first difference at row 1 of 3)" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "x.npz").exists()
