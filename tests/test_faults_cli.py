"""Command-line faults: one line and exit 2 for user errors, validated options, --debug.

The bad inputs (a junk model file, an HDF5 file that looks like the authors' weights) are
made in ``tmp_path``; none of these tests needs the real weights or runs a network.
"""

import errno
import os

import h5py
import numpy as np
import pytest
import torch

from musictransfer import cli
from musictransfer.cli import main
from musictransfer.errors import MusicTransferError


def error_of(capsys):
    """stderr of the last command, checked to be a message rather than a traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


# --- item 6: lists of audio files ---------------------------------------------------------------


@pytest.mark.fault(
    item=6,
    case="a .txt list of audio files that does not exist, or is a directory",
    outcome="exit 2: 'cannot read the list of audio files PATH: No such file or directory'",
)
@pytest.mark.parametrize("command", ["tag", "extract", "choi2017-stats"])
def test_missing_or_directory_txt_list(tmp_path, capsys, command):
    (tmp_path / "dir.txt").mkdir()
    out = ["-o", str(tmp_path / "o.npz")] if command == "extract" else []
    if command == "extract":
        out += ["--extractor", "choi2017"]
    elif command == "choi2017-stats":
        out = ["-o", str(tmp_path / "o.json")]
    for name, reason in (("nope.txt", "No such file or directory"), ("dir.txt", "Is a directory")):
        path = tmp_path / name
        assert main([command, str(path), *out]) == 2
        err = error_of(capsys)
        assert f"cannot read the list of audio files {path}: {reason}" in err
        assert "one a line" in err


# --- item 6: files that are not models ----------------------------------------------------------


def junk_pt(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("these are not weights\n")
    return path


@pytest.mark.fault(
    item=6,
    case="a file that is not a model as --model with --extractor choi2017 (e.g. junk .pt)",
    outcome="exit 2: 'cannot read PATH as a choi2017 model file'; give weights_theano.hdf5",
)
def test_junk_model_with_choi2017(tmp_path, capsys):
    model = junk_pt(tmp_path)
    args = ["extract", "a.wav", "--extractor", "choi2017", "--model", str(model)]
    assert main([*args, "-o", str(tmp_path / "o.npz")]) == 2
    err = error_of(capsys)
    assert f"cannot read {model} as a choi2017 model file" in err
    assert "import-paper-weights" in err
    assert len(err.strip().splitlines()) == 2  # the message and its hint
    assert not (tmp_path / "o.npz").exists()


@pytest.mark.fault(
    item=6,
    case="--weights is a junk .pt, a .pt of another format, or an HDF5 file missing arrays",
    outcome="exit 2: one line naming the file (was a KeyError traceback)",
)
def test_bad_weights_files(tmp_path, capsys):
    junk = junk_pt(tmp_path)
    other = tmp_path / "other.pt"
    torch.save({"format": "something-else", "state_dict": {}}, other)
    wrong_state = tmp_path / "wrong.pt"
    from musictransfer.model import ConvNet
    from musictransfer.modelfile import (
        ARCH_CHOI2017,
        BN_BATCH,
        LEGACY_CHOI2017_FORMAT,
        save_model,
        save_random_convnet,
    )

    torch.save({"format": LEGACY_CHOI2017_FORMAT, "state_dict": {"x": torch.zeros(1)}}, wrong_state)
    # The same faults in the model-file format: a ConvNet's weights labelled as the
    # authors' network, and a model file of our own ConvNet.
    wrong_new = tmp_path / "wrong-new.pt"
    save_model(wrong_new, ConvNet(), [], BN_BATCH, architecture=ARCH_CHOI2017)
    ours = tmp_path / "random.pt"
    save_random_convnet(ours)
    partial = tmp_path / "partial.hdf5"
    with h5py.File(partial, "w") as f:
        for group in ("melgram", "ConvBNEluDr", "dense_1"):
            f.create_group(group)
    cases = {
        junk: "as a choi2017 model file",
        other: "is not a choi2017 model file",
        wrong_state: "does not hold the choi2017 network's weights",
        wrong_new: "does not hold the choi2017 network's weights",
        ours: "is not a choi2017 model file",
        partial: "lacks the array 'melgram/param_0'",
    }
    for path, message in cases.items():
        assert main(["tag", "a.wav", "--weights", str(path)]) == 2
        err = error_of(capsys)
        assert f"{path}" in err and message in err, err


# --- item 6: --debug and bugs -------------------------------------------------------------------


@pytest.mark.fault(
    item=6,
    case="a user error run with --debug (before or after the command name)",
    outcome="exit 2, the traceback then the one-line message; without --debug, no traceback",
)
def test_debug_shows_the_traceback_of_user_errors(tmp_path, capsys):
    missing = str(tmp_path / "nope.txt")
    assert main(["tag", missing]) == 2
    assert "Traceback" not in capsys.readouterr().err
    for argv in (["--debug", "tag", missing], ["tag", missing, "--debug"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err
        assert "FileNotFoundError" in err
        assert err.strip().splitlines()[-2].startswith("musictransfer tag: error: cannot read")


def test_bugs_keep_their_traceback(monkeypatch):
    """An exception that is not a user error propagates (Python prints its traceback)."""

    def broken(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "cmd_info", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["info"])

    def unexpected_os_error(args):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), "/internal/file")

    monkeypatch.setattr(cli, "cmd_info", unexpected_os_error)
    with pytest.raises(FileNotFoundError):
        main(["info"])


# --- item 10: option edges -------------------------------------------------------------------


@pytest.mark.fault(
    item=10,
    case="tag --top -2 or --top 0",
    outcome="exit 2, usage and 'argument --top: must be a positive integer' (printed 48 tags, "
    "or empty lines)",
)
@pytest.mark.parametrize("value", ["-2", "0", "two"])
def test_top_must_be_positive(capsys, value):
    with pytest.raises(SystemExit) as exit_info:
        main(["tag", "a.wav", "--top", value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: musictransfer tag")
    assert "argument --top: " in err
    assert "positive integer" in err


@pytest.mark.fault(
    item=10,
    case="--batch-size 0 or negative (extract, tag, extract-convnet, extract-choi2017), "
    "likewise --chunk-size and --threads",
    outcome="exit 2, usage and 'argument --batch-size: must be a positive integer, got 0' "
    "(0 meant the default; negative gave a torch error)",
)
@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["extract", "a.wav", "-o", "o.npz"], "--batch-size"),
        (["extract", "a.wav", "--extractor", "choi2017", "-o", "o.npz"], "--batch-size"),
        (["tag", "a.wav"], "--batch-size"),
        (["extract-convnet", "m.pt", "d", "-o", "o.npz"], "--batch-size"),
        (["extract-convnet", "m.pt", "d", "-o", "o.npz"], "--threads"),
        (["extract-choi2017", "m.pt", "d", "-o", "o.npz"], "--batch-size"),
        (["extract-choi2017", "m.pt", "d", "-o", "o.npz"], "--chunk-size"),
        (["prepare", "m.csv", "--out-dir", "p"], "--threads"),
        (["train", "d", "--out", "m.pt", "--checkpoint-dir", "c"], "--threads"),
    ],
)
@pytest.mark.parametrize("value", ["0", "-3"])
def test_counts_must_be_positive(capsys, command, option, value):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, option, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: musictransfer {command[0]}")
    assert f"argument {option}: must be a positive integer, got {int(value)}" in err


@pytest.mark.fault(
    item=6,
    case="a negative --batch-size with the authors' network in batch mode",
    outcome="exit 2, usage and 'argument --batch-size: must be a positive integer, got -4' "
    "(was a torch traceback)",
)
def test_negative_batch_size_is_an_option_error(tmp_path, capsys):
    args = ["extract", "a.wav", "--extractor", "choi2017", "--bn-mode", "batch"]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--batch-size", "-4", "-o", str(tmp_path / "o.npz")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --batch-size: must be a positive integer, got -4" in err
    assert "Traceback" not in err
    assert not (tmp_path / "o.npz").exists()


def test_positive_counts_are_passed_unchanged(monkeypatch):
    """Valid values reach the command as before (the defaults are still the defaults)."""
    seen = {}
    monkeypatch.setattr(cli, "cmd_tag", lambda args: seen.update(vars(args)))
    assert main(["tag", "a.wav", "--top", "3", "--batch-size", "7"]) == 0
    assert (seen["top"], seen["batch_size"]) == (3, 7)
    assert main(["tag", "a.wav"]) == 0
    assert (seen["top"], seen["batch_size"]) == (5, None)


def fake_keras1_weights(path):
    """An HDF5 file laid out like the authors' weights_theano.hdf5 (groups only)."""
    with h5py.File(path, "w") as f:
        f.create_group("melgram")["param_2"] = np.zeros((257, 96), np.float32)
        f.create_group("ConvBNEluDr")
        f.create_group("dense_1")
    return path


