"""The SLURM profile, run for real against a single-node SLURM cluster on this machine.

A reduced part of the workflow that needs no training (prepare_audio, extract_mfcc, a
HEAR module brought by the user: decode_audio and extract_representation, and six
`evaluate` cells, three with the MFCC baseline and three with the module) runs twice:
locally with the default profile, and through ``profiles/slurm`` with the SLURM executor
plugin against a cluster started by :mod:`slurm_helpers`, its 12 kHz stores prepared in
shards of 3 clips (``shard_clips``: four prepare_shard jobs per dataset). The score and
feature files must agree byte for byte, and every job of the second run must have gone
through ``sbatch`` (the plugin keeps one log per SLURM job).

The raw datasets are WAV files with a manifest written by the test itself, placed
where `generate_demo` would write them, so the run does not depend on the demo
synthesiser. Where SLURM is not installed (or we are not root) the cluster test is
skipped with the reason; the profile checks below need no cluster.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from slurm_helpers import single_node_slurm, unavailable_reason

PY_BIN = Path(sys.executable).parent
SNAKEMAKE = shutil.which("snakemake", path=str(PY_BIN)) or "snakemake"
SLURM_PROFILE = Path("profiles/slurm")
DEFAULT_PROFILE = Path("profiles/default")
EXPERIMENT = "slurmci"
SR = 12000

# Keys of the repository's SLURM profile that the test cluster cannot honour, and the
# settings a throw-away cluster needs instead. Everything else is used as written.
PROFILE_DROPPED = ("software-deployment-method",)  # no conda channels here
PROFILE_ADDED = {
    "slurm-no-account": True,  # no accounting on the test cluster
    "slurm-status-command": "squeue",  # accounting is off: sacct knows nothing
    "slurm-init-seconds-before-status-checks": 1,
    "seconds-between-status-checks": 1,
    "slurm-keep-successful-logs": True,
    "latency-wait": 5,
}

DATASETS = {"tones": 12, "chirps": 12}
TASKS = {
    "tones": {"dataset": "tones", "type": "classification", "target": "label"},
    "tones_pitch": {"dataset": "tones", "type": "regression", "target": "pitch"},
    "chirps": {"dataset": "chirps", "type": "classification", "target": "label"},
}


def tiny_config() -> dict:
    """A tiny experiment: two datasets of WAVs, MFCC and a HEAR module's cells, no convnet."""
    tasks = {
        name: {
            **spec,
            "cv": {
                "scheme": "stratified_kfold" if spec["type"] == "classification" else "kfold",
                "n_splits": 3,
            },
        }
        for name, spec in TASKS.items()
    }
    return {
        "experiment": EXPERIMENT,
        # tests/hear_toy.py, on the jobs' PYTHONPATH (SLURM passes the environment on).
        "representations": {"toy": {"hear": "hear_toy", "sample_rate": 16000}},
        "experiments": {
            EXPERIMENT: {
                "description": "SLURM test: WAVs written by tests/test_slurm.py",
                "demo": {"seed": 0, "n_clips": DATASETS},
                "extractors": {"random": ["mfcc"], "toy": ["scene"]},
                "tasks": tasks,
            }
        },
    }


def write_dataset(raw_dir: Path, name: str, n_clips: int, seed: int) -> None:
    """Two classes of 1.5 s clips (pure tones vs noisy tones) with a pitch column."""
    rng = np.random.default_rng(seed)
    raw_dir.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(1.5 * SR)) / SR
    rows = []
    for i in range(n_clips):
        label = "noisy" if i % 2 else "clean"
        pitch = float(rng.uniform(150, 1500))
        sweep = 1.0 + (0.5 * t if name == "chirps" else 0.0)
        signal = 0.4 * np.sin(2 * np.pi * pitch * sweep * t)
        if label == "noisy":
            signal += 0.2 * rng.standard_normal(t.size)
        path = f"{name}_{i:02d}.wav"
        sf.write(raw_dir / path, signal.astype(np.float32), SR)
        rows.append({"id": f"{name}_{i:02d}", "path": path, "label": label, "pitch": pitch})
    pd.DataFrame(rows).to_csv(raw_dir / "manifest.csv", index=False)


