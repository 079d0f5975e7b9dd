"""Commands that compute features or tags: of a prepared dataset, or of any audio files.

The workflow's extraction steps (``extract-convnet``, ``extract-mfcc``,
``extract-choi2017``) read a prepared store; the user-facing ones (``extract``, ``tag``,
``choi2017-stats``) take audio paths or ``.txt`` lists of them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from musictransfer.cli.common import (
    MIRROR_HELP,
    add_choi2017_options,
    add_command,
    expand_inputs,
    json_arg,
    positive_int,
)
from musictransfer.config.schema import default_of
from musictransfer.constants import BN_MODES
from musictransfer.errors import MusicTransferError


def cmd_extract_convnet(args: argparse.Namespace) -> None:
    """Compute the convnet feature of every clip of a prepared dataset."""
    from musictransfer.features import extract_convnet

    extract_convnet(
        args.model, args.dataset_dir, args.out, batch_size=args.batch_size, threads=args.threads
    )


def add_extract_convnet_parser(sub: argparse._SubParsersAction) -> None:
    """``extract-convnet MODEL DATASET_DIR -o NPZ``."""
    p = add_command(
        sub, "extract-convnet", cmd_extract_convnet, "convnet features of a prepared dataset"
    )
    p.add_argument("model", type=Path)
    p.add_argument("dataset_dir", type=Path)
    p.add_argument("-o", "--out", required=True, type=Path)
    p.add_argument("--batch-size", type=positive_int, default=16)
    p.add_argument("--threads", type=positive_int, default=1)


def cmd_extract_mfcc(args: argparse.Namespace) -> None:
    """Compute the MFCC baseline vector of every clip of a prepared dataset."""
    from musictransfer.features import extract_mfcc

    extract_mfcc(args.dataset_dir, args.out)


def add_extract_mfcc_parser(sub: argparse._SubParsersAction) -> None:
    """``extract-mfcc DATASET_DIR -o NPZ``."""
    p = add_command(
        sub, "extract-mfcc", cmd_extract_mfcc, "MFCC baseline vectors of a prepared dataset"
    )
    p.add_argument("dataset_dir", type=Path)
    p.add_argument("-o", "--out", required=True, type=Path)


def cmd_extract(args: argparse.Namespace) -> None:
    """Features of arbitrary audio files with a saved model or a HEAR module (user-facing)."""
    if args.representation is not None:
        extract_representation_files(args)
        return
    representation_only = (
        ("--model-file", args.model_file),
        ("--options", args.options),
        ("--features-of", args.features_of),
        ("--decoded", args.decoded),
        ("--layers", args.layers),
    )
    for flag, value in representation_only:
        if value is not None:
            raise MusicTransferError(
                f"{flag} is for the HEAR module of --representation",
                "add --representation MODULE, or drop " + flag,
            )
    if not args.inputs:
        raise MusicTransferError("no audio files given", "list the files to extract")
    if args.extractor == "choi2017":
        from musictransfer.choi2017.api import extract_files_choi2017
        from musictransfer.constants import AUTHORS_BATCH_SIZE

        extract_files_choi2017(
            expand_inputs(args.inputs),
            args.out,
            bn_mode=args.bn_mode,
            weights=args.model,
            mirror=args.mirror,
            batch_size=AUTHORS_BATCH_SIZE if args.batch_size is None else args.batch_size,
            stats_path=args.stats,
        )
        print(f"wrote the choi2017 features of {len(args.inputs)} input(s) to {args.out}")
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
        expand_inputs(args.inputs),
        args.out,
        batch_size=8 if args.batch_size is None else args.batch_size,
    )
    print(f"wrote the {args.model.stem} features of {len(args.inputs)} input(s) to {args.out}")


def extract_representation_files(args: argparse.Namespace) -> None:
    """``extract --representation MODULE``: embeddings of a HEAR module, with its layers."""
    given = [
        flag
        for flag, value in (
            ("--model", args.model),
            ("--extractor", args.extractor),
            ("--stats", args.stats),
            ("--mirror", args.mirror),
        )
        if value is not None
    ]
    if given:
        raise MusicTransferError(
            f"--representation runs a HEAR module: it does not go with {', '.join(given)}",
            "give the module's model file with --model-file and its options with --options",
        )
    from musictransfer.clip_sources import clips_of
    from musictransfer.representations import extract_representation

    if args.features_of is not None:
        if args.inputs:
            raise MusicTransferError(
                "give the audio files or --features-of a labels file, not both"
            )
        ids, paths = clips_of(args.features_of, args.audio_dir)
    elif args.decoded is not None:
        raise MusicTransferError("--decoded reads the clips of --features-of: give both")
    elif args.inputs:
        ids, paths = None, expand_inputs(args.inputs)
    else:
        raise MusicTransferError("give audio files, or --features-of a labels file")
    if args.layers and args.no_layers:
        raise MusicTransferError("--layers and --no-layers contradict each other")
    emb = extract_representation(
        args.representation,
        paths,
        args.out,
        model_file=args.model_file or "",
        options=args.options,
        batch_size=8 if args.batch_size is None else args.batch_size,
        layers=args.layers or not args.no_layers,
        ids=ids,
        decoded=args.decoded,
    )
    layers = f" and {len(emb.layers)} layers' averages" if emb.layers else ""
    print(f"wrote {len(emb.ids)} clips x {emb.features.shape[1]}{layers} to {args.out}")


def add_extract_parser(sub: argparse._SubParsersAction) -> None:
    """``extract INPUTS... -o NPZ (--model PT | --extractor choi2017 | --representation M)``."""
    p = add_command(
        sub,
        "extract",
        cmd_extract,
        "features of audio files (paths or .txt lists): a convnet's or a HEAR module's",
    )
    p.add_argument("inputs", nargs="*", help="audio files, or .txt files listing them")
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
    p.add_argument(
        "--representation",
        metavar="MODULE",
        help="a HEAR 2021 module (dotted name) instead of --model/--extractor: its scene "
        "embeddings of the whole clips",
    )
    p.add_argument(
        "--model-file", help="with --representation: the module's load_model(model_file_path)"
    )
    p.add_argument(
        "--options",
        type=json_arg,
        metavar="JSON",
        help="with --representation: load_model's keyword options, a JSON object",
    )
    p.add_argument(
        "--features-of",
        type=Path,
        metavar="CSV",
        help="with --representation: every clip of a labels file (a `path` column relative "
        "to --audio-dir; ids are the paths without extension) or of a manifest (id, path)",
    )
    p.add_argument(
        "--audio-dir",
        type=Path,
        help="with --features-of a labels file: its audio folder (default: the file's folder)",
    )
    p.add_argument(
        "--decoded",
        type=Path,
        metavar="DIR",
        help="with --features-of: read the clips from this store (`prepare --whole` at the "
        "module's rate) instead of decoding each file",
    )
    p.add_argument(
        "--layers",
        nargs="+",
        metavar="NAME",
        help="with --representation: keep these layers, in this order (default: all)",
    )
    p.add_argument(
        "--no-layers",
        action="store_true",
        help="with --representation: skip get_layer_embeddings (one call per batch fewer)",
    )
    add_choi2017_options(p)
    p.add_argument("--stats", type=Path, help="frozen statistics (JSON) for --bn-mode reference")
    p.add_argument("-o", "--out", required=True, type=Path, help="output .npz")
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        help="default 8, or 256 with choi2017 (with --representation: clips of one length)",
    )


def cmd_tag(args: argparse.Namespace) -> None:
    """Print the top tags of audio files with the authors' pre-trained tagger."""
    from musictransfer.choi2017.api import tag_files
    from musictransfer.constants import AUTHORS_BATCH_SIZE

    paths = expand_inputs(args.inputs)
    tags = tag_files(
        paths,
        top=args.top,
        bn_mode=args.bn_mode,
        weights=args.weights,
        mirror=args.mirror,
        batch_size=AUTHORS_BATCH_SIZE if args.batch_size is None else args.batch_size,
    )
    for path, best in zip(paths, tags, strict=True):
        print(path)
        print("  " + ", ".join(f"{tag} {prob:.2f}" for tag, prob in best))


