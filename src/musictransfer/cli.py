"""The ``musictransfer`` command line: what every Snakemake rule calls.

Each sub-command is a thin wrapper over one package function; heavy libraries are
imported inside the commands so that ``musictransfer --help`` and ``info`` start fast
and so that the hundreds of evaluation jobs of a run do not each pay for PyTorch.
User errors (:class:`~musictransfer.errors.MusicTransferError`) are printed without a
traceback, with their hint, and exit with status 2 (``--debug`` adds the traceback);
any other exception is a bug and keeps its traceback. Output paths are checked before
a command starts, so that a bad ``-o`` fails at once rather than after hours of work.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from musictransfer import __version__
from musictransfer.errors import ConfigError, MusicTransferError

Handler = Callable[[argparse.Namespace], None]


def _json_arg(text: str) -> dict:
    """Parse a JSON object given on the command line (the rules pass specs this way)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def _positive_int(text: str) -> int:
    """Parse a count that must be at least 1 (batch sizes, threads, tags shown)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


# --- commands ----------------------------------------------------------------------------


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
    print(f"SVM grid: {c.GRID_SIZE} settings, {c.N_FOLDS}-fold CV")
    try:
        import torch

        cuda = torch.cuda.is_available()
        device = torch.cuda.get_device_name(0) if cuda else "CPU only"
        print(f"torch {torch.__version__}: {device}")
    except ImportError:  # pragma: no cover - torch is a dependency
        print("torch: not installed")
    if args.config:
        from musictransfer.config import load_config, resolve_experiment

        exp = resolve_experiment(load_config(args.config), args.experiment)
        print(
            f"experiment {exp.name}: {len(exp.tasks)} tasks, extractors "
            f"{', '.join(exp.extractors)}, {len(exp.cells())} evaluation cells -> {exp.root}"
        )


def cmd_generate_demo(args: argparse.Namespace) -> None:
    """Synthesise one dataset of the demo corpus."""
    from musictransfer.datasets.demo import generate_dataset

    generate_dataset(args.dataset, args.out_dir, n_clips=args.n_clips, seed=args.seed)


def cmd_prepare(args: argparse.Namespace) -> None:
    """Decode, downmix and resample a manifest's audio into a prepared store."""
    from musictransfer.datasets.store import prepare_audio

    prepare_audio(args.manifest, args.out_dir, threads=args.threads)


def cmd_download(args: argparse.Namespace) -> None:
    """Fetch, verify and unpack a dataset (or check a copy on disk) and write its receipt."""
    from musictransfer.datasets.download import download_dataset

    receipt = download_dataset(
        args.dataset, args.out_dir, data_dir=args.data_dir, mirror=args.mirror
    )
    print(f"{args.dataset}: ready, receipt {receipt}")


def cmd_manifest(args: argparse.Namespace) -> None:
    """Build a dataset's manifest from its root (or download receipt)."""
    from musictransfer.datasets.build import build_manifest, write_manifest
    from musictransfer.datasets.reference import reference_path
    from musictransfer.datasets.registry import get_spec

    reference = args.reference
    if reference is None and args.paper_order:
        csv_name = get_spec(args.dataset).reference_csv
        if csv_name is not None:
            reference = reference_path(csv_name, args.mirror, args.out.parent / "paper")
    frame = build_manifest(args.dataset, args.root, reference=reference)
    write_manifest(frame, args.out)
    print(f"{args.dataset}: {len(frame)} clips -> {args.out}")


def cmd_train(args: argparse.Namespace) -> None:
    """Train the tagger on a prepared tagging source."""
    from musictransfer.training import train_tagger

    train_tagger(
        args.dataset_dir,
        args.out,
        settings=args.settings,
        checkpoint_dir=args.checkpoint_dir,
        threads=args.threads,
        metrics_out=args.metrics,
        accelerator=args.accelerator,
    )


