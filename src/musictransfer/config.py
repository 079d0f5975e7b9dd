"""Resolve the workflow configuration into an :class:`Experiment`.

Both the Snakefile and the command-line tools read the configuration through this
module, so the two cannot disagree on which tasks, extractors and layer combinations an
experiment has. It imports nothing beyond the standard library, PyYAML and jsonschema
(a dependency of Snakemake too), because the Snakefile imports it in Snakemake's own
environment.

:func:`resolve_experiment` first validates the whole configuration against the JSON
schema (``musictransfer/data/config.schema.yaml``, linked from
``workflow/schemas/config.schema.yaml``): types, shapes, and unknown keys at every level,
so that a misspelled key (``tranining:``) is an error naming it instead of being
ignored. It then checks what a schema cannot: that the chosen experiment exists, that
every task names a dataset and a valid combination, that the mirror directory exists,
and so on, with messages naming the key.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from musictransfer.constants import ALL_COMBOS, MFCC_COMBOS, N_FOLDS, PAPER_COMBOS
from musictransfer.errors import ConfigError
from musictransfer.fetching import check_mirror

CV_SCHEMES = (
    "stratified_kfold",
    "stratified_kfold_legacy",
    "kfold",
    "predefined_split",
    "predefined_folds",
)
TASK_TYPES = ("classification", "regression")
COMBO_ALIASES = {"all": ALL_COMBOS, "paper": PAPER_COMBOS}
EXTRACTOR_PATTERN = r"random|choi2017(?:-(?:batch|dataset|reference))?|tagger-[A-Za-z0-9_]+"
"""Extractor names (also the workflow's wildcard constraint): 'choi2017-<bn mode>' is the
authors' network under a named BatchNorm statistics mode, 'choi2017' under the mode of the
experiment's ``choi2017`` block."""
_EXTRACTOR_RE = re.compile(rf"^(?:{EXTRACTOR_PATTERN})$")
SCHEMA_FILE = Path(__file__).parent / "data" / "config.schema.yaml"
"""The configuration's JSON schema (the workflow's ``workflow/schemas`` links to it)."""
SCHEMA_DOC = "workflow/schemas/config.schema.yaml"
"""Where the README points users for the schema (a link to :data:`SCHEMA_FILE`)."""


@dataclass(frozen=True)
class CVSpec:
    """How a task's clips are split for the SVM grid search.

    ``stratified_kfold`` and ``kfold`` are scikit-learn's, without shuffling (as the
    authors' ``cv=10``); ``stratified_kfold_legacy`` is ``stratified_kfold`` with the
    folds scikit-learn gave before 0.22, the authors' (:mod:`musictransfer.folds`);
    ``predefined_split`` trains on every row whose ``column`` is not in ``test`` and
    tests on the rest (one split); ``predefined_folds`` uses ``column``'s values as
    folds (leave one fold out).
    """

    scheme: str
    n_splits: int = N_FOLDS
    column: str | None = None
    test: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskSpec:
    """One target task: a dataset, what to predict, and how to cross-validate.

    What an evaluation job needs, and nothing more: the rules pass it to the job as
    :meth:`to_json`, which Snakemake tracks as a parameter (a new field would change
    every cell's parameter, and so rerun every cell of existing results). What only the
    report needs (the published score's combination and label, the authors' name of the
    task) is in :attr:`Experiment.references` and :attr:`Experiment.authors_tasks`.
    """

    name: str
    dataset: str
    type: str
    target: str
    cv: CVSpec
    reference: float | None = None

    @property
    def metric(self) -> str:
        """'accuracy' for classification, 'r2' for regression (as in the paper)."""
        return "accuracy" if self.type == "classification" else "r2"

    def to_json(self) -> str:
        """The task as the rules pass it to a job (``--task``); :func:`task_spec` reads it."""
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class DemoSettings:
    """The experiment's ``demo`` block: the synthetic corpus that generate_demo makes."""

    seed: int
    n_clips: Mapping[str, int]


@dataclass(frozen=True)
class DatasetOptions:
    """One entry of the experiment's ``datasets``: a real dataset and where it is."""

    data_dir: str | None = None
    paper_order: bool = True


@dataclass(frozen=True)
class Choi2017Settings:
    """The experiment's ``choi2017`` block: extraction with the authors' network."""

    bn_mode: str = "batch"
    batch_size: int = 256
    chunk_size: int = 16
    batch_order: str | None = None

    def bn_mode_of(self, extractor: str) -> str:
        """The BatchNorm statistics of a choi2017 extractor: its suffix, else ``bn_mode``."""
        return choi2017_bn_mode(extractor) or self.bn_mode


def choi2017_bn_mode(extractor: str) -> str | None:
    """The statistics mode an extractor name gives ('choi2017-dataset' -> 'dataset').

    None for plain 'choi2017' (its mode is the experiment's ``choi2017.bn_mode``) and for
    extractors that are not the authors' network.
    """
    name, _, mode = extractor.partition("-")
    return mode if name == "choi2017" and mode else None


def is_choi2017(extractor: str) -> bool:
    """Whether an extractor is the authors' network ('choi2017' or 'choi2017-<mode>')."""
    return extractor == "choi2017" or extractor.startswith("choi2017-")


@dataclass(frozen=True)
class Reference:
    """A task's published score, as the figures and the report compare with it.

    The values are the config's as written (``combo`` None where the config gives none,
    which the report reads as 'best'): the rules pass them to jobs as parameters.
    """

    score: float
    combo: str | None = None
    label: str = "reference"
    scores: Mapping[str, float] = field(default_factory=dict)


MODERN_SPLITS = ("gtzan_fault_filtered", "emomusic_mediaeval", "column")
"""The fixed splits a task of ``modern`` can use (:mod:`musictransfer.modern`)."""


@dataclass(frozen=True)
class ModernSplit:
    """A task's fixed train / valid / test split (one entry of ``modern.tasks``).

    ``split`` names a published protocol (its files are fetched and mapped onto the
    released rows) or ``column``: the values of a column of the labels manifest, listed
    per split in ``train``, ``valid`` and ``test``.
    """

    split: str
    column: str | None = None
    train: tuple[str, ...] = ("train",)
    valid: tuple[str, ...] = ("valid",)
    test: tuple[str, ...] = ("test",)

    def to_json(self) -> str:
        """The split as the rules pass it to a job (``--protocol``)."""
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class ModernSettings:
    """The experiment's ``modern`` block: today's protocols beside the paper's.

    Tasks in ``tasks`` get probes on a fixed split; the experiment's other tasks keep the
    paper's cross-validation, whose fold spread the modern table reports instead.
    """

    tasks: dict[str, ModernSplit] = field(default_factory=dict)
    probes: tuple[str, ...] = ("linear", "mlp")
    combos: tuple[str, ...] = ("1", "12345", "mfcc", "mfcc+12345")
    n_boot: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class Experiment:
    """A resolved experiment preset.

    ``settings`` is the preset's raw mapping; the typed attributes are what the workflow
    reads from it, with the schema's defaults filled in.
    """

    name: str
    results: Path
    settings: dict[str, Any]
    tasks: dict[str, TaskSpec]
    extractors: dict[str, tuple[str, ...]]
    mirror: Path | None = None
    batch_cells: bool = False
    demo: DemoSettings | None = None
    """Where the raw audio of the demo datasets comes from (None: no demo datasets)."""
    datasets: dict[str, DatasetOptions] = field(default_factory=dict)
    """Real datasets, downloaded or read in place, by registry name."""
    released_features: bool = False
    """Read the authors' released features and labels instead of audio."""
    training: dict[str, Any] = field(default_factory=dict)
    """The tagger's training settings as given (``musictransfer train --settings``)."""
    random_convnet_seed: int = 0
    choi2017: Choi2017Settings = field(default_factory=Choi2017Settings)
    references: dict[str, Reference] = field(default_factory=dict)
    """Tasks with a published score to compare with, by task."""
    authors_tasks: dict[str, str] = field(default_factory=dict)
    """Tasks with a counterpart in the authors' result files: our name -> theirs."""
    description: str = ""
    notes: tuple[str, ...] = ()
    modern: ModernSettings | None = None
    """Today's protocols (fixed splits, probes, intervals); None: the paper's only."""
    protocols_mirror: Path | None = None
    """A directory of local copies of the split files (config key ``protocols_mirror``)."""

    @property
    def root(self) -> Path:
        """``results/<experiment>``: every output of this experiment lives below it."""
        return self.results / self.name

    def cells(self) -> list[tuple[str, str, str]]:
        """All (task, extractor, combo) evaluation cells, in a stable order."""
        return [
            (task, extractor, combo)
            for task in self.tasks
            for extractor, combos in self.extractors.items()
            for combo in combos
        ]


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
def _schema_validator() -> Any:
    """The schema's validator, built once per process."""
    import jsonschema

    schema = yaml.safe_load(SCHEMA_FILE.read_text())
    return jsonschema.Draft202012Validator(schema)


def validate_config(config: Mapping[str, Any]) -> None:
    """Check a configuration against the schema; the first problem raises.

    Raises
    ------
    ConfigError
        Naming the key: an unknown key (with the closest known one, for a typo) or a
        value of the wrong type, range or form.
    """
    errors = sorted(
        _schema_validator().iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path]
    )
    if not errors:
        return
    error = errors[0]
    where = _key_path(error.absolute_path) or "the config"
    if error.validator == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        key = next((k for k in error.instance if k not in known), "?")
        close = difflib.get_close_matches(str(key), known, n=1)
        raise ConfigError(
            f"unknown key {key!r} in "
            f"{'the top level' if where == 'the config' else where} of the config",
            (f"did you mean {close[0]!r}? " if close else "")
            + f"the keys there are: {', '.join(known)} (see {SCHEMA_DOC})",
        )
    if error.validator == "required":
        raise ConfigError(f"{where}: {error.message}", "add the key")
    meaning = error.schema.get("description")
    raise ConfigError(
        f"{error.instance!r} in {where} is not valid: {error.message}",
        f"{where.rsplit('.', 1)[-1]}: {meaning}" if meaning else f"see {SCHEMA_DOC}",
    )


