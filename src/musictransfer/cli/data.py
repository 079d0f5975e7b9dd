"""Commands that make or fetch a dataset: demo synthesis, downloads, manifests, stores.

Also the authors' released files: one file fetched and verified, and a dataset's
released features converted to the project's formats.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from musictransfer.cli.common import add_command, positive_int
from musictransfer.constants import SAMPLE_RATE
from musictransfer.errors import MusicTransferError
from musictransfer.layout import SHARD_PLAN_FILE


def cmd_generate_demo(args: argparse.Namespace) -> None:
    """Synthesise one dataset of the demo corpus."""
    from musictransfer.datasets.demo import generate_dataset

    generate_dataset(args.dataset, args.out_dir, n_clips=args.n_clips, seed=args.seed)


def add_generate_demo_parser(sub: argparse._SubParsersAction) -> None:
    """``generate-demo DATASET --out-dir D --n-clips N``."""
    p = add_command(
        sub, "generate-demo", cmd_generate_demo, "synthesise one dataset of the demo corpus"
    )
    p.add_argument("dataset", help="demo dataset name (demo_tags, dance, genre, ...)")
    p.add_argument("--out-dir", required=True, type=Path)
    p.add_argument("--n-clips", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)


def cmd_prepare(args: argparse.Namespace) -> None:
    """Decode, downmix and resample a manifest's audio into a prepared store (or a shard)."""
    from musictransfer.datasets import store
    from musictransfer.outputs import read_json_object

    sharding = args.plan or args.shard is not None or args.merge
    if sharding and args.whole:
        raise MusicTransferError("--whole makes a decoded store, which is never sharded")
    if (args.plan or args.shard is not None) and args.clips_per_shard is None:
        raise MusicTransferError("--plan and --shard need --clips-per-shard")
    if args.plan:
        plan = store.plan_shards(
            args.manifest, args.clips_per_shard, args.out_dir / SHARD_PLAN_FILE
        )
        print(f"{plan['n_clips']} clips in {len(plan['shards'])} shard(s) of "
              f"{args.clips_per_shard}: {args.out_dir / SHARD_PLAN_FILE}")  # fmt: skip
    elif args.shard is not None:
        store.prepare_shard(args.manifest, args.out_dir, args.shard, args.clips_per_shard,
                            threads=args.threads)  # fmt: skip
    elif args.merge:
        plan = read_json_object(
            args.out_dir / SHARD_PLAN_FILE, "shard plan", "run prepare --plan first",
            "delete it and run prepare --plan again",
        )  # fmt: skip
        store.merge_shards(args.manifest, args.out_dir, plan["shards"])
    elif args.whole:  # a decoded store for the representations brought by the user
        store.prepare_audio(args.manifest, args.out_dir, sr=args.sample_rate, duration=None,
                            threads=args.threads, dtype="float32")  # fmt: skip
    else:
        store.prepare_audio(args.manifest, args.out_dir, sr=args.sample_rate, threads=args.threads)


def add_prepare_parser(sub: argparse._SubParsersAction) -> None:
    """``prepare MANIFEST --out-dir D [--sample-rate R --whole | --plan | --shard K | --merge]``."""
    p = add_command(
        sub, "prepare", cmd_prepare, "decode, downmix, resample to 12 kHz and store a dataset"
    )
    p.add_argument("manifest", type=Path)
    p.add_argument("--out-dir", required=True, type=Path)
    p.add_argument("--threads", type=positive_int, default=1)
    p.add_argument("--sample-rate", type=positive_int, default=SAMPLE_RATE,
                   help=f"Hz (default {SAMPLE_RATE}, the paper's)")  # fmt: skip
    p.add_argument(
        "--whole", action="store_true",
        help="keep each clip whole (not its first 29 s) as float32: the store that the "
        "representations of one rate share",
    )  # fmt: skip
    shards = p.add_mutually_exclusive_group()
    shards.add_argument("--plan", action="store_true",
                        help="a sharded store: write its plan (shards.json) only")  # fmt: skip
    shards.add_argument("--shard", type=int, metavar="K",
                        help="a sharded store: prepare shard K only (shard-0000K/)")  # fmt: skip
    shards.add_argument("--merge", action="store_true",
                        help="a sharded store: its manifest over the planned shards")  # fmt: skip
    p.add_argument("--clips-per-shard", type=positive_int, metavar="N",
                   help="with --plan and --shard: clips per shard")  # fmt: skip


def cmd_download(args: argparse.Namespace) -> None:
    """Fetch, verify and unpack a dataset (or check a copy on disk) and write its receipt."""
    from musictransfer.datasets.download import download_dataset

    receipt = download_dataset(
        args.dataset, args.out_dir, data_dir=args.data_dir, mirror=args.mirror
    )
    print(f"{args.dataset}: ready, receipt {receipt}")


def add_download_parser(sub: argparse._SubParsersAction) -> None:
    """``download DATASET --out-dir D [--data-dir D] [--mirror D]``."""
    p = add_command(sub, "download", cmd_download, "fetch, verify and unpack a real dataset")
    p.add_argument("dataset", help="dataset name (see musictransfer.datasets.registry)")
    p.add_argument("--out-dir", required=True, type=Path)
    p.add_argument("--data-dir", type=Path, help="an unpacked copy to use in place")
    p.add_argument("--mirror", type=Path, help="directory of already-downloaded archives")


