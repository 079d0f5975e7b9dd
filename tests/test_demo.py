"""The synthetic demo corpus: files, manifests, determinism, and learnable-but-not-trivial labels.

Learnability is checked with features computed here independently of the package
(librosa MFCC mean/std, RMS level) and plain scikit-learn classifiers.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from musictransfer import cli
from musictransfer.datasets import demo
from musictransfer.datasets.demo import dsp, plans, voices
from musictransfer.datasets.manifest import read_manifest, split_tags
from musictransfer.errors import ConfigError

SMALL = 12  # clips per dataset in the format/manifest tests

COLUMNS = {
    "demo_tags": ["id", "path", "tags", "split"],
    "dance": ["id", "path", "label"],
    "genre": ["id", "path", "label"],
    "speech_music": ["id", "path", "label"],
    "emotion": ["id", "path", "arousal", "valence"],
    "vocal": ["id", "path", "label", "split"],
    "sound_events": ["id", "path", "label", "fold", "recording"],
}
CLASSIFICATION = ("dance", "genre", "speech_music", "vocal", "sound_events")


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> dict[str, Path]:
    """Every dataset at SMALL clips: name -> manifest path."""
    root = tmp_path_factory.mktemp("demo")
    return {name: demo.generate_dataset(name, root / name, SMALL, seed=7) for name in COLUMNS}


def _digest(manifest: Path) -> dict[str, str]:
    frame = pd.read_csv(manifest)
    return {p: hashlib.sha256((manifest.parent / p).read_bytes()).hexdigest() for p in frame.path}


def test_every_configured_dataset_exists(repo):
    import yaml

    config = yaml.safe_load((repo / "config.yaml").read_text())
    assert set(config["experiments"]["demo"]["demo"]["n_clips"]) == set(demo.DATASETS)
    assert set(COLUMNS) == set(demo.DATASETS)


def test_unknown_name_raises_config_error_naming_valid_ones(tmp_path):
    with pytest.raises(ConfigError) as info:
        demo.generate_dataset("ballroom", tmp_path, 4, seed=0)
    assert "ballroom" in str(info.value)
    for name in demo.DATASETS:
        assert name in str(info.value)
    assert not (tmp_path / "manifest.csv").exists()


def test_non_positive_n_clips_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="n_clips"):
        demo.generate_dataset("dance", tmp_path, 0, seed=0)


def test_cli_reports_unknown_dataset(tmp_path, capsys):
    code = cli.main(["generate-demo", "nope", "--out-dir", str(tmp_path), "--n-clips", "2"])
    assert code == 2
    assert "unknown demo dataset 'nope'" in capsys.readouterr().err


def test_same_seed_same_bytes_other_seed_other_audio(tmp_path):
    a = demo.generate_dataset("sound_events", tmp_path / "a", 6, seed=3)
    b = demo.generate_dataset("sound_events", tmp_path / "b", 6, seed=3)
    c = demo.generate_dataset("sound_events", tmp_path / "c", 6, seed=4)
    assert a.read_bytes() == b.read_bytes()
    assert _digest(a) == _digest(b)
    hashes_a, hashes_c = _digest(a), _digest(c)
    assert all(hashes_a[p] != hashes_c[p] for p in hashes_a)


def test_datasets_get_different_streams(tmp_path):
    # Same seed, same kind of content (music of random genres): the name changes the stream.
    a = demo.generate_dataset("genre", tmp_path / "genre", 2, seed=1)
    b = demo.generate_dataset("vocal", tmp_path / "vocal", 2, seed=1)
    x, _ = sf.read(a.parent / "audio/genre_0000.wav")
    y, _ = sf.read(b.parent / "audio/vocal_0000.wav")
    n = min(len(x), len(y))
    assert not np.allclose(x[:n], y[:n])


@pytest.mark.parametrize("name", list(COLUMNS))
def test_manifest_columns_and_files(small, name):
    manifest = small[name]
    frame = read_manifest(manifest, required=COLUMNS[name])
    assert list(frame.columns) == COLUMNS[name]
    assert len(frame) == SMALL
    assert not any(Path(p).is_absolute() for p in frame.path)
    for i, rel in enumerate(frame.path):
        info = sf.info(manifest.parent / rel)
        assert (info.samplerate, info.channels) == demo.FILE_FORMATS[i % len(demo.FILE_FORMATS)]
        assert info.subtype == "PCM_16"
        assert info.format == "WAV"
    assert not list(manifest.parent.glob(".*")), "temporary files left behind"


def test_formats_mix_rates_and_channels(small):
    infos = [sf.info(small["dance"].parent / p) for p in pd.read_csv(small["dance"]).path]
    assert {i.samplerate for i in infos} == {22_050, 16_000}
    assert {i.channels for i in infos} == {1, 2}


def test_stereo_channels_differ_but_average_to_the_mix(small):
    frame = pd.read_csv(small["genre"])
    stereo = [p for p in frame.path if sf.info(small["genre"].parent / p).channels == 2]
    x, _ = sf.read(small["genre"].parent / stereo[0])
    assert not np.allclose(x[:, 0], x[:, 1], atol=1e-3)
    assert np.max(np.abs(x)) <= 1.0


def test_clip_durations(small):
    def durations(name):
        frame = pd.read_csv(small[name])
        return np.array([sf.info(small[name].parent / p).duration for p in frame.path])

    assert np.allclose(durations("demo_tags"), 10.0, atol=0.01)
    assert np.allclose(durations("dance"), 10.0, atol=0.01)
    vocal = durations("vocal")
    assert vocal.min() >= 3.0 - 0.01 and vocal.max() <= 10.0 + 0.01
    assert vocal.std() > 0.5
    events = durations("sound_events")
    assert events.min() >= 1.0 - 0.01 and events.max() <= 4.0 + 0.01


def test_signals_are_not_silent_or_clipped(small):
    for manifest in small.values():
        for p in pd.read_csv(manifest).path[:4]:
            x, _ = sf.read(manifest.parent / p)
            assert 0.05 < np.max(np.abs(x)) <= 1.0
            assert np.sqrt(np.mean(x**2)) > 1e-3


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_labels_are_balanced(small, name):
    counts = Counter(pd.read_csv(small[name]).label)
    assert max(counts.values()) - min(counts.values()) <= 1
    assert len(counts) == min(SMALL, {"dance": 6, "genre": 5, "speech_music": 2, "vocal": 2,
                                      "sound_events": 8}[name])  # fmt: skip


def test_emotion_targets_in_range_and_varied(small):
    frame = pd.read_csv(small["emotion"])
    for column in ("arousal", "valence"):
        assert frame[column].between(-1, 1).all()
        assert frame[column].std() > 0.1


def test_tags_are_one_to_four_from_the_vocabulary(small):
    frame = pd.read_csv(small["demo_tags"])
    for tags in split_tags(frame["tags"]):
        assert 1 <= len(tags) <= 4
        assert set(tags) <= set(plans.TAG_VOCABULARY)
        assert len(set(tags)) == len(tags)
    assert set(frame.split) == {"train", "valid", "test"}


def test_tag_splits_cover_every_tag_at_config_size():
    # Planning alone (no synthesis) decides labels and splits.
    clips = plans.plan_demo_tags(240, np.random.default_rng(0))
    frame = pd.DataFrame([c.labels for c in clips])
    assert 10 <= len(plans.TAG_VOCABULARY) <= 16
    fractions = frame.split.value_counts(normalize=True)
    assert fractions["train"] == pytest.approx(0.70, abs=0.03)
    assert fractions["valid"] == pytest.approx(0.15, abs=0.03)
    for split, part in frame.groupby("split"):
        present = {t for tags in split_tags(part["tags"]) for t in tags}
        assert present == set(plans.TAG_VOCABULARY), split


def test_vocal_split_is_stratified():
    clips = plans.plan_vocal(120, np.random.default_rng(0))
    frame = pd.DataFrame([c.labels for c in clips])
    table = pd.crosstab(frame.split, frame.label)
    assert (table > 0).all().all()
    assert table.loc["train"].sum() / len(frame) == pytest.approx(0.7, abs=0.03)


def test_sound_event_folds_hold_every_class():
    clips = plans.plan_sound_events(150, np.random.default_rng(0))
    frame = pd.DataFrame([c.labels for c in clips])
    assert set(frame.fold) == {1, 2, 3, 4, 5}
    assert (pd.crosstab(frame.fold, frame.label) > 0).sum().min() >= 4


def test_sound_event_recordings_share_a_fold():
    clips = plans.plan_sound_events(60, np.random.default_rng(0))
    frame = pd.DataFrame([c.labels for c in clips])
    per_recording = frame.groupby("recording")
    assert (per_recording.fold.nunique() == 1).all()
    assert (per_recording.label.nunique() == 1).all()
    assert per_recording.size().max() > 1  # some recordings gave several clips


def test_failure_leaves_no_manifest(tmp_path, monkeypatch):
    out = demo.generate_dataset("speech_music", tmp_path, 2, seed=0)
    assert out.exists()
    real_write = sf.write
    calls = []

    def failing_write(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(sf, "write", failing_write)
    with pytest.raises(OSError, match="disk full"):
        demo.generate_dataset("speech_music", tmp_path, 4, seed=1)
    assert not out.exists(), "a stale or partial manifest survived a failure"
    assert not list(tmp_path.rglob(".*.wav")), "temporary audio left behind"


# --- package layout ----------------------------------------------------------------------

LAYERS = ("dsp", "drums", "voices", "music", "styles", "events", "plans", "__init__")
"""The demo package's modules, lowest level first."""


