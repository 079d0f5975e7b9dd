"""Commands of the SVM evaluation: a task checked, its cells searched, fold parts merged."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from musictransfer.cli.common import add_command, fold_part_arg, json_arg, positive_int
from musictransfer.constants import EVALUATION_METHODS
from musictransfer.errors import ConfigError

TASK_HELP = (
    "the task as JSON: a config task block plus its name, e.g. "
    '\'{"name": "genre", "dataset": "gtzan_genre", "type": "classification", '
    '"target": "label", "cv": {"scheme": "stratified_kfold", "n_splits": 10}}\' '
    "(cv keys: scheme, n_splits, column, test, group; docs/configuration.md)"
)


def evaluation_method(value: str) -> str:
    """``--method``, reading the old spelling 'reference' as 'sklearn' (with a warning)."""
    if value == "reference":
        logging.getLogger("musictransfer").warning(
            "--method reference is now called --method sklearn; the old name will go"
        )
        return "sklearn"
    return value


def cmd_evaluate(args: argparse.Namespace) -> None:
    """Run the SVM grid search of one (task, extractor, combination) cell, or of several."""
    from musictransfer.cell_files import evaluate_cell_files, evaluate_cells_files

    if len(args.combo) != len(args.out):
        raise ConfigError(
            f"{len(args.combo)} --combo values but {len(args.out)} -o files",
            "give one output file per combination, in the same order",
        )
    files = {"manifest": args.manifest, "convnet": args.features, "mfcc": args.mfcc}
    if len(args.combo) == 1:
        evaluate_cell_files(
            args.task, args.extractor, args.combo[0], **files, out=args.out[0],
            threads=args.threads, fold_part=args.fold_part, method=args.method,
        )  # fmt: skip
    elif args.fold_part is not None:
        raise ConfigError("--fold-part splits one cell: give a single --combo with it")
    else:
        evaluate_cells_files(
            args.task, args.extractor, args.combo, **files, outs=args.out,
            threads=args.threads, method=args.method,
        )  # fmt: skip


def add_evaluate_parser(sub: argparse._SubParsersAction) -> None:
    """``evaluate --task JSON --extractor E --combo C... --manifest CSV -o JSON...``."""
    p = add_command(
        sub, "evaluate", cmd_evaluate, "SVM grid search of (task, extractor, combo) cells"
    )
    p.add_argument("--task", required=True, type=json_arg, help=TASK_HELP)
    p.add_argument("--extractor", required=True)
    p.add_argument("--combo", required=True, nargs="+", help="one or more combinations")
    p.add_argument("--manifest", required=True, type=Path, help="prepared manifest (labels)")
    p.add_argument("--features", type=Path, help="convnet feature file")
    p.add_argument("--mfcc", type=Path, help="MFCC feature file")
    p.add_argument(
        "-o", "--out", required=True, type=Path, nargs="+", help="one JSON file per --combo"
    )
    p.add_argument("--threads", type=positive_int, default=1)
    p.add_argument(
        "--fold-part",
        type=fold_part_arg,
        metavar="K/N",
        help="only part K (0-based) of N of the folds; merge the parts with merge-folds",
    )
    p.add_argument(
        "--method",
        type=evaluation_method,
        choices=EVALUATION_METHODS,
        default="fast",
        help="fast (default): shared precomputed kernels on scikit-learn's libsvm binding; "
        "sklearn (formerly 'reference'): plain scikit-learn GridSearchCV, the escape hatch "
        "from that private binding (slower, same scores; the cell's 'solver' says libsvm)",
    )


def cmd_check_task(args: argparse.Namespace) -> None:
    """Check a task's labels, folds and splits against its config, before long jobs."""
    from musictransfer.cell_files import check_task_file

    summary = check_task_file(args.task, args.manifest, args.out)
    print(f"{summary['task']}: {summary['n_clips']} clips, {len(summary['folds'])} fold(s): ok")


def add_check_task_parser(sub: argparse._SubParsersAction) -> None:
    """``check-task --task JSON --manifest CSV [-o JSON]``."""
    p = add_command(
        sub, "check-task", cmd_check_task, "check a task's labels and splits in its manifest"
    )
    p.add_argument("--task", required=True, type=json_arg, help=TASK_HELP)
    p.add_argument("--manifest", required=True, type=Path, help="the dataset's manifest")
    p.add_argument("-o", "--out", type=Path, help="JSON summary (classes, fold sizes)")


def cmd_merge_folds(args: argparse.Namespace) -> None:
    """Merge a cell's fold parts (``evaluate --fold-part``) into the cell's result."""
    from musictransfer.cell_files import merge_cell_files

    merge_cell_files(args.parts, args.task, args.extractor, args.combo, args.out)


def add_merge_folds_parser(sub: argparse._SubParsersAction) -> None:
    """``merge-folds PARTS... --task JSON --extractor E --combo C -o JSON``."""
    p = add_command(
        sub, "merge-folds", cmd_merge_folds, "merge a cell's fold parts into its result"
    )
    p.add_argument("parts", nargs="+", type=Path, help="the JSON files of evaluate --fold-part")
    p.add_argument("--task", required=True, type=json_arg, help=TASK_HELP)
    p.add_argument("--extractor", required=True)
    p.add_argument("--combo", required=True)
    p.add_argument("-o", "--out", required=True, type=Path)