def prepare_results(results: Path) -> list[str]:
    """Write the raw datasets under ``results`` and return the score-cell targets."""
    root = results / EXPERIMENT
    for k, (name, n) in enumerate(DATASETS.items()):
        write_dataset(root / "raw" / name, name, n, seed=k)
    return [
        str(root / "scores" / task / extractor)
        for task in TASKS
        for extractor in ("random/mfcc.json", "toy/scene.json")
    ]


def run_snakemake(repo: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    out = subprocess.run(
        [SNAKEMAKE, *args], cwd=repo, env=env, capture_output=True, text=True, timeout=600
    )
    if out.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({out.returncode}):\n"
            f"{out.stdout[-5000:]}\n{out.stderr[-8000:]}"
        )
    return out


def scores(paths: list[str]) -> dict[str, dict]:
    """Cell results without the wall-clock field (the only one allowed to differ)."""
    out = {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        data.pop("fit_time_s")
        out[f"{Path(path).parent.parent.name}/{Path(path).parent.name}"] = data
    return out


def cluster_profile(tmp_path: Path, repo: Path) -> Path:
    """The repository's SLURM profile with :data:`PROFILE_DROPPED`/``ADDED`` applied."""
    profile = yaml.safe_load((repo / SLURM_PROFILE / "config.yaml").read_text())
    for key in PROFILE_DROPPED:
        profile.pop(key)
    profile.update(PROFILE_ADDED)
    out = tmp_path / "profile"
    out.mkdir()
    (out / "config.yaml").write_text(yaml.safe_dump(profile))
    return out


# --- the profiles, without a cluster -------------------------------------------------------


def load_profile(repo: Path, path: Path) -> dict:
    return yaml.safe_load((repo / path).read_text())


def rules_text(repo: Path) -> str:
    """Every rule file of the workflow, joined."""
    return "\n".join(p.read_text() for p in sorted((repo / "workflow/rules").glob("*.smk")))


def rule_names(repo: Path) -> set[str]:
    # Rules may be defined inside an `if` block (paper.smk): strip indentation.
    lines = (line.strip() for line in rules_text(repo).splitlines())
    return {
        line.split()[1].rstrip(":") for line in lines if line.startswith(("rule ", "checkpoint "))
    }


SITE_KEYS = {"gpu", "gpu_model", "slurm_partition", "slurm_account", "slurm_extra"}
"""What a SLURM profile may set per rule: requests particular to a site, not sizes."""


def test_slurm_profile_names_only_existing_rules(repo):
    profile = load_profile(repo, SLURM_PROFILE / "config.yaml")
    rules = rule_names(repo)
    assert profile["executor"] == "slurm"
    assert set(profile["set-resources"]) <= rules


def test_resources_are_declared_once_in_the_rules(repo):
    """Sizes live in the rules; the profile keeps only site-specific requests."""
    profile = load_profile(repo, SLURM_PROFILE / "config.yaml")
    assert "set-threads" not in profile
    for rule, resources in profile["set-resources"].items():
        assert set(resources) <= SITE_KEYS, rule
    assert set(profile.get("default-resources") or {}) <= SITE_KEYS
    for rule in rule_names(repo) - {"all"}:
        assert {"mem_mb", "runtime"} <= rule_resources(repo, rule), rule


def rule_resources(repo: Path, rule: str) -> set[str]:
    """The resource names a rule declares in its `resources:` directive."""
    text = rules_text(repo)
    after = re.split(rf"^(?:rule|checkpoint) {rule}:", text, flags=re.M)[1]
    block = re.split(r"\n\s*(?:rule|checkpoint) ", after)[0]
    directive = "\n    resources:\n"
    declared = block.split(directive)[1] if directive in block else ""
    declared = re.split(r"\n\s+\w+:\s*\n", declared)[0]  # up to the next directive
    return set(re.findall(r"^\s+(\w+)=", declared, flags=re.M))


def test_training_asks_for_a_gpu_and_retries(repo):
    profile = load_profile(repo, SLURM_PROFILE / "config.yaml")
    assert profile["set-resources"]["train_tagger"]["gpu"] == 1
    assert profile["retries"] >= 1
    training = (repo / "workflow/rules/training.smk").read_text()
    block = training.split("rule train_tagger:")[1].split("\nrule ")[0]
    assert "retries:" in block  # resumes from its last checkpoint on each retry


def test_default_profile_is_local(repo):
    profile = load_profile(repo, DEFAULT_PROFILE / "config.yaml")
    assert "executor" not in profile
    assert profile["rerun-incomplete"] is True


def test_default_profile_is_used_without_a_flag(repo, tmp_path):
    """Snakemake reads profiles/default beside the Snakefile: a plain `snakemake` uses it."""
    assert (repo / "Snakefile").parent / DEFAULT_PROFILE == repo / DEFAULT_PROFILE
    target = tmp_path / "demo" / "raw" / "dance" / "manifest.csv"
    out = subprocess.run(
        [SNAKEMAKE, "-n", "--cores", "1", str(target), "--config", f"results={tmp_path}"],
        cwd=repo, capture_output=True, text=True, check=False,
        env={**os.environ, "PATH": f"{PY_BIN}{os.pathsep}{os.environ['PATH']}"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    log = out.stdout + out.stderr
    assert f"Using workflow specific profile {DEFAULT_PROFILE}" in log
    # printshellcmds comes from the profile: the job's command is shown in the dry run.
    assert "python -m musictransfer generate-demo" in log


# --- the real cluster ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.slurm
def test_reduced_workflow_through_slurm_equals_local_run(repo, tmp_path):
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(tiny_config()))
    local_targets = prepare_results(tmp_path / "local")
    slurm_targets = prepare_results(tmp_path / "slurm")
    env = {
        **os.environ,
        "PATH": f"{PY_BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(repo / "tests"),  # hear_toy
    }

    common = ["--configfile", str(config), "--nolock"]
    # Targets first: --config takes every value after it.
    run_snakemake(
        repo, env, *local_targets, "--workflow-profile", str(DEFAULT_PROFILE), "--cores", "2",
        *common, "--config", f"results={tmp_path / 'local'}",
    )  # fmt: skip

    profile = cluster_profile(tmp_path, repo)
    logdir = tmp_path / "slurm_logs"
    with single_node_slurm(cpus=8) as cluster:
        out = run_snakemake(
            repo, {**cluster.env, "PATH": f"{PY_BIN}{os.pathsep}{cluster.env['PATH']}",
                   "PYTHONPATH": str(repo / "tests")},
            *slurm_targets, "--workflow-profile", str(profile), *common,
            "--slurm-logdir", str(logdir), "--config", f"results={tmp_path / 'slurm'}",
            "shard_clips=3",
        )  # fmt: skip
        queue = cluster.run("squeue", "-h", "-t", "all", "-o", "%i %j %T").stdout.split("\n")
        ctld_log = (cluster.root / "slurmctld.log").read_text()

    # Every job of the run went through sbatch: one plugin log per SLURM job ...
    # plan_shards and merge_shards are local rules: seconds each, never submitted.
    expected_jobs = {"prepare_shard": 8, "extract_mfcc": 2, "decode_audio": 2,
                     "extract_representation": 2, "evaluate": 6}  # fmt: skip
    for rule, n in expected_jobs.items():
        logs = list((logdir / f"rule_{rule}").rglob("*.log"))
        assert len(logs) == n, (rule, logs, out.stderr[-3000:])
    # ... and SLURM ran exactly those jobs, all to completion.
    jobs = [line.split() for line in queue if line.strip()]
    assert len(jobs) == sum(expected_jobs.values()), jobs
    assert all(state == "COMPLETED" for _, _, state in jobs), jobs
    assert len({name for _, name, _ in jobs}) == 1  # all named after the plugin's run id
    # slurmctld logs each sbatch submission once (jobs started by the main scheduler log
    # "Allocate JobId=", those started by backfill "_start_job: Started JobId=").
    submitted = set(re.findall(r"_slurm_rpc_submit_batch_job: JobId=(\d+)", ctld_log))
    assert submitted == {job_id for job_id, _, _ in jobs}

    # The same scores as the local run (fit times aside).
    local, slurm = scores(local_targets), scores(slurm_targets)
    assert set(local) == {f"{task}/{e}" for task in TASKS for e in ("random", "toy")}
    assert slurm == local
    for name in DATASETS:
        a = np.load(tmp_path / "local" / EXPERIMENT / "features" / "mfcc" / f"{name}.npz")
        b = np.load(tmp_path / "slurm" / EXPERIMENT / "features" / "mfcc" / f"{name}.npz")
        assert a["features"].tobytes() == b["features"].tobytes()  # whatever the shards
    shards = tmp_path / "slurm" / EXPERIMENT / "prepared" / "tones"
    assert sorted(p.name for p in shards.glob("shard-*")) == [f"shard-0000{k}" for k in range(4)]
