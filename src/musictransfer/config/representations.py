"""Representations brought by the user: the top-level ``representations`` block, typed.

A representation is a HEAR 2021 module (``hear``), run by the workflow's
``extract_representation`` rule in its own environment (``env``), or a features file
(``features``) that ``import_features`` checks and aligns to a dataset's clips. Either way
it becomes an extractor of the experiments that list its name, with a feature file per
dataset in the format of :mod:`musictransfer.featurefile`, and then goes through the same
cells, probes, tables and report as the paper's networks. Standard library only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from musictransfer.config.specs import EXTRACTOR_PATTERN
from musictransfer.errors import ConfigError

POOLINGS = ("mean", "max", "meanstd")
"""How frames (n, T, d) of a features file become one row per clip."""
DATASET_PLACEHOLDER = "{dataset}"
"""In a ``features`` path: replaced by each dataset's name."""
DEFAULT_ENV = "envs/representation.yaml"
"""The extraction job's conda env where a representation names none (PyTorch)."""
_BUILT_IN = re.compile(rf"^(?:{EXTRACTOR_PATTERN}|mfcc)$")


@dataclass(frozen=True)
class RepresentationSpec:
    """One entry of ``representations``, with the schema's defaults filled in."""

    name: str
    hear: str | None
    features: str | None
    model_file: str | None
    options: Mapping[str, Any] = field(default_factory=dict)
    env: str | None = None
    python: str | None = None
    layers: tuple[str, ...] = ()
    pooling: str = "mean"
    batch_size: int = 8
    sample_rate: int | None = None

    @property
    def kind(self) -> str:
        """'hear' for a module, 'features' for a features file."""
        return "hear" if self.hear else "features"

    def features_path(self, dataset: str) -> str:
        """The features file (or folder) of one dataset: ``{dataset}`` filled in."""
        assert self.features is not None
        return self.features.replace(DATASET_PLACEHOLDER, dataset)

    def to_json(self) -> str:
        """What decides the numbers, as the rules pass it to a job (a tracked parameter).

        Changing the module, its options, layers, batch size or model file's path (or,
        since the file is an input, its content) reruns exactly this representation's
        extraction, and so its cells.
        """
        keys = ("hear", "model_file", "options", "layers", "batch_size")
        return json.dumps({k: asdict(self)[k] for k in keys}, sort_keys=True)


def representation_specs(block: Mapping[str, Any]) -> dict[str, RepresentationSpec]:
    """The ``representations`` block as :class:`RepresentationSpec` objects, checked.

    Raises
    ------
    ConfigError
        If an entry has both or neither of ``hear`` and ``features``, keys that do not
        apply to its kind, or a name that a built-in extractor has.
    """
    specs = {}
    for name, raw in block.items():
        where = f"representations.{name}"
        if _BUILT_IN.match(name):
            raise ConfigError(
                f"{where}: {name!r} is the name of a built-in extractor",
                "give your representation another name",
            )
        kinds = [k for k in ("hear", "features") if raw.get(k)]
        if len(kinds) != 1:
            raise ConfigError(
                f"{where} has {' and '.join(kinds) or 'neither hear nor features'}",
                "give exactly one: hear (a module's dotted name) or features (a file)",
            )
        if kinds == ["features"]:
            wrong = (
                [k for k in ("model_file", "env", "sample_rate") if raw.get(k)]
                + (["options"] if raw.get("options") else [])
                + (["layers"] if raw.get("layers") else [])
            )
            if wrong:
                raise ConfigError(
                    f"{where}.{wrong[0]} applies to a HEAR module, not to a features file",
                    f"remove {where}.{wrong[0]}",
                )
        specs[name] = RepresentationSpec(
            name=name,
            hear=raw.get("hear"),
            features=raw.get("features"),
            model_file=raw["model_file"],
            options=dict(raw["options"]),
            env=raw["env"],
            python=raw["python"],
            layers=tuple(raw["layers"]),
            pooling=raw["pooling"],
            batch_size=int(raw["batch_size"]),
            sample_rate=raw.get("sample_rate"),
        )
    return specs


def interpreter(spec: RepresentationSpec) -> str:
    """The Python of a representation's extraction job without conda: ``python``, else the job's.

    As written (relative to the working directory, where jobs run): it is a parameter of
    the job, and an absolute path would rerun the job whenever the checkout moves.
    """
    return spec.python or "python"


def env_file(spec: RepresentationSpec, workflow_dir: str | Path) -> str:
    """The conda env file of a representation's extraction job, as an absolute path.

    A path in the configuration is the user's, relative to the working directory; the
    default env is the workflow's own.
    """
    if spec.env:
        return str(Path(spec.env).resolve())
    return str(Path(workflow_dir) / DEFAULT_ENV)


__all__ = [
    "DATASET_PLACEHOLDER",
    "DEFAULT_ENV",
    "POOLINGS",
    "RepresentationSpec",
    "env_file",
    "interpreter",
    "representation_specs",
]