def cmd_random_convnet(args: argparse.Namespace) -> None:
    """Save the untrained, He-normal random convnet."""
    from musictransfer.modelfile import save_random_convnet

    save_random_convnet(args.out, seed=args.seed)


def cmd_extract_convnet(args: argparse.Namespace) -> None:
    """Compute the convnet feature of every clip of a prepared dataset."""
    from musictransfer.features import extract_convnet

    extract_convnet(
        args.model, args.dataset_dir, args.out, batch_size=args.batch_size, threads=args.threads
    )


def cmd_extract_mfcc(args: argparse.Namespace) -> None:
    """Compute the MFCC baseline vector of every clip of a prepared dataset."""
    from musictransfer.features import extract_mfcc

    extract_mfcc(args.dataset_dir, args.out)


def cmd_extract(args: argparse.Namespace) -> None:
    """Features of arbitrary audio files with a saved model (user-facing)."""
    if args.extractor == "choi2017":
        from musictransfer.choi2017.api import DEFAULT_BATCH_SIZE, extract_files_choi2017

        extract_files_choi2017(
            _expand_inputs(args.inputs),
            args.out,
            bn_mode=args.bn_mode,
            weights=args.model,
            mirror=args.mirror,
            batch_size=DEFAULT_BATCH_SIZE if args.batch_size is None else args.batch_size,
            stats_path=args.stats,
        )
        return
    if args.model is None:
        raise MusicTransferError("extract needs --model PATH or --extractor choi2017")
    from musictransfer.choi2017.weights import authors_weights_kind
    from musictransfer.features import extract_files

    kind = authors_weights_kind(args.model)
    if kind is not None:
        raise MusicTransferError(
            f"{args.model} is {kind}, not a musictransfer model",
            "add --extractor choi2017 to extract features with the authors' network",
        )
    extract_files(
        args.model,
        _expand_inputs(args.inputs),
        args.out,
        batch_size=8 if args.batch_size is None else args.batch_size,
    )


def cmd_tag(args: argparse.Namespace) -> None:
    """Print the top tags of audio files with the authors' pre-trained tagger."""
    from musictransfer.choi2017.api import DEFAULT_BATCH_SIZE, tag_files

    paths = _expand_inputs(args.inputs)
    tags = tag_files(
        paths,
        top=args.top,
        bn_mode=args.bn_mode,
        weights=args.weights,
        mirror=args.mirror,
        batch_size=DEFAULT_BATCH_SIZE if args.batch_size is None else args.batch_size,
    )
    for path, best in zip(paths, tags, strict=True):
        print(path)
        print("  " + ", ".join(f"{tag} {prob:.2f}" for tag, prob in best))


def cmd_import_paper_weights(args: argparse.Namespace) -> None:
    """Import the authors' Keras 1 weights into a PyTorch model file."""
    from musictransfer.choi2017.weights import import_paper_weights

    import_paper_weights(args.out, weights=args.weights, mirror=args.mirror)


def cmd_extract_choi2017(args: argparse.Namespace) -> None:
    """Features of a prepared dataset with the imported choi2017 model (workflow)."""
    import torch

    from musictransfer.choi2017.api import extract_prepared

    torch.set_num_threads(args.threads)
    extract_prepared(
        args.model,
        args.dataset_dir,
        args.out,
        bn_mode=args.bn_mode,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
    )


def cmd_choi2017_stats(args: argparse.Namespace) -> None:
    """Frozen normalisation statistics of the choi2017 network over audio files."""
    from musictransfer.choi2017.api import reference_statistics

    reference_statistics(
        _expand_inputs(args.inputs), args.out, weights=args.weights, mirror=args.mirror
    )


