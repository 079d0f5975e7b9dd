"""Which code made a result: the package version, its git commit and the libraries' versions.

Snakemake reruns a job when its inputs, parameters, shell command or environment change,
but not when the Python code it calls changes: an edit to the SVM grid leaves yesterday's
scores in place. So every result file records the code that wrote it
(:func:`provenance`), the report lists those records and warns when the cells of one table
were made by different code, and the rules carry :func:`code_version` as a parameter so
that a new release reruns what it should.
"""

from __future__ import annotations

import functools
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from musictransfer import __version__

LIBRARIES: tuple[str, ...] = ("numpy", "scipy", "scikit-learn", "torch", "librosa")
"""Libraries whose versions can change a number this package writes."""

PACKAGE_DIR = Path(__file__).resolve().parent


def _git(*args: str) -> str | None:
    """Output of a git command run in the package's source tree, or None."""
    try:
        done = subprocess.run(
            ["git", "-C", str(PACKAGE_DIR), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.cache
def git_state() -> tuple[str | None, bool | None]:
    """The commit of the package's checkout and whether its ``src`` differs from it.

    (None, None) for an installed (non-checkout) package or without git. Only the
    package's own files count as "dirty": results do not depend on README edits.
    """
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return None, None
    changes = _git("status", "--porcelain", "--untracked-files=no", "--", str(PACKAGE_DIR))
    return commit, bool(changes) if changes is not None else None


def library_version(name: str) -> str | None:
    """The installed version of a distribution, without importing it (None if absent)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def code_version() -> str:
    """A short identifier of the code: ``0.1.0`` or ``0.1.0+g1a2b3c4`` (``.dirty`` appended).

    Written into every result (the ``code`` column of the score table) so that cells
    from different code are told apart.
    """
    commit, dirty = git_state()
    if commit is None:
        return __version__
    return f"{__version__}+g{commit[:7]}" + (".dirty" if dirty else "")


@functools.cache
def provenance() -> dict[str, Any]:
    """The JSON-ready record of the code and libraries behind a result."""
    commit, dirty = git_state()
    return {
        "code": code_version(),
        "musictransfer": __version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "libraries": {name: library_version(name) for name in LIBRARIES},
    }
