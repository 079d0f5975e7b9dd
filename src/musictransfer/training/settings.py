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
    """

    seed: int
    max_epochs: int
    batch_size: int
    learning_rate: float
    early_stopping_patience: int
    dropout: float

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any] | None) -> TrainingSettings:
        """Settings from a ``training`` mapping, checked by the schema, defaults filled.

        Raises
        ------
        ConfigError
            For an unknown key or a value of the wrong type or range, naming the key.
        """
        block = validated(dict(settings or {}), "training")
        return cls(
            seed=int(block["seed"]),
            max_epochs=int(block["max_epochs"]),
            batch_size=int(block["batch_size"]),
            learning_rate=float(block["learning_rate"]),
            early_stopping_patience=int(block["early_stopping_patience"]),
            dropout=float(block["dropout"]),
        )
