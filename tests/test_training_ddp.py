"""Training over several processes: DDP on the CPU (gloo), ranks, resuming, SLURM jobs.

The two-process runs go through the command line, as the workflow runs them: Lightning's
launcher starts the second process by running the same command again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from musictransfer.errors import ConfigError, MusicTransferError
from musictransfer.training import EpochShuffle, TaggingDataModule, TrainingSettings, train_tagger
from musictransfer.training.data import RankShare
from test_training import make_tagging_source

REPO = Path(__file__).resolve().parents[1]

# Two processes of two clips each per step; dropout on, so each rank's draws must resume too.
SETTINGS = {"seed": 0, "max_epochs": 3, "batch_size": 4, "learning_rate": 0.01, "dropout": 0.2,
            "early_stopping_patience": 10, "devices": 2}  # fmt: skip

# Rank 1 dies (as a killed process or a lost node would) at the first step of epoch 3;
# Lightning's launcher runs this same script in the second process.
KILL_RANK_1 = """
import os, sys
from musictransfer.cli import main
from musictransfer.training import EpochPrinter

def die(self, trainer, pl_module, batch, batch_idx):
    if trainer.global_rank == 1 and trainer.current_epoch == 2 and batch_idx == 0:
        os._exit(9)

EpochPrinter.on_train_batch_start = die
sys.exit(main())
"""


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # An odd number of validation clips: the ranks' shares differ in size.
    return make_tagging_source(
        tmp_path_factory.mktemp("ddp"),
        {
            "train": ["low", "noisy", "low;noisy", "noisy", "low", "noisy", "low;noisy", "low"],
            "valid": ["low", "noisy", "low;noisy", "noisy", "low", "noisy;low", "noisy"],
            "test": ["noisy", "low", "low;noisy"],
        },
        # Validation clips that do not all sound like their tags: an AUC short of 1.
        sounds={"valid": ["noisy", "noisy", "low", "low", "low;noisy", "noisy", "low"]},
    )


def _train(source: Path, out: Path, script: list[str] | None = None) -> subprocess.CompletedProcess:
    """``musictransfer train`` with :data:`SETTINGS` in a process of its own (two ranks)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    for key in [
        k for k in env if k.startswith(("SLURM_", "LOCAL_RANK", "NODE_RANK", "WORLD_SIZE"))
    ]:
        del env[key]
    command = script or ["-m", "musictransfer"]
    args = ["train", str(source), "--out", str(out / "tagger.pt"), "--metrics",
            str(out / "metrics.json"), "--settings", json.dumps(SETTINGS), "--checkpoint-dir",
            str(out / "ckpt"), "--threads", "2", "--accelerator", "cpu"]  # fmt: skip
    return subprocess.run(
        [sys.executable, *command, *args], capture_output=True, text=True, env=env, timeout=600
    )


def _one_process_auc(source: Path, checkpoint: Path) -> float:
    """The validation macro AUC of a checkpoint, in this process, by scikit-learn."""
    from musictransfer.training import TaggerModule

    data = TaggingDataModule(source, batch_size=64, num_workers=0, seed=0)
    module = TaggerModule(data.vocabulary)
    module.load_state_dict(torch.load(checkpoint, map_location="cpu")["state_dict"])
    module.eval()
    batch = next(iter(data.val_dataloader()))
    waveform, targets = data.on_after_batch_transfer(batch, 0)
    assert len(targets) == len(data.splits["valid"])  # every clip, once
    with torch.no_grad():
        scores = torch.sigmoid(module(waveform)).numpy()
    targets = targets.numpy()
    aucs = [roc_auc_score(targets[:, k], scores[:, k]) for k in range(targets.shape[1])
            if 0 < targets[:, k].sum() < len(targets)]  # fmt: skip
    return float(np.mean(aucs))


def _val_auc_by_epoch(checkpoint_dir: Path) -> dict[int, float]:
    out: dict[int, float] = {}
    for path in sorted((checkpoint_dir / "logs").rglob("metrics.csv")):
        log = pd.read_csv(path)
        for row in log.dropna(subset=["val_auc"]).itertuples():
            out[int(row.epoch)] = float(row.val_auc)
    return out


