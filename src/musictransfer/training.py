"""Training the tagging convnet (the source task) with PyTorch Lightning.

The tagger is trained with PyTorch Lightning on a prepared tagging source: a prepared
store (:class:`~musictransfer.datasets.store.PreparedDataset`) whose manifest has a
``tags`` column (tags separated by ';') and a ``split`` column (train / valid / test).
The targets are multi-hot vectors over the tags seen in the training split, sorted; the
loss is binary cross-entropy on the logits and the optimiser Adam, as in the paper. The
model kept is the checkpoint of the best validation macro AUC-ROC, the paper's metric.

The trained network is written as a model file (:mod:`musictransfer.modelfile`, which
reads and writes them without Lightning). This is the only module that imports Lightning.

Snakemake and SLURM
-------------------
The ``train_tagger`` rule runs this as one job of one task. Lightning believes it was
launched by ``srun`` whenever ``SLURM_NTASKS`` is set, and would then install its
SIGUSR1 auto-requeue handler; the Trainer is therefore given a plain
:class:`~lightning.fabric.plugins.environments.LightningEnvironment`, which switches off
SLURM detection and requeueing (Snakemake's own retries do that job). A retried job
resumes from ``last.ckpt`` in the checkpoint directory, which is deliberately not a
declared output (Snakemake would delete it before the retry).

Resuming
--------
A run resumed from ``last.ckpt`` (written at the end of every epoch, after validation)
must end with the weights of a run that never stopped. Lightning restores the weights,
BatchNorm statistics, Adam's moments and the callbacks' state, but no random-number
state; so everything random in an epoch is made a pure function of (seed, epoch)
instead of a state carried over from the previous epoch: the training order
(:class:`EpochShuffle`) and the global torch / numpy / Python generators, which dropout
draws from, are seeded from :func:`epoch_seed` at the start of every epoch
(:meth:`TaggerModule.on_train_epoch_start`). A resumed epoch ``k`` is then the same
computation as epoch ``k`` of the uninterrupted run, whatever happened before, and the
model does not depend on the number of data-loader workers either. The clips are read
without randomness, so the workers' own generators play no part. (On CUDA, max-pool's
backward has no deterministic kernel, so there the equality is up to that.)
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import random
import socket
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.fabric.plugins import TorchCheckpointIO
from torch import Tensor, nn

from musictransfer.datasets.manifest import require_columns, split_tags
from musictransfer.errors import ConfigError, ManifestError, MusicTransferError
from musictransfer.files import atomic_path, write_json
from musictransfer.model import ConvNet, init_he_normal
from musictransfer.modelfile import BN_RUNNING, save_model
from musictransfer.provenance import provenance

log = logging.getLogger(__name__)
"""Progress lines for the job's log (one per epoch, resuming, the result)."""

SPLITS = ("train", "valid", "test")
LAST_CHECKPOINT = "last.ckpt"

LOADER_START_METHOD = (
    "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
)
"""How data-loader workers start: never a plain fork of the training process (see
:meth:`TaggingDataModule._loader`)."""

ACCELERATORS = ("auto", "cpu", "gpu")
"""What :func:`train_tagger` may be asked to run on: ``auto`` takes CUDA when there is
one; ``gpu`` makes a missing CUDA an error instead of a much slower CPU run."""

SHUFFLE_STREAM = 0
"""Stream of :func:`epoch_seed` that orders the training clips."""

EPOCH_RNG_STREAM = 1
"""Stream of :func:`epoch_seed` that seeds the global generators (dropout)."""


