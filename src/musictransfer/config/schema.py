"""Reading, merging and validating the configuration; the schema is every default's home.

The JSON schema (``musictransfer/data/config.schema.yaml``, linked from
``workflow/schemas/config.schema.yaml``) declares every key, its type, its meaning and its
default. :func:`validated` checks a configuration against it (unknown keys at any level
are errors naming the closest known key) and returns a copy with every absent key that
has a default filled in, so that no other module states a default again: the typed
settings of :mod:`musictransfer.config.experiment` and
:class:`musictransfer.training.TrainingSettings` are built from the filled mapping.

Standard library, PyYAML and jsonschema only: the Snakefile imports this in Snakemake's
own environment.
"""

from __future__ import annotations

import copy
import difflib
import functools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from musictransfer.errors import ConfigError

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "data" / "config.schema.yaml"
"""The configuration's JSON schema (the workflow's ``workflow/schemas`` links to it)."""
SCHEMA_DOC = "workflow/schemas/config.schema.yaml"
"""Where messages point users for the schema (a link to :data:`SCHEMA_FILE`)."""


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML configuration file, with a clear error if it is missing or invalid.

    A syntax error names the file, the line and the column (Snakemake's own message for
    a config file names neither), so the Snakefile reads ``config.yaml`` through this
    before Snakemake does.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"config file {path} is not valid YAML{where}: {problem}",
            "fix the syntax there (indent with spaces, close every bracket and quote)",
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return data


def load_configs(paths: Iterable[str | os.PathLike[str]]) -> dict[str, Any]:
    """Read configuration files and merge them in order, as Snakemake's ``--configfile``.

    A later file's mapping updates the earlier ones key by key, recursively; any other
    value replaces the earlier one.
    """
    merged: dict[str, Any] = {}
    for path in paths:
        merge_config(merged, load_config(path))
    return merged


