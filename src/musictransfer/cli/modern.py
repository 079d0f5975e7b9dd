"""Commands of today's protocols: split files, splits, probes, the modern table, batch context."""

from __future__ import annotations

import argparse
from pathlib import Path

from musictransfer.cli.common import add_command, json_arg, positive_int
from musictransfer.errors import ConfigError

PROBE_KINDS = ("linear", "mlp")
"""``--kind``: :data:`musictransfer.probes.PROBE_KINDS`, spelled out here so that the parser
does not import scikit-learn (``--help`` starts fast)."""


def cmd_fetch_protocol_file(args: argparse.Namespace) -> None:
    """Download (or copy from a mirror) one pinned split file, verified."""
    from musictransfer.datasets.protocols import RAW_BASE_URL, fetch_protocol_file

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


def cmd_modern_split(args: argparse.Namespace) -> None:
    """Write a task's fixed split (id, split) from its labels manifest and split files."""
    from musictransfer.modern import write_split

    write_split(args.split, args.manifest, args.out, args.released_csv, args.files)


def add_modern_split_parser(sub: argparse._SubParsersAction) -> None:
    """``modern-split --split JSON --manifest CSV [--released-csv CSV] [--files F...] -o CSV``."""
    p = add_command(
        sub, "modern-split", cmd_modern_split, "a task's fixed train/valid/test split per clip"
    )
    p.add_argument("--split", type=json_arg, required=True, help="the modern.tasks entry (JSON)")
    p.add_argument("--manifest", required=True, type=Path, help="the labels manifest")
    p.add_argument("--released-csv", type=Path, help="the authors' metadata table")
    p.add_argument("--files", nargs="*", default=[], type=Path, help="the protocol's files")
    p.add_argument("-o", "--out", required=True, type=Path)


def cmd_probe(args: argparse.Namespace) -> None:
    """Fit one probe on one cell: chosen on valid, scored once on test, with an interval."""
    from musictransfer.modern import probe_cell_files

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
    p.add_argument("--seed", type=int, default=0, help="seed of the MLP and the bootstrap")
    p.add_argument("--n-boot", type=positive_int, default=1000, help="bootstrap replicates")
    p.add_argument("-o", "--out", required=True, type=Path)


def cmd_modern_table(args: argparse.Namespace) -> None:
    """The modern table, the paired comparisons and their figure."""
    from musictransfer.modern_report import modern_table_files

    modern_table_files(
        args.cells, args.probes, args.out, args.paired, args.figure, tasks=args.tasks,
        seed=args.seed, n_boot=args.n_boot,
    )  # fmt: skip


def add_modern_table_parser(sub: argparse._SubParsersAction) -> None:
    """``modern-table --cells JSON... --probes JSON... -o CSV --paired CSV --figure PNG``."""
    p = add_command(
        sub, "modern-table", cmd_modern_table, "the paper's protocol beside today's, per task"
    )
    p.add_argument("--cells", nargs="*", default=[], type=Path, help="the paper's cell JSONs")
    p.add_argument("--probes", nargs="*", default=[], type=Path, help="the probes' JSONs")
    p.add_argument("--tasks", nargs="*", default=None, help="tasks, in table order")
    p.add_argument("--seed", type=int, default=0, help="seed of the paired tests")
    p.add_argument("--n-boot", type=positive_int, default=1000, help="bootstrap replicates")
    p.add_argument("-o", "--out", required=True, type=Path, help="tables/modern.csv")
    p.add_argument("--paired", required=True, type=Path, help="tables/modern_paired.csv")
    p.add_argument("--figure", required=True, type=Path, help="figures/modern.png")


def cmd_batch_boundary(args: argparse.Namespace) -> None:
    """Separability of class halves at and away from the extraction batches' edges."""
    from musictransfer.modern_report import batch_boundary_files

    extractors = args.extractor or ["choi2017"] * len(args.dataset)
    if not (len(args.dataset) == len(extractors) == len(args.features) == len(args.manifest)):
        raise ConfigError(
            f"{len(args.dataset)} --dataset, {len(extractors)} --extractor, "
            f"{len(args.features)} --features and {len(args.manifest)} --manifest values",
            "give one extractor, feature file and manifest per dataset, in the same order",
        )
    entries = [
        (name, extractor, features, manifest, args.column)
        for name, extractor, features, manifest in zip(
            args.dataset, extractors, args.features, args.manifest, strict=True
        )
    ]
    batch_boundary_files(entries, args.out, batch_size=args.batch_size)


def add_batch_boundary_parser(sub: argparse._SubParsersAction) -> None:
    """``batch-boundary --dataset D... [--extractor E...] --features NPZ... --manifest CSV...``."""
    from musictransfer.batch_context import EXTRACTION_BATCH

    p = add_command(
        sub, "batch-boundary", cmd_batch_boundary, "batch-boundary test of convnet features"
    )
    p.add_argument("--dataset", nargs="+", required=True)
    p.add_argument(
        "--extractor", nargs="+", default=None, help="one per dataset (default: choi2017)"
    )
    p.add_argument("--features", nargs="+", required=True, type=Path)
    p.add_argument("--manifest", nargs="+", required=True, type=Path)
    p.add_argument("--column", default="label", help="the class column of the manifests")
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=EXTRACTION_BATCH,
        help=f"clips per extraction batch (default {EXTRACTION_BATCH}, the authors')",
    )
    p.add_argument("-o", "--out", required=True, type=Path, help="tables/batch_boundary.csv")


def cmd_plot_batch_boundary(args: argparse.Namespace) -> None:
    """The batch-boundary figure from its table."""
    from musictransfer.modern_report import plot_batch_boundary_file

    plot_batch_boundary_file(args.table, args.out)


def add_plot_batch_boundary_parser(sub: argparse._SubParsersAction) -> None:
    """``plot-batch-boundary TABLE -o PNG``."""
    p = add_command(
        sub, "plot-batch-boundary", cmd_plot_batch_boundary, "the batch-boundary figure"
    )
    p.add_argument("table", type=Path, help="tables/batch_boundary.csv")
    p.add_argument("-o", "--out", required=True, type=Path, help="figures/batch_boundary.png")
