"""An experiment preset, resolved: its settings, and which cells, probes and checks it runs.

:func:`resolve_experiment` validates the whole configuration against the schema (which
fills in every default: :mod:`musictransfer.config.schema`), then checks what a schema
cannot (the experiment exists, every task names a valid combination, the mirror exists,
...) and builds an :class:`Experiment`. The Experiment answers every question the
workflow asks of the configuration: which cells exist and which are skipped (and why),
which combinations one evaluation job batches, which probes and batch-boundary tests run.
The workflow's input functions (``workflow/rules/common.smk``) only ask it, and the paths
are :class:`~musictransfer.config.layout.Layout`'s.

Standard library, PyYAML and jsonschema only: the Snakefile imports this module.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from musictransfer.config.representations import RepresentationSpec, representation_specs
from musictransfer.config.schema import validated, with_current_names
from musictransfer.config.settings import (
    Choi2017Settings,
    DatasetOptions,
    DemoSettings,
    FixedSplit,
    ProtocolSettings,
    dataset_options,
    protocol_settings,
)
from musictransfer.config.specs import (
    EXTRACTOR_PATTERN,
    SCENE,
    TaskSpec,
    choi2017_bn_mode,
    expand_combos,
    is_choi2017,
    is_extractor,
    task_spec,
)
from musictransfer.constants import AUTHORS_BATCH_SIZE, BN_MODES, MFCC_COMBOS
from musictransfer.datasets import SOURCE_DATASETS
from musictransfer.datasets.paper import RELEASED_DATASETS
from musictransfer.errors import ConfigError
from musictransfer.fetching import check_mirror
from musictransfer.layout import Layout
from musictransfer.published import PublishedScore

__all__ = [
    "Cell",
    "Choi2017Settings",
    "DatasetOptions",
    "DemoSettings",
    "Experiment",
    "FixedSplit",
    "Probe",
    "ProtocolSettings",
    "SkippedCell",
    "resolve_experiment",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cell:
    """One evaluation cell: a task, an extractor and a layer combination."""

    task: str
    extractor: str
    combo: str


@dataclass(frozen=True)
class SkippedCell:
    """A cell that cannot be computed, and why (the report lists them)."""

    cell: Cell
    reason: str

    def __str__(self) -> str:
        return f"{self.cell.task}/{self.cell.extractor}/{self.cell.combo} ({self.reason})"


@dataclass(frozen=True)
class Probe:
    """One probe of today's protocols: a cell's features fitted on its task's fixed split."""

    task: str
    extractor: str
    combo: str
    kind: str


