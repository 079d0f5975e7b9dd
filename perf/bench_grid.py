"""Plain GridSearchCV vs our fast grid search on the authors' released features.

Runs both on the same (task, combination) cells in one process and prints, per cell,
the wall time of each, their ratio, the two best scores and the largest difference of
any fold score of the best setting. Not a test: timings depend on the machine and its
load. Example (from the repository root)::

    PYTHONPATH=src python perf/bench_grid.py --tasks gtzan_genre emomusic_arousal \\
        --combos 12345 --threads 2
    PYTHONPATH=src python perf/bench_grid.py --all-combos --no-sklearn

``--no-sklearn`` times only ours (the plain search takes ~40 min per feature set
across the seven tasks on 2 cores).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from musictransfer.config import load_config, resolve_experiment
from musictransfer.constants import ALL_COMBOS, MFCC_COMBOS
from musictransfer.datasets.paper.tables import load_released
from musictransfer.evaluation import evaluate_cell
from musictransfer.featurefile import select_combo
from musictransfer.taskdata import task_targets

REPO = Path(__file__).resolve().parents[1]


def machine() -> str:
    """The CPU, its core count and the library versions: timings mean nothing without."""
    import os
    import platform

    import sklearn

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"scikit-learn {sklearn.__version__}, NumPy {np.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paper", type=Path, default=REPO.parent / "shared" / "paper")
    parser.add_argument("--tasks", nargs="*", help="paper tasks (default: all seven)")
    parser.add_argument("--combos", nargs="*", default=["12345"])
    parser.add_argument("--all-combos", action="store_true", help="the 33 feature sets")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-sklearn", action="store_true", help="time only ours")
    parser.add_argument("--linear-solver", default="auto", choices=["auto", "libsvm", "ipm"])
    args = parser.parse_args()

    tasks = resolve_experiment(load_config(REPO / "config.yaml"), "paper_features").tasks
    names = args.tasks or list(tasks)
    combos = list(ALL_COMBOS) + list(MFCC_COMBOS) if args.all_combos else args.combos
    print(f"# {machine()}", flush=True)
    print("task,combo,n_clips,fast_s,sklearn_s,ratio,fast_score,sklearn_score,"
          "max_fold_diff,n_ipm_fits,best", flush=True)  # fmt: skip
    total_fast = total_ref = 0.0
    for name in names:
        spec = tasks[name]
        convnet, mfcc, manifest = load_released(args.paper, spec.dataset)
        y, groups = task_targets(spec, manifest, spec.dataset)
        for combo in combos:
            try:
                X = select_combo(combo, convnet, mfcc)
            except ValueError as err:
                print(f"# {name} {combo}: skipped ({err})", flush=True)
                continue
            start = time.perf_counter()
            fast = evaluate_cell(
                X, y, spec, "choi2017", combo, groups, n_jobs=args.threads,
                linear_solver=args.linear_solver,
            )  # fmt: skip
            t_fast = time.perf_counter() - start
            total_fast += t_fast
            t_ref = ref_score = diff = ratio = float("nan")
            if not args.no_sklearn:
                start = time.perf_counter()
                ref = evaluate_cell(
                    X, y, spec, "choi2017", combo, groups, n_jobs=args.threads,
                    method="sklearn",
                )  # fmt: skip
                t_ref = time.perf_counter() - start
                total_ref += t_ref
                ref_score = ref.score
                diff = float(np.max(np.abs(np.subtract(ref.fold_scores, fast.fold_scores))))
                ratio = t_ref / t_fast
            best = fast.best_params
            print(
                f"{name},{combo},{len(y)},{t_fast:.1f},{t_ref:.1f},{ratio:.1f},"
                f"{fast.score:.6f},{ref_score:.6f},{diff:.2e},{fast.extra['n_ipm_fits']},"
                f"{'scaled' if best['scale'] else 'raw'}/{best['kernel']}/C={best['C']}"
                f"/gamma={best['gamma']}",
                flush=True,
            )
    print(f"# total fast {total_fast:.1f} s, sklearn {total_ref:.1f} s", flush=True)


if __name__ == "__main__":
    main()