def cmd_manifest(args: argparse.Namespace) -> None:
    """Build a dataset's manifest from its root (or download receipt)."""
    from musictransfer.datasets.authors_tables import authors_table_path
    from musictransfer.datasets.manifest_builder import build_manifest, write_manifest
    from musictransfer.datasets.registry import get_spec

    authors_table = args.authors_table
    if authors_table is None and args.paper_order:
        csv_name = get_spec(args.dataset).authors_csv
        if csv_name is not None:
            authors_table = authors_table_path(csv_name, args.mirror, args.out.parent / "paper")
    frame = build_manifest(args.dataset, args.root, authors_table=authors_table)
    write_manifest(frame, args.out)
    print(f"{args.dataset}: {len(frame)} clips -> {args.out}")


def add_manifest_parser(sub: argparse._SubParsersAction) -> None:
    """``manifest DATASET ROOT -o CSV [--authors-table CSV | --paper-order]``."""
    p = add_command(sub, "manifest", cmd_manifest, "build a dataset's manifest CSV from its files")
    p.add_argument("dataset")
    p.add_argument("root", type=Path, help="dataset root or download receipt (dataset.json)")
    p.add_argument("-o", "--out", required=True, type=Path)
    p.add_argument(
        "--authors-table",
        "--reference",  # its former name
        type=Path,
        help="the authors' CSV: use its order and check",
    )
    p.add_argument(
        "--paper-order", action="store_true", help="fetch the authors' CSV (or read the mirror)"
    )
    p.add_argument("--mirror", type=Path, help="directory holding data_csv/ (the authors' tables)")


def cmd_fetch_paper_file(args: argparse.Namespace) -> None:
    """Download (or copy from a mirror) one of the authors' released files, verified."""
    from musictransfer.datasets.paper import BASE_URL
    from musictransfer.datasets.paper.fetch import fetch_released_file

    fetch_released_file(args.path, args.out, mirror=args.mirror, base_url=args.base_url or BASE_URL)


def add_fetch_paper_file_parser(sub: argparse._SubParsersAction) -> None:
    """``fetch-paper-file PATH -o FILE [--mirror D]``."""
    p = add_command(
        sub, "fetch-paper-file", cmd_fetch_paper_file, "get one of the authors' released files"
    )
    p.add_argument(
        "path",
        help="path in the mirror layout (data_csv/, data_feats/, weights/, result_transfer/), "
        "e.g. data_csv/gtzan_genre.csv",
    )
    p.add_argument("-o", "--out", required=True, type=Path)
    p.add_argument("--mirror", type=Path, help="directory of verified local copies")
    p.add_argument("--base-url", help="where the authors' repository is served (default: pinned)")


def cmd_import_paper_features(args: argparse.Namespace) -> None:
    """Convert a dataset's released features and metadata into the project's formats."""
    from musictransfer.datasets.paper.convert import import_released

    import_released(
        args.dataset,
        args.csv,
        layers=args.layers,
        mfcc=args.mfcc,
        features_out=args.features_out,
        mfcc_out=args.mfcc_out,
        manifest_out=args.manifest_out,
    )


def add_import_paper_features_parser(sub: argparse._SubParsersAction) -> None:
    """``import-paper-features DATASET --csv CSV [--layers ...] [--mfcc NPY]``."""
    p = add_command(
        sub,
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


def cmd_folder_manifest(args: argparse.Namespace) -> None:
    """Your own dataset's manifest: an audio folder and a labels CSV."""
    from musictransfer.datasets.labelled_folder import write_folder_manifest

    frame = write_folder_manifest(args.audio_dir, args.labels, args.out)
    print(f"{len(frame)} clips of {args.audio_dir} -> {args.out}")


def add_folder_manifest_parser(sub: argparse._SubParsersAction) -> None:
    """``folder-manifest --audio-dir D --labels CSV -o CSV``."""
    p = add_command(
        sub,
        "folder-manifest",
        cmd_folder_manifest,
        "your own dataset's manifest from an audio folder and a labels CSV",
    )
    p.add_argument("--audio-dir", required=True, type=Path, help="the folder of audio files")
    p.add_argument(
        "--labels",
        required=True,
        type=Path,
        help="CSV with a `path` column (relative to --audio-dir) and the tasks' columns",
    )
    p.add_argument("-o", "--out", required=True, type=Path)


def cmd_import_features(args: argparse.Namespace) -> None:
    """Check features computed elsewhere against a manifest; write them as a feature file."""
    from musictransfer.imported_features import import_features

    fs = import_features(
        args.source, args.manifest, args.name, args.out, args.pooling, args.siblings or ()
    )
    print(
        f"{args.name}: {len(fs.ids)} clips x {fs.scene.shape[1]} from {args.source} -> {args.out}"
    )


def add_import_features_parser(sub: argparse._SubParsersAction) -> None:
    """``import-features SOURCE --manifest CSV --name NAME -o NPZ [--pooling P]``."""
    from musictransfer.config.representations import POOLINGS

    p = add_command(
        sub,
        "import-features",
        cmd_import_features,
        "features computed elsewhere (.npz of ids and X, or a folder of <id>.npy), checked",
    )
    p.add_argument("source", type=Path, help="the .npz (arrays ids, X) or folder of <id>.npy")
    p.add_argument("--manifest", required=True, type=Path, help="the dataset's manifest")
    p.add_argument("--name", required=True, help="the representation's name")
    p.add_argument("--pooling", choices=POOLINGS, default="mean", help="of frames (n, T, d)")
    p.add_argument(
        "--siblings",
        nargs="+",
        type=Path,
        help="the representation's sources for other datasets (same dimension required)",
    )
    p.add_argument("-o", "--out", required=True, type=Path)