@dataclass(frozen=True)
class Experiment:
    """A resolved experiment preset, with the run's options (``only_tasks``, ``fold_jobs``).

    Every setting is the schema-validated configuration's, defaults filled in; the typed
    attributes keep values as written, because the rules pass them to jobs as parameters
    and a value written differently would rerun the jobs.
    """

    name: str
    layout: Layout
    tasks: dict[str, TaskSpec]
    """Every task of the preset (the selected ones: :attr:`selected_tasks`)."""
    extractors: dict[str, tuple[str, ...]]
    selected_tasks: tuple[str, ...]
    batch_cells: bool
    fold_jobs: int
    shard_clips: int | None
    """Clips per shard of the prepared stores; None: one file per dataset."""
    datasets: dict[str, DatasetOptions]
    """Real datasets, downloaded or read in place, by registry name."""
    released_features: bool
    """Read the authors' released features and labels instead of audio."""
    training: dict[str, Any]
    """The tagger's training settings, defaults filled (``musictransfer train --settings``)."""
    random_convnet_seed: int
    choi2017: Choi2017Settings
    demo: DemoSettings | None = None
    """Where the raw audio of the demo datasets comes from (None: no demo datasets)."""
    published: dict[str, PublishedScore] = field(default_factory=dict)
    """Tasks with a published score to compare with, by task."""
    authors_tasks: dict[str, str] = field(default_factory=dict)
    """Tasks with a counterpart in the authors' result files: our name -> theirs."""
    description: str = ""
    notes: tuple[str, ...] = ()
    machine: str | None = None
    protocols: ProtocolSettings | None = None
    """Today's protocols (fixed splits, probes, intervals); None: the paper's only."""
    mirror: Path | None = None
    protocols_mirror: Path | None = None
    representations: dict[str, RepresentationSpec] = field(default_factory=dict)
    """The representations brought by the user that this experiment lists, by name."""

    @property
    def root(self) -> Path:
        """``results/<experiment>``: every output of this experiment lives below it."""
        return self.layout.root

    # --- where a dataset's files come from ------------------------------------------------

    def raw_manifest(self, dataset: str) -> str:
        """The first manifest of a dataset: the demo's synthesis or a real dataset's."""
        if self.demo and dataset in self.demo.n_clips:
            return self.layout.demo_manifest(dataset)
        return self.layout.real_manifest(dataset)

    def labels_manifest(self, dataset: str) -> str:
        """The manifest evaluation reads a dataset's labels, folds and splits from."""
        if self.released_features:
            return self.layout.released_labels(dataset)
        return self.layout.prepared_manifest(dataset)

    def first_labels(self, dataset: str) -> str:
        """The earliest file with a dataset's labels: what check_task reads, at once."""
        return (
            self.labels_manifest(dataset) if self.released_features else self.raw_manifest(dataset)
        )

    def features_file(self, extractor: str, dataset: str) -> str:
        """A feature file (``extractor`` 'mfcc' for MFCC): released, or extracted here."""
        if self.released_features and extractor not in self.representations:
            kind = "mfcc" if extractor == "mfcc" else "choi2017"
            return self.layout.released_features(kind, dataset)
        return self.layout.features(extractor, dataset)

    # --- extractors -------------------------------------------------------------------

    def extractors_of(self, kind: str) -> list[str]:
        """The experiment's representations of one kind: 'hear' or 'features'."""
        return [n for n, r in self.representations.items() if r.kind == kind]

    @property
    def extractor_pattern(self) -> str:
        """Every extractor name of this experiment (the workflow's wildcard constraint)."""
        names = "|".join(re.escape(n) for n in self.representations)
        return f"{EXTRACTOR_PATTERN}|{names}" if names else EXTRACTOR_PATTERN

    def probe_combos(self, extractor: str) -> tuple[str, ...]:
        """The combinations probed with an extractor: the block's, or a representation's scene.

        A representation's layers are its own, so the block's convnet combinations do not
        name them; its scene embedding is what is probed, and the paired tests compare
        it with MFCC and with the first extractor's best.
        """
        if self.protocols is None:
            return ()
        if extractor in self.representations:
            return (SCENE,) if SCENE in self.extractors[extractor] else ()
        return self.protocols.combos

    # --- cells ------------------------------------------------------------------------

    def all_cells(self) -> list[Cell]:
        """Every (task, extractor, combo) cell of the preset, in a stable order."""
        return [
            Cell(task, extractor, combo)
            for task in self.tasks
            for extractor, combos in self.extractors.items()
            for combo in combos
        ]

    def skipped_cells(self) -> list[SkippedCell]:
        """Selected cells that cannot be run: MFCC ones of datasets without released MFCC."""
        if not self.released_features:
            return []
        return [
            SkippedCell(cell, f"no released MFCC file for {self.tasks[cell.task].dataset}")
            for cell in self.all_cells()
            if cell.task in self.selected_tasks
            and cell.combo in MFCC_COMBOS
            and RELEASED_DATASETS[self.tasks[cell.task].dataset].mfcc is None
        ]

    def cells(self) -> list[Cell]:
        """The cells this run evaluates: the selected tasks' cells, less the skipped ones."""
        skipped = {s.cell for s in self.skipped_cells()}
        return [c for c in self.all_cells() if c.task in self.selected_tasks and c not in skipped]

    @property
    def batch_combos(self) -> tuple[str, ...]:
        """Combinations one evaluation job computes together per (task, extractor).

        A rule's outputs cannot depend on a wildcard, so a batch holds the combinations
        every extractor of the experiment has (the demo's 31 convnet ones); the others
        (the MFCC baselines) stay one job per cell. Empty unless ``batch_cells``.
        """
        if not self.batch_cells:
            return ()
        common = set.intersection(*(set(c) for c in self.extractors.values()))
        return tuple(c for c in next(iter(self.extractors.values())) if c in common)

    def combos_by_rule(self) -> dict[str, tuple[str, ...]]:
        """Which evaluation rule makes which combinations' cell files: they never overlap.

        ``evaluate_batch`` makes :attr:`batch_combos`; ``evaluate`` the other cells, or
        none when ``fold_jobs`` > 1, where ``merge_fold_parts`` makes every cell from the
        parts that ``evaluate_fold_part`` computes.
        """
        combos = tuple(dict.fromkeys(c for cs in self.extractors.values() for c in cs))
        single = tuple(c for c in combos if c not in self.batch_combos)
        split = self.fold_jobs > 1
        return {
            "evaluate_batch": self.batch_combos,
            "evaluate": () if split else single,
            "merge_fold_parts": single if split else (),
        }

    # --- today's protocols -----------------------------------------------------------

    @property
    def protocol_tasks(self) -> list[str]:
        """Selected tasks with a fixed split in the ``protocols`` block."""
        if self.protocols is None:
            return []
        return [t for t in self.selected_tasks if t in self.protocols.tasks]

    def probes(self) -> list[Probe]:
        """Every probe: fixed-split task x extractor x probed combination x probe kind."""
        if self.protocols is None:
            return []
        skipped = {s.cell for s in self.skipped_cells()}
        return [
            Probe(t, e, c, kind)
            for t in self.protocol_tasks
            for e in self.extractors
            for c in self.probe_combos(e)
            for kind in self.protocols.probes
            if Cell(t, e, c) not in skipped
        ]

    def protocol_cells(self) -> list[Cell]:
        """The paper's cells of the probed combinations, of every selected task."""
        if self.protocols is None:
            return []
        return [c for c in self.cells() if c.combo in self.probe_combos(c.extractor)]

    def batch_boundary_entries(self) -> list[tuple[str, str]]:
        """(dataset, extractor) pairs whose convnet features get the batch-boundary test.

        With a ``protocols`` block: the classification datasets of the selected tasks,
        with the authors' released features (extractor choi2017), or with every choi2017
        extractor of an experiment from audio (each statistics mode, extracted here).
        """
        if self.protocols is None:
            return []
        datasets = [
            self.tasks[t].dataset
            for t in self.selected_tasks
            if self.tasks[t].type == "classification"
            and (not self.released_features or self.tasks[t].dataset in RELEASED_DATASETS)
        ]
        extractors = [e for e in self.extractors if is_choi2017(e)]
        return [(d, e) for d in dict.fromkeys(datasets) for e in extractors]

    def batch_boundary_column(self, dataset: str) -> str:
        """The class column of a dataset for the batch-boundary test: its tasks' target."""
        targets = {
            self.tasks[t].target
            for t in self.selected_tasks
            if self.tasks[t].dataset == dataset and self.tasks[t].type == "classification"
        }
        return sorted(targets)[0]

    @property
    def extraction_batch_size(self) -> int:
        """Clips per extraction batch: the authors' 256 for their features, else the config's."""
        return AUTHORS_BATCH_SIZE if self.released_features else self.choi2017.batch_size

    # --- report -----------------------------------------------------------------------

    def selected_published(self) -> dict[str, dict[str, Any]]:
        """Per selected task, the published score to compare with (its combo and label)."""
        return {
            task: asdict(self.published[task])
            for task in self.selected_tasks
            if task in self.published
        }

    def selected_authors_tasks(self) -> dict[str, str]:
        """Selected tasks that name their counterpart in the authors' result files."""
        return {t: self.authors_tasks[t] for t in self.selected_tasks if t in self.authors_tasks}

    def report_extra(self) -> dict[str, Any]:
        """Facts for the report beyond the score table: description, notes, skipped cells."""
        extra: dict[str, Any] = {
            "description": self.description,
            "notes": list(self.notes),
            "skipped": [str(s) for s in self.skipped_cells()],
        }
        if self.machine:
            extra["machine"] = self.machine
        return extra


