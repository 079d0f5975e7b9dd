"""Packaging metadata: one version, an SPDX licence with its file, the package data."""

from __future__ import annotations

import tomllib

import pytest

import musictransfer
from musictransfer.cli import main


@pytest.fixture(scope="module")
def pyproject(repo):
    return tomllib.loads((repo / "pyproject.toml").read_text())


def test_version_has_one_source(pyproject, capsys):
    project = pyproject["project"]
    assert "version" not in project and project["dynamic"] == ["version"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "musictransfer.__version__"
    }
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"musictransfer {musictransfer.__version__}"
    assert main(["info"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"musictransfer {musictransfer.__version__}"


def test_licence_is_spdx_with_its_file(pyproject, repo):
    project = pyproject["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    text = (repo / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 musictransfer developers" in text
    # SPDX license expressions need setuptools 77 or later to build.
    assert pyproject["build-system"]["requires"][0] == "setuptools>=77"


def test_package_data_holds_every_data_file(pyproject, repo):
    patterns = pyproject["tool"]["setuptools"]["package-data"]["musictransfer"]
    data = repo / "src" / "musictransfer" / "data"
    files = [p.relative_to(data.parent) for p in data.iterdir() if p.is_file()]
    assert files
    for path in files:
        assert any(path.match(pattern) for pattern in patterns), path


def test_cpu_only_install_is_one_flag(repo, tmp_path):
    """`make setup TORCH=cpu` adds PyTorch's CPU index; anything but cpu/cuda is an error."""
    import subprocess

    def plan(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["make", "-n", "setup", f"VENV={tmp_path / 'v'}", *args],
                              cwd=repo, capture_output=True, text=True)  # fmt: skip

    cpu = plan("TORCH=cpu")
    assert cpu.returncode == 0
    install = [ln for ln in cpu.stdout.splitlines() if "-e '.[dev]'" in ln]
    assert install and "--extra-index-url https://download.pytorch.org/whl/cpu" in install[0]
    default = plan()
    assert "download.pytorch.org" not in default.stdout and "-e '.[dev]'" in default.stdout
    wrong = plan("TORCH=rocm")
    assert wrong.returncode == 2 and "TORCH must be cpu or cuda, not 'rocm'" in wrong.stderr
    # The pin that the CPU build (2.11.0+cpu) must satisfy is PyPI's exact version.
    text = (repo / "pyproject.toml").read_text()
    assert '"torch==2.11.0"' in text and '"torchaudio==2.11.0"' in text