def _key_path(path: Iterable[Any]) -> str:
    """``experiments.demo.extractors.random[1]``: a key path as written in the YAML."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def expand_combos(combos: list[str] | tuple[str, ...], where: str = "combos") -> tuple[str, ...]:
    """Expand aliases ('all', 'paper') and check every layer combination's name.

    A convnet combination is its 1-based layer digits in increasing order ('135');
    'mfcc' and 'mfcc+12345' are the baselines. Duplicates are dropped, order kept.

    Raises
    ------
    ConfigError
        For an unknown name, naming ``where`` (the config key it came from).
    """
    out: list[str] = []
    for combo in combos:
        combo = str(combo)
        names = COMBO_ALIASES.get(combo, (combo,))
        for name in names:
            if name not in ALL_COMBOS and name not in MFCC_COMBOS:
                raise ConfigError(
                    f"unknown layer combination {combo!r} in {where}",
                    "use layer digits in increasing order (e.g. '135'), 'all', 'paper', "
                    "'mfcc' or 'mfcc+12345'",
                )
            if name not in out:
                out.append(name)
    return tuple(out)


def _cv_spec(raw: Mapping[str, Any], where: str) -> CVSpec:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} is not a mapping", "give at least its scheme")
    unknown = sorted(set(raw) - {"scheme", "n_splits", "column", "test"})
    if unknown:
        raise ConfigError(
            f"{where} has unknown key(s) {', '.join(map(repr, unknown))}",
            "its keys are: scheme, n_splits, column, test",
        )
    scheme = raw.get("scheme")
    if scheme not in CV_SCHEMES:
        raise ConfigError(f"{where}.scheme is {scheme!r}", f"use one of {', '.join(CV_SCHEMES)}")
    if scheme in ("predefined_split", "predefined_folds") and not raw.get("column"):
        raise ConfigError(f"{where}.column is required for the {scheme} scheme")
    if scheme == "predefined_split" and not raw.get("test"):
        raise ConfigError(f"{where}.test must list the values of the test rows")
    try:
        n_splits = int(raw.get("n_splits", N_FOLDS))
    except (TypeError, ValueError):
        raise ConfigError(
            f"{where}.n_splits is {raw['n_splits']!r}", "give a whole number of folds"
        ) from None
    return CVSpec(
        scheme=scheme,
        n_splits=n_splits,
        column=raw.get("column"),
        test=tuple(str(v) for v in raw.get("test", ())),
    )


def task_spec(raw: Mapping[str, Any], name: str | None = None, where: str = "task") -> TaskSpec:
    """Build a :class:`TaskSpec` from its mapping: the one builder of a task.

    It reads both a task of the configuration and the JSON the rules pass a job
    (:meth:`TaskSpec.to_json`), so that a job's task is built, and checked, exactly as
    the configuration's.

    Parameters
    ----------
    raw
        The task's keys: ``dataset``, ``type``, ``target``, ``cv`` and ``reference``
        (other keys of a configured task are the report's, read by
        :func:`resolve_experiment`).
    name
        The task's name: its key in the configuration; by default ``raw['name']`` (JSON).
    where
        The task's key path in messages (``experiments.demo.tasks.dance``).

    Raises
    ------
    ConfigError
        For a missing key, an unknown type, scheme or cv key, or a scheme the type
        cannot use; the message names the key.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} is not a mapping of the task's keys")
    if name is None:
        if not raw.get("name"):
            raise ConfigError(f"{where} has no 'name'")
        name = str(raw["name"])
    for key in ("dataset", "type", "target", "cv"):
        if key not in raw:
            raise ConfigError(f"{where} has no {key!r}")
    if raw["type"] not in TASK_TYPES:
        raise ConfigError(f"{where}.type is {raw['type']!r}", "use classification or regression")
    cv = _cv_spec(raw["cv"], f"{where}.cv")
    if raw["type"] == "regression" and cv.scheme == "stratified_kfold":
        raise ConfigError(
            f"{where}.cv.scheme is stratified_kfold, which needs classes, but {where}.type "
            "is regression",
            "use the kfold scheme for a regression task",
        )
    return TaskSpec(
        name=name,
        dataset=str(raw["dataset"]),
        type=raw["type"],
        target=str(raw["target"]),
        cv=cv,
        reference=raw.get("reference"),
    )


