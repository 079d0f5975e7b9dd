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
