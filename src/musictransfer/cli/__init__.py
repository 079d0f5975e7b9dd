"""The ``musictransfer`` command line: what every Snakemake rule calls.

Each sub-command is a thin wrapper over one package function; heavy libraries are
imported inside the commands so that ``musictransfer --help`` and ``info`` start fast
and so that the hundreds of evaluation jobs of a run do not each pay for PyTorch.
User errors (:class:`~musictransfer.errors.MusicTransferError`) are printed without a
traceback, with their hint, and exit with status 2 (``--debug`` adds the traceback);
any other exception is a bug and keeps its traceback. Output paths are checked before
a command starts, so that a bad ``-o`` fails at once rather than after hours of work.

One parser per command: each command's ``add_<command>_parser`` sits beside its
``cmd_<command>`` handler, in a module by stage (:mod:`~musictransfer.cli.data`,
:mod:`~musictransfer.cli.models`, :mod:`~musictransfer.cli.features`,
:mod:`~musictransfer.cli.evaluate`, :mod:`~musictransfer.cli.report`,
:mod:`~musictransfer.cli.protocols`); what they share
(argument types, output checks) is in :mod:`~musictransfer.cli.common`, and the error
handling every command gets is :func:`main`, here.
"""

from __future__ import annotations

import argparse
import errno
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from musictransfer import __version__
from musictransfer.cli.common import DEBUG_HELP, add_command, check_outputs
from musictransfer.cli.data import (
    add_download_parser,
    add_fetch_paper_file_parser,
    add_folder_manifest_parser,
    add_generate_demo_parser,
    add_import_features_parser,
    add_import_paper_features_parser,
    add_manifest_parser,
    add_prepare_parser,
    cmd_download,
    cmd_fetch_paper_file,
    cmd_folder_manifest,
    cmd_generate_demo,
    cmd_import_features,
    cmd_import_paper_features,
    cmd_manifest,
    cmd_prepare,
)
from musictransfer.cli.evaluate import (
    add_check_task_parser,
    add_evaluate_parser,
    add_merge_folds_parser,
    cmd_check_task,
    cmd_evaluate,
    cmd_merge_folds,
)
from musictransfer.cli.features import (
    add_choi2017_stats_parser,
    add_extract_choi2017_parser,
    add_extract_convnet_parser,
    add_extract_mfcc_parser,
    add_extract_parser,
    add_tag_parser,
    cmd_choi2017_stats,
    cmd_extract,
    cmd_extract_choi2017,
    cmd_extract_convnet,
    cmd_extract_mfcc,
    cmd_tag,
)
from musictransfer.cli.models import (
    add_import_paper_weights_parser,
    add_random_convnet_parser,
    add_train_parser,
    cmd_import_paper_weights,
    cmd_random_convnet,
    cmd_train,
)
from musictransfer.cli.protocols import (
    add_batch_boundary_parser,
    add_fetch_protocol_file_parser,
    add_fixed_split_parser,
    add_plot_batch_boundary_parser,
    add_probe_parser,
    add_protocols_table_parser,
    cmd_batch_boundary,
    cmd_fetch_protocol_file,
    cmd_fixed_split,
    cmd_plot_batch_boundary,
    cmd_probe,
    cmd_protocols_table,
)
from musictransfer.cli.report import (
    add_aggregate_parser,
    add_compare_authors_parser,
    add_plot_parser,
    add_report_parser,
    cmd_aggregate,
    cmd_compare_authors,
    cmd_plot,
    cmd_report,
)
from musictransfer.errors import MusicTransferError

__all__ = [
    "build_parser",
    "cmd_aggregate",
    "cmd_batch_boundary",
    "cmd_check_task",
    "cmd_choi2017_stats",
    "cmd_compare_authors",
    "cmd_download",
    "cmd_evaluate",
    "cmd_extract",
    "cmd_extract_choi2017",
    "cmd_extract_convnet",
    "cmd_extract_mfcc",
    "cmd_fetch_paper_file",
    "cmd_fetch_protocol_file",
    "cmd_fixed_split",
    "cmd_folder_manifest",
    "cmd_generate_demo",
    "cmd_import_features",
    "cmd_import_paper_features",
    "cmd_import_paper_weights",
    "cmd_info",
    "cmd_manifest",
    "cmd_merge_folds",
    "cmd_plot",
    "cmd_plot_batch_boundary",
    "cmd_prepare",
    "cmd_probe",
    "cmd_protocols_table",
    "cmd_random_convnet",
    "cmd_report",
    "cmd_tag",
    "cmd_train",
    "main",
]

if TYPE_CHECKING:
    from musictransfer.config import CVSpec