def cmd_evaluate(args: argparse.Namespace) -> None:
    """Run the SVM grid search of one (task, extractor, combination) cell, or of several."""
    from musictransfer.pipeline import evaluate_cell_files, evaluate_cells_files

    if len(args.combo) != len(args.out):
        raise ConfigError(
            f"{len(args.combo)} --combo values but {len(args.out)} -o files",
            "give one output file per combination, in the same order",
        )
    files = {"manifest": args.manifest, "convnet": args.features, "mfcc": args.mfcc}
    if len(args.combo) == 1:
        evaluate_cell_files(
            args.task, args.extractor, args.combo[0], **files, out=args.out[0],
            threads=args.threads, fold_part=args.fold_part,
        )  # fmt: skip
    elif args.fold_part is not None:
        raise ConfigError("--fold-part splits one cell: give a single --combo with it")
    else:
        evaluate_cells_files(
            args.task, args.extractor, args.combo, **files, outs=args.out, threads=args.threads
        )


def cmd_merge_folds(args: argparse.Namespace) -> None:
    """Merge a cell's fold parts (``evaluate --fold-part``) into the cell's result."""
    from musictransfer.pipeline import merge_cell_files

    merge_cell_files(args.parts, args.task, args.extractor, args.combo, args.out)


def _fold_part_arg(text: str) -> tuple[int, int]:
    """Parse ``K/N``: part K (0-based) of N."""
    try:
        part, n_parts = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K/N (e.g. 0/4), got {text!r}") from None
    if not 0 <= part < n_parts:
        raise argparse.ArgumentTypeError(f"part {part} does not exist among {n_parts}")
    return part, n_parts


def cmd_aggregate(args: argparse.Namespace) -> None:
    """Collect cell JSON files into the tidy score table."""
    from musictransfer.reporting import aggregate_scores

    aggregate_scores(args.cells, args.out)


def cmd_plot(args: argparse.Namespace) -> None:
    """Draw the per-task and summary figures from the score table."""
    from musictransfer.reporting import plot_scores

    plot_scores(args.scores, args.out_dir, tasks=args.tasks, references=args.references)


def cmd_report(args: argparse.Namespace) -> None:
    """Write the Markdown report."""
    from musictransfer.reporting import write_report

    write_report(
        args.scores,
        args.figures_dir,
        args.out,
        experiment=args.experiment,
        extra=args.extra,
        references=args.references,
        tasks=args.tasks,
        authors=args.authors,
    )


def cmd_compare_authors(args: argparse.Namespace) -> None:
    """Our scores beside the authors' per-cell result files: a table and a figure."""
    from musictransfer.pipeline import compare_authors_files

    compare_authors_files(args.scores, args.results, args.tasks, args.out, args.figure)


def cmd_fetch_paper_file(args: argparse.Namespace) -> None:
    """Download (or copy from a mirror) one of the authors' released files, verified."""
    from musictransfer.datasets.paper import BASE_URL, fetch_released_file

    fetch_released_file(args.path, args.out, mirror=args.mirror, base_url=args.base_url or BASE_URL)


def cmd_import_paper_features(args: argparse.Namespace) -> None:
    """Convert a dataset's released features and metadata into the project's formats."""
    from musictransfer.datasets.paper import import_released

    import_released(
        args.dataset,
        args.csv,
        layers=args.layers,
        mfcc=args.mfcc,
        features_out=args.features_out,
        mfcc_out=args.mfcc_out,
        manifest_out=args.manifest_out,
    )


def _expand_inputs(inputs: Sequence[str]) -> list[Path]:
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


# --- parser ------------------------------------------------------------------------------


