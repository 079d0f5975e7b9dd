"""download -> checksum -> extraction -> manifest -> prepare, on small fake archives.

The archives reproduce each dataset's real layout (file names, folders, annotation
formats) with a few short tones, and are served from a 127.0.0.1 HTTP server (or a
file:// URL); the registry's remotes are pointed at them for the test.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import importlib
import io
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from musictransfer.cli import main
from musictransfer.constants import MSD_TAGS, SAMPLE_RATE
from musictransfer.datasets.download import download_dataset, read_receipt
from musictransfer.datasets.manifest_builder import build_manifest
from musictransfer.datasets.paper import RELEASED_DATASETS
from musictransfer.datasets.registry import MODULES, Remote, get_spec, names
from musictransfer.datasets.store import PreparedDataset, prepare_audio
from musictransfer.errors import ConfigError, DownloadError


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A static HTTP server on 127.0.0.1 serving a temporary folder."""
    root = tmp_path_factory.mktemp("www")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(autouse=True)
def no_retries(monkeypatch):
    """Dead URLs fail at once here (pooch waits 1 + 2 + 3 s over three retries);
    test_a_failed_transfer_is_retried checks the retries themselves."""
    monkeypatch.setattr("musictransfer.datasets.download.DOWNLOAD_RETRIES", 0)


def _wav(seconds: float = 0.5, sr: int = 22050, fmt: str = "WAV") -> bytes:
    t = np.arange(int(seconds * sr)) / sr
    buf = io.BytesIO()
    sf.write(buf, 0.3 * np.sin(2 * np.pi * 440 * t), sr, format=fmt)
    return buf.getvalue()


def _tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _md5(path: Path) -> str:
    return "md5:" + hashlib.md5(path.read_bytes()).hexdigest()


def _point(monkeypatch, name: str, remotes: tuple[Remote, ...]) -> None:
    module = importlib.import_module(MODULES[name])
    monkeypatch.setattr(module, "SPEC", dataclasses.replace(module.SPEC, remotes=remotes))


def _speechmusic_archive(www: Path) -> Path:
    files = {f"music_speech/music_wav/{n}.wav": _wav() for n in ("bagpipe", "ballad", "bartok")}
    files |= {f"music_speech/speech_wav/{n}.wav": _wav(0.8) for n in ("comedy", "voices")}
    return _tar(www / "music_speech.tar.gz", files)


def test_http_download_to_prepared_store(server, tmp_path, monkeypatch):
    www, url = server
    archive = _speechmusic_archive(www)
    remote = Remote("music_speech.tar.gz", url + archive.name, _md5(archive), extract="tar")
    _point(monkeypatch, "gtzan_speech_music", (remote,))
    receipt = download_dataset("gtzan_speech_music", tmp_path / "dl")
    assert read_receipt(receipt)[0] == "gtzan_speech_music"
    manifest = build_manifest("gtzan_speech_music", receipt)
    assert manifest["id"].tolist() == ["bagpipe", "ballad", "bartok", "comedy", "voices"]
    assert manifest["label"].tolist() == [0, 0, 0, 1, 1]
    csv = tmp_path / "manifest.csv"
    manifest.to_csv(csv, index=False)
    prepare_audio(csv, tmp_path / "prepared", progress=False)
    store = PreparedDataset(tmp_path / "prepared")
    assert store.manifest["n_samples"].tolist() == [6000, 6000, 6000, 9600, 9600]
    # second run: archive kept and verified, nothing downloaded again
    archive.unlink()
    download_dataset("gtzan_speech_music", tmp_path / "dl")


def test_checksum_mismatch_dead_url_and_truncated_archive(server, tmp_path, monkeypatch):
    www, url = server
    archive = _speechmusic_archive(www)
    bad = Remote(archive.name, url + archive.name, "md5:" + "0" * 32, extract="tar")
    _point(monkeypatch, "gtzan_speech_music", (bad,))
    with pytest.raises(DownloadError, match="checksum differs") as err:
        download_dataset("gtzan_speech_music", tmp_path / "a")
    assert "download it by hand" in err.value.hint
    assert not (tmp_path / "a" / "archives" / archive.name).exists()
    dead = Remote(archive.name, url + "gone.tar.gz", None, mirrors=(url + "also-gone",))
    _point(monkeypatch, "gtzan_speech_music", (dead,))
    with pytest.raises(DownloadError, match=r"gone\.tar\.gz.*\n.*also-gone"):
        download_dataset("gtzan_speech_music", tmp_path / "b")
    cut = www / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    _point(monkeypatch, "gtzan_speech_music", (Remote(cut.name, url + cut.name, extract="tar"),))
    with pytest.raises(DownloadError, match="incomplete or corrupt"):
        download_dataset("gtzan_speech_music", tmp_path / "c")


