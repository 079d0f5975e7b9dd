"""The tagging data: tag vocabulary and targets, the clips, their per-epoch order.

:class:`TaggingDataModule` is the Lightning data module of a prepared tagging source: it
checks the manifest's ``tags`` and ``split`` columns, takes the vocabulary from the
training split (:func:`tag_vocabulary`, :func:`multi_hot`) and serves the three splits.
The training order (:class:`EpochShuffle`) and the global generators
(:func:`seed_epoch`) are pure functions of (seed, epoch), so that a resumed run repeats
its epochs exactly (see "Resuming" in :mod:`musictransfer.training`).
"""

from __future__ import annotations

import multiprocessing
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch import Tensor

from musictransfer._typing import PathLike
from musictransfer.constants import SPLITS
from musictransfer.datasets.manifest import require_columns, split_tags
from musictransfer.datasets.store import PreparedDataset
from musictransfer.errors import ManifestError
from musictransfer.layout import MANIFEST_FILE
from musictransfer.model import network_input

LOADER_START_METHOD = (
    "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
)
"""How data-loader workers start: never a plain fork of the training process (see
:meth:`TaggingDataModule._loader`)."""

SHUFFLE_STREAM = 0
"""Stream of :func:`epoch_seed` that orders the training clips."""

EPOCH_RNG_STREAM = 1
"""Stream of :func:`epoch_seed` that seeds the global generators (dropout)."""


# --- randomness -------------------------------------------------------------------------


def epoch_seed(seed: int, epoch: int, stream: int, rank: int = 0) -> int:
    """A 64-bit seed that depends only on the run's seed, the epoch, a stream and a rank.

    What an epoch draws is then fixed by these numbers rather than by what earlier
    epochs drew, so that a run resumed at epoch ``k`` repeats epoch ``k`` exactly (see
    "Resuming" in :mod:`musictransfer.training`). ``SeedSequence`` mixes them, so that
    nearby (seed, epoch) pairs do not share a seed as ``seed + epoch`` would. Rank 0 draws
    what a one-process run draws; the other ranks of a distributed run draw their own.
    """
    entropy = [int(seed) & 0xFFFF_FFFF_FFFF_FFFF, int(epoch), int(stream)]
    if rank:
        entropy.append(int(rank))
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0])


def seed_epoch(seed: int, epoch: int, rank: int = 0) -> None:
    """Seed torch (CPU and CUDA), numpy and Python's ``random`` for one training epoch."""
    value = epoch_seed(seed, epoch, EPOCH_RNG_STREAM, rank)
    torch.manual_seed(value)
    np.random.seed(value & 0xFFFF_FFFF)  # noqa: NPY002 - the global one, as seed_everything
    random.seed(value)


