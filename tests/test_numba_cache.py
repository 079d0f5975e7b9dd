"""Jobs that load librosa at the same time leave numba's cache usable (numba issue 10128).

librosa's compiled kernels are cached as pairs of files; two processes compiling into an
empty cache at once can mix a pair, and any later process calling the kernel then crashes
(SIGSEGV). :func:`musictransfer.numba_cache.import_librosa` loads librosa under a lock
beside the cache. The first test runs the race end to end (timing decides whether an
unguarded load loses it, so it can also pass without the lock); the second shows,
independently of timing, that a load waits while another job holds the lock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from musictransfer import numba_cache

LOAD = "from musictransfer.numba_cache import import_librosa; import_librosa()"

LOAD_STAMPED = (
    "import time\n"
    "from musictransfer.numba_cache import import_librosa\n"
    "print('loading', flush=True)\n"
    "import_librosa()\n"
    "print(time.time(), flush=True)\n"
)
"""Loads librosa, saying when it starts and at what time it is done."""

HOLD_S = 10.0
"""How long the test holds the lock: several times a load from a warm cache."""

# Every overload of the kernels the package's modules compile, called from the cache.
CALL = """
import numpy as np
import librosa

wave = np.sin(2 * np.pi * 220 * np.arange(12_000) / 12_000)
for dtype in (np.float32, np.float64):
    y = wave.astype(dtype)
    librosa.yin(y, fmin=80, fmax=800, sr=12_000)  # core.pitch
    librosa.zero_crossings(y)  # core.audio
    librosa.util.peak_pick(y, pre_max=3, post_max=3, pre_avg=3, post_avg=5, delta=0.1, wait=10)
for dtype in (np.int16, np.int32, np.int64, np.float32, np.float64):
    librosa.util.localmax((100 * wave).astype(dtype))
    librosa.util.localmin((100 * wave).astype(dtype))
print("called")
"""


def _python(code: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# Each starts librosa on an empty numba cache (a minute of compiling on 2 loaded cores).
@pytest.mark.slow
def test_parallel_first_loads_leave_a_cache_later_jobs_can_call(tmp_path: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    first = [_python(LOAD, env) for _ in range(3)]  # three jobs start on an empty cache
    for job in first:
        _, err = job.communicate(timeout=600)
        assert job.returncode == 0, err[-2000:]
    assert list((tmp_path / "numba").rglob("*.nbi")), "nothing was cached"
    later = _python(CALL, env)
    out, err = later.communicate(timeout=600)
    assert later.returncode == 0, f"exit {later.returncode} (-11: SIGSEGV): {err[-2000:]}"
    assert out.strip() == "called"


@pytest.mark.slow
def test_librosa_loads_only_once_the_lock_is_free(tmp_path: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    warm = subprocess.run([sys.executable, "-c", LOAD], env=env, check=False, timeout=600)
    assert warm.returncode == 0  # the cache, written by one job alone
    with numba_cache.exclusive(tmp_path / "numba" / numba_cache.LOCK_NAME):
        job = _python(LOAD_STAMPED, env)
        assert job.stdout is not None and job.stdout.readline().strip() == "loading"
        time.sleep(HOLD_S)
        released = time.time()
    out, err = job.communicate(timeout=600)
    assert job.returncode == 0, err[-2000:]
    assert float(out) >= released, "librosa loaded while another job held the lock"


def test_exclusive_holds_the_lock_inside_the_block_only(tmp_path: Path) -> None:
    pytest.importorskip("fcntl")
    lock = tmp_path / "sub" / numba_cache.LOCK_NAME
    probe = (
        "import fcntl, sys\n"
        f"handle = open({str(lock)!r}, 'a')\n"
        "try:\n    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except BlockingIOError:\n    sys.exit(3)\n"
    )
    with numba_cache.exclusive(lock):
        held = subprocess.run([sys.executable, "-c", probe], check=False, timeout=60)
    free = subprocess.run([sys.executable, "-c", probe], check=False, timeout=60)
    assert (held.returncode, free.returncode) == (3, 0)


def test_lock_sits_beside_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert numba_cache.lock_path() == tmp_path / numba_cache.LOCK_NAME
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    import librosa

    package = Path(librosa.__file__).parent
    expected = (
        package / "__pycache__" / numba_cache.LOCK_NAME
        if os.access(package, os.W_OK)
        else Path(tempfile.gettempdir()) / numba_cache.LOCK_NAME
    )
    assert numba_cache.lock_path() == expected
