"""Fetch, verify and unpack a dataset; or check and use a copy already on disk.

One entry point, :func:`download_dataset`, serves three kinds of user:

- with a network connection: each file of the dataset's :class:`~.registry.Remote` list
  is fetched with pooch from its official URL (then its mirrors), checked against the
  published checksum, and unpacked;
- with the archives already downloaded (``mirror``): files found in the mirror directory
  are checked and read in place, never downloaded again;
- with the dataset already unpacked (``data_dir``, e.g. a cluster's shared storage):
  nothing is fetched; the copy's structure is checked and used in place.

The result is a receipt, ``<out_dir>/dataset.json``, naming the root the manifest is
built from. Every failure raises :class:`~musictransfer.errors.DownloadError` saying what
went wrong (dead URL, checksum mismatch, truncated archive, missing files) and what the
user can do (the manual download route and where to put the files).
"""

from __future__ import annotations

import json
import shutil
import tarfile
import zipfile
import zlib
from pathlib import Path
from urllib.parse import urlparse

import pooch

from musictransfer._typing import PathLike
from musictransfer.datasets.registry import DatasetSpec, Remote, get_spec
from musictransfer.errors import DownloadError
from musictransfer.fetching import DOWNLOAD_RETRIES, check_mirror, file_hash
from musictransfer.outputs import write_json

RECEIPT = "dataset.json"
ARCHIVES = "archives"
UNPACKED = "data"
_DONE = ".unpacked"


def verify_checksum(path: Path, known: str | None, what: str = "file") -> None:
    """Check ``path`` against ``known`` ('md5:...' or 'sha256:...'; None = not published).

    Raises
    ------
    DownloadError
        On a mismatch, naming both digests.
    """
    if not known:
        return
    alg, _, expected = known.partition(":")
    actual = file_hash(path, alg=alg)
    if actual.lower() != expected.lower():
        raise DownloadError(
            f"{what} {path} has {alg} {actual}, expected {expected}",
            "the file is corrupt, truncated or a different version: delete it and download "
            "it again, or fetch it by hand from the dataset's page",
        )


