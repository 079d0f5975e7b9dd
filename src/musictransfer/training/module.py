"""The Lightning module: the ConvNet as a multi-label tagger, scored by macro AUC-ROC.

Binary cross-entropy on the logits and Adam, as in the paper; the validation macro AUC
(``val_auc``) is what the checkpoints and early stopping of :mod:`.run` follow.
"""

from __future__ import annotations

import warnings

import lightning.pytorch as pl
import torch
from torch import Tensor, nn
from torchmetrics.classification import MultilabelAUROC

from musictransfer.model import ConvNet, init_he_normal
from musictransfer.training.data import scorable_tags, seed_epoch


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
        scorable = scorable_tags(torch.cat(self._targets[stage]))
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