def test_a_failed_transfer_is_retried(tmp_path, monkeypatch):
    from musictransfer.datasets.download import fetch_file

    www = tmp_path / "www"
    www.mkdir()
    archive = _speechmusic_archive(www)
    seen: list[str] = []

    class Flaky(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append(self.path)
            if len(seen) == 1:
                self.send_error(503, "try again")
                return
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Flaky, directory=str(www))
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/{archive.name}"
    try:
        with pytest.raises(DownloadError, match="503"):
            fetch_file(url, (), archive.name, _md5(archive), tmp_path / "a", retries=0)
        seen.clear()
        monkeypatch.setattr("musictransfer.datasets.download.DOWNLOAD_RETRIES", 1)
        got = fetch_file(url, (), archive.name, _md5(archive), tmp_path / "b")
        assert got.read_bytes() == archive.read_bytes()
        assert len(seen) == 2
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_file_url_mirror_and_data_dir_are_used_in_place(server, tmp_path, monkeypatch):
    www, _ = server
    archive = _speechmusic_archive(www)
    remote = Remote(archive.name, archive.as_uri(), _md5(archive), extract="tar")
    _point(monkeypatch, "gtzan_speech_music", (remote,))
    download_dataset("gtzan_speech_music", tmp_path / "file")
    # mirror: the official URL is dead, the mirror copy is verified and read in place
    dead = dataclasses.replace(remote, url="http://127.0.0.1:9/none.tar.gz")
    _point(monkeypatch, "gtzan_speech_music", (dead,))
    download_dataset("gtzan_speech_music", tmp_path / "m", mirror=www)
    assert not (tmp_path / "m" / "archives").exists()
    # data_dir: an unpacked copy is checked and used; nothing fetched
    root = read_receipt(tmp_path / "m" / "dataset.json")[1]
    receipt = download_dataset("gtzan_speech_music", tmp_path / "d", data_dir=root)
    assert read_receipt(receipt)[1] == root.resolve()
    assert not (tmp_path / "d" / "data").exists()
    (root / "music_speech" / "speech_wav").rename(root / "music_speech" / "x")
    with pytest.raises(DownloadError, match="incomplete, missing music_speech/speech_wav"):
        download_dataset("gtzan_speech_music", tmp_path / "e", data_dir=root)


def test_urbansound_archive_layout(server, tmp_path, monkeypatch):
    www, url = server
    rows = [("100032-3-0-0.wav", 5, 3, "dog_bark"), ("7061-6-0-0.wav", 1, 6, "gun_shot")]
    files = {f"UrbanSound8K/audio/fold{k}/.keep": b"" for k in range(1, 11)}
    files |= {f"UrbanSound8K/audio/fold{f}/{n}": _wav(0.3, 44100) for n, f, _, _ in rows}
    meta = pd.DataFrame(rows, columns=["slice_file_name", "fold", "classID", "class"])
    meta.insert(1, "fsID", 1)
    meta.insert(2, "start", 0.0)
    meta.insert(3, "end", 0.3)
    meta.insert(4, "salience", 1)
    files["UrbanSound8K/metadata/UrbanSound8K.csv"] = meta.to_csv(index=False).encode()
    archive = _tar(www / "UrbanSound8K.tar.gz", files)
    _point(
        monkeypatch,
        "urbansound8k",
        (Remote(archive.name, url + archive.name, _md5(archive), extract="tar"),),
    )
    manifest = build_manifest("urbansound8k", download_dataset("urbansound8k", tmp_path))
    assert manifest["id"].tolist() == ["100032-3-0-0", "7061-6-0-0"]
    assert manifest["fold"].tolist() == [5, 1]
    assert manifest["label"].tolist() == [3, 6]


