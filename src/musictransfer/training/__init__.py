"""Training the tagging convnet (the source task) with PyTorch Lightning.

The tagger is trained with PyTorch Lightning on a prepared tagging source: a prepared
store (:class:`~musictransfer.datasets.store.PreparedDataset`) whose manifest has a
``tags`` column (tags separated by ';') and a ``split`` column (train / valid / test).
The targets are multi-hot vectors over the tags seen in the training split, sorted; the
loss is binary cross-entropy on the logits and the optimiser Adam, as in the paper. The
model kept is the checkpoint of the best validation macro AUC-ROC, the paper's metric.

The trained network is written as a model file (:mod:`musictransfer.modelfile`, which
reads and writes them without Lightning). This is the only package that imports Lightning.

Snakemake and SLURM
-------------------
The ``train_tagger`` rule runs :func:`train_tagger` as one job, of one task on one node.
Lightning believes it was launched by ``srun`` whenever ``SLURM_NTASKS`` is set, and would
then install its SIGUSR1 auto-requeue handler; the Trainer is therefore given a plain
:class:`~lightning.fabric.plugins.environments.LightningEnvironment`, which switches off
SLURM detection and requeueing (Snakemake's own retries do that job). Over several nodes
the job is one task per device, and Lightning's ``SLURMEnvironment`` is used with its
requeueing off (see "Several GPUs and nodes"). A retried job
resumes from ``last.ckpt`` in the checkpoint directory, which is deliberately not a
declared output (Snakemake would delete it before the retry).

Several GPUs and nodes
----------------------
``training: {devices, num_nodes, strategy}`` trains with DistributedDataParallel, one
process per device. On one node Lightning starts the processes itself, inside the job's
one task; over several nodes the job's ``srun`` starts one task per device on each node
(:func:`musictransfer.sizing.training_job`) and Lightning's ``SLURMEnvironment`` (requeue
off) reads their ranks. ``batch_size`` stays the global batch: each process takes
``batch_size / processes`` clips per step, every rank draws the epoch's one permutation
and takes every ``world``-th clip of it (:class:`~.data.EpochShuffle`), so a step of all
ranks together trains on the one-process run's batch, with gradients averaged by DDP and,
on CUDA, BatchNorm synchronised over the global batch. Validation and test clips are
shared between ranks without padding (:class:`~.data.RankShare`) and the AUC is computed
once over all of them, with rank 0's BatchNorm statistics (its checkpoint's) on every
rank. Only rank 0 writes checkpoints, the run record and the model file. A rank that
dies ends the job (Lightning's launcher kills the others; over ``srun`` the step fails),
and Snakemake's retry resumes every rank from ``last.ckpt``.

Resuming
--------
A run resumed from ``last.ckpt`` (written at the end of every epoch, after validation)
must end with the weights of a run that never stopped. Lightning restores the weights,
BatchNorm statistics, Adam's moments and the callbacks' state, but no random-number
state; so everything random in an epoch is made a pure function of (seed, epoch)
instead of a state carried over from the previous epoch: the training order
(:class:`~.data.EpochShuffle`) and the global torch / numpy / Python generators, which dropout
draws from, are seeded from :func:`~.data.epoch_seed` at the start of every epoch
(:meth:`~.module.TaggerModule.on_train_epoch_start`). A resumed epoch ``k`` is then the same
computation as epoch ``k`` of the uninterrupted run, whatever happened before, and the
model does not depend on the number of data-loader workers either. In a distributed run
the same holds per rank: the order is drawn from (seed, epoch), dropout from (seed,
epoch, rank). The clips are read
without randomness, so the workers' own generators play no part. (On CUDA, max-pool's
backward has no deterministic kernel, so there the equality is up to that.)

Modules, in Lightning's split of model and data
-----------------------------------------------
:mod:`~musictransfer.training.settings`
    :class:`TrainingSettings`, the experiment's ``training:`` block.
:mod:`~musictransfer.training.data`
    The tag vocabulary and multi-hot targets, the clips, the per-epoch order and
    seeding, and :class:`TaggingDataModule`.
:mod:`~musictransfer.training.module`
    :class:`TaggerModule`, the Lightning module.
:mod:`~musictransfer.training.run`
    :func:`train_tagger`: the Trainer, its callbacks, checkpoints and resuming.
"""

from musictransfer.training.data import (
    EpochShuffle,
    TaggingDataModule,
    multi_hot,
    num_workers_for,
    tag_vocabulary,
)
from musictransfer.training.module import TaggerModule
from musictransfer.training.run import EpochPrinter, train_tagger
from musictransfer.training.settings import TrainingSettings

__all__ = [
    "EpochPrinter",
    "EpochShuffle",
    "TaggerModule",
    "TaggingDataModule",
    "TrainingSettings",
    "multi_hot",
    "num_workers_for",
    "tag_vocabulary",
    "train_tagger",
]
