"""The experiment's ``training:`` block as typed settings (:class:`TrainingSettings`).

The configuration's schema is the one home of every key's type, range and default
(``$defs/training`` in ``musictransfer/data/config.schema.yaml``); the settings are built
from the block as the schema validates and fills it, so nothing here restates either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from musictransfer.config import validated
from musictransfer.errors import ConfigError


@dataclass(frozen=True)
class TrainingSettings:
    """The experiment's ``training:`` block (defaults and ranges: the schema's).

    Attributes
    ----------
    seed
        Seeds the initial weights, and with the epoch number each epoch's shuffling and
        dropout (:func:`~musictransfer.training.data.epoch_seed`).
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
    devices
        Training processes per node (one per GPU).
    num_nodes
        Nodes of the training job.
    strategy
        ``auto`` or ``ddp`` (Lightning's strategy name).
    """

    seed: int
    max_epochs: int
    batch_size: int
    learning_rate: float
    early_stopping_patience: int
    dropout: float
    devices: int = 1
    num_nodes: int = 1
    strategy: str = "auto"

    @property
    def world_size(self) -> int:
        """Training processes in all: ``devices`` x ``num_nodes``."""
        return self.devices * self.num_nodes

    @property
    def distributed(self) -> bool:
        """Whether training runs DistributedDataParallel (several processes, or asked)."""
        return self.world_size > 1 or self.strategy == "ddp"

    @property
    def rank_batch_size(self) -> int:
        """Clips per step and process: the global batch split evenly between processes."""
        return self.batch_size // self.world_size

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any] | None) -> TrainingSettings:
        """Settings from a ``training`` mapping, checked by the schema, defaults filled.

        Raises
        ------
        ConfigError
            For an unknown key or a value of the wrong type or range, naming the key, or
            a ``batch_size`` that the processes cannot share evenly.
        """
        block = validated(dict(settings or {}), "training")
        out = cls(
            seed=int(block["seed"]),
            max_epochs=int(block["max_epochs"]),
            batch_size=int(block["batch_size"]),
            learning_rate=float(block["learning_rate"]),
            early_stopping_patience=int(block["early_stopping_patience"]),
            dropout=float(block["dropout"]),
            devices=int(block["devices"]),
            num_nodes=int(block["num_nodes"]),
            strategy=str(block["strategy"]),
        )
        if out.batch_size % out.world_size:
            raise ConfigError(
                f"training.batch_size {out.batch_size} cannot be split evenly between "
                f"{out.world_size} processes (devices {out.devices} x num_nodes "
                f"{out.num_nodes})",
                f"make training.batch_size a multiple of {out.world_size}: it is the global batch",
            )
        return out
