"""Throughput of tagger training steps and convnet feature extraction (clips/s).

Sizes the training settings: an epoch costs about n_train / train_rate +
n_valid / extract_rate seconds, plus data loading. On the CPU it runs in float32; on
CUDA training runs under bf16 autocast (as the trainer's ``bf16-mixed``) and
extraction in IEEE float32 (as the workflow's extraction).

With ``--store DIR`` (a prepared tagging store, e.g. ``results/demo/prepared/demo_tags``)
the data path is measured too, in the same run, at each batch size: (a) the training step
alone on a batch already on the device (as above), (b) the loader alone (the workflow's
``TaggingDataModule`` with ``--threads - 1`` workers: int16 clips read, tiled, batched,
moved to the device and made float32), and (c) the full step from the on-disk store (b
then a); reported with the ratios (b)/(a) and (c)/(a). Each of (b) and (c) runs one
whole epoch of the store's training split after a warm-up epoch (workers started).
Not a test; run it on an idle machine, e.g.

    PYTHONPATH=src python perf/bench_training.py --threads 2 --batch-sizes 8 16
    PYTHONPATH=src python perf/bench_training.py --device cuda --batch-sizes 16 64
    PYTHONPATH=src python perf/bench_training.py --threads 2 --batch-sizes 8 \\
        --store results/demo/prepared/demo_tags

With ``--variants`` the network is also measured training with oneDNN's convolution
kernels (PyTorch's default on the CPU, which the workflow gives up for
:func:`~musictransfer.model.thread_independent_training`), with channels-last weights and
activations, and under ``torch.compile``, each as a ratio to the plain network in the same
run, and whether its gradients and features are independent of the number of threads, as
the plain network's are: the workflow adopts a variant only where both hold.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import time
from collections.abc import Callable, Iterator

import torch

from musictransfer.constants import N_SAMPLES
from musictransfer.model import (
    ConvNet,
    ieee_float32,
    init_he_normal,
    thread_independent_training,
)


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


VARIANTS = ("plain", "onednn", "channels_last", "compile")
"""How the network runs: as the workflow runs it (on the CPU, training with PyTorch's own
convolution kernels: :func:`~musictransfer.model.thread_independent_training`), training
with oneDNN's kernels as PyTorch does by default, and, on PyTorch's default kernels, with
weights and activations in channels-last layout or under ``torch.compile`` (the default
inductor backend)."""


def _mixed(device: torch.device) -> contextlib.AbstractContextManager:
    """The trainer's precision: bf16 autocast on CUDA (``bf16-mixed``), float32 on the CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _training_kernels(variant: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The kernels a training step runs with: the workflow's for ``plain``, else PyTorch's
    defaults (oneDNN on the CPU, which channels-last and compiled graphs are made for)."""
    if device.type == "cpu" and variant == "plain":
        return thread_independent_training()
    return contextlib.nullcontext()


def _train_step(
    model: torch.nn.Module,
    device: torch.device,
    variant: str = "plain",
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> Callable[[torch.Tensor, torch.Tensor], None]:
    """One optimisation step of ``model`` (Adam, binary cross-entropy) as the trainer takes
    it, in the variant's kernels and the trainer's precision; ``forward`` may be compiled."""
    forward = model if forward is None else forward
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        model.train()
        optimiser.zero_grad()
        with _training_kernels(variant, device):
            with _mixed(device):
                loss = loss_fn(forward(x), y)
            loss.backward()
        optimiser.step()

    return step


def bench(
    batch: int, repeats: int, device: torch.device, variant: str = "plain"
) -> tuple[float, float]:
    """(training, extraction) clips/s of the paper's network at one batch size."""
    torch.manual_seed(0)
    model = init_he_normal(ConvNet(n_tags=50), seed=0).to(device)
    if variant == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    forward, features = model, model.layer_features
    if variant == "compile":
        forward, features = torch.compile(model), torch.compile(model.layer_features)
    train = _train_step(model, device, variant, forward)
    x = 0.1 * torch.randn(batch, N_SAMPLES, device=device)
    y = (torch.rand(batch, 50, device=device) < 0.1).float()

    def extract_step() -> None:
        model.eval()
        with torch.inference_mode(), ieee_float32():
            features(x)

    return (
        _rate(lambda: train(x, y), batch, repeats, device),
        _rate(extract_step, batch, repeats, device),
    )


