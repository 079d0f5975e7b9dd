"""Shared fixtures: the read-only material in ../shared, and small synthetic data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MUSICTRANSFER_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def shared_paper() -> Path:
    """../shared/paper: the paper's released artefacts (skip where absent)."""
    path = SHARED / "paper"
    if not path.is_dir():
        pytest.skip(f"{path} not found (set MUSICTRANSFER_SHARED)")
    return path


@pytest.fixture(scope="session")
def shared_audio() -> Path:
    """../shared/audio: real recordings for smoke tests (skip where absent)."""
    path = SHARED / "audio"
    if not path.is_dir():
        pytest.skip(f"{path} not found (set MUSICTRANSFER_SHARED)")
    return path