def test_emomusic_archives(server, tmp_path, monkeypatch):
    www, url = server
    clips = _tar(
        www / "clips_45sec.tar.gz", {f"clips_45seconds/{i}.mp3": _wav(fmt="MP3") for i in (2, 3, 5)}
    )
    table = (
        "song_id,mean_arousal,std_arousal,mean_valence,std_valence\n"
        "2,3.1,0.99,3,0.67\n5,6.3,1.1,4.5,0.9\n"
    )
    notes = _tar(www / "annotations.tar.gz", {"annotations/static_annotations.csv": table.encode()})
    _point(
        monkeypatch,
        "emomusic",
        tuple(Remote(a.name, url + a.name, extract="tar") for a in (clips, notes)),
    )
    manifest = build_manifest("emomusic", download_dataset("emomusic", tmp_path))
    assert manifest["id"].tolist() == ["2", "5"]  # song 3 has no static annotation
    np.testing.assert_allclose(manifest["arousal"], [3.1 / 9, 6.3 / 9])
    np.testing.assert_allclose(manifest["valence"], [3 / 9, 4.5 / 9])
    csv = tmp_path / "m.csv"
    manifest.to_csv(csv, index=False)
    prepare_audio(csv, tmp_path / "prep", progress=False)  # mp3 decodes
    assert PreparedDataset(tmp_path / "prep").manifest["n_samples"].tolist() == [6000, 6000]


