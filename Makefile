# musictransfer: the README's two commands, each installing what it needs (and one for developers).
#   make demo   -> a virtual environment in .venv, then the whole demo workflow
#   make test   -> the same environment, then the test suite
#   make test-fast -> the same, without the tests marked slow (and SLURM and CUDA ones)
# Override the interpreter with PYTHON=python3.12, the cores with CORES=8.
# TORCH=cpu installs PyTorch's CPU-only build (from PyTorch's own index, beside PyPI) in place
# of PyPI's CUDA build, for machines without a GPU; it takes effect in a fresh .venv.
# snakefmt runs with --no-sort: directives stay in the order the rules give them.

PYTHON ?= python3
VENV ?= .venv
CORES ?= 2
TORCH ?= cuda
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
# The CPU index offers torch 2.11.0+cpu, which satisfies the pin torch==2.11.0 and which pip
# prefers to PyPI's 2.11.0 (a local version sorts after its public one).
ifeq ($(filter $(TORCH),cpu cuda),)
$(error TORCH must be cpu or cuda, not '$(TORCH)')
endif
PIP_TORCH := $(if $(filter cpu,$(TORCH)),--extra-index-url $(TORCH_CPU_INDEX),)
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint format setup guests clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(PIP_TORCH) -e '.[dev]'
	touch $(STAMP)

# The guests' own environments, as venvs (what their conda env files make under
# --use-conda): musicnn on TensorFlow (about 1.7 GB) in .venv-musicnn. CI builds it.
guests: $(STAMP)
	PYTHON=$(PYTHON) envs/musicnn-venv.sh

demo: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores $(CORES)

test: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS)

# The quick subset for development (a few minutes on 2 cores): no test marked slow, and
# none that needs a SLURM cluster or a CUDA device. CI runs `make test`, which runs all.
test-fast: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -m 'not slow and not slurm and not cuda' $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests perf
	$(BIN)/ruff format --check src tests perf
	$(BIN)/snakefmt --no-sort --check Snakefile workflow/rules
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --lint --cores 1

format: $(STAMP)
	$(BIN)/ruff format src tests perf
	$(BIN)/ruff check --fix src tests perf
	$(BIN)/snakefmt --no-sort Snakefile workflow/rules

clean:
	rm -rf results/* .snakemake
