#!/usr/bin/env bash
# The checks that need a GPU, in one run, for a machine with CUDA and PyTorch but none of
# this project's other packages and no network (such as the H200 machine that development
# sessions are sometimes lent): the CUDA tests, the tagger's data path (model alone, loader
# alone, training step fed from an on-disk store, and their ratio), channels-last and
# torch.compile against the plain network, and real training epochs through Lightning's
# DDP strategy on one GPU (NCCL). About 8 minutes on one H200 with 16 cores (estimated).
#
#   perf/gpu_checks.sh wheels       # here, with pip and the package index: into .whl/
#   perf/gpu_checks.sh run OUTDIR   # there, from the repository root, with .whl/ beside
#
# `DEVICE=cpu CLIPS=40 BATCHES=8 perf/gpu_checks.sh run OUTDIR` runs the same steps on the
# CPU in a minute or two, to check the script itself where there is no GPU.
# `run` writes env.txt, cuda_tests.log, store.log, bench.log, train.log and train.json
# into OUTDIR and stops at the first failing step (its log says why). Add `.whl/` to
# .git/info/exclude so that the wheels travel without being committed.
set -euo pipefail
cd "$(dirname "$0")/.."

# What the project needs beyond such an image (PyTorch, Lightning, torchmetrics, NumPy,
# SciPy, pandas, scikit-learn, numba, matplotlib, seaborn, h5py, PyYAML, tqdm and pytest
# are there), with their own dependencies, for the image's Python 3.12.
WHEELS=(soundfile==0.14.0 cffi==2.0.0 pycparser==2.23 soxr==1.1.0 librosa==0.11.0
        audioread==3.0.1 decorator==5.2.1 pooch==1.9.0 platformdirs==4.5.0
        jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0
        rpds-py==0.28.0)

case "${1:-}" in
wheels)
    mkdir -p .whl
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        --platform manylinux1_x86_64 -d .whl "${WHEELS[@]}"
    du -sh .whl
    ;;
run)
    out=${2:?give the folder for the logs}
    mkdir -p "$out"
    # Only where the packages are missing (the GPU image), not where they are installed.
    if ! python3 -c 'import soundfile, soxr, librosa, pooch, jsonschema' 2>/dev/null \
        && compgen -G ".whl/*.whl" >/dev/null; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/site .whl/*.whl
        export PYTHONPATH=/tmp/site
    fi
    export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
    threads=$(nproc)
    device=${DEVICE:-cuda}
    batches=${BATCHES:-64 256}
    accelerator=$([ "$device" = cuda ] && echo gpu || echo cpu)
    store=/tmp/gpu_checks_store
    {
        nvidia-smi -L || true
        nvidia-smi --query-gpu=driver_version,memory.total --format=csv,noheader || true
        lscpu | grep -E '^(Model name|CPU\(s\))'
        python3 -c 'import torch, lightning, numpy; print("torch", torch.__version__,
            "lightning", lightning.__version__, "numpy", numpy.__version__)'
        git log -1 --format='commit %H' 2>/dev/null || true
    } >"$out/env.txt" 2>&1
    python3 -m pytest -q -p no:cacheprovider -m cuda tests/test_cuda.py >"$out/cuda_tests.log" 2>&1
    # 2,048 clips of 29 s: 1.4 GB as int16, 1,640 training clips, a few seconds an epoch.
    python3 perf/make_tagging_store.py "$store" --clips "${CLIPS:-2048}" >"$out/store.log" 2>&1
    python3 perf/bench_training.py --device "$device" --threads "$threads" \
        --batch-sizes $batches \
        --store "$store/prepared" --variants >"$out/bench.log" 2>&1
    python3 -m musictransfer train "$store/prepared" --out /tmp/gpu_checks_tagger.pt \
        --checkpoint-dir /tmp/gpu_checks_ckpt --threads "$threads" --accelerator "$accelerator" \
        --metrics "$out/train.json" \
        --settings "{\"max_epochs\": 3, \"batch_size\": ${batches##* }, \"strategy\": \"ddp\"}" \
        >"$out/train.log" 2>&1
    echo "all GPU checks ran; logs in $out"
    ;;
*)
    echo "usage: $0 wheels | run OUTDIR" >&2
    exit 2
    ;;
esac