def test_demo_modules_import_only_lower_levels():
    import ast

    package = Path(demo.__file__).parent
    assert {p.stem for p in package.glob("*.py")} == set(LAYERS)
    prefix = "musictransfer.datasets.demo."
    for level, name in enumerate(LAYERS):
        tree = ast.parse((package / f"{name}.py").read_text())
        imported = {
            node.module.removeprefix(prefix)
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(prefix)
        }
        assert imported <= set(LAYERS[:level]), (name, imported - set(LAYERS[:level]))


# --- synthesis primitives against librosa -------------------------------------------------


@pytest.mark.parametrize("freq", [82.4, 196.0, 523.3])
def test_karplus_strong_pluck_is_in_tune_and_darkens(freq):
    sr = 22_050
    y = dsp.pluck(freq, 1.5, sr, np.random.default_rng(0), brightness=0.8).astype(np.float32)
    f0 = librosa.yin(y[: sr // 2], fmin=50, fmax=2000, sr=sr)
    assert np.median(f0) == pytest.approx(freq, rel=0.01)
    early = librosa.feature.spectral_centroid(y=y[:4096], sr=sr).mean()
    late = librosa.feature.spectral_centroid(y=y[sr // 2 : sr // 2 + 4096], sr=sr).mean()
    assert late < early  # high harmonics die first


def test_harmonic_tone_pitch_matches_librosa():
    sr = 16_000
    y = dsp.harmonic_tone(261.6, 1.0, sr, decay=5).astype(np.float32)
    assert np.median(librosa.yin(y, fmin=60, fmax=1000, sr=sr)) == pytest.approx(261.6, rel=0.01)


def test_vowel_formants_shape_the_spectrum():
    # /i/ has a low F1 and a high F2; /a/ the opposite: compare energy in those bands.
    sr, rng = 22_050, np.random.default_rng(0)
    f0 = np.full(sr // 2, 120.0)
    spectra = {}
    for v in ("a", "i"):
        x = voices.voiced_segment(f0, v, sr, rng)
        spectrum = np.abs(np.fft.rfft(x))
        freqs = np.fft.rfftfreq(x.size, 1 / sr)
        spectra[v] = {
            "f1": spectrum[(freqs > 600) & (freqs < 900)].sum(),
            "f2": spectrum[(freqs > 2100) & (freqs < 2500)].sum(),
        }
    assert spectra["a"]["f1"] > spectra["i"]["f1"]
    assert spectra["i"]["f2"] > spectra["a"]["f2"]


# --- learnable, not trivial ----------------------------------------------------------------


def _features(manifest: Path) -> dict[str, np.ndarray]:
    """Independent features of every clip, computed with librosa at 12 kHz.

    ``mfcc``: MFCC mean/std and the std of their frame differences (timbre);
    ``rhythm``: the normalised autocorrelation of the onset-strength envelope over lags
    of 0.1-4.3 s (tempo and meter); ``level``: the log RMS level.
    """
    frame = pd.read_csv(manifest)
    out: dict[str, list] = {"mfcc": [], "rhythm": [], "level": []}
    for p in frame.path:
        y, _ = librosa.load(manifest.parent / p, sr=12_000)
        m = librosa.feature.mfcc(y=y, sr=12_000, n_mfcc=20)
        out["mfcc"].append(np.r_[m.mean(axis=1), m.std(axis=1), np.diff(m, axis=1).std(axis=1)])
        onsets = librosa.onset.onset_strength(y=y, sr=12_000)
        ac = librosa.autocorrelate(onsets - onsets.mean(), max_size=200)
        out["rhythm"].append(ac[5:200] / ac[0])
        out["level"].append([np.log(np.sqrt(np.mean(y**2)))])
    return {k: np.array(v) for k, v in out.items()} | {"labels": frame.label.to_numpy()}


def _accuracy(x: np.ndarray, y: np.ndarray) -> float:
    model = make_pipeline(StandardScaler(), SVC(kernel="linear", C=0.1))
    return float(cross_val_score(model, x, y, cv=StratifiedKFold(4)).mean())


@pytest.mark.parametrize(
    ("name", "n", "cue"),
    [
        ("dance", 48, "rhythm"),  # told apart by tempo and meter
        ("genre", 40, "mfcc"),  # told apart by instrumentation
    ],
)
def test_labels_learnable_but_not_by_level(tmp_path, name, n, cue):
    manifest = demo.generate_dataset(name, tmp_path, n, seed=2017)
    features = _features(manifest)
    labels = features["labels"]
    chance = 1 / len(set(labels))
    cue_acc, level_acc = _accuracy(features[cue], labels), _accuracy(features["level"], labels)
    assert cue_acc > chance + 0.3, (cue_acc, chance)
    assert cue_acc < 1.0, "the task is trivial"
    assert level_acc < cue_acc - 0.25, (level_acc, cue_acc)


def test_speech_and_music_are_separable(tmp_path):
    manifest = demo.generate_dataset("speech_music", tmp_path, 16, seed=2017)
    features = _features(manifest)
    assert _accuracy(features["mfcc"], features["labels"]) >= 0.9
