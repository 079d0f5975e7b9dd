"""Extraction throughput of HEAR representations on the CPU (clips/s), in one run.

The same clips for every representation: ``--clips`` clips of ``--seconds`` s, cut in
order from the shared recordings (sorted by name, concatenated, each decoded once at
16 kHz with the package's ``load_audio``, before any timing). Each representation is
loaded with :func:`musictransfer.representations.load_representation` (kept on the
CPU) and then timed through its module's ``get_scene_embeddings`` directly, in batches
of ``--batch-size`` under ``torch.no_grad``, as ``embed_files`` calls it, but without
decoding files, so that only the representation is measured (for the project's modules
that includes their own resampling to 12 kHz). One warm-up call on the first batch
precedes the timed passes. Reported: clips/s, real-time factor (seconds of audio per
second) and the ratio to ``choi2017`` measured in the same run.

Representations: ``musictransfer.hear.choi2017`` (the authors' weights, from
``--paper``'s mirror), ``musictransfer.hear.random_convnet`` (seed 0, calibrated on the
first batch before timing), ``musictransfer.hear.torchcrepe`` (``tiny``, one row per
``--crepe-hops`` value), and with ``--musicnn-python`` ``musictransfer.hear.musicnn`` in
its own environment, run as a subprocess of this script (``--worker``) on the same clips
saved to a temporary ``.npy``. Not a test; run it on an idle machine, e.g.

    PYTHONPATH=src python perf/bench_representations.py --threads 2
    PYTHONPATH=src python perf/bench_representations.py --crepe-hops 50 10 \\
        --musicnn-python .venv-musicnn/bin/python --json bench.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RATE = 16_000
CHOI2017 = "musictransfer.hear.choi2017"
MUSICNN = "musictransfer.hear.musicnn"


def machine(threads: int) -> str:
    """CPU model (``lscpu``), its cores, and the threads the networks run on."""
    cpu, cores = platform.processor() or platform.machine(), str(os.cpu_count())
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        cpu = fields.get("Model name", cpu).strip()
        cores = fields.get("CPU(s)", cores).strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return f"{cpu}, {cores} CPU(s), {threads} thread(s), Python {platform.python_version()}"


def make_clips(audio_dir: Path, n_clips: int, seconds: float) -> tuple[np.ndarray, list[str]]:
    """``n_clips`` clips of ``seconds`` s at 16 kHz, float32 in [-1, 1], and their sources."""
    from musictransfer.audio import load_audio

    length = round(seconds * RATE)
    needed = n_clips * length
    stream: list[np.ndarray] = []
    names: list[str] = []
    for path in sorted(audio_dir.glob("*.ogg")):
        stream.append(load_audio(path, sr=RATE, duration=None))
        names.append(path.name)
        if sum(map(len, stream)) >= needed:
            break
    audio = np.concatenate(stream)
    if len(audio) < needed:  # not enough recordings: go round again
        audio = np.resize(audio, needed)
    clips = np.clip(audio[:needed], -1.0, 1.0).reshape(n_clips, length)
    return np.ascontiguousarray(clips, dtype=np.float32), names


def _as_input(model: Any, batch: np.ndarray) -> Any:
    """A batch as HEAR gives it: TensorFlow for a ``tf.Module``, torch where available."""
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(model, tf.Module):
        return tf.convert_to_tensor(batch)
    if importlib.util.find_spec("torch") is not None:
        import torch

        return torch.from_numpy(batch)
    return batch


def _no_grad() -> Any:
    """``torch.no_grad()`` where torch is installed (as ``embed_files``), else nothing."""
    import contextlib

    if importlib.util.find_spec("torch") is None:
        return contextlib.nullcontext()
    import torch

    return torch.no_grad()


def time_module(
    module: str, options: dict[str, Any], clips: np.ndarray, batch_size: int, repeats: int
) -> dict[str, Any]:
    """Load ``module`` and time its scene embeddings of ``clips`` (module docstring)."""
    from musictransfer.representations import load_representation

    start = time.perf_counter()
    rep = load_representation(module, options=options)
    if hasattr(rep.model, "to") and rep.device != "cpu":  # the CPU is what is measured
        rep.model, rep.device = rep.model.to("cpu"), "cpu"
    load_s = time.perf_counter() - start
    if rep.sample_rate != RATE:
        import soxr

        clips = np.stack([soxr.resample(c, RATE, rep.sample_rate, "HQ") for c in clips])
        clips = clips.astype(np.float32)
    batches = [clips[k : k + batch_size] for k in range(0, len(clips), batch_size)]
    with _no_grad():
        first = rep.module.get_scene_embeddings(_as_input(rep.model, batches[0]), rep.model)
        start = time.perf_counter()
        for _ in range(repeats):
            for batch in batches:
                rep.module.get_scene_embeddings(_as_input(rep.model, batch), rep.model)
        seconds = time.perf_counter() - start
    n = len(clips) * repeats
    return {
        "representation": module,
        "options": {k: v for k, v in options.items() if k != "calibration"},
        "dim": int(np.asarray(first).shape[-1]),
        "load_s": round(load_s, 2),
        "timed_s": round(seconds, 2),
        "clips_per_s": n / seconds,
        "realtime": n * clips.shape[1] / rep.sample_rate / seconds,
    }


def run_worker(python: str, clips: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    """Time ``musictransfer.hear.musicnn`` with another Python on the same clips."""
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "clips.npy", clips)
        out = Path(tmp) / "result.json"
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
        command = [
            python, __file__, "--worker", MUSICNN, "--worker-clips", str(Path(tmp) / "clips.npy"),
            "--worker-out", str(out), "--threads", str(args.threads),
            "--batch-size", str(args.batch_size), "--repeats", str(args.repeats),
        ]  # fmt: skip
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0 or not out.is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
            raise RuntimeError(f"exit {done.returncode}: {' | '.join(tail)}")
        return json.loads(out.read_text())


def worker(args: argparse.Namespace) -> None:
    """``--worker``: time one module on saved clips and write the result as JSON."""
    if importlib.util.find_spec("tensorflow") is not None:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(args.threads)
    clips = np.load(args.worker_clips)
    result = time_module(args.worker, {}, clips, args.batch_size, args.repeats)
    Path(args.worker_out).write_text(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", type=Path, default=REPO.parent / "shared" / "audio")
    parser.add_argument("--paper", type=Path, default=REPO.parent / "shared" / "paper")
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=29.0)
    parser.add_argument("--batch-size", type=int, default=8, help="as embed_files' default")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1, help="timed passes over the clips")
    parser.add_argument("--crepe-hops", type=float, nargs="*", default=[50.0], help="ms")
    parser.add_argument("--musicnn-python", help="the Python of .venv-musicnn")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-clips", help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    import torch

    torch.set_num_threads(args.threads)
    clips, sources = make_clips(args.audio, args.clips, args.seconds)
    where = machine(torch.get_num_threads())
    print(f"# {where}, torch {torch.__version__}", flush=True)
    print(
        f"# {len(clips)} clips of {args.seconds:g} s at 16 kHz from {len(sources)} recordings "
        f"of {args.audio}; batches of {args.batch_size}; module functions called directly",
        flush=True,
    )
    runs: list[tuple[str, dict[str, Any]]] = [
        (CHOI2017, {"mirror": str(args.paper)}),
        ("musictransfer.hear.random_convnet", {"seed": 0, "calibration": None}),
    ]
    runs += [
        ("musictransfer.hear.torchcrepe", {"model": "tiny", "hop_ms": h}) for h in args.crepe_hops
    ]
    rows: list[dict[str, Any]] = []
    for module, options in runs:
        if "calibration" in options:  # frozen before timing, on the first batch
            options = dict(options, calibration=torch.from_numpy(clips[: args.batch_size]))
        rows.append(time_module(module, options, clips, args.batch_size, args.repeats))
        print(f"# {module} done: {rows[-1]['clips_per_s']:.2f} clips/s", flush=True)
    if args.musicnn_python:
        if not Path(args.musicnn_python).is_file():
            print(f"# {MUSICNN}: skipped, no Python at {args.musicnn_python}", flush=True)
        else:
            try:
                rows.append(run_worker(args.musicnn_python, clips, args))
            except RuntimeError as err:
                print(f"# {MUSICNN}: skipped ({err})", flush=True)
    reference = next(r["clips_per_s"] for r in rows if r["representation"] == CHOI2017)
    print(f"\n{'representation':<36} {'options':<28} {'dim':>5} {'clips/s':>8} "
          f"{'x real time':>11} {'vs choi2017':>11}")  # fmt: skip
    for row in rows:
        row["ratio_to_choi2017"] = row["clips_per_s"] / reference
        options = ",".join(f"{k}={v}" for k, v in row["options"].items() if k != "mirror")
        print(
            f"{row['representation']:<36} {options or '-':<28} {row['dim']:>5} "
            f"{row['clips_per_s']:>8.2f} {row['realtime']:>11.1f} "
            f"{row['ratio_to_choi2017']:>11.2f}"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": where,
                    "torch": torch.__version__,
                    "clips": len(clips),
                    "seconds": args.seconds,
                    "batch_size": args.batch_size,
                    "repeats": args.repeats,
                    "sources": sources,
                    "command": " ".join(sys.argv),
                    "rows": rows,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
