"""Commands that make a model file: the trained tagger, the random convnet, choi2017.pt."""

from __future__ import annotations

import argparse
from pathlib import Path

from musictransfer.cli.common import MIRROR_HELP, add_command, json_arg, positive_int
from musictransfer.config.schema import default_of


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


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    """``train DATASET_DIR --out PT --checkpoint-dir D [--settings JSON]``."""
    p = add_command(sub, "train", cmd_train, "train the tagger on a prepared tagging source")
    p.add_argument("dataset_dir", type=Path)
    p.add_argument("--out", required=True, type=Path, help="model file (.pt)")
    p.add_argument("--metrics", type=Path, help="JSON file for validation/test AUC")
    p.add_argument("--settings", type=json_arg, default={}, help="training settings (JSON)")
    p.add_argument("--checkpoint-dir", type=Path, required=True)
    p.add_argument("--threads", type=positive_int, default=1)
    p.add_argument(
        "--accelerator",
        choices=["auto", "cpu", "gpu"],
        default="auto",
        help="auto: CUDA if available; gpu: CUDA or exit 2 (never a silent CPU run)",
    )


def cmd_random_convnet(args: argparse.Namespace) -> None:
    """Save the untrained, He-normal random convnet."""
    from musictransfer.modelfile import save_random_convnet

    save_random_convnet(args.out, seed=args.seed)


def add_random_convnet_parser(sub: argparse._SubParsersAction) -> None:
    """``random-convnet --out PT [--seed N]``."""
    p = add_command(
        sub, "random-convnet", cmd_random_convnet, "save the seeded He-normal random convnet"
    )
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--seed", type=int, default=default_of("random_convnet", "seed"))


def cmd_import_paper_weights(args: argparse.Namespace) -> None:
    """Import the authors' Keras 1 weights into a PyTorch model file."""
    from musictransfer.choi2017.weights import import_paper_weights

    import_paper_weights(args.out, weights=args.weights, mirror=args.mirror)


def add_import_paper_weights_parser(sub: argparse._SubParsersAction) -> None:
    """``import-paper-weights --out PT [--weights HDF5] [--mirror D]``."""
    p = add_command(
        sub, "import-paper-weights", cmd_import_paper_weights, "authors' weights -> choi2017.pt"
    )
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--weights", type=Path, help="weights_theano.hdf5 (default: mirror/download)")
    p.add_argument("--mirror", type=Path, help=MIRROR_HELP)
