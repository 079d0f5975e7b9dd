"""Commands of today's protocols: split files, splits, probes, their table, batch context."""

from __future__ import annotations

import argparse
from pathlib import Path

from musictransfer.cli.common import add_command, json_arg, positive_int
from musictransfer.config.schema import default_of
from musictransfer.errors import ConfigError

PROBE_KINDS = ("linear", "mlp")
"""``--kind``: :data:`musictransfer.probes.PROBE_KINDS`, spelled out here so that the parser
does not import scikit-learn (``--help`` starts fast)."""


def cmd_fetch_protocol_file(args: argparse.Namespace) -> None:
    """Download (or copy from a mirror) one pinned split file, verified."""
    from musictransfer.datasets.protocols import RAW_BASE_URL
    from musictransfer.datasets.protocols.fetch import fetch_protocol_file

    fetch_protocol_file(
        args.name, args.out, mirror=args.mirror, base_url=args.base_url or RAW_BASE_URL
    )


def add_fetch_protocol_file_parser(sub: argparse._SubParsersAction) -> None:
    """``fetch-protocol-file NAME -o FILE [--mirror D]``."""
    p = add_command(
        sub, "fetch-protocol-file", cmd_fetch_protocol_file, "get one of today's split files"
    )
    p.add_argument(
        "name",
        help="path in the protocols mirror layout, e.g. gtzan_fault_filtered/test_filtered.txt "
        "or emomusic_split.csv",
    )
    p.add_argument("-o", "--out", required=True, type=Path)
    p.add_argument(
        "--mirror",
        type=Path,
        help="directory of verified split files (gtzan_fault_filtered/, emomusic_split.csv)",
    )
    p.add_argument("--base-url", help="where GitHub serves raw files (default: GitHub's)")


def cmd_fixed_split(args: argparse.Namespace) -> None:
    """Write a task's fixed split (id, split) from its labels manifest and split files."""
    from musictransfer.protocols import write_split

    write_split(args.split, args.manifest, args.out, args.released_csv, args.files)


def add_fixed_split_parser(sub: argparse._SubParsersAction) -> None:
    """``fixed-split --split JSON --manifest CSV [--released-csv CSV] [--files F...] -o CSV``."""
    p = add_command(
        sub, "fixed-split", cmd_fixed_split, "a task's fixed train/valid/test split per clip"
    )
    p.add_argument("--split", type=json_arg, required=True, help="the protocols.tasks entry (JSON)")
    p.add_argument("--manifest", required=True, type=Path, help="the labels manifest")
    p.add_argument("--released-csv", type=Path, help="the authors' metadata table")
    p.add_argument("--files", nargs="*", default=[], type=Path, help="the protocol's files")
    p.add_argument("-o", "--out", required=True, type=Path)


def cmd_probe(args: argparse.Namespace) -> None:
    """Fit one probe on one cell: chosen on valid, scored once on test, with an interval."""
    from musictransfer.protocols import probe_cell_files

    if args.features is None and args.mfcc is None:
        raise ConfigError("the probe has no feature file", "pass --features and/or --mfcc")
    probe_cell_files(
        args.task, args.extractor, args.combo, args.manifest, args.features, args.mfcc,
        args.split, args.kind, args.out, seed=args.seed, n_boot=args.n_boot,
    )  # fmt: skip


def add_probe_parser(sub: argparse._SubParsersAction) -> None:
    """``probe --task JSON --extractor E --combo C --kind K --manifest CSV --split CSV ...``."""
    p = add_command(sub, "probe", cmd_probe, "a linear or MLP probe on a fixed split")
    p.add_argument("--task", type=json_arg, required=True, help="the task (JSON)")
    p.add_argument("--extractor", required=True)
    p.add_argument("--combo", required=True)
    p.add_argument("--kind", choices=PROBE_KINDS, required=True)
    p.add_argument("--manifest", required=True, type=Path, help="the labels manifest")
    p.add_argument("--split", required=True, type=Path, help="splits/<task>.csv")
    p.add_argument("--features", type=Path, help="the convnet feature file (.npz)")
    p.add_argument("--mfcc", type=Path, help="the MFCC feature file (.npz)")
    p.add_argument(
        "--seed",
        type=int,
        default=default_of("protocols", "seed"),
        help="seed of the MLP and the bootstrap",
    )
    p.add_argument(
        "--n-boot",
        type=positive_int,
        default=default_of("protocols", "n_boot"),
        help="bootstrap replicates",
    )
    p.add_argument("-o", "--out", required=True, type=Path)