def cmd_info(args: argparse.Namespace) -> None:
    """Print versions, the paper's constants and the available compute."""
    from musictransfer import constants as c

    print(f"musictransfer {__version__}")
    print(
        f"input: {c.CLIP_SECONDS} s at {c.SAMPLE_RATE} Hz = {c.N_SAMPLES} samples; "
        f"log-mel n_fft {c.N_FFT}, hop {c.HOP_LENGTH}, {c.N_MELS} mels, "
        f"{c.F_MIN:g}-{c.F_MAX:g} Hz -> {c.N_MELS} x {c.N_FRAMES}"
    )
    print(f"convnet: {c.N_LAYERS} blocks x {c.N_CHANNELS} channels, pools {list(c.POOL_SIZES)}")
    print(f"feature: {c.FEATURE_DIM} values (convnet), {c.MFCC_DIM} (MFCC baseline)")
    print(f"SVM grid: {c.GRID_SIZE} settings; the paper's CV: {c.N_FOLDS} folds")
    try:
        import torch

        cuda = torch.cuda.is_available()
        device = torch.cuda.get_device_name(0) if cuda else "CPU only"
        print(f"torch {torch.__version__}: {device}")
    except ImportError:  # pragma: no cover - torch is a dependency
        print("torch: not installed")
    if args.config:
        from musictransfer.config import load_configs, resolve_experiment

        exp = resolve_experiment(load_configs(args.config), args.experiment)
        print(
            f"experiment {exp.name}: {len(exp.tasks)} tasks, extractors "
            f"{', '.join(exp.extractors)}, {len(exp.cells())} evaluation cells -> {exp.root}"
        )
        for name in exp.selected_tasks:
            task = exp.tasks[name]
            print(f"  {name}: {task.dataset}, {task.type} ({task.metric}), {_cv_text(task.cv)}")


def _cv_text(cv: CVSpec) -> str:
    """A task's cross-validation as ``info`` prints it: its own folds, not the paper's."""
    if cv.scheme == "predefined_split":
        return f"predefined split on column {cv.column!r} (test: {', '.join(cv.test)})"
    if cv.scheme == "predefined_folds":
        return f"predefined folds of column {cv.column!r}"
    grouped = f", grouped by column {cv.group!r}" if cv.group else ""
    return f"{cv.scheme}, {cv.n_splits} folds{grouped}"


def add_info_parser(sub: argparse._SubParsersAction) -> None:
    """``info [--config YAML...] [--experiment NAME]``."""
    p = add_command(
        sub, "info", cmd_info, "versions, the paper's constants, compute and the experiment"
    )
    p.add_argument(
        "--config",
        action="append",
        help="config.yaml to check and summarise; repeat to layer files as --configfile does",
    )
    p.add_argument("--experiment", help="experiment preset (default: the config's)")


COMMAND_PARSERS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    add_info_parser,
    add_generate_demo_parser,
    add_prepare_parser,
    add_download_parser,
    add_manifest_parser,
    add_folder_manifest_parser,
    add_train_parser,
    add_random_convnet_parser,
    add_extract_convnet_parser,
    add_extract_mfcc_parser,
    add_extract_parser,
    add_import_features_parser,
    add_tag_parser,
    add_import_paper_weights_parser,
    add_extract_choi2017_parser,
    add_choi2017_stats_parser,
    add_evaluate_parser,
    add_check_task_parser,
    add_merge_folds_parser,
    add_aggregate_parser,
    add_plot_parser,
    add_report_parser,
    add_compare_authors_parser,
    add_fetch_paper_file_parser,
    add_import_paper_features_parser,
    add_fetch_protocol_file_parser,
    add_fixed_split_parser,
    add_probe_parser,
    add_protocols_table_parser,
    add_batch_boundary_parser,
    add_plot_batch_boundary_parser,
)
"""Every sub-command's parser, in the order ``musictransfer --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with all sub-commands."""
    parser = argparse.ArgumentParser(
        prog="musictransfer",
        description="Pre-trained convnet features for music (Choi et al., ISMIR 2017).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_parser in COMMAND_PARSERS:
        add_parser(sub)
    # Each handler is taken from this package by its command's name when the parser is
    # built (``cmd_generate_demo`` for ``generate-demo``), so that
    # ``musictransfer.cli.cmd_<command>`` is the one place to find a command's function,
    # or to stand in for it (as the tests do).
    namespace = globals()
    for name, p in sub.choices.items():
        p.set_defaults(handler=namespace["cmd_" + name.replace("-", "_")])
    return parser


def _log_to_stderr() -> None:
    """Send the library's log lines (loggers ``musictransfer.*``, INFO) to the job's log.

    Only where nothing configured logging (a plain process, not pytest or an application
    with its own set-up), and on the package's logger rather than the root: Lightning
    keeps its own handler when the root has none, and no third-party INFO lines appear.
    """
    package = logging.getLogger("musictransfer")
    if logging.getLogger().handlers or package.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    package.addHandler(handler)
    package.setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``musictransfer`` command."""
    args = build_parser().parse_args(argv)
    _log_to_stderr()
    try:
        try:
            if getattr(args, "mirror", None) is not None:
                from musictransfer.fetching import check_mirror

                check_mirror(args.mirror, "--mirror")  # before any download is attempted
            check_outputs(args)
            args.handler(args)
        except OSError as exc:
            hints = {
                errno.ENOSPC: "free space on the output's disk and run again",
                errno.EDQUOT: "free space within your disk quota and run again",
                errno.EFBIG: "write it to a file system that takes files this large, or "
                "raise the file size limit (ulimit -f)",
            }
            if exc.errno not in hints:
                raise  # any other OSError not turned into a message is a bug to see
            # A write through a file object (torch.save, np.savez) names no file: the
            # command's output is the one being written.
            target = exc.filename or getattr(args, "out", None)
            if isinstance(target, list | tuple):
                target = ", ".join(map(str, target))
            where = f" writing {target}" if target else ""
            raise MusicTransferError(f"{exc.strerror}{where}", hints[exc.errno]) from exc
    except MusicTransferError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"musictransfer {args.command}: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  -> {exc.hint}", file=sys.stderr)
        return 2
    return 0
