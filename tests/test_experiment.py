"""The Experiment answers the workflow's questions; the rules only ask it.

Which cells, skipped cells, batches, probes and batch-boundary tests exist; that the
three evaluation rules split the cells between them without overlap; that the schema is
the one home of every default; and the conventions every rule follows (no rule defined
under a condition, no ruleorder, quoted paths, the code version where a rule computes).
"""

from __future__ import annotations

import copy
import dataclasses
import re

import pytest

from musictransfer.config import (
    Cell,
    Choi2017Settings,
    DatasetOptions,
    FixedSplit,
    ProtocolSettings,
    SkippedCell,
    load_config,
    resolve_experiment,
    validated,
)
from musictransfer.config.schema import schema
from musictransfer.errors import ConfigError
from musictransfer.layout import Layout


@pytest.fixture
def config(repo):
    return load_config(repo / "config.yaml")


def paper(config, shared_paper, **top):
    cfg = copy.deepcopy(config)
    cfg.update(experiment="paper_features", mirror=str(shared_paper), **top)
    return resolve_experiment(cfg)


def test_skipped_cells_are_typed_and_excluded(config, shared_paper):
    exp = paper(config, shared_paper)
    skipped = exp.skipped_cells()
    assert [s.cell for s in skipped] == [
        Cell("urbansound8k", "choi2017", "mfcc"),
        Cell("urbansound8k", "choi2017", "mfcc+12345"),
    ]
    assert all(isinstance(s, SkippedCell) and "no released MFCC" in s.reason for s in skipped)
    assert str(skipped[0]).startswith("urbansound8k/choi2017/mfcc (")
    cells = exp.cells()
    assert len(cells) == len(exp.all_cells()) - 2 == 229
    assert not {s.cell for s in skipped} & set(cells)
    # A skipped cell gets no probe either.
    assert all(Cell(p.task, p.extractor, p.combo) in set(cells) for p in exp.probes())


def test_only_tasks_selects_cells_probes_and_published_scores(config, shared_paper):
    exp = paper(config, shared_paper, only_tasks=["gtzan_genre"])
    assert exp.selected_tasks == ("gtzan_genre",)
    assert {c.task for c in exp.cells()} == {"gtzan_genre"}
    assert {p.task for p in exp.probes()} == {"gtzan_genre"}
    assert set(exp.selected_published()) <= {"gtzan_genre"}
    assert exp.report_extra()["skipped"] == []
    with pytest.raises(ConfigError, match="only_tasks names"):
        paper(config, shared_paper, only_tasks=["nope"])


@pytest.mark.parametrize(
    ("top", "batched", "single", "merged"),
    [
        ({}, 31, 2, 0),
        ({"batch_cells": False}, 0, 33, 0),
        ({"batch_cells": False, "fold_jobs": 3}, 0, 0, 33),
    ],
)
def test_evaluation_rules_split_the_cells_without_overlap(config, top, batched, single, merged):
    cfg = copy.deepcopy(config)
    cfg.update(top)
    exp = resolve_experiment(cfg)
    by_rule = exp.combos_by_rule()
    sizes = [len(by_rule[r]) for r in ("evaluate_batch", "evaluate", "merge_fold_parts")]
    assert sizes == [batched, single, merged]
    every = [c for combos in by_rule.values() for c in combos]
    assert len(every) == len(set(every))
    assert set(every) == {c.combo for c in exp.cells()}


def test_batch_boundary_uses_each_datasets_target(config):
    """A classification task's target column, not 'label' always (issue 27's bug)."""
    cfg = copy.deepcopy(config)
    preset = cfg["experiments"]["batch_statistics"]
    task = next(t for t in preset["tasks"].values() if t["type"] == "classification")
    task["target"] = "style"
    cfg["experiment"] = "batch_statistics"
    exp = resolve_experiment(cfg)
    assert exp.batch_boundary_column(task["dataset"]) == "style"
    assert exp.extraction_batch_size == exp.choi2017.batch_size


def test_the_schema_is_the_home_of_every_default(config):
    """Typed settings declare no default of their own, and the filled config has the schema's."""
    for cls in (Choi2017Settings, DatasetOptions, FixedSplit, ProtocolSettings):
        assert all(
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            for f in dataclasses.fields(cls)
        ), cls
    cfg = copy.deepcopy(config)
    del cfg["experiments"]["demo"]["training"]
    exp = resolve_experiment(cfg)
    training = schema()["$defs"]["training"]["properties"]
    assert exp.training == {k: v["default"] for k, v in training.items()}
    choi2017 = schema()["$defs"]["experiment"]["properties"]["choi2017"]["properties"]
    assert dataclasses.asdict(exp.choi2017) == {k: v["default"] for k, v in choi2017.items()}


