"""The configuration reference, ``docs/configuration.md``, generated from the schema.

``python -m musictransfer.config_doc > docs/configuration.md`` writes one table row per
key of the configuration's JSON schema (:data:`musictransfer.config.SCHEMA_FILE`): its
dotted path (``experiments.<name>.tasks.<task>.cv.scheme``), type, default and
description. The schema is what validates a configuration, so a reference made from it
cannot list a key the code rejects or miss one it accepts; ``tests/test_config_doc.py``
fails when the file is not what this module writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from musictransfer.config import SCHEMA_DOC, SCHEMA_FILE

REGENERATE = "python -m musictransfer.config_doc > docs/configuration.md"

PLACEHOLDERS = {
    "experiments": "<name>",
    "tasks": "<task>",
    "datasets": "<dataset>",
    "extractors": "<extractor>",
    "n_clips": "<dataset>",
    "published_scores": "<combo>",
    "representations": "<representation>",
    "options": "<option>",
}
"""How a path names the keys a mapping takes freely (any experiment, task, dataset...)."""

_TYPES = {"object": "mapping", "array": "list", "null": "null"}

Row = tuple[str, str, str, str]
"""(key path, type, default, description) of one key."""


def load_schema() -> dict[str, Any]:
    """The configuration's JSON schema."""
    return yaml.safe_load(SCHEMA_FILE.read_text())


def _resolve(node: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """A schema node with its ``$ref`` (``#/$defs/<name>``) followed."""
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _is_entry(node: Mapping[str, Any]) -> bool:
    """Whether the entries of a free mapping get rows of their own (else: the type says)."""
    return "properties" in node or "additionalProperties" in node or node.get("type") == "array"


def type_text(node: Mapping[str, Any], schema: Mapping[str, Any]) -> str:
    """``integer (>= 1)``, ```batch`, `dataset` ``, ``string or null``, ``list of string``."""
    node = _resolve(node, schema)
    if "enum" in node:
        return ", ".join(f"`{value}`" for value in node["enum"])
    types = node.get("type", [])
    text = " or ".join(_TYPES.get(t, t) for t in ([types] if isinstance(types, str) else types))
    if "items" in node:
        text = text.replace("list", f"list of {type_text(node['items'], schema)}", 1)
    entries = node.get("additionalProperties")
    if isinstance(entries, Mapping) and not _is_entry(_resolve(entries, schema)):
        text = text.replace("mapping", f"mapping of {type_text(entries, schema)}", 1)
    bounds = [
        f"{sign} {node[key]}"
        for key, sign in (
            ("minimum", ">="),
            ("exclusiveMinimum", ">"),
            ("exclusiveMaximum", "<"),
            ("maximum", "<="),
        )
        if key in node
    ]
    return f"{text} ({', '.join(bounds)})" if bounds else text


def default_text(node: Mapping[str, Any], required: bool) -> str:
    """The default as YAML would write it, ``required``, or a dash (absent: unset)."""
    if "default" in node:
        return f"`{json.dumps(node['default'])}`"
    return "required" if required else "-"


def _description(node: Mapping[str, Any], schema: Mapping[str, Any]) -> str:
    text = node.get("description")
    if text is None and "items" in node:
        text = f"each: {_resolve(node['items'], schema).get('description', '')}"
    # One line; a '|' would end the table's cell, a '<source>' would be read as HTML.
    return " ".join(str(text or "").split()).replace("|", "\\|").replace("<", "\\<")


def rows(schema: Mapping[str, Any] | None = None) -> list[Row]:
    """One row per key of the schema, depth first, in the schema's order."""
    schema = schema if schema is not None else load_schema()
    return list(_rows(schema, schema, ""))


def _rows(node: Mapping[str, Any], schema: Mapping[str, Any], path: str) -> Iterator[Row]:
    node = _resolve(node, schema)
    required = set(node.get("required", ()))
    for key, child in node.get("properties", {}).items():
        child_path = f"{path}.{key}" if path else key
        yield from _key_rows(child, schema, child_path, key in required)
    entries = node.get("additionalProperties")
    if isinstance(entries, Mapping) and _is_entry(_resolve(entries, schema)):
        name = PLACEHOLDERS.get(path.rsplit(".", 1)[-1], "<key>")
        yield from _key_rows(entries, schema, f"{path}.{name}", False)


def _key_rows(
    node: Mapping[str, Any], schema: Mapping[str, Any], path: str, required: bool
) -> Iterator[Row]:
    resolved = _resolve(node, schema)
    # A $ref's own description (at the point of use) wins over the definition's.
    described = node if "description" in node else resolved
    yield (
        path,
        type_text(resolved, schema),
        default_text(resolved, required),
        _description(described, schema),
    )
    yield from _rows(resolved, schema, path)


def render(schema: Mapping[str, Any] | None = None) -> str:
    """The whole of ``docs/configuration.md``."""
    schema = schema if schema is not None else load_schema()
    found = rows(schema)
    free = [
        f"`{name}`"
        for name in dict.fromkeys(PLACEHOLDERS.values())
        if any(name in row[0] for row in found)
    ]
    names = " and ".join([", ".join(free[:-1]), free[-1]] if len(free) > 1 else free)
    lines = [
        "# Configuration reference",
        "",
        f"Generated from the configuration's schema (`{SCHEMA_DOC}`) by",
        f"`{REGENERATE}`; `tests/test_config_doc.py` checks it is current.",
        "",
        " ".join(schema["description"].split()),
        "",
        f"{names} stand for names you choose. Default "
        "`-`: no default (the key is unset unless given); `required`: the key must be given.",
        "",
        "| key | type | default | description |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{key}` | {kind} | {default} | {text} |" for key, kind, default, text in found]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render(), end="")
