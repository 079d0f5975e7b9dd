"""The Lightning module: the ConvNet as a multi-label tagger, scored by macro AUC-ROC.

Binary cross-entropy on the logits and Adam, as in the paper; the validation macro AUC
(``val_auc``) is what the checkpoints and early stopping of :mod:`.run` follow.

In a distributed run each rank scores its share of the validation clips; the AUC is
computed once over all of them (torchmetrics gathers the predictions of every rank), with
every rank holding rank 0's BatchNorm statistics, which are the checkpoint's: so it is the
number a one-process evaluation of the checkpoint gives.
"""

from __future__ import annotations

import warnings

import lightning.pytorch as pl
import torch
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.classification import MultilabelAUROC

from musictransfer.model import ConvNet, init_he_normal
from musictransfer.training.data import scorable_counts, seed_epoch


class TagCounts(Metric):
    """Positive clips per tag and clips in all, summed over batches and ranks.

    Which tags are scorable (:func:`~.data.scorable_tags`) depends on the whole split,
    not on one rank's share of it.
    """

    full_state_update = False

    def __init__(self, n_tags: int) -> None:
        super().__init__()
        self.add_state("positives", default=torch.zeros(n_tags), dist_reduce_fx="sum")
        self.add_state("clips", default=torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, target: Tensor) -> None:
        """Count a batch's ``(n, n_tags)`` 0/1 targets."""
        self.positives += target.sum(dim=0).to(self.positives.dtype)
        self.clips += target.shape[0]

    def compute(self) -> Tensor:
        """The tags with at least one positive and one negative clip."""
        return scorable_counts(self.positives, self.clips)


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
        self.val_counts = TagCounts(len(self.tags))
        self.test_counts = TagCounts(len(self.tags))

    def forward(self, waveform: Tensor) -> Tensor:
        """Tag logits of a batch of waveforms."""
        return self.model(waveform)

    def on_train_epoch_start(self) -> None:
        """Seed dropout (and any other global draw) from (seed, epoch, rank): see "Resuming"."""
        seed_epoch(self.hparams.seed, self.current_epoch, self.global_rank)

    def _share_rank_zero_buffers(self) -> None:
        """Give every rank rank 0's BatchNorm statistics before an evaluation.

        Without synchronised BatchNorm (on the CPU) each rank's running statistics follow
        its own batches; rank 0's are the ones its checkpoint saves, so the ranks evaluate
        with those. (Weights are equal on every rank already: DDP averages gradients.)
        """
        if self.trainer.world_size > 1 and torch.distributed.is_initialized():
            for buffer in self.model.buffers():
                torch.distributed.broadcast(buffer, src=0)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """One optimisation step's loss."""
        waveform, target = batch
        loss = self.loss(self(waveform).float(), target)
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=len(target),
                 sync_dist=self.trainer.world_size > 1)  # fmt: skip
        return loss

    def _eval_step(self, stage: str, batch: tuple[Tensor, Tensor]) -> None:
        waveform, target = batch
        logits = self(waveform).float()
        distributed = self.trainer.world_size > 1
        self.log(f"{stage}_loss", self.loss(logits, target), batch_size=len(target),
                 sync_dist=distributed)  # fmt: skip
        metric = self.val_auroc if stage == "val" else self.test_auroc
        metric.update(torch.sigmoid(logits), target.int())
        (self.val_counts if stage == "val" else self.test_counts).update(target)

    def _eval_epoch_end(self, stage: str) -> None:
        metric = self.val_auroc if stage == "val" else self.test_auroc
        counts = self.val_counts if stage == "val" else self.test_counts
        if not metric.update_called:
            return
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No (positive|negative) samples")
            per_tag = metric.compute().float().cpu()
        scorable = counts.compute().cpu()
        auc = per_tag[scorable].mean() if scorable.any() else torch.tensor(float("nan"))
        # The same value on every rank (computed over all of them): nothing to reduce.
        self.log(f"{stage}_auc", auc, sync_dist=False)
        metric.reset()
        counts.reset()

    def on_validation_epoch_start(self) -> None:
        """Evaluate with the checkpoint's BatchNorm statistics on every rank."""
        self._share_rank_zero_buffers()

    def on_test_epoch_start(self) -> None:
        """Evaluate with the checkpoint's BatchNorm statistics on every rank."""
        self._share_rank_zero_buffers()

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
