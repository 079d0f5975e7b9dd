#!/usr/bin/env bash
# After envs/musicnn.yaml: TensorFlow, tf-keras and musicnn, in the environment whose python
# is first on PATH (Snakemake runs this with the new conda environment activated;
# envs/musicnn-venv.sh runs it for the venv .venv-musicnn). These lines are the one
# place their versions are written. Not in musicnn.yaml's pip list because:
# - Snakemake copies this script beside the environment and hashes its text with the
#   yaml's, so a pin changed here rebuilds the environment (a file it read would not);
# - tf-keras and musicnn must be installed with --no-deps, which a pip list cannot say:
#   tf-keras's metadata requires `tensorflow`, the full 572 MB build that would come beside
#   tensorflow-cpu; musicnn 0.1.0's pins numpy<1.17 and requires librosa, neither of which
#   musictransfer.hear.musicnn needs (it computes its own spectrogram and imports only
#   musicnn.models and musicnn.configuration).
# tensorflow-cpu: the CPU build (musicnn's graph is small), with its dependencies, under
# the versions already installed as constraints, so that numpy & co. stay at the pins of
# pyproject.toml (pip fails rather than replacing them).
# musicnn 0.1.0 is ISC-licensed; its MTT and MSD checkpoints are inside the wheel.
set -euo pipefail

constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
python -m pip list --format=freeze --exclude pip --exclude setuptools --exclude wheel \
    >"$constraints"
python -m pip install --no-input --quiet --constraint "$constraints" "tensorflow-cpu==2.21.*"
python -m pip install --no-input --quiet --no-deps "tf-keras==2.21.*" "musicnn==0.1.0"

# Fail here, not in the first job, if the three do not work together.
TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2 python -c '
import tensorflow as tf
import musicnn.models
assert callable(tf.compat.v1.layers.batch_normalization), "tf.compat.v1.layers is Keras 3"
print("musicnn environment: tensorflow", tf.__version__)
'