def merge_config(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Update ``base`` with ``overlay`` recursively (Snakemake's ``update_config``)."""
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge_config(base[key], value)
        else:
            base[key] = dict(value) if isinstance(value, Mapping) else value
    return base


@functools.cache
def schema() -> dict[str, Any]:
    """The configuration's JSON schema, read once per process."""
    return yaml.safe_load(SCHEMA_FILE.read_text())


def _filling(validator_class: Any) -> Any:
    """A validator class that also writes each absent property's ``default`` in place.

    Defaults are filled before the properties are validated, so a filled value is checked
    like a written one, and recursively: a filled mapping gets its own defaults.
    """
    check_properties = validator_class.VALIDATORS["properties"]

    def fill_then_check(
        validator: Any, properties: Mapping[str, Any], instance: Any, node: Mapping[str, Any]
    ) -> Iterator[Any]:
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if key not in instance and isinstance(sub, Mapping) and "default" in sub:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from check_properties(validator, properties, instance, node)

    from jsonschema.validators import extend  # lazy: as in _validator

    return extend(validator_class, {"properties": fill_then_check})


@functools.cache
def _validator(definition: str | None = None) -> Any:
    """The filling validator of the whole schema, or of one of its ``$defs``."""
    # lazy: jsonschema takes ~0.1 s to import, and every job's command line reads the
    # schema's defaults (default_of) without validating anything.
    from jsonschema import Draft202012Validator

    full = schema()
    node = full if definition is None else {**full["$defs"][definition], "$defs": full["$defs"]}
    return _filling(Draft202012Validator)(node)


def validated(config: Mapping[str, Any], definition: str | None = None) -> dict[str, Any]:
    """A copy of ``config``, checked against the schema and with its defaults filled in.

    Parameters
    ----------
    config
        The whole configuration, or one block of it with ``definition``.
    definition
        A ``$defs`` entry of the schema (``training``, ``task``, ...) that ``config``
        follows; None for the whole configuration.

    Raises
    ------
    ConfigError
        Naming the key: an unknown key (with the closest known one, for a typo) or a
        value of the wrong type, range or form.
    """
    filled = _normalised(copy.deepcopy(dict(config)))
    validator = _validator(definition)
    # At one key, an unknown key is reported before a missing one: 'expriment' is the
    # likelier mistake than a forgotten 'experiment', and its message names the closest.
    errors = sorted(
        validator.iter_errors(filled),
        key=lambda e: ([str(p) for p in e.absolute_path], e.validator == "required"),
    )
    if errors:
        raise _config_error(errors[0], prefix=definition or "")
    return filled


DEPRECATED_KEYS = {"modern": "protocols"}
"""Old spellings of an experiment's keys that are still read, with a warning: old -> new."""

DEPRECATED_TASK_KEYS = {
    "reference": "published_score",
    "reference_combo": "published_combo",
    "reference_label": "published_label",
}
"""Old spellings of a task's keys (a published score was called its reference)."""


def with_current_names(config: Mapping[str, Any], warn: Callable[[str], Any]) -> dict[str, Any]:
    """A copy of ``config`` with every deprecated key renamed, each one reported to ``warn``.

    Users' own configuration files may hold the old spellings; they keep working, with a
    message naming the key and its new name, and both spellings at once is an error.
    """
    config = dict(config)
    config["experiments"] = {
        n: _renamed_preset(p, f"experiments.{n}", warn) if isinstance(p, dict) else p
        for n, p in (config.get("experiments") or {}).items()
    }
    return config


def _renamed_preset(raw: dict[str, Any], where: str, warn: Any) -> dict[str, Any]:
    """A preset with deprecated keys renamed, its tasks' included."""
    out = _renamed(raw, DEPRECATED_KEYS, where, warn)
    if isinstance(out.get("tasks"), dict):
        out["tasks"] = {
            task: _renamed(spec, DEPRECATED_TASK_KEYS, f"{where}.tasks.{task}", warn)
            if isinstance(spec, dict)
            else spec
            for task, spec in out["tasks"].items()
        }
    return out


def _renamed(
    raw: dict[str, Any], renames: Mapping[str, str], where: str, warn: Any
) -> dict[str, Any]:
    """A mapping with deprecated keys renamed (both spellings at once is an error)."""
    out = dict(raw)
    for old, new in renames.items():
        if old in out:
            if new in out:
                raise ConfigError(
                    f"{where} has both {old!r} and {new!r}", f"keep {new!r} only ({old!r} is old)"
                )
            warn(f"{where}.{old} is deprecated: rename it to {where}.{new}")
            out[new] = out.pop(old)
    return out


def _normalised(config: dict[str, Any]) -> dict[str, Any]:
    """Null dataset entries as empty mappings, so that their defaults are filled too.

    ``datasets: {gtzan_genre: }`` (YAML null) is how a preset names a dataset with the
    default options.
    """
    for preset in (config.get("experiments") or {}).values():
        if isinstance(preset, dict) and isinstance(preset.get("datasets"), dict):
            preset["datasets"] = {k: {} if v is None else v for k, v in preset["datasets"].items()}
    return config


def _config_error(error: Any, prefix: str) -> ConfigError:
    """One validation error as a message naming the key and the next step."""
    where = _key_path(error.absolute_path, prefix) or "the config"
    if error.validator == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        key = next((k for k in error.instance if k not in known), "?")
        close = difflib.get_close_matches(str(key), known, n=1)
        return ConfigError(
            f"unknown key {key!r} in "
            f"{'the top level' if where == 'the config' else where} of the config",
            (f"did you mean {close[0]!r}? " if close else "")
            + f"the keys there are: {', '.join(known)} (see {SCHEMA_DOC})",
        )
    if error.validator == "required":
        return ConfigError(f"{where}: {error.message}", "add the key")
    meaning = error.schema.get("description")
    return ConfigError(
        f"{error.instance!r} in {where} is not valid: {error.message}",
        f"{where.rsplit('.', 1)[-1]}: {meaning}" if meaning else f"see {SCHEMA_DOC}",
    )


def _key_path(path: Iterable[Any], prefix: str = "") -> str:
    """``experiments.demo.extractors.random[1]``: a key path as written in the YAML."""
    out = prefix
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def default_of(*keys: str) -> Any:
    """The schema's default of an experiment key, e.g. ``default_of("choi2017", "bn_mode")``.

    The command line's options take their defaults from here, so that a command run by
    hand and the same step in the workflow agree without a second statement of them.
    """
    node = schema()["$defs"]["experiment"]
    for key in keys:
        node = node["properties"][key]
        if "$ref" in node:
            node = schema()["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return copy.deepcopy(node["default"])