# --- settings --------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingSettings:
    """The experiment's ``training:`` block, with the defaults of config.yaml's demo.

    Attributes
    ----------
    seed
        Seeds the initial weights, and with the epoch number each epoch's shuffling and
        dropout (:func:`epoch_seed`).
    max_epochs
        Upper bound on the epochs run.
    batch_size
        Clips per training step.
    learning_rate
        Adam's step size (the paper uses Adam; Keras' default rate is 0.001).
    early_stopping_patience
        Epochs without a better validation AUC before training stops.
    dropout
        Dropout before the dense layer (0 disables it).
    """

    seed: int = 0
    max_epochs: int = 12
    batch_size: int = 16
    learning_rate: float = 1e-3
    early_stopping_patience: int = 4
    dropout: float = 0.0

    @classmethod
    def from_mapping(cls, settings: dict[str, Any] | None) -> TrainingSettings:
        """Settings from the config's ``training`` mapping; unknown keys are an error.

        Raises
        ------
        ConfigError
            For an unknown key or a value of the wrong type or range.
        """
        settings = dict(settings or {})
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(settings) - set(known))
        if unknown:
            raise ConfigError(
                f"unknown training setting(s) {', '.join(unknown)}",
                f"the training block accepts {', '.join(known)}",
            )
        values: dict[str, Any] = {}
        for name, value in settings.items():
            kind = float if name in ("learning_rate", "dropout") else int
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"training.{name} must be a number, got {value!r}")
            if kind is int and int(value) != value:
                raise ConfigError(f"training.{name} must be an integer, got {value!r}")
            values[name] = kind(value)
        out = cls(**values)
        out._check()
        return out

    def _check(self) -> None:
        if self.max_epochs < 1 or self.batch_size < 1 or self.early_stopping_patience < 1:
            raise ConfigError(
                "training.max_epochs, batch_size and early_stopping_patience must be >= 1"
            )
        if not self.learning_rate > 0:
            raise ConfigError(f"training.learning_rate must be > 0, got {self.learning_rate}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"training.dropout must be in [0, 1), got {self.dropout}")


# --- randomness -------------------------------------------------------------------------


def epoch_seed(seed: int, epoch: int, stream: int) -> int:
    """A 64-bit seed that depends only on the run's seed, the epoch and a stream number.

    What an epoch draws is then fixed by these three numbers rather than by what earlier
    epochs drew, so that a run resumed at epoch ``k`` repeats epoch ``k`` exactly
    (see the module's "Resuming"). ``SeedSequence`` mixes the three, so that nearby
    (seed, epoch) pairs do not share a seed as ``seed + epoch`` would.
    """
    entropy = [int(seed) & 0xFFFF_FFFF_FFFF_FFFF, int(epoch), int(stream)]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0])


def seed_epoch(seed: int, epoch: int) -> None:
    """Seed torch (CPU and CUDA), numpy and Python's ``random`` for one training epoch."""
    value = epoch_seed(seed, epoch, EPOCH_RNG_STREAM)
    torch.manual_seed(value)
    np.random.seed(value & 0xFFFF_FFFF)  # noqa: NPY002 - the global one, as seed_everything
    random.seed(value)


class EpochShuffle(torch.utils.data.Sampler[int]):
    """A random order of ``range(n)`` that is a pure function of (seed, epoch).

    A ``DataLoader(shuffle=True, generator=...)`` draws each epoch's order from a
    generator that the previous epochs advanced, so a resumed run (a fresh generator)
    would repeat the first epoch's order. Lightning calls :meth:`set_epoch` before each
    training epoch (the order is drawn here, in the training process, also for loaders
    with workers); for a run's first epoch see :meth:`TaggingDataModule.train_dataloader`.

    Parameters
    ----------
    n
        Number of clips.
    seed
        The run's seed.
    """

    def __init__(self, n: int, seed: int) -> None:
        self.n = int(n)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order the next iteration gives."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch, SHUFFLE_STREAM))
        return iter(torch.randperm(self.n, generator=generator).tolist())


# --- data ------------------------------------------------------------------------------


def tag_vocabulary(tags: list[str]) -> list[str]:
    """Sorted unique tags of ``tags`` cells.

    Cells are split by :func:`~musictransfer.datasets.manifest.split_tags`.
    """
    return sorted({t for row in split_tags(tags) for t in row})


