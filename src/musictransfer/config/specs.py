"""What a task is: its dataset, target, cross-validation, and the names it may use.

:func:`task_spec` is the one builder of a :class:`TaskSpec`, for a task of the
configuration and for the JSON the rules pass a job (:meth:`TaskSpec.to_json`), so that a
job's task is built, and checked, exactly as the configuration's. Standard library only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

from musictransfer.constants import ALL_COMBOS, BN_MODES, MFCC_COMBOS, N_FOLDS, PAPER_COMBOS
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
SCENE = "scene"
"""The combination of a representation's scene embedding (HEAR's), whole."""
MAX_LAYERS = 9
"""Layers a representation may list: a combination names each by one digit."""
CELL_COMBO_PATTERN = rf"[1-{MAX_LAYERS}]+|{SCENE}|mfcc|mfcc\+12345"
"""A combination's name in a path (the workflow's wildcard constraint)."""
CHOI2017_PATTERN = rf"choi2017(?:-(?:{'|'.join(BN_MODES)}))?"
"""The authors' network: 'choi2017', or 'choi2017-<BatchNorm statistics mode>'."""
TRAINED_PATTERN = r"random|tagger-[A-Za-z0-9_]+"
"""Our own networks: the random convnet and a tagger trained on a source dataset."""
EXTRACTOR_PATTERN = rf"{TRAINED_PATTERN}|{CHOI2017_PATTERN}"
"""Every extractor name (also the workflow's wildcard constraint)."""
_EXTRACTOR_RE = re.compile(rf"^(?:{EXTRACTOR_PATTERN})$")


def is_extractor(name: str) -> bool:
    """Whether ``name`` is a valid extractor name."""
    return bool(_EXTRACTOR_RE.match(name))


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
    group: str | None = None
    """A column of groups (e.g. the recording a segment was cut from) kept within one
    fold: k-fold schemes only. In a job's JSON only where set (see :meth:`TaskSpec.to_json`)."""


@dataclass(frozen=True)
class TaskSpec:
    """One target task: a dataset, what to predict, and how to cross-validate.

    What an evaluation job needs, and nothing more: the rules pass it to the job as
    :meth:`to_json`, which Snakemake tracks as a parameter (a new field would change
    every cell's parameter, and so rerun every cell of existing results). What only the
    report needs (the published score's combination and label, the authors' name of the
    task) is in :attr:`Experiment.published` and :attr:`Experiment.authors_tasks`.

    The published score travels in the job's JSON under the key ``reference``, the name
    jobs have always received it by: the JSON is a rule parameter, and renaming the key
    would rerun every existing cell for nothing (no job reads it).
    """

    name: str
    dataset: str
    type: str
    target: str
    cv: CVSpec
    published_score: float | None = None

    @property
    def metric(self) -> str:
        """'accuracy' for classification, 'r2' for regression (as in the paper)."""
        return "accuracy" if self.type == "classification" else "r2"

    def to_json(self) -> str:
        """The task as the rules pass it to a job (``--task``); :func:`task_spec` reads it."""
        data = asdict(self)
        data["reference"] = data.pop("published_score")  # the key jobs have always had
        if data["cv"]["group"] is None:
            del data["cv"]["group"]  # absent where unset: existing cells keep their parameter
        return json.dumps(data, sort_keys=True)


def layer_combos(n_layers: int) -> tuple[str, ...]:
    """Every combination of ``n_layers`` layers: '1', '2', ..., '12', ..., all of them."""
    layers = range(1, n_layers + 1)
    return tuple("".join(map(str, combo)) for n in layers for combo in combinations(layers, n))


def expand_combos(
    combos: list[str] | tuple[str, ...], where: str = "combos", n_layers: int | None = None
) -> tuple[str, ...]:
    """Expand aliases ('all', 'paper') and check every layer combination's name.

    A convnet combination is its 1-based layer digits in increasing order ('135');
    'mfcc' and 'mfcc+12345' are the baselines. Duplicates are dropped, order kept.

    With ``n_layers`` (a representation brought by the user, with that many listed
    layers), digits name its layers, 'scene' its scene embedding, and 'all' is the scene
    embedding and every combination of its layers; 'paper' and 'mfcc+12345' are the
    paper's convnet's own and do not apply.

    Raises
    ------
    ConfigError
        For an unknown name, naming ``where`` (the config key it came from).
    """
    if n_layers is None:
        aliases, allowed = COMBO_ALIASES, (*ALL_COMBOS, *MFCC_COMBOS)
        hint = (
            "use layer digits in increasing order (e.g. '135'), 'all', 'paper', 'mfcc' or "
            "'mfcc+12345'"
        )
    else:
        layers = layer_combos(n_layers)
        aliases, allowed = {"all": (SCENE, *layers)}, (SCENE, *layers, "mfcc")
        hint = (
            f"use '{SCENE}', 'all', 'mfcc' or digits of its {n_layers} listed layer(s) "
            "in increasing order"
            if n_layers
            else f"use '{SCENE}', 'all' or 'mfcc' (list its layers under `layers` for more)"
        )
    out: list[str] = []
    for combo in combos:
        combo = str(combo)
        for name in aliases.get(combo, (combo,)):
            if name not in allowed:
                raise ConfigError(f"unknown layer combination {combo!r} in {where}", hint)
            if name not in out:
                out.append(name)
    return tuple(out)


def _cv_spec(raw: Mapping[str, Any], where: str) -> CVSpec:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} is not a mapping", "give at least its scheme")
    unknown = sorted(set(raw) - {"scheme", "n_splits", "column", "test", "group"})
    if unknown:
        raise ConfigError(
            f"{where} has unknown key(s) {', '.join(map(repr, unknown))}",
            "its keys are: scheme, n_splits, column, test, group",
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
    group = raw.get("group")
    if group is not None and scheme not in ("stratified_kfold", "kfold"):
        raise ConfigError(
            f"{where}.group is set, but {scheme} does not take groups",
            "use stratified_kfold or kfold with groups (or give the folds as a column)",
        )
    return CVSpec(
        scheme=scheme,
        n_splits=n_splits,
        column=raw.get("column"),
        test=tuple(str(v) for v in raw.get("test", ())),
        group=None if group is None else str(group),
    )


def task_spec(raw: Mapping[str, Any], name: str | None = None, where: str = "task") -> TaskSpec:
    """Build a :class:`TaskSpec` from its mapping: the one builder of a task.

    It reads both a task of the configuration and the JSON the rules pass a job
    (:meth:`TaskSpec.to_json`), so that a job's task is built, and checked, exactly as
    the configuration's.

    Parameters
    ----------
    raw
        The task's keys: ``dataset``, ``type``, ``target``, ``cv`` and
        ``published_score`` (``reference`` in a job's JSON; other keys of a configured
        task are the report's, read by :func:`resolve_experiment`).
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
        published_score=raw.get("published_score", raw.get("reference")),
    )
