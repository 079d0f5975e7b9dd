"""Output files: permissions, symbolic links, special files, full disks, damaged intermediates.

Every bad input is made here, in ``tmp_path`` (a FIFO, a device node, a truncated file);
no test touches a system file.
"""

import errno
import os
import stat

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from musictransfer import outputs
from musictransfer.cli import main
from musictransfer.datasets import store
from musictransfer.errors import MusicTransferError
from musictransfer.featurefile import load_features, save_features


@pytest.fixture
def umask():
    """Set the process umask for one test (restored after it)."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


def write_manifest(tmp_path, n=2):
    """A manifest of ``n`` short sine clips (0.5 s at 12 kHz)."""
    t = np.arange(6000) / 12000
    for i in range(n):
        sf.write(tmp_path / f"c{i}.wav", 0.3 * np.sin(2 * np.pi * (220 + 110 * i) * t), 12000)
    manifest = tmp_path / "m.csv"
    pd.DataFrame(
        {"id": [f"c{i}" for i in range(n)], "path": [f"c{i}.wav" for i in range(n)]}
    ).to_csv(manifest, index=False)
    return manifest


@pytest.fixture
def prepared(tmp_path):
    """A small prepared store, made with the command line."""
    out = tmp_path / "prepared"
    assert main(["prepare", str(write_manifest(tmp_path)), "--out-dir", str(out)]) == 0
    return out


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# --- item 3: permissions ---------------------------------------------------------------------


@pytest.mark.fault(
    item=3,
    case="new output files under a group-friendly umask (002) or the usual one (022)",
    outcome="files get 0666 & ~umask (0664, 0644), as open(path, 'w') gives; were always 0600",
)
@pytest.mark.parametrize(("mask", "expected"), [(0o002, 0o664), (0o022, 0o644), (0o077, 0o600)])
def test_new_outputs_follow_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    manifest = write_manifest(tmp_path)
    assert main(["prepare", str(manifest), "--out-dir", str(tmp_path / "p")]) == 0
    assert mode(tmp_path / "p" / "audio.npy") == expected
    assert mode(tmp_path / "p" / "manifest.csv") == expected
    assert main(["extract-mfcc", str(tmp_path / "p"), "-o", str(tmp_path / "f.npz")]) == 0
    assert mode(tmp_path / "f.npz") == expected
    outputs.write_json(tmp_path / "x.json", {"a": 1})
    assert mode(tmp_path / "x.json") == expected


@pytest.mark.fault(
    item=3,
    case="an output file that already exists with its own mode (e.g. 0640)",
    outcome="overwritten atomically, keeping its mode (was reset to 0600)",
)
def test_overwriting_keeps_the_existing_mode(prepared, tmp_path, umask):
    umask(0o022)
    out = tmp_path / "f.npz"
    out.write_bytes(b"old")
    os.chmod(out, 0o640)
    os.chmod(prepared / "manifest.csv", 0o664)
    assert main(["extract-mfcc", str(prepared), "-o", str(out)]) == 0
    assert mode(out) == 0o640
    assert load_features(out)[0].shape == (2, 120)
    assert main(["prepare", str(tmp_path / "m.csv"), "--out-dir", str(prepared)]) == 0
    assert mode(prepared / "manifest.csv") == 0o664
    assert mode(prepared / "audio.npy") == 0o644


# --- item 4: symbolic links and special files -------------------------------------------------


@pytest.mark.fault(
    item=4,
    case="-o is a symbolic link to a file (e.g. into a shared results folder)",
    outcome="the link's target is replaced atomically, keeping its mode; the link stays",
)
def test_output_through_a_symlink(prepared, tmp_path, umask):
    umask(0o022)
    (tmp_path / "results").mkdir()
    target = tmp_path / "results" / "features.npz"
    target.write_bytes(b"old")
    os.chmod(target, 0o664)
    link = tmp_path / "f.npz"
    link.symlink_to(target)
    assert main(["extract-mfcc", str(prepared), "-o", str(link)]) == 0
    assert link.is_symlink()
    assert os.readlink(link) == str(target)
    assert mode(target) == 0o664
    assert load_features(target)[0].shape == (2, 120)
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["features.npz"]
    # A dangling link: the target is created, the link kept.
    link2 = tmp_path / "g.npz"
    link2.symlink_to(tmp_path / "results" / "new.npz")
    assert main(["extract-mfcc", str(prepared), "-o", str(link2)]) == 0
    assert link2.is_symlink() and (tmp_path / "results" / "new.npz").is_file()


@pytest.mark.fault(
    item=4,
    case="-o names a FIFO (or a symbolic link to one)",
    outcome="exit 2: 'cannot write PATH: it is not a regular file (a FIFO)'; the FIFO is left",
)
def test_output_on_a_fifo_is_refused(prepared, tmp_path, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link.npz"
    link.symlink_to(fifo)
    for out in (fifo, link):
        assert main(["extract-mfcc", str(prepared), "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"cannot write {out}" in err
        assert "not a regular file (a FIFO)" in err
        assert "Traceback" not in err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert link.is_symlink()
    # The library refuses too (a script calling the writers directly).
    with pytest.raises(MusicTransferError, match="a FIFO"):
        outputs.write_json(fifo, {})
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.fault(
    item=4,
    case="-o names a character device (one made by the test in its own folder)",
    outcome="exit 2: 'cannot write PATH: it is not a regular file (a character device)'",
)
def test_output_on_a_device_is_refused(prepared, tmp_path, capsys):
    device = tmp_path / "dev"
    try:  # a null-like device node, in tmp_path only (needs root; never a system device)
        os.mknod(device, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    assert main(["extract-mfcc", str(prepared), "-o", str(device)]) == 2
    assert "not a regular file (a character device)" in capsys.readouterr().err
    assert stat.S_ISCHR(os.stat(device).st_mode)


@pytest.mark.fault(
    item=6,
    case="-o names an existing directory",
    outcome="exit 2: 'cannot write PATH: it is a directory', before any work",
)
def test_output_on_a_directory_is_refused(prepared, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    assert main(["extract-mfcc", str(prepared), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {tmp_path / 'out'}: it is a directory" in err
    assert "Traceback" not in err
    assert (tmp_path / "out").is_dir()


@pytest.mark.fault(
    item=6,
    case="-o (or --out-dir) below a path that is a file (out.npz/x.npz)",
    outcome="exit 2: 'cannot write PATH: FILE is a file, not a directory'",
)
def test_output_below_a_file_is_refused(prepared, tmp_path, capsys):
    (tmp_path / "plain").write_text("x")
    assert main(["extract-mfcc", str(prepared), "-o", str(tmp_path / "plain" / "f.npz")]) == 2
    assert "plain is a file, not a directory" in capsys.readouterr().err
    out_dir = tmp_path / "plain" / "p"
    assert main(["prepare", str(tmp_path / "m.csv"), "--out-dir", str(out_dir)]) == 2
    assert "plain is not a directory" in capsys.readouterr().err
    assert (tmp_path / "plain").read_text() == "x"


@pytest.mark.fault(
    item=6,
    case="-o in a directory the user cannot write",
    outcome="exit 2: 'cannot write PATH: no permission to write in DIR', before any work",
)
def test_output_in_an_unwritable_directory(prepared, tmp_path, capsys, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: stand in for the permission check
        monkeypatch.setattr(outputs, "_writable", lambda directory: directory != locked)
    else:
        locked.chmod(0o500)
    try:
        assert main(["extract-mfcc", str(prepared), "-o", str(locked / "f.npz")]) == 2
        assert f"no permission to write in {locked}" in capsys.readouterr().err
    finally:
        locked.chmod(0o700)
    assert list(locked.iterdir()) == []


def test_system_refusal_while_writing_is_one_line(tmp_path, monkeypatch):
    """An error of the system when the temporary file is made names the output."""

    def refuse(**kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), kwargs["dir"])

    monkeypatch.setattr(outputs.tempfile, "mkstemp", refuse)
    with pytest.raises(MusicTransferError, match=r"cannot write .*x\.json: Permission denied"):
        outputs.write_json(tmp_path / "x.json", {})


# --- item 6: a full disk ----------------------------------------------------------------------


@pytest.mark.fault(
    item=6,
    case="the disk fills up while prepare writes audio.npy (ENOSPC)",
    outcome="exit 2: 'cannot write DIR/audio.npy: No space left on device'; no partial files",
)
def test_disk_full_in_prepare(tmp_path, monkeypatch, capsys):
    header = store._npy_header

    def full(n, size=store.NPY_HEADER_BYTES, descr="<i2"):
        if n:  # the samples made it; the disk fills up before the last write
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return header(n, size, descr)

    monkeypatch.setattr(store, "_npy_header", full)
    out = tmp_path / "p"
    assert main(["prepare", str(write_manifest(tmp_path)), "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {out / 'audio.npy'}: No space left on device" in err
    assert f"free space in {out}" in err
    assert "Traceback" not in err
    assert list(out.iterdir()) == []  # no audio.npy, no temporary file


def test_disk_full_elsewhere_is_a_user_error(monkeypatch, capsys):
    """ENOSPC raised outside the atomic writers is still one line, not a traceback."""
    from musictransfer import cli

    def full(args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/scratch/x")

    monkeypatch.setattr(cli, "cmd_info", full)
    assert main(["info"]) == 2
    assert "No space left on device writing /scratch/x" in capsys.readouterr().err


# --- item 6: damaged intermediates -----------------------------------------------------------


@pytest.mark.fault(
    item=6,
    case="a truncated feature file (.npz), e.g. a copy interrupted",
    outcome="exit 2: 'cannot read feature file PATH: damaged or truncated'; rerun extraction",
)
def test_truncated_feature_file(tmp_path, capsys):
    path = tmp_path / "f.npz"
    ids = [f"c{i}" for i in range(12)]
    save_features(path, np.ones((12, 160), np.float32), ids, extractor="random")
    data = path.read_bytes()
    pd.DataFrame({"id": ids, "label": ["a", "b"] * 6}).to_csv(tmp_path / "m.csv", index=False)
    task = (
        '{"name": "t", "dataset": "d", "type": "classification", "target": "label", '
        '"cv": {"scheme": "stratified_kfold", "n_splits": 2}}'
    )
    for size in (len(data) // 2, len(data) - 30, 0):
        path.write_bytes(data[:size])
        with pytest.raises(MusicTransferError, match="damaged or truncated"):
            load_features(path)
        args = ["evaluate", "--task", task, "--extractor", "random", "--combo", "1"]
        args += ["--manifest", str(tmp_path / "m.csv"), "--features", str(path)]
        assert main([*args, "-o", str(tmp_path / "r.json")]) == 2
        err = capsys.readouterr().err
        assert f"cannot read feature file {path}: damaged or truncated" in err
        assert "Traceback" not in err
    # A plain .npy where an .npz belongs, and an archive without the arrays.
    np.save(tmp_path / "g.npy", np.ones(3))
    with pytest.raises(MusicTransferError, match="is not a feature file"):
        load_features(tmp_path / "g.npy")
    np.savez(tmp_path / "h.npz", x=np.ones(3))
    with pytest.raises(MusicTransferError, match="not a feature file: no 'features' array"):
        load_features(tmp_path / "h.npz")


@pytest.mark.fault(
    item=6,
    case="a truncated prepared audio store (audio.npy)",
    outcome="exit 2: 'cannot read prepared audio PATH: damaged or truncated'; rerun prepare",
)
def test_truncated_prepared_audio(prepared, tmp_path, capsys):
    audio = prepared / "audio.npy"
    data = audio.read_bytes()
    for size in (len(data) - 100, 60, 0):
        audio.write_bytes(data[:size])
        assert main(["extract-mfcc", str(prepared), "-o", str(tmp_path / "f.npz")]) == 2
        err = capsys.readouterr().err
        assert f"cannot read prepared audio {audio}: damaged or truncated" in err
        assert "rerun the prepare step" in err
        assert not (tmp_path / "f.npz").exists()


def test_truncated_released_layer_file(tmp_path):
    """The authors' .npy files (read by import-paper-features) are checked the same way."""
    from musictransfer.datasets.paper.tables import load_matrix

    path = tmp_path / "x_layer_0.npy"
    np.save(path, np.ones((10, 32), np.float32))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(MusicTransferError, match=r"x_layer_0\.npy: damaged, truncated"):
        load_matrix(path, 10, 32)