def multi_hot(tags: list[str], vocabulary: list[str]) -> np.ndarray:
    """``(n, len(vocabulary))`` float32 0/1 targets; tags outside the vocabulary are dropped."""
    index = {t: i for i, t in enumerate(vocabulary)}
    out = np.zeros((len(tags), len(vocabulary)), dtype=np.float32)
    for row, cell in enumerate(split_tags(tags)):
        for tag in cell:
            if tag in index:
                out[row, index[tag]] = 1.0
    return out


class TaggingClips(torch.utils.data.Dataset):
    """Clips of a prepared store with their multi-hot targets.

    The store's memory map is opened lazily in each process (and dropped when pickled),
    so data-loader workers each read the file themselves instead of receiving a copy.

    Parameters
    ----------
    root
        The prepared store's directory.
    indices
        Rows of the store that belong to this split.
    targets
        ``(len(indices), n_tags)`` multi-hot targets.
    """

    def __init__(self, root: str | os.PathLike[str], indices: np.ndarray, targets: np.ndarray):
        self.root = Path(root)
        self.indices = np.asarray(indices, dtype=np.int64)
        self.targets = np.asarray(targets, dtype=np.float32)
        self._data: Any = None

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int) -> tuple[Tensor, Tensor]:
        if self._data is None:
            from musictransfer.datasets.store import PreparedDataset

            self._data = PreparedDataset(self.root)
        signal = self._data.convnet_input(int(self.indices[item]))
        return torch.from_numpy(np.ascontiguousarray(signal)), torch.from_numpy(self.targets[item])

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_data"] = None
        return state


def num_workers_for(threads: int) -> int:
    """Data-loader workers for a job of ``threads`` cores: one core stays for the model."""
    return max(0, int(threads) - 1)


class TaggingDataModule(pl.LightningDataModule):
    """Train / valid / test loaders over a prepared tagging source.

    Parameters
    ----------
    dataset_dir
        The prepared store (``manifest.csv`` with ``tags`` and ``split`` columns).
    batch_size
        Clips per batch (all three loaders).
    num_workers
        Loader processes; persistent between epochs when > 0, so that each epoch does
        not pay for starting them again.
    seed
        Seeds the training loader's shuffling.
    """

    def __init__(
        self, dataset_dir: str | os.PathLike[str], batch_size: int, num_workers: int, seed: int
    ) -> None:
        super().__init__()
        from musictransfer.datasets.store import PreparedDataset

        self.dataset_dir = Path(dataset_dir)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        manifest = PreparedDataset(self.dataset_dir).manifest
        self.manifest_ids: list[str] = manifest["id"].astype(str).tolist()
        where = self.dataset_dir / "manifest.csv"
        require_columns(manifest, ("tags", "split"), where)
        split = manifest["split"].astype(str).str.strip().str.lower().to_numpy()
        bad = sorted(set(split) - set(SPLITS))
        if bad:
            raise ManifestError(
                f"{where}: unknown split value(s) {', '.join(bad)}", "use train, valid or test"
            )
        tags = manifest["tags"].astype(str).tolist()
        self.vocabulary = tag_vocabulary(
            [t for t, s in zip(tags, split, strict=True) if s == "train"]
        )
        if not self.vocabulary:
            raise ManifestError(f"{where}: the train split has no tags", "check the tags column")
        targets = multi_hot(tags, self.vocabulary)
        self.splits: dict[str, TaggingClips] = {}
        for name in SPLITS:
            rows = np.flatnonzero(split == name)
            self.splits[name] = TaggingClips(self.dataset_dir, rows, targets[rows])
        for name in ("train", "valid"):
            if len(self.splits[name]) == 0:
                raise ManifestError(f"{where}: no clips in the {name} split")
        if not bool(_scorable(self.splits["valid"].targets).any()):
            raise ManifestError(
                f"{where}: no tag has both positive and negative clips in the valid split, "
                "so AUC-ROC cannot be computed",
                "put more (and more varied) clips in the valid split",
            )

    def _loader(self, name: str, shuffle: bool) -> torch.utils.data.DataLoader:
        """One split's loader; workers (if any) start from a fork server.

        By the time Lightning starts the workers, the training process runs CUDA and
        torch's thread pools; forking such a process can deadlock the child (Python 3.12
        warns about it). The fork server is a fresh interpreter (fork and exec, no Python
        run in between), and the workers are forked from it, not from this process. They
        are persistent, so that start-up is paid once per loader, not once per epoch.
        """
        clips = self.splits[name]
        sampler = EpochShuffle(len(clips), self.seed) if shuffle else None
        # The loader's own generator only draws the workers' base seed; given one, it
        # leaves the global generator (dropout's) alone.
        generator = torch.Generator().manual_seed(self.seed) if shuffle else None
        workers = self.num_workers > 0
        return torch.utils.data.DataLoader(
            clips,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=workers,
            multiprocessing_context=LOADER_START_METHOD if workers else None,
            generator=generator,
        )

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        """Training batches in the epoch's order (:class:`EpochShuffle`), last one kept.

        Lightning creates the first epoch's iterator before it calls ``set_epoch``, and
        worker processes fetch their first indices as soon as it exists; so the sampler
        starts at the epoch the run is about to train (not 0 in a resumed run), the
        value Lightning passes to ``set_epoch`` afterwards.
        """
        loader = self._loader("train", shuffle=True)
        if self.trainer is not None:
            loader.sampler.set_epoch(self.trainer.fit_loop.epoch_progress.current.processed)
        return loader

    def val_dataloader(self) -> torch.utils.data.DataLoader:
        """Validation batches in manifest order."""
        return self._loader("valid", shuffle=False)

    def test_dataloader(self) -> torch.utils.data.DataLoader:
        """Test batches in manifest order."""
        return self._loader("test", shuffle=False)