@pytest.mark.fault(
    item=10,
    case="extract --model weights_theano.hdf5 (the authors' weights) without --extractor choi2017",
    outcome="exit 2: 'PATH is the authors' Keras 1 weight file, not a musictransfer model' "
    "-> add --extractor choi2017 (advised deleting the file)",
)
def test_authors_weights_as_model_need_the_extractor(tmp_path, capsys):
    weights = fake_keras1_weights(tmp_path / "weights_theano.hdf5")
    assert main(["extract", "a.wav", "--model", str(weights), "-o", str(tmp_path / "o.npz")]) == 2
    err = error_of(capsys)
    assert f"{weights} is the authors' Keras 1 weight file, not a musictransfer model" in err
    assert "add --extractor choi2017" in err
    assert "delete" not in err
    assert weights.is_file()
    # The imported choi2017.pt gets the same advice; another HDF5 file too.
    from musictransfer.modelfile import LEGACY_CHOI2017_FORMAT

    imported = tmp_path / "choi2017.pt"
    torch.save({"format": LEGACY_CHOI2017_FORMAT, "state_dict": {}}, imported)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = 1
    for path, kind in ((imported, "imported by import-paper-weights"), (other, "HDF5 (Keras)")):
        assert main(["extract", "a.wav", "--model", str(path), "-o", str(tmp_path / "o.npz")]) == 2
        err = error_of(capsys)
        assert kind in err and "add --extractor choi2017" in err


def test_a_musictransfer_model_is_not_mistaken_for_the_authors(tmp_path):
    """A model made by random-convnet is not taken for the authors' weights."""
    from musictransfer.choi2017.weights import authors_weights_kind

    assert main(["random-convnet", "--out", str(tmp_path / "random.pt")]) == 0
    assert authors_weights_kind(tmp_path / "random.pt") is None
    assert authors_weights_kind(tmp_path / "missing.pt") is None
    assert authors_weights_kind(junk_pt(tmp_path)) is None


def test_library_errors_stay_musictransfer_errors(tmp_path):
    """The checks live in the library, so scripts get the same messages."""
    from musictransfer.choi2017 import load_pretrained

    with pytest.raises(MusicTransferError, match="as a choi2017 model file"):
        load_pretrained(weights=junk_pt(tmp_path))