def test_validated_fills_a_copy_and_checks_blocks(config):
    before = copy.deepcopy(config)
    filled = validated(config)
    assert config == before  # Snakemake's own config is not modified
    assert filled["experiments"]["demo"]["random_convnet"] == {"seed": 0}
    with pytest.raises(ConfigError, match="did you mean 'batch_size'"):
        validated({"batch_siz": 4}, "training")


def test_the_old_spelling_modern_still_works_with_a_warning(config, shared_paper):
    cfg = copy.deepcopy(config)
    preset = cfg["experiments"]["paper_features"]
    preset["modern"] = preset.pop("protocols")
    cfg.update(experiment="paper_features", mirror=str(shared_paper))
    warnings = []
    exp = resolve_experiment(cfg, warn=warnings.append)
    assert exp.protocols is not None and exp.protocols.tasks
    assert warnings == [
        "experiments.paper_features.modern is deprecated: rename it to "
        "experiments.paper_features.protocols"
    ]
    preset["protocols"] = preset["modern"]
    with pytest.raises(ConfigError, match="has both 'modern' and 'protocols'"):
        resolve_experiment(cfg, warn=warnings.append)


def test_a_task_on_an_unknown_dataset_fails_before_anything_runs(config):
    cfg = copy.deepcopy(config)
    cfg["experiments"]["demo"]["tasks"]["dance"]["dataset"] = "danse"
    with pytest.raises(ConfigError, match=r"tasks\.dance\.dataset is 'danse'"):
        resolve_experiment(cfg)


def test_layout_names_each_path_once(tmp_path):
    layout = Layout(tmp_path / "r", tmp_path / "d")
    assert layout.cell("t", "e", "12") == str(tmp_path / "r/scores/t/e/12.json")
    assert layout.log("evaluate", "t", "e", "12") == str(tmp_path / "r/logs/evaluate/t/e/12.log")
    assert layout.log("aggregate") == str(tmp_path / "r/logs/aggregate.log")
    assert layout.benchmark("plot") == str(tmp_path / "r/benchmarks/plot.tsv")
    assert layout.released_features("mfcc", "x") != layout.features("mfcc", "x")


# --- the rules' conventions --------------------------------------------------------------

NOT_COMPUTED = {"download", "download_paper_features", "fetch_protocol_file"}
"""Rules that put a checksum-verified file in place: no code makes their output."""


def rule_blocks(repo):
    text = "\n".join(p.read_text() for p in sorted((repo / "workflow/rules").glob("*.smk")))
    blocks = re.findall(
        r"^(?:rule|checkpoint) (\w+):\n(.*?)(?=^(?:rule|checkpoint) |\Z)", text, flags=re.M | re.S
    )
    return dict(blocks), text


def test_rules_always_exist_and_never_need_an_order(repo):
    blocks, text = rule_blocks(repo)
    assert not re.search(r"^[ \t]+rule \w+:", text, flags=re.M), "a rule defined under a condition"
    assert "ruleorder" not in text
    assert len(blocks) == len(set(blocks))


def test_every_computing_rule_carries_the_code_version(repo):
    blocks, _ = rule_blocks(repo)
    assert set(blocks) > NOT_COMPUTED
    for rule, body in blocks.items():
        has_code = "code=CODE_VERSION" in body
        assert has_code != (rule in NOT_COMPUTED), rule


def test_every_path_in_a_shell_command_is_quoted(repo):
    """{input}, {output}, {log} and path params go through :q (paths with spaces)."""
    blocks, _ = rule_blocks(repo)
    for rule, body in blocks.items():
        shell = body.split("shell:", 1)[1]
        for field in re.findall(r"\{((?:input|output|log)[^}]*)\}", shell):
            assert field.endswith(":q"), (rule, field)
        assert "$(dirname" not in shell and "'{" not in shell, rule


def test_facts_the_schema_repeats_are_the_constants():
    """The schema is YAML and cannot import a constant: each fact it restates is pinned."""
    from musictransfer.constants import AUTHORS_BATCH_SIZE, BN_MODES, SPLITS

    choi2017 = schema()["$defs"]["experiment"]["properties"]["choi2017"]["properties"]
    assert tuple(choi2017["bn_mode"]["enum"]) == BN_MODES
    assert choi2017["batch_size"]["default"] == AUTHORS_BATCH_SIZE
    split = schema()["$defs"]["fixed_split"]["properties"]
    assert [split[s]["default"] for s in SPLITS] == [[s] for s in SPLITS]
