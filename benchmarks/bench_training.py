"""CPU throughput of tagger training steps and convnet feature extraction (clips/s).

Sizes the demo's training settings: an epoch of the demo costs about
n_train / train_rate + (n_valid) / extract_rate seconds. Not a test; run it on an idle
machine, e.g.

    PYTHONPATH=src python benchmarks/bench_training.py --threads 2 --batch-sizes 8 16
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from musictransfer.constants import N_SAMPLES
from musictransfer.model import ConvNet, init_he_normal


def _rate(step, batch: int, repeats: int) -> float:
    step()  # warm-up (allocations, oneDNN kernel selection)
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return batch * repeats / (time.perf_counter() - start)


def bench(batch: int, repeats: int) -> tuple[float, float]:
    torch.manual_seed(0)
    model = init_he_normal(ConvNet(n_tags=50), seed=0)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    x = 0.1 * torch.randn(batch, N_SAMPLES)
    y = (torch.rand(batch, 50) < 0.1).float()

    def train_step() -> None:
        model.train()
        optimiser.zero_grad()
        loss_fn(model(x), y).backward()
        optimiser.step()

    def extract_step() -> None:
        model.eval()
        with torch.inference_mode():
            model.layer_features(x)

    return _rate(train_step, batch, repeats), _rate(extract_step, batch, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, {platform.processor() or 'cpu'}")
    print("batch  train clips/s  extract clips/s")
    for batch in args.batch_sizes:
        train, extract = bench(batch, args.repeats)
        print(f"{batch:5d}  {train:13.2f}  {extract:15.2f}", flush=True)


if __name__ == "__main__":
    main()