def same_bits_on_one_thread(variant: str, threads: int) -> tuple[bool, bool]:
    """Whether a batch's (gradients, features) on one thread equal those on ``threads``.

    The workflow's models and features do not depend on the job's thread count; a faster
    variant that gives that up changes results with ``--cores``.
    """
    x = 0.1 * torch.randn(8, N_SAMPLES, generator=torch.Generator().manual_seed(0))
    grads, features = [], []
    for n in (1, threads):
        torch.set_num_threads(n)
        model = init_he_normal(ConvNet(n_tags=50), seed=0)
        if variant == "channels_last":
            model = model.to(memory_format=torch.channels_last)
        with _training_kernels(variant, torch.device("cpu")):
            model(x).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
        with torch.inference_mode():
            features.append(model.eval().layer_features(x))
    torch.set_num_threads(threads)
    return torch.equal(*grads), torch.equal(*features)


def bench_data_path(
    store: str, batch: int, threads: int, device: torch.device
) -> tuple[float, float, float]:
    """(a) the step alone, (b) the loader alone, (c) the step fed from the store: clips/s."""
    from musictransfer.training.data import TaggingDataModule, num_workers_for

    data = TaggingDataModule(store, batch, num_workers_for(threads), seed=0)
    torch.manual_seed(0)
    model = init_he_normal(ConvNet(n_tags=len(data.vocabulary)), seed=0).to(device)
    step = _train_step(model, device)

    loader = data.train_dataloader()  # persistent workers: started once, by the warm-up

    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for stored, target in loader:
            moved = (stored.to(device, non_blocking=True), target.to(device, non_blocking=True))
            yield data.on_after_batch_transfer(moved, 0)

    def epoch(train: bool) -> float:
        start, n = time.perf_counter(), 0
        for x, y in batches():
            if train:
                step(x, y)
            n += len(x)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return n / (time.perf_counter() - start)

    x, y = next(batches())
    alone = _rate(lambda: step(x, y), len(x), 3, device)
    epoch(False)  # warm-up: workers started, files in the page cache
    return alone, epoch(False), epoch(True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--store", help="a prepared tagging store: measure the data path too")
    parser.add_argument(
        "--variants",
        action="store_true",
        help="also channels-last and torch.compile, each as a ratio to the plain network",
    )
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
    if args.variants:
        print(
            "variant        batch  train clips/s  extract clips/s  train ratio  extract ratio"
            f"  same bits on 1 and {args.threads} threads (gradients, features)"
        )
        for batch in args.batch_sizes:
            plain = bench(batch, args.repeats, device)
            for variant in VARIANTS:
                rates = plain if variant == "plain" else bench(batch, args.repeats, device, variant)
                ratios = rates[0] / plain[0], rates[1] / plain[1]
                same = (
                    "not checked"  # compiling twice more takes minutes on a CPU
                    if variant == "compile" or device.type != "cpu"
                    else ", ".join(map(str, same_bits_on_one_thread(variant, args.threads)))
                )
                print(f"{variant:13s}  {batch:5d}  {rates[0]:13.2f}  {rates[1]:15.2f}  "
                      f"{ratios[0]:11.2f}  {ratios[1]:13.2f}  {same}", flush=True)  # fmt: skip
    if args.store:
        print(f"data path from {args.store}")
        print("batch  (a) step alone  (b) loader  (c) step from store  (b)/(a)  (c)/(a)")
        for batch in args.batch_sizes:
            a, b, c = bench_data_path(args.store, batch, args.threads, device)
            print(f"{batch:5d}  {a:14.2f}  {b:10.2f}  {c:19.2f}  {b / a:7.2f}  {c / a:7.2f}",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