def cmd_protocols_table(args: argparse.Namespace) -> None:
    """The protocols table, the paired comparisons and their figure."""
    from musictransfer.protocols_report import protocols_table_files

    protocols_table_files(
        args.cells, args.probes, args.out, args.paired, args.figure, tasks=args.tasks,
        seed=args.seed, n_boot=args.n_boot,
    )  # fmt: skip


def add_protocols_table_parser(sub: argparse._SubParsersAction) -> None:
    """``protocols-table --cells JSON... --probes JSON... -o CSV --paired CSV --figure PNG``."""
    p = add_command(
        sub, "protocols-table", cmd_protocols_table, "the paper's protocol beside today's, per task"
    )
    p.add_argument("--cells", nargs="*", default=[], type=Path, help="the paper's cell JSONs")
    p.add_argument("--probes", nargs="*", default=[], type=Path, help="the probes' JSONs")
    p.add_argument("--tasks", nargs="*", default=None, help="tasks, in table order")
    p.add_argument(
        "--seed", type=int, default=default_of("protocols", "seed"), help="seed of the paired tests"
    )
    p.add_argument(
        "--n-boot",
        type=positive_int,
        default=default_of("protocols", "n_boot"),
        help="bootstrap replicates",
    )
    p.add_argument("-o", "--out", required=True, type=Path, help="tables/protocols.csv")
    p.add_argument("--paired", required=True, type=Path, help="tables/protocols_paired.csv")
    p.add_argument("--figure", required=True, type=Path, help="figures/protocols.png")


def cmd_batch_boundary(args: argparse.Namespace) -> None:
    """Separability of class halves at and away from the extraction batches' edges."""
    from musictransfer.batch_context import batch_boundary_files

    extractors = args.extractor or ["choi2017"] * len(args.dataset)
    if not (len(args.dataset) == len(extractors) == len(args.features) == len(args.manifest)):
        raise ConfigError(
            f"{len(args.dataset)} --dataset, {len(extractors)} --extractor, "
            f"{len(args.features)} --features and {len(args.manifest)} --manifest values",
            "give one extractor, feature file and manifest per dataset, in the same order",
        )
    columns = args.column * len(args.dataset) if len(args.column) == 1 else args.column
    if len(columns) != len(args.dataset):
        raise ConfigError(
            f"batch-boundary got {len(args.column)} --column values for "
            f"{len(args.dataset)} datasets",
            "give one class column per dataset, or one for all",
        )
    entries = [
        (name, extractor, features, manifest, column)
        for name, extractor, features, manifest, column in zip(
            args.dataset, extractors, args.features, args.manifest, columns, strict=True
        )
    ]
    batch_boundary_files(entries, args.out, batch_size=args.batch_size)


def add_batch_boundary_parser(sub: argparse._SubParsersAction) -> None:
    """``batch-boundary --dataset D... [--extractor E...] --features NPZ... --manifest CSV...``."""
    from musictransfer.constants import AUTHORS_BATCH_SIZE

    p = add_command(
        sub, "batch-boundary", cmd_batch_boundary, "batch-boundary test of convnet features"
    )
    p.add_argument("--dataset", nargs="+", required=True)
    p.add_argument(
        "--extractor", nargs="+", default=None, help="one per dataset (default: choi2017)"
    )
    p.add_argument("--features", nargs="+", required=True, type=Path)
    p.add_argument("--manifest", nargs="+", required=True, type=Path)
    p.add_argument(
        "--column",
        nargs="+",
        default=["label"],
        help="the class column of each manifest, or one for all (default: label)",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=AUTHORS_BATCH_SIZE,
        help=f"clips per extraction batch (default {AUTHORS_BATCH_SIZE}, the authors')",
    )
    p.add_argument("-o", "--out", required=True, type=Path, help="tables/batch_boundary.csv")


def cmd_plot_batch_boundary(args: argparse.Namespace) -> None:
    """The batch-boundary figure from its table."""
    from musictransfer.protocols_report import plot_batch_boundary_file

    plot_batch_boundary_file(args.table, args.out)


def add_plot_batch_boundary_parser(sub: argparse._SubParsersAction) -> None:
    """``plot-batch-boundary TABLE -o PNG``."""
    p = add_command(
        sub, "plot-batch-boundary", cmd_plot_batch_boundary, "the batch-boundary figure"
    )
    p.add_argument("table", type=Path, help="tables/batch_boundary.csv")
    p.add_argument("-o", "--out", required=True, type=Path, help="figures/batch_boundary.png")