def test_jamendo_corpus_is_cut_into_the_authors_segments(server, tmp_path, monkeypatch):
    www, url = server
    sr = 8000
    song = _wav(3.0, sr, "OGG")
    labs = {
        "05 - Cecilia": "0 1.0 nosing\n1.0 2.5 sing\n2.5 3.0 nosing\n",
        "01 - Burn": "0 3 sing\n",
    }
    archives = [
        _tar(www / "jam_train_audio.tar.gz", {"train/01 - Burn.ogg": song}),
        _tar(www / "jam_valid_audio.tar.gz", {"valid/05 - Cecilia.ogg": song}),
        _tar(www / "jam_test_audio.tar.gz", {"test/.keep": b""}),
        _tar(
            www / "jam_annote.tar.gz", {f"jamendo_lab/{k}.lab": v.encode() for k, v in labs.items()}
        ),
    ]
    _point(
        monkeypatch,
        "jamendo_vocal",
        tuple(Remote(a.name, url + a.name, extract="tar") for a in archives),
    )
    manifest = build_manifest("jamendo_vocal", download_dataset("jamendo_vocal", tmp_path))
    assert manifest["id"].tolist() == [
        "01 - Burn_0",
        "05 - Cecili_0",
        "05 - Cecili_1",
        "05 - Cecili_2",
    ]
    assert manifest["filepath"].tolist()[1:] == [
        "valid/nosing/05 - Cecili_0.wav",
        "valid/sing/05 - Cecili_1.wav",
        "valid/nosing/05 - Cecili_2.wav",
    ]
    assert manifest["category"].tolist() == ["train", "valid", "valid", "valid"]
    assert manifest["label"].tolist() == [1, 0, 1, 0]
    lengths = [sf.info(p).frames for p in manifest["path"]]
    assert lengths == [3 * sr, sr, int(1.5 * sr), sr // 2]


def test_mtat_split_zip_and_top_tags(server, tmp_path, monkeypatch):
    www, url = server
    buf = io.BytesIO()
    paths = [f"{d}/artist-album-0{i}-track-0-29.mp3" for i, d in enumerate("0bcdf")]
    with zipfile.ZipFile(buf, "w") as zf:
        for p in paths:
            zf.writestr(p, _wav(fmt="MP3"))
        zf.writestr("e/empty-clip-0-29.mp3", b"")
        for d in "0123456789abcdef":
            zf.writestr(f"{d}/.keep", b"")
    data = buf.getvalue()
    third = len(data) // 3
    parts = [data[:third], data[third : 2 * third], data[2 * third :]]
    remotes = []
    for k, part in enumerate(parts, 1):
        (www / f"mp3.zip.00{k}").write_bytes(part)
        remotes.append(
            Remote(
                f"mp3.zip.00{k}",
                f"{url}mp3.zip.00{k}",
                _md5(www / f"mp3.zip.00{k}"),
                extract="zip-part",
            )
        )
    tags = [f"tag{j}" for j in range(60)]
    flags = np.zeros((6, 60), int)
    flags[:, 55] = 1  # the most frequent tag comes last in column order
    flags[0, 0] = flags[1, 59] = 1
    table = pd.DataFrame(flags, columns=tags)
    table.insert(0, "clip_id", range(2, 8))
    table["mp3_path"] = [*paths, "e/empty-clip-0-29.mp3"]
    table.to_csv(www / "annotations_final.csv", sep="\t", index=False)
    remotes.append(Remote("annotations_final.csv", url + "annotations_final.csv"))
    _point(monkeypatch, "mtat", tuple(remotes))
    manifest = build_manifest("mtat", download_dataset("mtat", tmp_path))
    assert manifest["id"].tolist() == ["2", "3", "4", "5", "6"]  # the empty file is left out
    assert manifest["split"].tolist() == ["train", "train", "valid", "test", "test"]
    assert manifest["tags"].tolist()[:2] == ["tag55;tag0", "tag55;tag59"]


def test_msd_needs_user_audio(server, tmp_path, monkeypatch):
    www, url = server
    audio = tmp_path / "7digital"
    listed = {
        "train": ["3/6/36122424.npy", "1/2/1200.npy"],
        "valid": ["0/0/5.npy"],
        "test": ["9/9/99.npy"],
    }
    remotes = []
    for split, files in listed.items():
        (www / f"{split}_x_filename.txt").write_text("\n".join(files) + "\n")
        y = np.zeros((len(files), 50), np.int8)
        y[0, 0] = y[0, 49] = 1
        np.save(www / f"{split}_y.npy", y)
        remotes += [Remote(f"{split}_x_filename.txt", f"{url}{split}_x_filename.txt"),
                    Remote(f"{split}_y.npy", f"{url}{split}_y.npy")]  # fmt: skip
    for f in ("3/6/36122424", "0/0/5", "9/9/99"):  # 1200 is missing from the user's copy
        (audio / f).parent.mkdir(parents=True, exist_ok=True)
        (audio / f"{f}.clip.mp3").write_bytes(_wav(fmt="MP3"))
    _point(monkeypatch, "msd", tuple(remotes))
    with pytest.raises(DownloadError, match="cannot be downloaded"):
        download_dataset("msd", tmp_path / "no")
    manifest = build_manifest("msd", download_dataset("msd", tmp_path / "dl", data_dir=audio))
    assert manifest["id"].tolist() == ["36122424", "5", "99"]
    assert manifest["split"].tolist() == ["train", "valid", "test"]
    assert manifest["tags"][0] == f"{MSD_TAGS[0]};{MSD_TAGS[49]}"
    assert all(Path(p).is_file() for p in manifest["path"])


def test_one_name_per_dataset():
    """A dataset's module, its SPEC and the released-features table use one name."""
    for name in names():
        module = importlib.import_module(MODULES[name])
        assert module.NAME == module.SPEC.name == get_spec(name).name == name
        assert MODULES[name] == f"musictransfer.datasets.{name}"
    assert names() == [*RELEASED_DATASETS, "mtat", "msd"]
    # The authors' file stems are read from the released table, not written again.
    assert {n: get_spec(n).authors_csv for n in RELEASED_DATASETS} == {
        "ballroom": "ballroom_extended.csv", "gtzan_genre": "gtzan_genre.csv",
        "gtzan_speech_music": "gtzan_speechmusic.csv", "emomusic": "emoMusic.csv",
        "jamendo_vocal": "jamendo_vd.csv", "urbansound8k": "urbansound.csv",
    }  # fmt: skip
    assert get_spec("mtat").authors_csv is None and get_spec("msd").authors_csv is None
    with pytest.raises(ConfigError, match=r"(?s)unknown dataset 'urbansound'.*urbansound8k"):
        get_spec("urbansound")


def test_cli_reports_manual_route(tmp_path, capsys):
    assert main(["download", "ballroom", "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cannot be downloaded automatically" in err and "getExtendedBallroomDataset.py" in err
    assert main(["download", "nope", "--out-dir", str(tmp_path)]) == 2


def test_cli_manifest(tmp_path, server, monkeypatch):
    www, url = server
    archive = _speechmusic_archive(www)
    remote = Remote(archive.name, url + archive.name, extract="tar")
    _point(monkeypatch, "gtzan_speech_music", (remote,))
    assert main(["download", "gtzan_speech_music", "--out-dir", str(tmp_path / "d")]) == 0
    out = tmp_path / "m.csv"
    assert main(["manifest", "gtzan_speech_music", str(tmp_path / "d"), "-o", str(out)]) == 0
    assert len(pd.read_csv(out)) == 5 and SAMPLE_RATE == 12000
