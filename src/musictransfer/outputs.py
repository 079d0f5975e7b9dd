"""Atomic file writing, so that a failed step never leaves a half-written output.

Snakemake deletes a failed job's declared outputs, but our CLI is also used on its own;
writing to a temporary sibling and renaming it into place on success keeps both uses
safe (``os.replace`` is atomic on POSIX within one file system).

The rename must not change what a plain ``open(path, "w")`` would have given the user:
the file's permissions (``tempfile.mkstemp`` makes 0600 files, which nobody else could
read in a shared project directory), a symbolic link at ``path`` (written through, not
replaced) and special files (a FIFO or a device is refused, never replaced by a file).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import logging
import os
import re
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from musictransfer._typing import PathLike
from musictransfer.errors import MusicTransferError

_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
"""Errors of a write that says the disk (or the user's quota) is full, not a bug."""

log = logging.getLogger(__name__)


def check_output(path: PathLike) -> Path:
    """Check that ``path`` can be written as a regular file; return the file to replace.

    Commands call this before their work, so that a bad ``-o`` fails in a second rather
    than after hours of extraction; :func:`atomic_path` calls it again when writing.
    Symbolic links are followed (the link's target is the file written).

    Parameters
    ----------
    path
        The output path as the user gave it.

    Returns
    -------
    pathlib.Path
        The real path of the file that will be written (symbolic links resolved).

    Raises
    ------
    MusicTransferError
        If the path (or its link target) is a directory, a FIFO, a device or another
        non-regular file; if a parent is a file; or if the nearest existing parent
        directory cannot be written.
    """
    given = Path(path)
    real = Path(os.path.realpath(given))
    try:
        mode = real.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):  # the latter: a parent is a file (below)
        mode = None
    except OSError as exc:
        raise _output_error(given, exc) from exc
    if mode is not None and not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else f"not a regular file ({_kind(mode)})"
        named = f"{given} (-> {real})" if given.is_symlink() else str(given)
        raise MusicTransferError(
            f"cannot write {named}: it is {kind}",
            "give the path of a file to create or overwrite (refusing to replace it)",
        )
    parent = real.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise MusicTransferError(
            f"cannot write {given}: {parent} is a file, not a directory",
            "choose an output path whose parents are directories",
        )
    if not _writable(parent):
        raise MusicTransferError(
            f"cannot write {given}: no permission to write in {parent}",
            "choose a writable directory for the output, or fix its permissions",
        )
    return real


def check_output_dir(path: PathLike) -> Path:
    """Check that ``path`` is, or can be created as, a writable directory.

    The directory counterpart of :func:`check_output`, for ``--out-dir`` options.

    Raises
    ------
    MusicTransferError
        If ``path`` or one of its parents is a file, or the nearest existing directory
        cannot be written.
    """
    given = Path(path)
    existing = given
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise MusicTransferError(
            f"cannot write in {given}: {existing} is not a directory",
            "choose an output directory path whose parts are directories",
        )
    if not _writable(existing):
        raise MusicTransferError(
            f"cannot write in {given}: no permission to write in {existing}",
            "choose a writable output directory, or fix its permissions",
        )
    return given


_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:32] or "host"


def _temporary_prefix(final: Path) -> str:
    """``.<name>.<host>.<pid>.``: short enough for any legal name, and says who wrote it.

    The name is cut to 100 characters so that a legal output name of up to 255 still
    gives a legal temporary name; host and process say which run made a leftover.
    """
    return f".{final.name[:100]}.{_HOST}.{os.getpid()}."


def _remove_leftovers(final: Path) -> None:
    """Delete temporary files of ``final`` that a killed run of this host left behind.

    A process killed while writing (``kill -9``, out of memory, a time limit) cannot
    remove its temporary file, which may be as large as the output; the next run of the
    same output removes those whose process is gone. Other hosts' files are left alone:
    their processes cannot be checked from here.
    """
    stem = f".{final.name[:100]}.{_HOST}."
    for leftover in final.parent.glob(f"{glob.escape(stem)}*"):
        pid = leftover.name[len(stem) :].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            log.warning("removing %s, left by a killed run", leftover)
            leftover.unlink(missing_ok=True)
        except PermissionError:
            pass  # a live process of another user


