"""Resolve the workflow configuration into an :class:`Experiment`.

Both the Snakefile and the command-line tools read the configuration through this
module, so the two cannot disagree on which tasks, extractors and layer combinations an
experiment has. It imports nothing beyond the standard library and PyYAML, because the
Snakefile imports it in Snakemake's own environment.

The JSON schema (``workflow/schemas/config.schema.yaml``) checks types and shapes; this
module checks what a schema cannot: that the chosen experiment exists, that every task
names a dataset and a valid combination, and so on, with messages naming the key.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from musictransfer.constants import ALL_COMBOS, MFCC_COMBOS, N_FOLDS, PAPER_COMBOS
from musictransfer.errors import ConfigError

CV_SCHEMES = (
    "stratified_kfold",
    "stratified_kfold_legacy",
    "kfold",
    "predefined_split",
    "predefined_folds",
)
TASK_TYPES = ("classification", "regression")
COMBO_ALIASES = {"all": ALL_COMBOS, "paper": PAPER_COMBOS}
_EXTRACTOR_RE = re.compile(r"^(random|choi2017|tagger-[A-Za-z0-9_]+)$")


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
    """One target task: a dataset, what to predict, and how to cross-validate."""

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


@dataclass(frozen=True)
class Experiment:
    """A resolved experiment preset."""

    name: str
    results: Path
    settings: dict[str, Any]
    tasks: dict[str, TaskSpec]
    extractors: dict[str, tuple[str, ...]]
    mirror: Path | None = None
    datasets: tuple[str, ...] = field(default=())
    batch_cells: bool = False

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
    """Read a YAML configuration file, with a clear error if it is missing or invalid."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return data


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


def _cv_spec(raw: dict[str, Any], where: str) -> CVSpec:
    scheme = raw.get("scheme")
    if scheme not in CV_SCHEMES:
        raise ConfigError(f"{where}.scheme is {scheme!r}", f"use one of {', '.join(CV_SCHEMES)}")
    if scheme in ("predefined_split", "predefined_folds") and not raw.get("column"):
        raise ConfigError(f"{where}.column is required for the {scheme} scheme")
    if scheme == "predefined_split" and not raw.get("test"):
        raise ConfigError(f"{where}.test must list the values of the test rows")
    return CVSpec(
        scheme=scheme,
        n_splits=int(raw.get("n_splits", N_FOLDS)),
        column=raw.get("column"),
        test=tuple(str(v) for v in raw.get("test", ())),
    )


def _task_spec(name: str, raw: dict[str, Any], where: str) -> TaskSpec:
    for key in ("dataset", "type", "target", "cv"):
        if key not in raw:
            raise ConfigError(f"{where} has no {key!r}")
    if raw["type"] not in TASK_TYPES:
        raise ConfigError(f"{where}.type is {raw['type']!r}", "use classification or regression")
    return TaskSpec(
        name=name,
        dataset=str(raw["dataset"]),
        type=raw["type"],
        target=str(raw["target"]),
        cv=_cv_spec(raw["cv"], f"{where}.cv"),
        reference=raw.get("reference"),
    )


def resolve_experiment(config: dict[str, Any], name: str | None = None) -> Experiment:
    """Build the :class:`Experiment` selected by ``config['experiment']`` (or ``name``).

    Raises
    ------
    ConfigError
        If the experiment does not exist or any task, extractor or combination in it is
        invalid; the message names the offending key.
    """
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
        task: _task_spec(task, spec, f"{where}.tasks.{task}") for task, spec in raw["tasks"].items()
    }
    extractors: dict[str, tuple[str, ...]] = {}
    for extractor, combos in raw["extractors"].items():
        if not _EXTRACTOR_RE.match(extractor):
            raise ConfigError(
                f"unknown extractor {extractor!r} in {where}.extractors",
                "use 'random', 'choi2017' or 'tagger-<source>'",
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
    datasets = tuple(dict.fromkeys([*raw.get("sources", []), *(t.dataset for t in tasks.values())]))
    mirror = config.get("mirror")
    batch_cells = _batch_cells(config, raw, where)
    return Experiment(
        name=name,
        results=Path(config.get("results", "results")),
        settings=raw,
        tasks=tasks,
        extractors=extractors,
        mirror=Path(mirror) if mirror else None,
        datasets=datasets,
        batch_cells=batch_cells,
    )


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
