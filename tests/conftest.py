"""Shared fixtures: the read-only material in ../shared, and small synthetic data."""

from __future__ import annotations

import functools
import http.server
import os
import threading
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


@pytest.fixture(scope="session")
def shared_protocols() -> Path:
    """../shared/protocols: today's split files as published (skip where absent)."""
    path = SHARED / "protocols"
    if not path.is_dir():
        pytest.skip(f"{path} not found (set MUSICTRANSFER_SHARED)")
    return path


@pytest.fixture
def http_root(tmp_path):
    """A directory served over HTTP on 127.0.0.1; yields (root, base_url)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