def _add_choi2017_options(p: argparse.ArgumentParser) -> None:
    """Options shared by the commands that run the authors' network."""
    p.add_argument(
        "--bn-mode",
        choices=["reference", "batch", "dataset"],
        default="reference",
        help="normalisation statistics: 'reference' (frozen, shipped; default), 'batch' "
        "(Keras 1 mode 2 over batches of --batch-size files, as the authors), 'dataset' "
        "(frozen over all the files given)",
    )
    p.add_argument("--mirror", type=Path, help="directory laid out like ../shared/paper")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with all sub-commands."""
    parser = argparse.ArgumentParser(
        prog="musictransfer",
        description="Pre-trained convnet features for music (Choi et al., ISMIR 2017).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    debug_help = "show the traceback of user errors too (they are one line otherwise)"
    parser.add_argument("--debug", action="store_true", help=debug_help)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        # Also accepted after the command; SUPPRESS keeps the global flag's value otherwise.
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)
        return p

    p = add("info", cmd_info, "versions, the paper's constants, compute and the experiment")
    p.add_argument("--config", help="config.yaml to summarise")
    p.add_argument("--experiment", help="experiment preset (default: the config's)")

    p = add("generate-demo", cmd_generate_demo, "synthesise one dataset of the demo corpus")
    p.add_argument("dataset", help="demo dataset name (demo_tags, dance, genre, ...)")
    p.add_argument("--out-dir", required=True, type=Path)
    p.add_argument("--n-clips", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)

    p = add("prepare", cmd_prepare, "decode, downmix, resample to 12 kHz and store a dataset")
    p.add_argument("manifest", type=Path)
    p.add_argument("--out-dir", required=True, type=Path)
    p.add_argument("--threads", type=_positive_int, default=1)

    p = add("download", cmd_download, "fetch, verify and unpack a real dataset")
    p.add_argument("dataset", help="dataset name (see musictransfer.datasets.registry)")
    p.add_argument("--out-dir", required=True, type=Path)
    p.add_argument("--data-dir", type=Path, help="an unpacked copy to use in place")
    p.add_argument("--mirror", type=Path, help="directory of already-downloaded archives")

    p = add("manifest", cmd_manifest, "build a dataset's manifest CSV from its files")
    p.add_argument("dataset")
    p.add_argument("root", type=Path, help="dataset root or download receipt (dataset.json)")
    p.add_argument("-o", "--out", required=True, type=Path)
    p.add_argument("--reference", type=Path, help="the authors' CSV: use its order and check")
    p.add_argument(
        "--paper-order", action="store_true", help="fetch the authors' CSV (or read the mirror)"
    )
    p.add_argument("--mirror", type=Path, help="directory holding data_csv/ (the authors' tables)")

    p = add("train", cmd_train, "train the tagger on a prepared tagging source")
    p.add_argument("dataset_dir", type=Path)
    p.add_argument("--out", required=True, type=Path, help="model file (.pt)")
    p.add_argument("--metrics", type=Path, help="JSON file for validation/test AUC")
    p.add_argument("--settings", type=_json_arg, default={}, help="training settings (JSON)")
    p.add_argument("--checkpoint-dir", type=Path, required=True)
    p.add_argument("--threads", type=_positive_int, default=1)
    p.add_argument(
        "--accelerator",
        choices=["auto", "cpu", "gpu"],
        default="auto",
        help="auto: CUDA if available; gpu: CUDA or exit 2 (never a silent CPU run)",
    )

    p = add("random-convnet", cmd_random_convnet, "save the seeded He-normal random convnet")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--seed", type=int, default=0)

    p = add("extract-convnet", cmd_extract_convnet, "convnet features of a prepared dataset")
    p.add_argument("model", type=Path)
    p.add_argument("dataset_dir", type=Path)
    p.add_argument("-o", "--out", required=True, type=Path)
    p.add_argument("--batch-size", type=_positive_int, default=16)
    p.add_argument("--threads", type=_positive_int, default=1)

    p = add("extract-mfcc", cmd_extract_mfcc, "MFCC baseline vectors of a prepared dataset")
    p.add_argument("dataset_dir", type=Path)
    p.add_argument("-o", "--out", required=True, type=Path)

    p = add("extract", cmd_extract, "convnet features of audio files (paths or .txt lists)")
    p.add_argument("inputs", nargs="+")
    p.add_argument(
        "--model",
        type=Path,
        help="a saved model (.pt); with --extractor choi2017, optionally the weights file",
    )
    p.add_argument(
        "--extractor",
        choices=["choi2017"],
        help="use the authors' pre-trained convnet instead of --model",
    )
    _add_choi2017_options(p)
    p.add_argument("--stats", type=Path, help="frozen statistics (JSON) for --bn-mode reference")
    p.add_argument("-o", "--out", required=True, type=Path, help="output .npz")
    p.add_argument(
        "--batch-size", type=_positive_int, default=None, help="default 8, or 256 with choi2017"
    )

    p = add("tag", cmd_tag, "top tags of audio files with the authors' pre-trained tagger")
    p.add_argument("inputs", nargs="+", help="audio files or .txt lists of them")
    p.add_argument("--top", type=_positive_int, default=5, help="tags printed per file")
    p.add_argument("--weights", type=Path, help="weights_theano.hdf5 or choi2017.pt")
    _add_choi2017_options(p)
    p.add_argument(
        "--batch-size", type=_positive_int, default=None, help="clips per batch (batch mode)"
    )

    p = add("import-paper-weights", cmd_import_paper_weights, "authors' weights -> choi2017.pt")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--weights", type=Path, help="weights_theano.hdf5 (default: mirror/download)")
    p.add_argument("--mirror", type=Path, help="directory laid out like ../shared/paper")

    p = add("extract-choi2017", cmd_extract_choi2017, "choi2017 features of a prepared dataset")
    p.add_argument("model", type=Path, help="choi2017.pt from import-paper-weights")
    p.add_argument("dataset_dir", type=Path)
    p.add_argument("-o", "--out", required=True, type=Path)
    p.add_argument("--bn-mode", choices=["batch", "dataset", "reference"], default="batch")
    p.add_argument("--batch-size", type=_positive_int, default=256)
    p.add_argument("--chunk-size", type=_positive_int, default=16, help="clips in memory at once")
    p.add_argument("--threads", type=_positive_int, default=1)

    p = add("choi2017-stats", cmd_choi2017_stats, "frozen choi2017 statistics of audio files")
    p.add_argument("inputs", nargs="+")
    p.add_argument("-o", "--out", required=True, type=Path, help="output .json")
    p.add_argument("--weights", type=Path, help="weights_theano.hdf5 or choi2017.pt")
    p.add_argument("--mirror", type=Path, help="directory laid out like ../shared/paper")

    p = add("evaluate", cmd_evaluate, "SVM grid search of (task, extractor, combo) cells")
    p.add_argument("--task", required=True, type=_json_arg, help="task spec (JSON)")
    p.add_argument("--extractor", required=True)
    p.add_argument("--combo", required=True, nargs="+", help="one or more combinations")
    p.add_argument("--manifest", required=True, type=Path, help="prepared manifest (labels)")
    p.add_argument("--features", type=Path, help="convnet feature file")
    p.add_argument("--mfcc", type=Path, help="MFCC feature file")
    p.add_argument(
        "-o", "--out", required=True, type=Path, nargs="+", help="one JSON file per --combo"
    )
    p.add_argument("--threads", type=_positive_int, default=1)
    p.add_argument(
        "--fold-part",
        type=_fold_part_arg,
        metavar="K/N",
        help="only part K (0-based) of N of the folds; merge the parts with merge-folds",
    )

    p = add("merge-folds", cmd_merge_folds, "merge a cell's fold parts into its result")
    p.add_argument("parts", nargs="+", type=Path, help="the JSON files of evaluate --fold-part")
    p.add_argument("--task", required=True, type=_json_arg, help="task spec (JSON)")
    p.add_argument("--extractor", required=True)
    p.add_argument("--combo", required=True)
    p.add_argument("-o", "--out", required=True, type=Path)

    p = add("aggregate", cmd_aggregate, "collect cell JSON files into scores.csv")
    p.add_argument("cells", nargs="+", type=Path)
    p.add_argument("-o", "--out", required=True, type=Path)

    p = add("plot", cmd_plot, "figures from scores.csv")
    p.add_argument("scores", type=Path)
    p.add_argument("--out-dir", required=True, type=Path)
    p.add_argument("--tasks", nargs="*", default=None)
    p.add_argument("--references", type=_json_arg, default={}, help="task -> reference score")

    p = add("report", cmd_report, "Markdown report from scores.csv and figures")
    p.add_argument("scores", type=Path)
    p.add_argument("--figures-dir", required=True, type=Path)
    p.add_argument("-o", "--out", required=True, type=Path)
    p.add_argument("--experiment", required=True)
    p.add_argument("--extra", type=_json_arg, default={}, help="extra facts to report (JSON)")
    p.add_argument("--references", type=_json_arg, default={}, help="task -> reference (JSON)")
    p.add_argument("--tasks", nargs="*", default=None, help="tasks, in report order")
    p.add_argument("--authors", type=Path, help="tables/authors.csv: compare with their results")

    p = add("compare-authors", cmd_compare_authors, "our scores beside the authors' result files")
    p.add_argument("scores", type=Path, help="tables/scores.csv")
    p.add_argument("--results", nargs="+", required=True, type=Path, help="their .npy files")
    p.add_argument("--tasks", type=_json_arg, required=True, help="our task -> theirs (JSON)")
    p.add_argument("-o", "--out", required=True, type=Path, help="the comparison table (CSV)")
    p.add_argument("--figure", required=True, type=Path, help="the comparison figure (PNG)")
    p = add("fetch-paper-file", cmd_fetch_paper_file, "get one of the authors' released files")
    p.add_argument(
        "path",
        help="path in the mirror layout (data_csv/, data_feats/, weights/, result_transfer/), "
        "e.g. data_csv/gtzan_genre.csv",
    )
    p.add_argument("-o", "--out", required=True, type=Path)
    p.add_argument("--mirror", type=Path, help="directory of verified local copies")
    p.add_argument("--base-url", help="where the authors' repository is served (default: pinned)")

    p = add(
        "import-paper-features",
        cmd_import_paper_features,
        "released features + metadata -> feature files and a labels manifest",
    )
    p.add_argument("dataset", help="released dataset (ballroom, gtzan_genre, ...)")
    p.add_argument("--csv", required=True, type=Path, help="the released metadata table")
    p.add_argument("--layers", nargs=5, type=Path, help="the five _layer_<k>.npy files")
    p.add_argument("--mfcc", type=Path, help="the released _mfcc.npy file")
    p.add_argument("--features-out", type=Path, help="convnet feature file to write")
    p.add_argument("--mfcc-out", type=Path, help="MFCC feature file to write")
    p.add_argument("--manifest-out", type=Path, help="labels manifest to write")
    return parser


_OUTPUT_FILES = ("out", "metrics", "features_out", "mfcc_out", "manifest_out")
"""Options naming files a command writes (``out`` may be a list: ``evaluate -o a b``)."""


def _check_outputs(args: argparse.Namespace) -> None:
    """Fail before the work when an output cannot be written (a directory, a FIFO...)."""
    outputs = []
    for name in _OUTPUT_FILES:
        value = getattr(args, name, None)
        outputs += value if isinstance(value, list) else [] if value is None else [value]
    dirs = [getattr(args, n) for n in ("out_dir", "checkpoint_dir") if getattr(args, n, None)]
    if not outputs and not dirs:
        return  # ``info`` and ``--help`` start without NumPy
    from musictransfer.files import check_output, check_output_dir

    for path in outputs:
        check_output(path)
    for path in dirs:
        check_output_dir(path)


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
            _check_outputs(args)
            args.handler(args)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise  # any other OSError not turned into a message is a bug to see
            where = f" writing {exc.filename}" if exc.filename else ""
            raise MusicTransferError(
                f"{exc.strerror}{where}", "free space on the output's disk and run again"
            ) from exc
    except MusicTransferError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"musictransfer {args.command}: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  -> {exc.hint}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
