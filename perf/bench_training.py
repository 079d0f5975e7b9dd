"""Throughput of tagger training steps and convnet feature extraction (clips/s).

Sizes the training settings: an epoch costs about n_train / train_rate +
n_valid / extract_rate seconds, plus data loading. On the CPU it runs in float32; on
CUDA training runs under bf16 autocast (as the trainer's ``bf16-mixed``) and
extraction in IEEE float32 (as the workflow's extraction). Not a test; run it on an
idle machine, e.g.

    PYTHONPATH=src python perf/bench_training.py --threads 2 --batch-sizes 8 16
    PYTHONPATH=src python perf/bench_training.py --device cuda --batch-sizes 16 64
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import time
from collections.abc import Callable

import torch

from musictransfer.constants import N_SAMPLES
from musictransfer.model import ConvNet, ieee_float32, init_he_normal


def _rate(step: Callable[[], None], batch: int, repeats: int, device: torch.device) -> float:
    """Clips per second of ``step`` after one warm-up call (allocations, kernel choice)."""
    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * repeats / (time.perf_counter() - start)


def bench(batch: int, repeats: int, device: torch.device) -> tuple[float, float]:
    """(training, extraction) clips/s of the paper's network at one batch size."""
    torch.manual_seed(0)
    model = init_he_normal(ConvNet(n_tags=50), seed=0).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    x = 0.1 * torch.randn(batch, N_SAMPLES, device=device)
    y = (torch.rand(batch, 50, device=device) < 0.1).float()
    mixed = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.type == "cuda"
        else contextlib.nullcontext()
    )

    def train_step() -> None:
        model.train()
        optimiser.zero_grad()
        with mixed:
            loss = loss_fn(model(x), y)
        loss.backward()
        optimiser.step()

    def extract_step() -> None:
        model.eval()
        with torch.inference_mode(), ieee_float32():
            model.layer_features(x)

    return _rate(train_step, batch, repeats, device), _rate(extract_step, batch, repeats, device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    where = (
        torch.cuda.get_device_name(0)
        if device.type == "cuda"
        else f"{args.threads} threads, {platform.processor() or 'cpu'}"
    )
    print(f"torch {torch.__version__}, {where}")
    print("batch  train clips/s  extract clips/s")
    for batch in args.batch_sizes:
        train, extract = bench(batch, args.repeats, device)
        print(f"{batch:5d}  {train:13.2f}  {extract:15.2f}", flush=True)


if __name__ == "__main__":
    main()
