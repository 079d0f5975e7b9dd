"""What every sub-command shares: argument types, the sub-parser helper, output checks.

Each command module (:mod:`musictransfer.cli.data`, ``.models``, ``.features``,
``.evaluate``, ``.report``) defines, per command, an ``add_<command>_parser(sub)``
function beside its ``cmd_<command>`` handler; the parsing rules they have in common live
here once, so that a count, a JSON spec or an output path is checked the same way by
every command.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from musictransfer.constants import BN_MODES
from musictransfer.errors import MusicTransferError

Handler = Callable[[argparse.Namespace], None]

DEBUG_HELP = "show the traceback of user errors too (they are one line otherwise)"


MIRROR_HELP = "directory of verified copies (data_csv/, data_feats/, weights/, result_transfer/)"
"""Help of every --mirror option for the authors' released files."""


def add_command(
    sub: argparse._SubParsersAction, name: str, handler: Handler, help_text: str
) -> argparse.ArgumentParser:
    """A sub-command's parser, bound to its handler, accepting ``--debug`` after the name."""
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.set_defaults(handler=handler)
    # Also accepted after the command; SUPPRESS keeps the global flag's value otherwise.
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return p


def json_arg(text: str) -> dict:
    """Parse a JSON object given on the command line (the rules pass specs this way)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def positive_int(text: str) -> int:
    """Parse a count that must be at least 1 (batch sizes, threads, tags shown)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def fold_part_arg(text: str) -> tuple[int, int]:
    """Parse ``K/N``: part K (0-based) of N."""
    try:
        part, n_parts = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K/N (e.g. 0/4), got {text!r}") from None
    if not 0 <= part < n_parts:
        raise argparse.ArgumentTypeError(f"part {part} does not exist among {n_parts}")
    return part, n_parts


def add_choi2017_options(p: argparse.ArgumentParser) -> None:
    """Options shared by the commands that run the authors' network."""
    p.add_argument(
        "--bn-mode",
        choices=BN_MODES,
        default="reference",
        help="normalisation statistics: 'reference' (frozen, shipped; default), 'batch' "
        "(Keras 1 mode 2 over batches of --batch-size files, as the authors), 'dataset' "
        "(frozen over all the files given)",
    )
    p.add_argument("--mirror", type=Path, help=MIRROR_HELP)


def expand_inputs(inputs: Sequence[str]) -> list[Path]:
    """Audio paths from arguments; a ``.txt`` argument is a list of paths, one a line."""
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.suffix == ".txt":
            try:
                lines = path.read_text().splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not a text file"
                raise MusicTransferError(
                    f"cannot read the list of audio files {path}: {reason}",
                    "a .txt argument is a text file of audio paths, one a line: check the path",
                ) from exc
            paths += [
                Path(line.strip()) for line in lines if line.strip() and not line.startswith("#")
            ]
        else:
            paths.append(path)
    if not paths:
        raise MusicTransferError("no audio files given", "pass audio paths or a .txt list of them")
    return paths


OUTPUT_FILES = ("out", "metrics", "features_out", "mfcc_out", "manifest_out", "paired", "figure")
"""Options naming files a command writes (``out`` may be a list: ``evaluate -o a b``)."""

OUTPUT_DIRS = ("out_dir", "checkpoint_dir")
"""Options naming directories a command writes into."""


def check_outputs(args: argparse.Namespace) -> None:
    """Fail before the work when an output cannot be written (a directory, a FIFO...)."""
    outputs = []
    for name in OUTPUT_FILES:
        value = getattr(args, name, None)
        outputs += value if isinstance(value, list) else [] if value is None else [value]
    dirs = [getattr(args, n) for n in OUTPUT_DIRS if getattr(args, n, None)]
    if not outputs and not dirs:
        return  # ``info`` and ``--help`` start without NumPy
    from musictransfer.outputs import check_output, check_output_dir

    for path in outputs:
        check_output(path)
    for path in dirs:
        check_output_dir(path)