def fetch_file(
    url: str,
    mirrors: tuple[str, ...],
    filename: str,
    known: str | None,
    dest_dir: Path,
    retries: int | None = None,
) -> Path:
    """Download one file to ``dest_dir/filename`` (skipped if a verified copy is there).

    ``file://`` URLs are copied; http(s) URLs go through pooch, which retries a failed
    transfer ``retries`` times (default :data:`~musictransfer.fetching.DOWNLOAD_RETRIES`),
    checks ``known`` and removes a file whose checksum differs. Each URL is tried in turn.

    Raises
    ------
    DownloadError
        If every URL fails, listing each URL's error.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / filename
    if target.is_file():
        try:
            verify_checksum(target, known, "existing download")
            return target
        except DownloadError:
            target.unlink()
    errors: list[str] = []
    for candidate in (url, *mirrors):
        try:
            if urlparse(candidate).scheme == "file":
                shutil.copyfile(urlparse(candidate).path, target)
                verify_checksum(target, known, "downloaded file")
                return target
            fetcher = pooch.create(
                path=dest_dir,
                base_url="",
                registry={filename: known},
                urls={filename: candidate},
                retry_if_failed=DOWNLOAD_RETRIES if retries is None else retries,
            )
            return Path(fetcher.fetch(filename, progressbar=False))
        except DownloadError as exc:
            target.unlink(missing_ok=True)
            errors.append(f"{candidate}: {exc.message}")
        except ValueError as exc:  # pooch: hash mismatch
            errors.append(f"{candidate}: checksum differs ({exc})")
        except Exception as exc:
            target.unlink(missing_ok=True)
            errors.append(f"{candidate}: {type(exc).__name__}: {exc}")
    raise DownloadError(
        f"could not download {filename}:\n    " + "\n    ".join(errors),
        f"download it by hand and put it in {dest_dir} (or in the `mirror` directory), "
        "then run the command again",
    )


def _in_mirror(remote: Remote, name: str, mirror: Path | None) -> Path | None:
    if mirror is None:
        return None
    for candidate in (mirror / name / remote.filename, mirror / remote.filename):
        if candidate.is_file():
            return candidate
    return None


def _extract(archive: Path, kind: str, dest: Path) -> None:
    """Unpack a tar (any compression) or zip archive into ``dest``."""
    try:
        if kind == "tar":
            with tarfile.open(archive) as tar:
                tar.extractall(dest, filter="data")
        elif kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(dest)
        else:  # pragma: no cover - spec error
            raise ValueError(f"unknown archive kind {kind!r}")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError) as exc:
        raise DownloadError(
            f"archive {archive} is incomplete or corrupt: {type(exc).__name__}: {exc}",
            f"delete {archive} and download it again (or replace it in the mirror)",
        ) from exc


def _join_parts(parts: list[Path], out: Path) -> Path:
    """Concatenate split-archive parts (``cat a.001 a.002 > a``), streaming."""
    with out.open("wb") as sink:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, sink, length=16 << 20)
    return out


def fetch_remotes(spec: DatasetSpec, out_dir: Path, mirror: Path | None) -> Path:
    """Fetch (or find in the mirror), verify and unpack every remote of ``spec``.

    Returns the unpacked directory ``out_dir/data``. Unpacking is skipped when a previous
    run finished it (marker file), so an interrupted run resumes cheaply.
    """
    unpacked = out_dir / UNPACKED
    local: list[tuple[Remote, Path]] = []
    for remote in spec.remotes:
        found = _in_mirror(remote, spec.name, mirror)
        if found is not None:
            verify_checksum(found, remote.checksum, f"mirror copy of {remote.filename}")
            local.append((remote, found))
        else:
            try:
                path = fetch_file(
                    remote.url, remote.mirrors, remote.filename, remote.checksum, out_dir / ARCHIVES
                )
            except DownloadError as exc:
                if mirror is None:
                    raise
                raise DownloadError(
                    exc.message,
                    f"{remote.filename} is not in the mirror either: put it there as "
                    f"{mirror / spec.name / remote.filename} (or {mirror / remote.filename}), "
                    "then run the command again",
                ) from exc
            local.append((remote, path))
    if (unpacked / _DONE).is_file():
        return unpacked
    unpacked.mkdir(parents=True, exist_ok=True)
    parts = [path for remote, path in local if remote.extract == "zip-part"]
    if parts:
        joined = _join_parts(parts, out_dir / ARCHIVES / f"{spec.name}-joined.zip")
        _extract(joined, "zip", unpacked)
        joined.unlink()
    for remote, path in local:
        if remote.extract in ("tar", "zip"):
            _extract(path, remote.extract, unpacked)
        elif remote.extract is None:
            shutil.copyfile(path, unpacked / remote.filename)
    (unpacked / _DONE).write_text("ok\n")
    return unpacked


def download_dataset(
    name: str,
    out_dir: PathLike,
    data_dir: PathLike | None = None,
    mirror: PathLike | None = None,
) -> Path:
    """Make a dataset available and write its receipt.

    Parameters
    ----------
    name
        Registered dataset name.
    out_dir
        Working directory for downloads, unpacked files and the receipt.
    data_dir
        An existing, unpacked copy to use in place (nothing is downloaded); for the MSD,
        the directory of the user's 7digital audio clips.
    mirror
        Directory holding already-downloaded archives (``<mirror>/<name>/<file>`` or
        ``<mirror>/<file>``).

    Returns
    -------
    pathlib.Path
        The receipt file (JSON with the dataset's name and ``root``).
    """
    spec = get_spec(name)
    mirror_path = check_mirror(mirror, "mirror") if mirror else None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if spec.user_data:
        root = _with_user_data(spec, out_dir, data_dir, mirror_path)
    elif data_dir is None and not spec.remotes:
        raise DownloadError(
            f"{name} cannot be downloaded automatically (no archive is published)",
            spec.manual,
        )
    elif data_dir is not None:
        root = Path(data_dir).resolve()
        if not root.is_dir():
            raise DownloadError(
                f"{name}: data_dir {root} does not exist",
                f"fix datasets.{name}.data_dir in the config, or remove it to download",
            )
    else:
        root = fetch_remotes(spec, out_dir, mirror_path) / spec.subdir
    spec.check(root)
    if spec.postprocess is not None:
        root = spec.postprocess(root, out_dir)
    receipt = out_dir / RECEIPT
    write_json(receipt, {"dataset": name, "root": str(root.resolve())})
    return receipt


def _with_user_data(
    spec: DatasetSpec, out_dir: Path, data_dir: PathLike | None, mirror: Path | None
) -> Path:
    """Download the metadata of a dataset whose audio the user supplies; link the audio."""
    if data_dir is None or not Path(data_dir).is_dir():
        raise DownloadError(
            f"{spec.name}: the audio cannot be downloaded; data_dir is {data_dir!r}",
            f"set datasets.{spec.name}.data_dir in the config (or --data-dir) to the "
            f"directory of your copy. {spec.manual}",
        )
    root = fetch_remotes(spec, out_dir, mirror) / spec.subdir
    link = root / str(spec.user_data)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(Path(data_dir).resolve(), target_is_directory=True)
    return root


def read_receipt(path: PathLike) -> tuple[str, Path]:
    """The dataset name and root recorded by :func:`download_dataset`."""
    try:
        data = json.loads(Path(path).read_text())
        return data["dataset"], Path(data["root"])
    except (OSError, ValueError, KeyError) as exc:
        raise DownloadError(
            f"cannot read dataset receipt {path}: {exc}", "rerun the download step"
        ) from exc