@contextlib.contextmanager
def atomic_path(path: PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only on success.

    The result has the permissions ``open(path, "w")`` would give it: a new file gets
    ``0666 & ~umask`` (so a group-readable project directory stays group-readable), and
    an existing file keeps its own mode (whoever made it readable to others, or private,
    meant it). Its owner is the writing user, as with any replaced file.

    A symbolic link at ``path`` is written through: its target is replaced (atomically,
    a temporary file beside the target) and the link stays. A directory, FIFO, device or
    other non-regular file at ``path`` is refused, never replaced.

    Parameters
    ----------
    path
        The final destination. Its parent directory is created if needed.
    suffix
        Suffix of the temporary file (some writers, like ``np.savez``, append their own
        extension unless the name already ends with it). Defaults to ``path``'s suffix.

    Raises
    ------
    MusicTransferError
        If ``path`` cannot be written (see :func:`check_output`), its directory cannot be
        created, or the disk or quota fills up while writing; the message names ``path``.
    """
    given = Path(path)
    final = check_output(given)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _output_error(given, exc) from exc
    try:
        mode = stat.S_IMODE(final.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    _remove_leftovers(final)
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=_temporary_prefix(final),
            suffix=final.suffix if suffix is None else suffix,
            dir=final.parent,
        )
    except OSError as exc:
        raise _output_error(given, exc) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            yield tmp
            os.chmod(tmp, mode)  # after writing: some writers recreate the file
            os.replace(tmp, final)
        except OSError as exc:
            if exc.errno in _DISK_FULL:
                raise MusicTransferError(
                    f"cannot write {given}: {os.strerror(exc.errno)}",
                    f"free space in {final.parent} (or write elsewhere) and run again",
                ) from exc
            raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _writable(directory: Path) -> bool:
    """Whether files can be created in ``directory`` (permissions, read-only mounts)."""
    return os.access(directory, os.W_OK | os.X_OK)


def _output_error(given: Path, exc: OSError) -> MusicTransferError:
    """A one-line error for an output path that the system refused."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    where = f" ({exc.filename})" if exc.filename and Path(exc.filename) != given else ""
    return MusicTransferError(
        f"cannot write {given}: {reason}{where}",
        "choose an output path in a writable directory",
    )


def _kind(mode: int) -> str:
    """A name for a non-regular file type, for messages."""
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a special file"


def _umask() -> int:
    """The process's umask, read without changing it where the system allows.

    Linux reports it in ``/proc/self/status``; elsewhere it is read by setting and
    restoring it (not safe against another thread creating files meanwhile, hence last).
    """
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json(path: PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def read_json_object(
    path: PathLike, what: str, missing_hint: str, invalid_hint: str
) -> dict[str, Any]:
    """Read a JSON object written by a rule, or fail with one line naming the file.

    ``what`` names the kind of file in the message ("score cell", "probe result");
    ``missing_hint`` is the next step when the file does not exist, ``invalid_hint`` when
    it is not valid JSON or not an object (a truncated or hand-edited output).
    """
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise MusicTransferError(f"{what} not found: {path}", missing_hint) from None
    except json.JSONDecodeError as exc:
        raise MusicTransferError(f"{what} {path} is not valid JSON: {exc}", invalid_hint) from None
    if not isinstance(data, dict):
        raise MusicTransferError(f"{what} {path} is not a JSON object", invalid_hint)
    return data


def write_npz(path: PathLike, **arrays: Any) -> None:
    """Write arrays to an uncompressed ``.npz``, atomically."""
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)


def _json_default(value: Any) -> Any:
    """Convert NumPy scalars and arrays, which ``json`` does not know, to Python types."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