def add_tag_parser(sub: argparse._SubParsersAction) -> None:
    """``tag INPUTS... [--top N]``."""
    p = add_command(
        sub, "tag", cmd_tag, "top tags of audio files with the authors' pre-trained tagger"
    )
    p.add_argument("inputs", nargs="+", help="audio files or .txt lists of them")
    p.add_argument("--top", type=positive_int, default=5, help="tags printed per file")
    p.add_argument("--weights", type=Path, help="weights_theano.hdf5 or choi2017.pt")
    add_choi2017_options(p)
    p.add_argument(
        "--batch-size", type=positive_int, default=None, help="clips per batch (batch mode)"
    )


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
        batch_order=args.batch_order,
    )


def add_extract_choi2017_parser(sub: argparse._SubParsersAction) -> None:
    """``extract-choi2017 MODEL DATASET_DIR -o NPZ [--bn-mode M]``."""
    p = add_command(
        sub, "extract-choi2017", cmd_extract_choi2017, "choi2017 features of a prepared dataset"
    )
    p.add_argument("model", type=Path, help="choi2017.pt from import-paper-weights")
    p.add_argument("dataset_dir", type=Path)
    p.add_argument("-o", "--out", required=True, type=Path)
    p.add_argument("--bn-mode", choices=BN_MODES, default=default_of("choi2017", "bn_mode"))
    p.add_argument("--batch-size", type=positive_int, default=default_of("choi2017", "batch_size"))
    p.add_argument(
        "--chunk-size",
        type=positive_int,
        default=default_of("choi2017", "chunk_size"),
        help="clips in memory at once",
    )
    p.add_argument(
        "--batch-order",
        metavar="COLUMN",
        default=None,
        help="extract (and batch) the clips sorted by this manifest column (default: as listed)",
    )
    p.add_argument("--threads", type=positive_int, default=1)


def cmd_choi2017_stats(args: argparse.Namespace) -> None:
    """Frozen normalisation statistics of the choi2017 network over audio files."""
    from musictransfer.choi2017.api import reference_statistics

    reference_statistics(
        expand_inputs(args.inputs), args.out, weights=args.weights, mirror=args.mirror
    )


def add_choi2017_stats_parser(sub: argparse._SubParsersAction) -> None:
    """``choi2017-stats INPUTS... -o JSON``."""
    p = add_command(
        sub, "choi2017-stats", cmd_choi2017_stats, "frozen choi2017 statistics of audio files"
    )
    p.add_argument("inputs", nargs="*", help="audio files, or .txt files listing them")
    p.add_argument("-o", "--out", required=True, type=Path, help="output .json")
    p.add_argument("--weights", type=Path, help="weights_theano.hdf5 or choi2017.pt")
    p.add_argument("--mirror", type=Path, help=MIRROR_HELP)
