"""The blocks of an experiment preset, typed: demo, datasets, choi2017, protocols.

Each is built from its block of the schema-validated configuration (defaults filled in)
by :func:`musictransfer.config.resolve_experiment`; what a schema cannot check (a split's
column, a task named by the protocols block) is checked here, naming the key.
Standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from musictransfer.config.specs import TaskSpec, choi2017_bn_mode, expand_combos
from musictransfer.errors import ConfigError


@dataclass(frozen=True)
class DemoSettings:
    """The experiment's ``demo`` block: the synthetic corpus that generate_demo makes."""

    seed: int
    n_clips: Mapping[str, int]


@dataclass(frozen=True)
class DatasetOptions:
    """One entry of the experiment's ``datasets``: a real dataset and where it is.

    Either a dataset of the registry (downloaded, or read in place from ``data_dir``) or
    the user's own labelled audio folder (``audio_dir`` and ``labels``).
    """

    data_dir: str | None
    paper_order: bool
    audio_dir: str | None
    labels: str | None

    @property
    def is_folder(self) -> bool:
        """Whether this is the user's own labelled audio folder."""
        return self.audio_dir is not None


def dataset_options(name: str, opts: Mapping[str, Any], where: str) -> DatasetOptions:
    """One entry of ``datasets``: a registry dataset's options, or a labelled folder.

    Raises
    ------
    ConfigError
        If only one of ``audio_dir`` and ``labels`` is given, or a folder also has a
        registry dataset's options.
    """
    folder = {k for k in ("audio_dir", "labels") if opts.get(k) is not None}
    if folder and folder != {"audio_dir", "labels"}:
        missing = ({"audio_dir", "labels"} - folder).pop()
        raise ConfigError(
            f"{where}.{name} has {folder.pop()} but no {missing}",
            "your own dataset needs both: the audio folder and the labels CSV",
        )
    if folder and opts.get("data_dir") is not None:
        raise ConfigError(
            f"{where}.{name} has both audio_dir and data_dir",
            "data_dir is for datasets of the registry; keep audio_dir and labels",
        )
    return DatasetOptions(
        data_dir=opts["data_dir"],
        paper_order=opts["paper_order"] and not folder,
        audio_dir=opts["audio_dir"],
        labels=opts["labels"],
    )


@dataclass(frozen=True)
class Choi2017Settings:
    """The experiment's ``choi2017`` block: extraction with the authors' network."""

    bn_mode: str
    batch_size: int
    chunk_size: int
    batch_order: str | None

    def bn_mode_of(self, extractor: str) -> str:
        """The BatchNorm statistics of a choi2017 extractor: its suffix, else ``bn_mode``."""
        return choi2017_bn_mode(extractor) or self.bn_mode


@dataclass(frozen=True)
class FixedSplit:
    """A task's fixed train / valid / test split (one entry of ``protocols.tasks``).

    ``split`` names a published protocol (its files are fetched and mapped onto the
    released rows) or ``column``: the values of a column of the labels manifest, listed
    per split in ``train``, ``valid`` and ``test``.
    """

    split: str
    column: str | None
    train: tuple[str, ...]
    valid: tuple[str, ...]
    test: tuple[str, ...]

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> FixedSplit:
        """A split from its ``protocols.tasks`` entry as the schema validated and filled it.

        The one builder, for the configuration and for the JSON a job is given.
        """
        return cls(
            split=str(entry["split"]),
            column=entry["column"],
            train=tuple(str(v) for v in entry["train"]),
            valid=tuple(str(v) for v in entry["valid"]),
            test=tuple(str(v) for v in entry["test"]),
        )

    def to_json(self) -> str:
        """The split as the rules pass it to a job (``--split``)."""
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class ProtocolSettings:
    """The experiment's ``protocols`` block: today's protocols beside the paper's.

    Tasks in ``tasks`` get probes on a fixed split; the experiment's other tasks keep the
    paper's cross-validation, whose fold spread the protocols table reports instead.
    """

    tasks: dict[str, FixedSplit]
    probes: tuple[str, ...]
    combos: tuple[str, ...]
    n_boot: int
    seed: int


def protocol_settings(
    raw: Mapping[str, Any], tasks: Mapping[str, TaskSpec], where: str
) -> ProtocolSettings | None:
    """The preset's ``protocols`` block, checked against its tasks (None where absent).

    The schema checks the keys and types and fills the defaults; this checks what it
    cannot: that each task of the block is a task of the experiment, and that a
    ``column`` split names its column and gives each split value to one split only.
    """
    block = raw.get("protocols")
    if block is None:
        return None
    where = f"{where}.protocols"
    splits: dict[str, FixedSplit] = {}
    for task, entry in block["tasks"].items():
        key = f"{where}.tasks.{task}"
        if task not in tasks:
            raise ConfigError(
                f"{key} names a task the experiment does not have",
                f"use one of its tasks: {', '.join(tasks)}",
            )
        split = FixedSplit.from_entry(entry)
        if split.split == "column":
            if not split.column:
                raise ConfigError(
                    f"{key}.column is required for split 'column'",
                    "name the labels manifest column holding the split (e.g. category)",
                )
            values = [*split.train, *split.valid, *split.test]
            if len(set(values)) != len(values):
                raise ConfigError(
                    f"{key}: a value is listed in more than one of train, valid and test",
                    "give each value of the column to one split only",
                )
        splits[task] = split
    return ProtocolSettings(
        tasks=splits,
        probes=tuple(dict.fromkeys(block["probes"])),
        combos=expand_combos(block["combos"], f"{where}.combos"),
        n_boot=int(block["n_boot"]),
        seed=int(block["seed"]),
    )
