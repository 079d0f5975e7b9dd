"""librosa, imported so that parallel jobs cannot corrupt numba's on-disk cache.

librosa compiles its ``numba.guvectorize`` kernels (zero crossings, parabolic
interpolation, local maxima, ...) when their modules are imported, and caches them
beside its sources (or under ``NUMBA_CACHE_DIR``). Each kernel is cached as a pair of
files written separately, and two processes compiling at once can leave a pair made by
different processes: every later process that calls the kernel then crashes with a
segmentation fault (numba issue 10128; ``tests/test_numba_cache.py`` reproduces it). A
workflow's first jobs are such processes, in a fresh environment whose cache is empty.
:func:`import_librosa` holds an exclusive lock, beside the cache, while librosa's
compiled modules load: the first process compiles and writes the cache, the others wait
and then read it.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import IO

log = logging.getLogger(__name__)

COMPILED_MODULES: tuple[str, ...] = (
    "librosa.util.utils",
    "librosa.core.audio",
    "librosa.core.pitch",
    "librosa.feature.spectral",
)
"""The librosa modules this package uses that compile cached numba kernels on import."""

LOCK_NAME = "musictransfer-numba.lock"


def lock_path() -> Path:
    """Where the lock lives: beside the cache that numba will write librosa's kernels to.

    ``NUMBA_CACHE_DIR`` if set; else librosa's own ``__pycache__`` when librosa's directory
    is writable (numba caches there then); else the temporary directory, which serialises
    the processes of one machine.
    """
    cache_dir = os.environ.get("NUMBA_CACHE_DIR")
    if cache_dir:
        return Path(cache_dir) / LOCK_NAME
    spec = importlib.util.find_spec("librosa")
    locations = list(spec.submodule_search_locations or []) if spec else []
    if locations and os.access(locations[0], os.W_OK):
        return Path(locations[0]) / "__pycache__" / LOCK_NAME
    return Path(tempfile.gettempdir()) / LOCK_NAME


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` while the block runs (none where unsupported).

    Without a lock (no ``fcntl``, a read-only directory, a file system without locks)
    the block still runs: the race it guards against is rare, the job is not worth
    failing for it.
    """
    handle = _acquire(path)
    try:
        yield
    finally:
        if handle is not None:
            handle.close()  # closing releases the lock


def _acquire(path: Path) -> IO[str] | None:
    """An open file holding an exclusive ``flock`` on ``path``, or None where none can be had."""
    try:
        import fcntl  # lazy: POSIX only; elsewhere librosa loads without the lock
    except ImportError:  # not POSIX
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a")
    except OSError as error:
        log.debug("no lock file %s (%s): loading librosa without a lock", path, error)
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
    except OSError as error:
        handle.close()
        log.debug("no lock on %s (%s): loading librosa without it", path, error)
        return None
    return handle


@functools.cache
def import_librosa() -> ModuleType:
    """The ``librosa`` module, its compiled kernels loaded under :func:`exclusive`."""
    with exclusive(lock_path()):
        import librosa  # lazy: loading it under the lock is this module's purpose

        for name in COMPILED_MODULES:
            importlib.import_module(name)
    return librosa