def resolve_experiment(
    config: Mapping[str, Any], name: str | None = None, warn: Any = None
) -> Experiment:
    """Build the :class:`Experiment` selected by ``config['experiment']`` (or ``name``).

    Parameters
    ----------
    config
        The merged configuration (config.yaml, ``--configfile`` overlays, ``--config``).
    name
        The preset to resolve; by default ``config['experiment']``.
    warn
        Called with a message for each deprecated key (default: :mod:`logging`).

    Raises
    ------
    ConfigError
        If the configuration does not follow the schema (an unknown key included), the
        experiment does not exist, any task, extractor or combination in it is invalid,
        or a mirror directory does not exist; the message names the offending key.
    """
    config = validated(with_current_names(config, warn or log.warning))
    name = name or config.get("experiment")
    presets = config["experiments"]
    if name not in presets:
        raise ConfigError(
            f"experiment {name!r} is not defined under 'experiments' in the config",
            f"choose one of: {', '.join(sorted(presets)) or '(none defined)'}",
        )
    raw = presets[name]
    where = f"experiments.{name}"
    tasks = {
        task: task_spec(spec, task, f"{where}.tasks.{task}") for task, spec in raw["tasks"].items()
    }
    known = representation_specs(config["representations"])
    extractors = _extractors(raw, where, known)
    representations = {n: known[n] for n in extractors if n in known}
    _check_representations(raw, representations, where)
    _check_choi2017_variants(raw, extractors, where)
    _check_datasets(raw, tasks, where)
    choi2017 = raw["choi2017"]
    demo = raw.get("demo")
    return Experiment(
        name=name,
        layout=Layout(Path(config["results"]) / name, Path(config["data"] or "data")),
        tasks=tasks,
        extractors=extractors,
        selected_tasks=_selected_tasks(config.get("only_tasks"), tasks, name),
        batch_cells=_batch_cells(config, raw, where),
        fold_jobs=config["fold_jobs"],
        shard_clips=config.get("shard_clips"),
        datasets={
            dataset: dataset_options(dataset, opts, f"{where}.datasets")
            for dataset, opts in raw.get("datasets", {}).items()
        },
        released_features=raw["released_features"],
        training=raw["training"],
        random_convnet_seed=raw["random_convnet"]["seed"],
        choi2017=Choi2017Settings(
            bn_mode=choi2017["bn_mode"],
            batch_size=choi2017["batch_size"],
            chunk_size=choi2017["chunk_size"],
            batch_order=choi2017["batch_order"],
        ),
        demo=DemoSettings(demo["seed"], dict(demo["n_clips"])) if demo else None,
        published={
            task: PublishedScore(
                score=spec["published_score"],
                combo=spec["published_combo"],  # 'best' (the default): not known
                label=spec["published_label"],
                scores=spec["published_scores"],
            )
            for task, spec in raw["tasks"].items()
            if spec["published_score"] is not None
        },
        authors_tasks={
            task: spec["authors_task"]
            for task, spec in raw["tasks"].items()
            if "authors_task" in spec
        },
        description=raw["description"],
        notes=tuple(raw["notes"]),
        machine=config.get("machine"),
        protocols=protocol_settings(raw, tasks, where),
        mirror=_mirror(config, "mirror"),
        protocols_mirror=_mirror(config, "protocols_mirror"),
        representations=representations,
    )


