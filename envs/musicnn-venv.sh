#!/usr/bin/env bash
# Build musicnn's environment as a plain venv (no conda): what envs/musicnn.yaml plus
# envs/musicnn.post-deploy.sh make for the workflow, from the same files (no version is
# written here), with this checkout installed in it (--no-deps, editable).
#
#   envs/musicnn-venv.sh [VENV]      default VENV: .venv-musicnn in the repository
#   PYTHON=python3.12 envs/musicnn-venv.sh   interpreter (3.11 to 3.13; default python3)
#
# Does nothing when VENV/.installed is newer than both env files and this script; else
# (re)builds VENV from scratch. About 1.3 GB; tests/test_musicnn.py runs in it
# (MUSICTRANSFER_MUSICNN_PYTHON=VENV/bin/python where VENV is not the default).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-$repo/.venv-musicnn}"
python="${PYTHON:-python3}"
env_file="$repo/envs/musicnn.yaml"
post_deploy="$repo/envs/musicnn.post-deploy.sh"
stamp="$venv/.installed"

if [ -f "$stamp" ] && [ "$stamp" -nt "$env_file" ] && [ "$stamp" -nt "$post_deploy" ] &&
    [ "$stamp" -nt "${BASH_SOURCE[0]}" ]; then
    echo "$venv is up to date"
    exit 0
fi

"$python" -c 'import sys; assert (3, 11) <= sys.version_info[:2] <= (3, 13), sys.version' || {
    echo "musicnn's TensorFlow needs Python 3.11 to 3.13: set PYTHON" >&2
    exit 1
}

# The pip list of the yaml: the lines "      - name==version" after "  - pip:".
mapfile -t pins < <(awk '/^[[:space:]]*- pip:/ { p = 1; next }
    p && /^[[:space:]]+- / { print $2; next } p && !/^[[:space:]]*(#|$)/ { p = 0 }' "$env_file")
if [ "${#pins[@]}" -eq 0 ]; then
    echo "no pip pins found in $env_file" >&2
    exit 1
fi

"$python" -m venv --clear "$venv"
"$venv/bin/python" -m pip install --no-input --quiet --upgrade pip
"$venv/bin/python" -m pip install --no-input --quiet "${pins[@]}"
PATH="$venv/bin:$PATH" bash "$post_deploy"
"$venv/bin/python" -m pip install --no-input --quiet --no-deps -e "$repo"
touch "$stamp"
du -sh "$venv"