def _scorable(targets: Tensor | np.ndarray) -> Tensor:
    """Tags whose AUC is defined on these targets: at least one positive and one negative."""
    targets = torch.as_tensor(targets)
    positives = targets.sum(dim=0)
    return (positives > 0) & (positives < targets.shape[0])


# --- the Lightning module --------------------------------------------------------------


class TaggerModule(pl.LightningModule):
    """The ConvNet trained as a multi-label tagger (BCE on logits, Adam, macro AUC).

    The macro AUC averages only over tags that have positive and negative clips in the
    evaluated split: torchmetrics scores a tag without positives as 0, which would drag
    the mean down for reasons that have nothing to do with the model.

    Parameters
    ----------
    tags
        The tag vocabulary, in the order of the output units.
    learning_rate
        Adam's step size.
    dropout
        Dropout before the dense layer.
    seed
        Seed of the He-normal initial weights.
    """

    def __init__(
        self, tags: list[str], learning_rate: float = 1e-3, dropout: float = 0.0, seed: int = 0
    ) -> None:
        super().__init__()
        from torchmetrics.classification import MultilabelAUROC

        self.save_hyperparameters()
        self.tags = list(tags)
        self.model = init_he_normal(ConvNet(n_tags=len(self.tags), dropout=dropout), seed)
        self.loss = nn.BCEWithLogitsLoss()
        self.val_auroc = MultilabelAUROC(num_labels=len(self.tags), average="none")
        self.test_auroc = MultilabelAUROC(num_labels=len(self.tags), average="none")
        self._targets: dict[str, list[Tensor]] = {"val": [], "test": []}

    def forward(self, waveform: Tensor) -> Tensor:
        """Tag logits of a batch of waveforms."""
        return self.model(waveform)

    def on_train_epoch_start(self) -> None:
        """Seed dropout (and any other global draw) from (seed, epoch): see "Resuming"."""
        seed_epoch(self.hparams.seed, self.current_epoch)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """One optimisation step's loss."""
        waveform, target = batch
        loss = self.loss(self(waveform).float(), target)
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=len(target))
        return loss

    def _eval_step(self, stage: str, batch: tuple[Tensor, Tensor]) -> None:
        waveform, target = batch
        logits = self(waveform).float()
        self.log(f"{stage}_loss", self.loss(logits, target), batch_size=len(target))
        metric = self.val_auroc if stage == "val" else self.test_auroc
        metric.update(torch.sigmoid(logits), target.int())
        self._targets[stage].append(target.detach().cpu())

    def _eval_epoch_end(self, stage: str) -> None:
        metric = self.val_auroc if stage == "val" else self.test_auroc
        if not self._targets[stage]:
            return
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No (positive|negative) samples")
            per_tag = metric.compute().float().cpu()
        scorable = _scorable(torch.cat(self._targets[stage]))
        auc = per_tag[scorable].mean() if scorable.any() else torch.tensor(float("nan"))
        self.log(f"{stage}_auc", auc)
        metric.reset()
        self._targets[stage] = []

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        """Accumulate validation predictions."""
        self._eval_step("val", batch)

    def on_validation_epoch_end(self) -> None:
        """Log ``val_auc``, the macro AUC over the scorable tags."""
        self._eval_epoch_end("val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        """Accumulate test predictions."""
        self._eval_step("test", batch)

    def on_test_epoch_end(self) -> None:
        """Log ``test_auc``."""
        self._eval_epoch_end("test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam with the configured learning rate (Keras' other defaults)."""
        return torch.optim.Adam(self.parameters(), lr=self.hparams.learning_rate)


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
        """Log the epoch's mean training loss and its validation loss and AUC."""
        parts = [f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"]
        if self._n:
            parts.append(f"train_loss {self._loss_sum / self._n:.4f}")
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


def _resumable_checkpoint(checkpoint_dir: Path, fingerprint: dict[str, Any]) -> Path | None:
    """``last.ckpt`` if it belongs to this very run; otherwise clear stale checkpoints.

    Snakemake reruns the training when its settings or data change, but the checkpoint
    directory (not an output) survives: resuming from it would silently continue the old
    run, so checkpoints of another configuration are deleted and training starts afresh.
    """
    record = checkpoint_dir / "run.json"
    last = checkpoint_dir / LAST_CHECKPOINT
    same = record.is_file() and json.loads(record.read_text()) == fingerprint
    if last.is_file() and same:
        log.info("resuming from %s", last)
        return last
    stale = sorted(checkpoint_dir.glob("*.ckpt"))
    if stale:
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


def train_tagger(
    dataset_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    settings: dict[str, Any] | None,
    checkpoint_dir: str | os.PathLike[str],
    threads: int = 1,
    metrics_out: str | os.PathLike[str] | None = None,
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
        CPU threads for PyTorch; data loading uses ``threads - 1`` worker processes.
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
    from lightning.fabric.plugins.environments import LightningEnvironment
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    started = time.perf_counter()
    _quiet_lightning_tips()
    cfg = TrainingSettings.from_mapping(settings)
    device = _trainer_accelerator(accelerator)
    threads = max(1, int(threads))
    torch.set_num_threads(threads)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)

    data = TaggingDataModule(dataset_dir, cfg.batch_size, num_workers_for(threads), cfg.seed)
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
        devices=1,
        precision=_precision(device),
        max_epochs=cfg.max_epochs,
        callbacks=[
            best,
            last,
            EarlyStopping(monitor="val_auc", mode="max", patience=cfg.early_stopping_patience),
            EpochPrinter(),
        ],
        plugins=[LightningEnvironment(), AtomicCheckpointIO()],
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
    resume = _resumable_checkpoint(checkpoint_dir, _run_fingerprint(cfg, data))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*is smaller than the logging interval.*")
        # Lightning probes for SLURM on every fit/test call even with the plugin above.
        warnings.filterwarnings("ignore", message="The `srun` command is available")
        warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")
        warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)`")
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
            results = trainer.test(module, datamodule=data, verbose=False)
            test_auc = float(results[0]["test_auc"])
    metrics = {
        "best_val_auc": float(best.best_model_score),
        "test_auc": test_auc,
        "epochs_run": epochs,
        "best_checkpoint": str(best_path),
        "resumed_from": None if resume is None else str(resume),
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
        "precision": _precision(device),
        "threads": threads,
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


__all__ = [
    "TaggerModule",
    "TaggingDataModule",
    "TrainingSettings",
    "train_tagger",
]