class EpochShuffle(torch.utils.data.Sampler[int]):
    """A random order of ``range(n)`` that is a pure function of (seed, epoch), per rank.

    A ``DataLoader(shuffle=True, generator=...)`` draws each epoch's order from a
    generator that the previous epochs advanced, so a resumed run (a fresh generator)
    would repeat the first epoch's order. Lightning calls :meth:`set_epoch` before each
    training epoch (the order is drawn here, in the training process, also for loaders
    with workers); for a run's first epoch see :meth:`TaggingDataModule.train_dataloader`.

    In a distributed run every rank draws the same permutation and takes every
    ``world``-th clip of it, starting at its rank; with per-rank batches of
    ``batch_size / world`` clips, step ``s`` of all ranks together then trains on clips
    ``s * batch_size`` to ``(s + 1) * batch_size - 1`` of the permutation: the global
    batch of a one-process run. If ``n`` is not a multiple of ``world``, the permutation
    is extended by its first clips (as ``DistributedSampler`` does), so that all ranks
    take the same number of steps.

    Parameters
    ----------
    n
        Number of clips.
    seed
        The run's seed.
    rank, world
        This process's rank among ``world`` training processes.
    """

    def __init__(self, n: int, seed: int, rank: int = 0, world: int = 1) -> None:
        self.n = int(n)
        self.seed = int(seed)
        self.rank = int(rank)
        self.world = int(world)
        self.epoch = 0
        if not 0 <= self.rank < self.world:
            raise ValueError(f"rank {rank} outside a world of {world}")

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order the next iteration gives."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return -(-self.n // self.world)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch, SHUFFLE_STREAM))
        order = torch.randperm(self.n, generator=generator).tolist()
        padded = len(self) * self.world
        order = (order * -(-padded // max(self.n, 1)))[:padded]
        return iter(order[self.rank :: self.world])


class RankShare(torch.utils.data.Sampler[int]):
    """Every ``world``-th clip from ``rank`` on, in order: one rank's part of an evaluation.

    Unlike ``DistributedSampler`` nothing is repeated to even out the ranks, so that the
    validation AUC, gathered over all ranks, is computed over every clip exactly once.
    """

    def __init__(self, n: int, rank: int = 0, world: int = 1) -> None:
        self.indices = range(int(rank), int(n), int(world))

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)


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

    def __init__(self, root: PathLike, indices: np.ndarray, targets: np.ndarray):
        self.root = Path(root)
        self.indices = np.asarray(indices, dtype=np.int64)
        self.targets = np.asarray(targets, dtype=np.float32)
        self._data: Any = None

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int) -> tuple[Tensor, Tensor]:
        """The clip as stored (int16: half the bytes to move) and its targets.

        :meth:`TaggingDataModule.on_after_batch_transfer` makes it float32 on the device.
        """
        if self._data is None:
            self._data = PreparedDataset(self.root)
        # A copy: a full-length clip is a read-only view of the memory-mapped store.
        signal = np.array(self._data.stored_input(int(self.indices[item])))
        return torch.from_numpy(signal), torch.from_numpy(self.targets[item])

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
        Clips per batch and process (all three loaders): in a distributed run, the
        global batch divided by the number of processes.
    num_workers
        Loader processes; persistent between epochs when > 0, so that each epoch does
        not pay for starting them again.
    seed
        Seeds the training loader's shuffling.
    """

    def __init__(self, dataset_dir: PathLike, batch_size: int, num_workers: int, seed: int) -> None:
        super().__init__()
        self.dataset_dir = Path(dataset_dir)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        manifest = PreparedDataset(self.dataset_dir).manifest
        self.manifest_ids: list[str] = manifest["id"].astype(str).tolist()
        where = self.dataset_dir / MANIFEST_FILE
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
        if not bool(scorable_tags(self.splits["valid"].targets).any()):
            raise ManifestError(
                f"{where}: no tag has both positive and negative clips in the valid split, "
                "so AUC-ROC cannot be computed",
                "put more (and more varied) clips in the valid split",
            )

    def check_shares(self, world: int) -> None:
        """Every split with clips has at least one per process of a ``world``-process run.

        A rank without validation or test clips would have nothing to add to the AUC that
        all ranks compute together; :func:`~.run.train_tagger` asks before training, so
        that a small test split does not stop the job after the training.

        Raises
        ------
        ManifestError
            Naming the split, its clips and the number of processes.
        """
        for name, clips in self.splits.items():
            if world > 1 and 0 < len(clips) < world:
                raise ManifestError(
                    f"{self.dataset_dir / MANIFEST_FILE}: the {name} split has {len(clips)} "
                    f"clip(s), fewer than the {world} training processes",
                    "train with fewer devices, or put more clips in that split",
                )

    def _ranks(self) -> tuple[int, int]:
        """The rank of this process and the number of processes ((0, 1) outside DDP)."""
        trainer = self.trainer
        if trainer is None:
            return 0, 1
        return int(trainer.global_rank), int(trainer.world_size)

    def _loader(self, name: str, shuffle: bool) -> torch.utils.data.DataLoader:
        """One split's loader, this rank's part of it; workers (if any) start from a fork server.

        By the time Lightning starts the workers, the training process runs CUDA and
        torch's thread pools; forking such a process can deadlock the child (Python 3.12
        warns about it). The fork server is a fresh interpreter (fork and exec, no Python
        run in between), and the workers are forked from it, not from this process. They
        are persistent, so that start-up is paid once per loader, not once per epoch.
        The samplers are this module's (:class:`EpochShuffle`, :class:`RankShare`), not
        the ``DistributedSampler`` Lightning would put in (the Trainer is told not to).
        """
        clips = self.splits[name]
        rank, world = self._ranks()
        self.check_shares(world)
        sampler: torch.utils.data.Sampler[int] = (
            EpochShuffle(len(clips), self.seed, rank, world)
            if shuffle
            else RankShare(len(clips), rank, world)
        )
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
            # Page-locked batches: the host-to-device copy runs asynchronously.
            pin_memory=torch.cuda.is_available(),
        )

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Stored int16 clips as float32 in [-1, 1], on the device.

        :func:`~musictransfer.model.network_input` divides as
        :meth:`PreparedDataset.signal` does, so the network sees the same bits as from a
        float32 loader, with half the bytes through the workers and the host-to-device
        copy.
        """
        waveform, targets = batch
        return network_input(waveform), targets

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


def scorable_tags(targets: Tensor | np.ndarray) -> Tensor:
    """Tags whose AUC is defined on these targets: at least one positive and one negative."""
    targets = torch.as_tensor(targets)
    return scorable_counts(targets.sum(dim=0), targets.shape[0])


def scorable_counts(positives: Tensor, clips: Tensor | int) -> Tensor:
    """:func:`scorable_tags` from each tag's positive clips among ``clips`` clips.

    The form a distributed run can sum over ranks (:class:`~.module.TagCounts`).
    """
    return (positives > 0) & (positives < clips)
