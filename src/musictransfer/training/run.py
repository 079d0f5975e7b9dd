"""Running a training: the Trainer, its callbacks, checkpoints, resuming, the model file.

:func:`train_tagger` is what the ``train_tagger`` rule runs (see "Snakemake and SLURM"
and "Resuming" in :mod:`musictransfer.training`): it builds the data module and the
Lightning module, trains with checkpoints of the best validation AUC and of the last
epoch, resumes from a checkpoint of the very same run, and writes the best model as a
model file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import time
import warnings
import zipfile
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.fabric.plugins import TorchCheckpointIO
from lightning.fabric.plugins.environments import LightningEnvironment, SLURMEnvironment
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.strategies import DDPStrategy

from musictransfer._typing import PathLike
from musictransfer.errors import ConfigError, MusicTransferError
from musictransfer.model import thread_independent_training
from musictransfer.modelfile import BN_RUNNING, save_model
from musictransfer.outputs import atomic_path, write_json
from musictransfer.provenance import provenance
from musictransfer.training.data import TaggingDataModule, num_workers_for
from musictransfer.training.module import TaggerModule
from musictransfer.training.settings import TrainingSettings

log = logging.getLogger("musictransfer.training")
"""Progress lines for the job's log (one per epoch, resuming, the result), under the
package's name."""

LAST_CHECKPOINT = "last.ckpt"

DDP_TIMEOUT = timedelta(minutes=5)
"""How long a rank waits in a collective for the others (a dead rank fails the job)."""

ACCELERATORS = ("auto", "cpu", "gpu")
"""What :func:`train_tagger` may be asked to run on: ``auto`` takes CUDA when there is
one; ``gpu`` makes a missing CUDA an error instead of a much slower CPU run."""


class EpochPrinter(pl.Callback):
    """One line per epoch in the log, for log files where a progress bar would be noise."""

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._loss_sum = 0.0
        self._n = 0

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        """Reset the epoch's clock and loss sum."""
        self._start = time.perf_counter()
        self._loss_sum, self._n = 0.0, 0

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Accumulate the training loss, weighted by the batch's clips."""
        n = len(batch[1])
        self._loss_sum += float(outputs["loss"]) * n
        self._n += n

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        """Log the epoch's mean training loss and its validation loss and AUC (rank 0)."""
        if not trainer.is_global_zero:
            return
        parts = [f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"]
        if self._n:
            label = "train_loss" if trainer.world_size == 1 else "train_loss (rank 0)"
            parts.append(f"{label} {self._loss_sum / self._n:.4f}")
        metrics = trainer.callback_metrics
        for key in ("val_loss", "val_auc"):
            if key in metrics:
                parts.append(f"{key} {float(metrics[key]):.4f}")
        parts.append(f"({time.perf_counter() - self._start:.1f} s)")
        log.info("  ".join(parts))


# --- training --------------------------------------------------------------------------


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written to a temporary sibling and renamed into place.

    Lightning writes a checkpoint straight onto its path: a job killed during that write
    (time limit, pre-emption) would leave a truncated ``last.ckpt`` that every retry then
    fails to load. With a rename, ``last.ckpt`` is always a complete checkpoint.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        """Save ``checkpoint`` to ``path`` atomically."""
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)


def _quiet_lightning_tips() -> None:
    """Drop Lightning's advertising 'Tip' lines from the job's log (idempotent)."""
    tips = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _NoTips) for f in tips.filters):
        tips.addFilter(_NoTips())


class _NoTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip:" not in record.getMessage()


def _run_fingerprint(cfg: TrainingSettings, data: TaggingDataModule) -> dict[str, Any]:
    """What a checkpoint must share with this run to be resumed.

    ``max_epochs`` and the patience are left out: raising them and resuming is a
    legitimate way to train longer.
    """
    settings = asdict(cfg)
    for key in ("max_epochs", "early_stopping_patience"):
        settings.pop(key)
    ids = data.manifest_ids
    return {
        # How an epoch's order and dropout are drawn (see "Resuming"): checkpoints of a
        # run that drew them otherwise are not continued, but started afresh.
        "randomness": "per-epoch seeds",
        "settings": settings,
        "tags": data.vocabulary,
        "clips": {name: [ids[i] for i in split.indices] for name, split in data.splits.items()},
    }