def resolve_experiment(config: dict[str, Any], name: str | None = None) -> Experiment:
    """Build the :class:`Experiment` selected by ``config['experiment']`` (or ``name``).

    Raises
    ------
    ConfigError
        If the configuration does not follow the schema (an unknown key included), the
        experiment does not exist, any task, extractor or combination in it is invalid,
        or the mirror directory does not exist; the message names the offending key.
    """
    validate_config(config)
    name = name or config.get("experiment")
    presets = config.get("experiments") or {}
    if name not in presets:
        raise ConfigError(
            f"experiment {name!r} is not defined under 'experiments' in the config",
            f"choose one of: {', '.join(sorted(presets)) or '(none defined)'}",
        )
    raw = presets[name]
    where = f"experiments.{name}"
    if not raw.get("tasks"):
        raise ConfigError(f"{where}.tasks is empty")
    if not raw.get("extractors"):
        raise ConfigError(f"{where}.extractors is empty")
    tasks = {
        task: task_spec(spec, task, f"{where}.tasks.{task}") for task, spec in raw["tasks"].items()
    }
    extractors: dict[str, tuple[str, ...]] = {}
    for extractor, combos in raw["extractors"].items():
        if not _EXTRACTOR_RE.match(extractor):
            raise ConfigError(
                f"unknown extractor {extractor!r} in {where}.extractors",
                "use 'random', 'choi2017', 'choi2017-<batch|dataset|reference>' or "
                "'tagger-<source>'",
            )
        if extractor.startswith("tagger-"):
            source = extractor.removeprefix("tagger-")
            if source not in raw.get("sources", []):
                raise ConfigError(
                    f"{where}.extractors names {extractor!r} but {source!r} is not in "
                    f"{where}.sources",
                    f"add {source!r} to {where}.sources or remove the extractor",
                )
        extractors[extractor] = expand_combos(combos, f"{where}.extractors.{extractor}")
    _check_choi2017_variants(raw, extractors, where)
    mirror = config.get("mirror")
    protocols_mirror = config.get("protocols_mirror")
    batch_cells = _batch_cells(config, raw, where)
    return Experiment(
        name=name,
        results=Path(config.get("results", "results")),
        settings=raw,
        tasks=tasks,
        extractors=extractors,
        mirror=check_mirror(mirror, "config key 'mirror'") if mirror else None,
        batch_cells=batch_cells,
        modern=_modern_settings(raw, tasks, where),
        protocols_mirror=(
            check_mirror(protocols_mirror, "config key 'protocols_mirror'")
            if protocols_mirror
            else None
        ),
        **_preset_settings(raw),
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
    block_mode = raw.get("choi2017", {}).get("bn_mode", Choi2017Settings.bn_mode)
    if "choi2017" in extractors and f"choi2017-{block_mode}" in extractors:
        raise ConfigError(
            f"{where}.extractors lists both 'choi2017' and 'choi2017-{block_mode}', the same "
            f"extraction ({where}.choi2017.bn_mode is {block_mode!r})",
            "keep one of them",
        )
    named = [e for e in extractors if choi2017_bn_mode(e)]
    if named and raw.get("released_features"):
        raise ConfigError(
            f"{where}.extractors names {named[0]!r}, but the experiment reads the released "
            "features (the authors' own extraction, batch statistics)",
            "use 'choi2017', or an experiment from audio for other statistics modes",
        )


def _modern_settings(
    raw: Mapping[str, Any], tasks: Mapping[str, TaskSpec], where: str
) -> ModernSettings | None:
    """The preset's ``modern`` block, checked against its tasks (None where absent).

    The schema checks the keys and types; this checks what it cannot: that each task of
    the block is a task of the experiment, and that a ``column`` split names its column
    and gives each split value to one split only.
    """
    block = raw.get("modern")
    if block is None:
        return None
    where = f"{where}.modern"
    defaults = ModernSettings()
    splits: dict[str, ModernSplit] = {}
    for task, entry in (block.get("tasks") or {}).items():
        key = f"{where}.tasks.{task}"
        if task not in tasks:
            raise ConfigError(
                f"{key} names a task the experiment does not have",
                f"use one of its tasks: {', '.join(tasks)}",
            )
        split = ModernSplit(
            split=entry["split"],
            column=entry.get("column"),
            train=tuple(str(v) for v in entry.get("train", ("train",))),
            valid=tuple(str(v) for v in entry.get("valid", ("valid",))),
            test=tuple(str(v) for v in entry.get("test", ("test",))),
        )
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
    return ModernSettings(
        tasks=splits,
        probes=tuple(dict.fromkeys(block.get("probes", defaults.probes))),
        combos=expand_combos(block.get("combos", defaults.combos), f"{where}.combos"),
        n_boot=int(block.get("n_boot", defaults.n_boot)),
        seed=int(block.get("seed", defaults.seed)),
    )


def _preset_settings(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The typed settings of an :class:`Experiment`, from its (schema-checked) preset.

    Values are kept as written (no conversion): the rules pass them to jobs as
    parameters, so a value written differently would rerun the jobs.
    """
    demo = raw.get("demo")
    choi2017 = raw.get("choi2017", {})
    defaults = Choi2017Settings()
    tasks = raw["tasks"]
    return {
        "demo": DemoSettings(demo["seed"], dict(demo["n_clips"])) if demo else None,
        "datasets": {
            dataset: DatasetOptions(
                data_dir=(opts or {}).get("data_dir"),
                paper_order=(opts or {}).get("paper_order", True),
            )
            for dataset, opts in (raw.get("datasets") or {}).items()
        },
        "released_features": bool(raw.get("released_features", False)),
        "training": raw.get("training", {}),
        "random_convnet_seed": raw.get("random_convnet", {}).get("seed", 0),
        "choi2017": Choi2017Settings(
            bn_mode=choi2017.get("bn_mode", defaults.bn_mode),
            batch_size=choi2017.get("batch_size", defaults.batch_size),
            chunk_size=choi2017.get("chunk_size", defaults.chunk_size),
            batch_order=choi2017.get("batch_order", defaults.batch_order),
        ),
        "references": {
            task: Reference(
                score=spec["reference"],
                combo=spec.get("reference_combo"),
                label=spec.get("reference_label", "reference"),
                scores=spec.get("published_scores", {}),
            )
            for task, spec in tasks.items()
            if spec.get("reference") is not None
        },
        "authors_tasks": {
            task: spec["authors_task"] for task, spec in tasks.items() if spec.get("authors_task")
        },
        "description": raw.get("description", ""),
        "notes": tuple(raw.get("notes", [])),
    }


def _batch_cells(config: dict[str, Any], raw: dict[str, Any], where: str) -> bool:
    """Whether to run one evaluation job per (task, extractor) rather than per cell.

    The top-level key ``batch_cells`` (true/false) overrides the experiment's own. Batching
    and ``fold_jobs > 1`` pull in opposite directions (fewer, bigger jobs vs more, smaller
    ones), so asking for both is an error rather than a silent choice.
    """
    batch = config.get("batch_cells")
    if batch is None:
        batch = raw.get("batch_cells", False)
    if batch and int(config.get("fold_jobs", 1)) > 1:
        raise ConfigError(
            f"batch_cells (from {'the config' if config.get('batch_cells') else where}) "
            f"and fold_jobs={config['fold_jobs']} cannot be combined",
            "set batch_cells=false to split cells by fold, or fold_jobs=1 to batch them",
        )
    return bool(batch)