def _mirror(config: Mapping[str, Any], key: str) -> Path | None:
    """A mirror directory of the config, checked to exist (None where unset)."""
    value = config.get(key)
    return check_mirror(value, f"config key {key!r}") if value else None


def _extractors(
    raw: Mapping[str, Any], where: str, representations: Mapping[str, RepresentationSpec]
) -> dict[str, tuple[str, ...]]:
    """The preset's extractors, each with its expanded layer combinations."""
    extractors: dict[str, tuple[str, ...]] = {}
    for extractor, combos in raw["extractors"].items():
        key = f"{where}.extractors.{extractor}"
        if extractor in representations:
            n_layers = len(representations[extractor].layers)
            extractors[extractor] = expand_combos(combos, key, n_layers=n_layers)
            continue
        if not is_extractor(extractor):
            raise ConfigError(
                f"unknown extractor {extractor!r} in {where}.extractors",
                f"use 'random', 'choi2017', 'choi2017-<{'|'.join(BN_MODES)}>', "
                "'tagger-<source>' or a name under the top-level `representations`",
            )
        if extractor.startswith("tagger-"):
            source = extractor.removeprefix("tagger-")
            if source not in raw["sources"]:
                raise ConfigError(
                    f"{where}.extractors names {extractor!r} but {source!r} is not in "
                    f"{where}.sources",
                    f"add {source!r} to {where}.sources or remove the extractor",
                )
        extractors[extractor] = expand_combos(combos, key)
    return extractors