@pytest.mark.slow
@pytest.mark.fault(
    item=5,
    case="a rank of a two-process training dies in epoch k, and the job is rerun",
    outcome="the job fails at once; the rerun resumes to the weights of an uninterrupted run",
)
def test_two_process_training_dies_resumes_and_scores_every_validation_clip(
    source: Path, tmp_path: Path
) -> None:
    straight = _train(source, tmp_path / "a")
    assert straight.returncode == 0, straight.stderr[-3000:]
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["epochs_run"] == 3
    assert metrics["n_clips"] == {"train": 8, "valid": 7, "test": 3}
    # One line per epoch, from rank 0 only.
    assert straight.stderr.count("epoch 1/3") == 1

    # The validation AUC the run logged is that of its checkpoint over all 7 clips,
    # computed in one process: not a mean of the two ranks' AUCs.
    aucs = _val_auc_by_epoch(tmp_path / "a" / "ckpt")
    assert sorted(aucs) == [0, 1, 2]
    last = _one_process_auc(source, tmp_path / "a" / "ckpt" / "last.ckpt")
    assert last == pytest.approx(aucs[2], abs=1e-6)
    best = _one_process_auc(source, Path(metrics["best_checkpoint"]))
    assert best == pytest.approx(metrics["best_val_auc"], abs=1e-6)

    script = tmp_path / "kill_rank_1.py"
    script.write_text(KILL_RANK_1)
    killed = _train(source, tmp_path / "b", [str(script)])
    assert killed.returncode != 0
    assert not (tmp_path / "b" / "tagger.pt").exists()
    assert torch.load(tmp_path / "b" / "ckpt" / "last.ckpt", map_location="cpu")["epoch"] == 1

    resumed = _train(source, tmp_path / "b")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stderr
    a = torch.load(tmp_path / "a" / "ckpt" / "last.ckpt", map_location="cpu")
    b = torch.load(tmp_path / "b" / "ckpt" / "last.ckpt", map_location="cpu")
    assert a["global_step"] == b["global_step"] == 3 * 2  # 3 epochs of 2 global steps
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key
    assert _val_auc_by_epoch(tmp_path / "b" / "ckpt") == aucs


