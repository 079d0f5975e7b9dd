"""docs/configuration.md is the table musictransfer.config_doc makes from the schema."""

from __future__ import annotations

import copy

import pytest

from musictransfer.config import load_config
from musictransfer.config_doc import PLACEHOLDERS, REGENERATE, load_schema, render, rows


def test_configuration_doc_is_current(repo):
    actual = (repo / "docs" / "configuration.md").read_text()
    assert actual == render(), f"docs/configuration.md is stale: {REGENERATE}"


def test_every_key_has_a_type_and_a_description():
    found = rows()
    assert len(found) > 40
    for key, kind, default, text in found:
        assert kind and default and len(text) > 10, key


def key_paths(node: dict, path: str = ""):
    """The documented path of every key a configuration sets (placeholders for free names)."""
    last = path.rsplit(".", 1)[-1]
    for key, value in node.items():
        if last not in PLACEHOLDERS:
            child = f"{path}.{key}" if path else key
        elif isinstance(value, dict | list):
            child = f"{path}.{PLACEHOLDERS[last]}"
        else:
            continue  # the entries of n_clips, published_scores: the mapping's row says
        yield child
        if isinstance(value, dict):
            yield from key_paths(value, child)


@pytest.mark.parametrize("name", ["config.yaml", ".test/config.yaml"])
def test_every_key_of_the_shipped_configs_is_documented(repo, name):
    documented = {key for key, *_ in rows()}
    used = set(key_paths(load_config(repo / name)))
    assert "experiments.<name>.tasks.<task>.cv.scheme" in used
    assert used <= documented, sorted(used - documented)


def test_a_new_schema_key_makes_the_doc_stale():
    """The test above would catch a key added to the schema but not to the doc."""
    schema = copy.deepcopy(load_schema())
    schema["$defs"]["cv"]["properties"]["shuffle"] = {
        "type": "boolean", "default": False, "description": "shuffle before splitting",
    }  # fmt: skip
    text = render(schema)
    assert text != render()
    row = "| `experiments.<name>.tasks.<task>.cv.shuffle` | boolean | `false` | shuffle before"
    assert row in text