def _check_representations(
    raw: Mapping[str, Any], representations: Mapping[str, RepresentationSpec], where: str
) -> None:
    """A HEAR module needs audio: not with the released features (which have none)."""
    if not raw["released_features"]:
        return
    modules = [n for n, r in representations.items() if r.kind == "hear"]
    if modules:
        raise ConfigError(
            f"{where}.extractors lists {modules[0]!r}, a HEAR module, but the experiment "
            "reads the released features (it has no audio)",
            "use a features file, or an experiment from audio",
        )


def _selected_tasks(
    only: list[str] | None, tasks: Mapping[str, TaskSpec], name: str
) -> tuple[str, ...]:
    """The preset's tasks, restricted to config ``only_tasks`` where that is set."""
    if not only:
        return tuple(tasks)
    unknown = [t for t in only if t not in tasks]
    if unknown:
        raise ConfigError(
            f"only_tasks names {unknown} that experiment {name!r} does not have",
            f"its tasks: {', '.join(tasks)}",
        )
    return tuple(t for t in tasks if t in only)


def _check_datasets(raw: Mapping[str, Any], tasks: Mapping[str, TaskSpec], where: str) -> None:
    """Every task's dataset has a source in the preset: the demo, a real dataset, or released.

    Checked here so that an unknown name fails before anything runs, not in a download.
    """
    demo = set((raw.get("demo") or {}).get("n_clips", {}))
    real = set(raw.get("datasets", {}))
    registered = [*RELEASED_DATASETS, *SOURCE_DATASETS]
    for name, opts in raw.get("datasets", {}).items():
        if name not in registered and not (opts or {}).get("audio_dir"):
            near = difflib.get_close_matches(name, registered, n=1)
            raise ConfigError(
                f"{where}.datasets.{name}: no dataset of the registry has that name"
                + (f" (did you mean {near[0]!r}?)" if near else ""),
                f"use one of {', '.join(registered)}, or give audio_dir and labels for "
                "a folder of your own",
            )
    released = set(RELEASED_DATASETS) if raw["released_features"] else set()
    for task, spec in tasks.items():
        if spec.dataset not in demo | real | released:
            known = sorted(demo | real | released)
            raise ConfigError(
                f"{where}.tasks.{task}.dataset is {spec.dataset!r}, which the experiment "
                "does not provide",
                f"use one of {', '.join(known) or '(none)'}, or add it to {where}.datasets "
                "or demo.n_clips",
            )


def _check_choi2017_variants(
    raw: Mapping[str, Any], extractors: Mapping[str, Any], where: str
) -> None:
    """Refuse two names for one extraction, and modes the released features cannot give.

    'choi2017' runs under the block's ``bn_mode``, so listing it beside
    'choi2017-<that mode>' would compute the same features twice under two names; the
    released features are the authors' own extraction (batch statistics), so a named mode
    needs audio.
    """
    block_mode = raw["choi2017"]["bn_mode"]
    if "choi2017" in extractors and f"choi2017-{block_mode}" in extractors:
        raise ConfigError(
            f"{where}.extractors lists both 'choi2017' and 'choi2017-{block_mode}', the same "
            f"extraction ({where}.choi2017.bn_mode is {block_mode!r})",
            "keep one of them",
        )
    named = [e for e in extractors if choi2017_bn_mode(e)]
    if named and raw["released_features"]:
        raise ConfigError(
            f"{where}.extractors names {named[0]!r}, but the experiment reads the released "
            "features (the authors' own extraction, batch statistics)",
            "use 'choi2017', or an experiment from audio for other statistics modes",
        )


def _batch_cells(config: Mapping[str, Any], raw: Mapping[str, Any], where: str) -> bool:
    """Whether to run one evaluation job per (task, extractor) rather than per cell.

    The top-level key ``batch_cells`` (true/false) overrides the experiment's own. Batching
    and ``fold_jobs > 1`` pull in opposite directions (fewer, bigger jobs vs more, smaller
    ones), so asking for both is an error rather than a silent choice.
    """
    batch = config.get("batch_cells")
    if batch is None:
        batch = raw["batch_cells"]
    if batch and config["fold_jobs"] > 1:
        raise ConfigError(
            f"batch_cells (from {'the config' if config.get('batch_cells') else where}) "
            f"and fold_jobs={config['fold_jobs']} cannot be combined",
            "set batch_cells=false to split cells by fold, or fold_jobs=1 to batch them",
        )
    return bool(batch)