def test_ranks_share_each_global_batch_of_the_one_process_order() -> None:
    n, batch, world = 11, 4, 2
    single = list(EpochShuffle(n, seed=3))
    shares = [list(EpochShuffle(n, seed=3, rank=r, world=world)) for r in range(world)]
    assert [len(s) for s in shares] == [6, 6]  # 11 clips padded to 12 by the first one
    padded = [*single, single[0]]
    per_rank = batch // world
    for step in range(len(padded) // batch):
        together = sorted(i for s in shares for i in s[step * per_rank : (step + 1) * per_rank])
        assert together == sorted(padded[step * batch : (step + 1) * batch])
    # Rank 0 of one process is the one-process order; other epochs differ.
    assert list(EpochShuffle(n, 3, 0, 1)) == single
    later = EpochShuffle(n, seed=3)
    later.set_epoch(1)
    assert list(later) != single


def test_a_split_smaller_than_the_processes_stops_before_training(
    source: Path, tmp_path: Path
) -> None:
    from musictransfer.errors import ManifestError

    with pytest.raises(ManifestError, match=r"the test split has 3 clip\(s\), fewer than the 4"):
        train_tagger(source, tmp_path / "t.pt", settings={**SETTINGS, "devices": 4},
                     checkpoint_dir=tmp_path / "ckpt", accelerator="cpu")  # fmt: skip
    assert not (tmp_path / "ckpt").exists()


def test_evaluation_shares_cover_every_clip_once() -> None:
    shares = [list(RankShare(7, r, 3)) for r in range(3)]
    assert sorted(i for s in shares for i in s) == list(range(7))
    assert list(RankShare(7)) == list(range(7))


def test_batch_size_is_the_global_batch() -> None:
    cfg = TrainingSettings.from_mapping({"batch_size": 32, "devices": 4, "num_nodes": 2})
    assert (cfg.world_size, cfg.rank_batch_size, cfg.distributed) == (8, 4, True)
    one = TrainingSettings.from_mapping({})
    assert (one.devices, one.num_nodes, one.strategy, one.distributed) == (1, 1, "auto", False)
    assert TrainingSettings.from_mapping({"strategy": "ddp"}).distributed
    with pytest.raises(ConfigError, match=r"batch_size 6 cannot be split evenly between 4"):
        TrainingSettings.from_mapping({"batch_size": 6, "devices": 4})
    with pytest.raises(ConfigError, match="strategy"):
        TrainingSettings.from_mapping({"strategy": "fsdp"})


@pytest.mark.fault(
    item=0,
    case="training over several nodes started outside a SLURM srun",
    outcome="exit 2 naming training.num_nodes and the SLURM profile; nothing trained",
)
def test_several_nodes_need_an_srun(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from musictransfer.cli import main

    for key in ("SLURM_NTASKS", "SLURM_PROCID"):
        monkeypatch.delenv(key, raising=False)
    settings = {**SETTINGS, "num_nodes": 2}
    args = ["train", str(source), "--out", str(tmp_path / "t.pt"), "--settings",
            json.dumps(settings), "--checkpoint-dir", str(tmp_path / "ckpt")]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "training.num_nodes is 2" in err and "profiles/slurm" in err
    assert err.startswith("musictransfer train: error: training.num_nodes is 2")
    assert "Traceback" not in err and "->" in err
    assert not (tmp_path / "ckpt").exists()


@pytest.mark.fault(
    item=0,
    case="training asks for more GPUs than the node has",
    outcome="exit 2 naming the node, the GPUs asked for and found; nothing trained",
)
def test_a_node_with_fewer_gpus_than_devices_fails_at_once(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(MusicTransferError, match=r"training\.devices is 2") as error:
        train_tagger(source, tmp_path / "t.pt", settings=SETTINGS,
                     checkpoint_dir=tmp_path / "ckpt", accelerator="gpu")  # fmt: skip
    assert socket.gethostname() in str(error.value) and "1 usable GPU" in str(error.value)
    assert not (tmp_path / "ckpt").exists()


class _Resources(dict):
    """A job's resources as the SLURM plugin reads them (``.get`` and attributes)."""

    __getattr__ = dict.__getitem__


def _sbatch(resources: dict) -> str:
    """The plugin's sbatch command line for a job of these resources (as it submits it)."""
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    job = SimpleNamespace(resources=_Resources(resources), threads=8, is_group=lambda: False)
    params = {"run_uuid": "u", "slurm_logfile": "l", "comment_str": "c", "account": "",
              "partition": "", "workdir": "."}  # fmt: skip
    return get_submit_command(job, params) + set_gres_string(job)


def test_a_training_over_nodes_is_one_job_of_one_task_per_device() -> None:
    from musictransfer.sizing import training_job, training_launcher

    assert training_job({"devices": 8, "num_nodes": 1}) == {}
    assert training_launcher({"devices": 8, "num_nodes": 1}) == ""
    four_by_two = training_job({"devices": 4, "num_nodes": 2})
    assert training_launcher({"devices": 4, "num_nodes": 2}) == "srun "
    # The profile asks for the GPUs per node (gres); the rule for nodes and tasks.
    call = _sbatch({"runtime": 720, "mem_mb": 32000, "gres": "gpu:4", **four_by_two})
    assert "--nodes=2" in call and "--ntasks-per-node=4" in call and "--gres=gpu:4" in call
    assert "--ntasks-per-gpu" not in call
    one_each = _sbatch({"runtime": 720, "gres": "gpu:1",
                        **training_job({"devices": 1, "num_nodes": 3})})  # fmt: skip
    assert "--nodes=3" in one_each and "--ntasks=3" in one_each
    assert "--ntasks-per-gpu=1" in one_each


def test_the_rule_launches_several_nodes_with_srun(repo: Path, tmp_path: Path) -> None:
    from test_workflow import snakemake

    config = tmp_path / "nodes.yaml"
    config.write_text(
        "experiments:\n  demo:\n    training: {devices: 2, num_nodes: 2, batch_size: 16}\n"
    )
    target = f"{tmp_path}/demo/models/tagger-demo_tags.pt"
    run = snakemake(repo, "-n", "-p", target, "--config", f"results={tmp_path}",
                    "--configfile", str(config))  # fmt: skip
    assert "srun python -m musictransfer train" in run.stdout
    assert "nodes=2" in run.stdout and "mpi=srun" in run.stdout
    assert "tasks_per_node=2" in run.stdout