def _whole_archive(path: Path) -> bool:
    """Whether a checkpoint (a zip archive, as ``torch.save`` writes) is whole: CRCs checked."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (OSError, zipfile.BadZipFile, EOFError):
        return False


def _resumable_checkpoint(
    checkpoint_dir: Path, fingerprint: dict[str, Any], rank: int = 0
) -> Path | None:
    """``last.ckpt`` if it belongs to this very run; otherwise clear stale checkpoints.

    Snakemake reruns the training when its settings or data change, but the checkpoint
    directory (not an output) survives: resuming from it would silently continue the old
    run, so checkpoints of another configuration are deleted and training starts afresh.

    Only rank 0 deletes and writes; the other ranks of a distributed run read the same
    files and come to the same answer. Rank 0 deletes the stale checkpoints before it
    writes the new ``run.json``, so a rank that already reads the new record cannot find
    an old ``last.ckpt`` beside it.
    """
    record = checkpoint_dir / "run.json"
    last = checkpoint_dir / LAST_CHECKPOINT
    same = record.is_file() and json.loads(record.read_text()) == fingerprint
    if last.is_file() and same and _whole_archive(last):
        if rank == 0:
            log.info("resuming from %s", last)
        return last
    if rank != 0:
        return None
    stale = sorted(checkpoint_dir.glob("*.ckpt"))
    if stale and same and last.is_file():
        # Written by rename, so only a damaged disk or a hand makes one: every retry of
        # the job would fail to load it, so the run starts afresh instead, and says so.
        log.warning("%s is damaged or truncated: starting afresh", last)
    elif stale:
        log.warning(
            "checkpoints in %s are from another configuration: starting afresh", checkpoint_dir
        )
    for path in stale:
        path.unlink()
    write_json(record, fingerprint)
    return None


def _trainer_accelerator(requested: str) -> str:
    """The Trainer's device, ``cuda`` or ``cpu``, for an :data:`ACCELERATORS` request.

    Raises
    ------
    ConfigError
        For an unknown request.
    MusicTransferError
        If a GPU was asked for and CUDA is not available: on a GPU node that means a
        broken allocation or installation, and a silent CPU run would take about fifty
        times longer (and use another precision) than the run that was planned.
    """
    if requested not in ACCELERATORS:
        raise ConfigError(
            f"unknown accelerator {requested!r}", f"use one of {', '.join(ACCELERATORS)}"
        )
    if requested == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if requested == "gpu":
        if torch.version.cuda is None:
            why = f"PyTorch {torch.__version__} is a CPU-only build"
        else:
            visible = os.environ.get("CUDA_VISIBLE_DEVICES")
            why = (
                f"PyTorch {torch.__version__} (CUDA {torch.version.cuda}) finds no usable "
                f"device (CUDA_VISIBLE_DEVICES={'unset' if visible is None else repr(visible)})"
            )
        raise MusicTransferError(
            "asked for a GPU (--accelerator gpu, passed by the workflow when the job "
            f"requests a gpu resource) but CUDA is not available on {socket.gethostname()}; "
            f"{why}",
            "check the job's GPU allocation (partition, nvidia-smi on the node) and that "
            "PyTorch was installed with CUDA; to train on the CPU instead, remove the "
            "train_tagger gpu resource from the profile (or pass --accelerator auto)",
        )
    return "cpu"


def _precision(accelerator: str) -> str:
    """Mixed precision on CUDA (bf16 where supported), full precision elsewhere."""
    if accelerator == "cuda":
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def _launch_rank(cfg: TrainingSettings) -> int:
    """The global rank of this process, as its launcher set it, before the Trainer exists.

    Lightning's own launcher (one node) gives the processes it starts ``LOCAL_RANK``;
    the process it starts them from is rank 0. ``srun`` (several nodes) gives each task
    ``SLURM_PROCID``. Known this early so that only rank 0 touches the checkpoint
    directory.
    """
    if cfg.num_nodes > 1:
        return int(os.environ.get("SLURM_PROCID", "0"))
    return int(os.environ.get("LOCAL_RANK", "0"))


def _cluster_environment(cfg: TrainingSettings) -> Any:
    """Lightning's view of how the processes were started.

    One node: a plain :class:`LightningEnvironment`, so that Lightning starts the
    ``devices`` processes itself and never takes a Snakemake SLURM job for an
    ``srun``-launched one (see "Snakemake and SLURM" in :mod:`musictransfer.training`).
    Several nodes: the job's ``srun`` started one task per device on every node, and
    :class:`SLURMEnvironment` reads their ranks, with its requeueing off (Snakemake
    retries).

    Raises
    ------
    ConfigError
        If several nodes are asked for and this process is not one of an ``srun`` with
        ``devices x num_nodes`` tasks.
    """
    if cfg.num_nodes == 1:
        return LightningEnvironment()
    tasks = os.environ.get("SLURM_NTASKS")
    if tasks is None or int(tasks) != cfg.world_size or "SLURM_PROCID" not in os.environ:
        raise ConfigError(
            f"training.num_nodes is {cfg.num_nodes}, but this process is not one of the "
            f"{cfg.world_size} tasks (devices {cfg.devices} x num_nodes {cfg.num_nodes}) "
            f"of a SLURM srun (SLURM_NTASKS={tasks or 'unset'})",
            "run the workflow with the SLURM profile (profiles/slurm), which submits the "
            "training as one job of that many tasks; or set training.num_nodes: 1",
        )
    return SLURMEnvironment(auto_requeue=False)


def _check_devices(device: str, cfg: TrainingSettings) -> None:
    """Fail at once, naming the node, if it has fewer GPUs than ``training.devices``.

    A silent run on fewer devices would change the number of processes, and so the
    per-process batch and the run's fingerprint.
    """
    if device != "cuda":
        return
    found = torch.cuda.device_count()
    if found < cfg.devices:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        raise MusicTransferError(
            f"training.devices is {cfg.devices} but {socket.gethostname()} has {found} usable "
            f"GPU(s) (CUDA_VISIBLE_DEVICES={'unset' if visible is None else repr(visible)})",
            "ask the scheduler for that many GPUs per node (profiles/slurm: train_tagger's "
            "gpu, or gres for several nodes), or lower training.devices",
        )


def _strategy(device: str, cfg: TrainingSettings) -> Any:
    """Lightning's strategy: one device as is, or DDP (NCCL on CUDA, gloo on the CPU).

    Gradients are averaged between processes by DDP; on CUDA the BatchNorm layers are
    synchronised, so that a step normalises over the global batch as a one-process run
    does (SyncBatchNorm has no CPU kernel, so on the CPU each process normalises its own
    part). The process group's timeout is short enough that a rank left waiting for a
    dead one gives up within minutes rather than Lightning's default half hour.
    """
    if not cfg.distributed:
        return "auto"
    return DDPStrategy(
        cluster_environment=_cluster_environment(cfg),
        checkpoint_io=AtomicCheckpointIO(),
        timeout=DDP_TIMEOUT,
    )


def train_tagger(
    dataset_dir: PathLike,
    out: PathLike,
    settings: dict[str, Any] | None,
    checkpoint_dir: PathLike,
    threads: int = 1,
    metrics_out: PathLike | None = None,
    accelerator: str = "auto",
) -> dict[str, Any]:
    """Train the tagger and write the model file of its best validation checkpoint.

    Parameters
    ----------
    dataset_dir
        Prepared tagging source (manifest with ``tags`` and ``split``).
    out
        The model file (``.pt``), written atomically at the end.
    settings
        The experiment's ``training`` mapping (see :class:`TrainingSettings`).
    checkpoint_dir
        Lightning's checkpoints (``best-*.ckpt``, ``last.ckpt``) and CSV logs. If it
        holds ``last.ckpt``, training resumes from it (a retried job continues).
    threads
        CPU threads of the job's task: on one node its training processes share them
        (``threads // devices`` each), over several nodes each process (one ``srun``
        task) has them; all but one of a process's threads go to data-loader workers.
    metrics_out
        JSON file for the best validation AUC, its test AUC, epochs and wall time.
    accelerator
        ``auto`` (CUDA if available, else the CPU), ``cpu``, or ``gpu`` (CUDA or an
        error; the workflow asks for it when the job requests a GPU).

    Returns
    -------
    dict
        The metrics also written to ``metrics_out``.

    Raises
    ------
    MusicTransferError
        If ``accelerator`` is ``gpu`` and CUDA is not available, or training left no
        checkpoint.
    """
    started = time.perf_counter()
    _quiet_lightning_tips()
    cfg = TrainingSettings.from_mapping(settings)
    device = _trainer_accelerator(accelerator)
    _check_devices(device, cfg)
    strategy = _strategy(device, cfg)
    rank = _launch_rank(cfg)
    # On one node Lightning starts the processes inside the job's one task, which share
    # its cores; over several nodes srun gives each process (task) cores of its own.
    threads = max(1, int(threads) // (cfg.devices if cfg.num_nodes == 1 else 1))
    torch.set_num_threads(threads)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    data = TaggingDataModule(dataset_dir, cfg.rank_batch_size, num_workers_for(threads), cfg.seed)
    data.check_shares(cfg.world_size)
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    module = TaggerModule(data.vocabulary, cfg.learning_rate, cfg.dropout, cfg.seed)
    best = ModelCheckpoint(
        dirpath=checkpoint_dir,
        filename="best-{epoch:03d}",
        monitor="val_auc",
        mode="max",
        save_top_k=1,
    )
    # A monitored checkpoint's save_last rewrites last.ckpt only in epochs that improve
    # the monitored score, so a run killed after a plateau would redo those epochs; this
    # one is rewritten at the end of every epoch (after `best`, whose state it holds).
    last = ModelCheckpoint(
        dirpath=checkpoint_dir,
        filename=Path(LAST_CHECKPOINT).stem,
        monitor=None,
        save_top_k=1,
        enable_version_counter=False,
    )
    trainer = pl.Trainer(
        accelerator=device,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        strategy=strategy,
        # The data module's samplers split the clips between ranks (EpochShuffle,
        # RankShare); Lightning's DistributedSampler would pad the evaluation splits.
        use_distributed_sampler=False,
        sync_batchnorm=device == "cuda" and cfg.world_size > 1,
        precision=_precision(device),
        max_epochs=cfg.max_epochs,
        callbacks=[
            best,
            last,
            EarlyStopping(monitor="val_auc", mode="max", patience=cfg.early_stopping_patience),
            EpochPrinter(),
        ],
        plugins=None if cfg.distributed else [LightningEnvironment(), AtomicCheckpointIO()],
        logger=CSVLogger(checkpoint_dir, name="logs"),
        default_root_dir=checkpoint_dir,
        enable_progress_bar=sys.stderr.isatty(),
        enable_model_summary=False,
        # CPU kernels are deterministic anyway; on CUDA max-pool's backward has no
        # deterministic kernel, so ask for determinism but only warn where impossible.
        deterministic=True if device == "cpu" else "warn",
        log_every_n_steps=1,
        num_sanity_val_steps=0,
    )
    resume = _resumable_checkpoint(checkpoint_dir, _run_fingerprint(cfg, data), rank)
    # On the CPU the tagger's bits must not depend on the job's threads (--cores).
    kernels = thread_independent_training() if device == "cpu" else contextlib.nullcontext()
    with warnings.catch_warnings(), kernels:
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*is smaller than the logging interval.*")
        # Lightning probes for SLURM on every fit/test call even with the plugin above.
        warnings.filterwarnings("ignore", message="The `srun` command is available")
        warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")
        warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)`")
        # The AUC is computed over every rank's clips already (TaggerModule), and the
        # losses are synchronised wherever there is more than one process.
        warnings.filterwarnings(
            "ignore", message=r"It is recommended to use `self.log\('(val|test)_(auc|loss)'"
        )
        trainer.fit(module, datamodule=data, ckpt_path=resume)
        epochs = int(trainer.current_epoch)
        best_path = best.best_model_path
        if not best_path or not Path(best_path).is_file():
            raise MusicTransferError(
                f"training left no best checkpoint in {checkpoint_dir}",
                "check the log; delete the checkpoint directory to start afresh",
            )
        state = torch.load(best_path, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
        test_auc = None
        if len(data.splits["test"]):
            # Every rank tests its share (the AUC is gathered over all of them).
            results = trainer.test(module, datamodule=data, verbose=False)
            test_auc = float(results[0]["test_auc"])
    if not trainer.is_global_zero:
        # The other ranks' work ends here: rank 0 writes the model file and metrics.
        return {}
    metrics = {
        "best_val_auc": float(best.best_model_score),
        "test_auc": test_auc,
        "epochs_run": epochs,
        "best_checkpoint": str(best_path),
        "resumed_from": None if resume is None else str(resume),
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
        "precision": _precision(device),
        "threads": threads,
        "processes": cfg.world_size,
        "n_clips": {name: len(split) for name, split in data.splits.items()},
        "n_tags": len(data.vocabulary),
        "settings": asdict(cfg),
        "wall_time_s": round(time.perf_counter() - started, 2),
    }
    save_model(
        out,
        module.model,
        tags=data.vocabulary,
        bn_statistics=BN_RUNNING,
        dropout=cfg.dropout,
        meta={
            "trained_on": str(dataset_dir),
            **{k: metrics[k] for k in ("best_val_auc", "test_auc", "epochs_run")},
        },
    )
    metrics["provenance"] = provenance()
    if metrics_out is not None:
        write_json(metrics_out, metrics)
    log.info(
        "best val_auc %.4f, test_auc %s after %d epochs (%.0f s on %s)",
        metrics["best_val_auc"],
        "n/a" if test_auc is None else f"{test_auc:.4f}",
        epochs,
        metrics["wall_time_s"],
        metrics["device"],
    )
    return metrics
