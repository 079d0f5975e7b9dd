"""The paper's convnet: a log-mel front end and five 3x3 conv blocks, in PyTorch.

Input is a batch of raw waveforms, 29 s at 12 kHz (348,000 samples). The front end
computes a 96-bin log-mel spectrogram on the model's device (96 x 1,360), and each of
the five blocks is conv 3x3 (32 channels) -> BatchNorm -> ELU -> max-pool, with the
authors' pool sizes for 96 mel bins, so that the fifth block's map is 1 x 1. A dense
layer with a sigmoid (applied in the loss) predicts the tags.

The *convnet feature* of a clip is each block's output, after its max-pooling, averaged
over the remaining frequency x time map: 5 x 32 values, concatenated in layer order.

Our own networks use ordinary BatchNorm (running statistics at inference) and a dB
scale referenced to each clip's own maximum, so a clip's features never depend on the
other clips of its batch. The authors' Keras 1 network did depend on the batch (batch
statistics at inference, batch-global dB reference); reproducing that is the concern of
:mod:`musictransfer.choi2017`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
import torchaudio
from torch import Tensor, nn

from musictransfer.constants import (
    AMIN,
    BN_EPSILON,
    DYNAMIC_RANGE_DB,
    F_MAX,
    F_MIN,
    HOP_LENGTH,
    INT16_SCALE,
    KERNEL_SIZE,
    N_CHANNELS,
    N_FFT,
    N_MELS,
    POOL_SIZES,
    SAMPLE_RATE,
)


@contextlib.contextmanager
def ieee_float32() -> Iterator[None]:
    """Run CUDA float32 convolutions and matrix products in full IEEE precision.

    On Ampere and later GPUs cuDNN computes float32 convolutions in TF32 by default (a
    10-bit mantissa), so features extracted on a GPU would differ from the CPU's by
    about 1e-3 relative, and a dataset's SVM scores would depend on which machine
    extracted it. Extraction costs little next to training, so it runs exact; training
    keeps its mixed precision. Usable as a decorator; restores the previous settings.
    """
    conv, matmul = torch.backends.cudnn.conv, torch.backends.cuda.matmul
    saved = conv.fp32_precision, matmul.fp32_precision
    conv.fp32_precision = matmul.fp32_precision = "ieee"
    try:
        yield
    finally:
        conv.fp32_precision, matmul.fp32_precision = saved


@contextlib.contextmanager
def thread_independent_training() -> Iterator[None]:
    """Train on the CPU with PyTorch's own convolution kernels rather than oneDNN's.

    oneDNN's convolution backward divides its weight-gradient sums between threads on
    some CPUs (seen on AVX-512 ones), so one training step gives other bits with another
    number of threads, and a tagger trained under ``--cores 8`` would differ from one
    trained under ``--cores 2``, and with it every feature and score downstream.
    PyTorch's native kernels sum in one order whatever the threads, at some cost in
    speed on the CPU (``perf/bench_training.py --variants`` measures it). Forward passes
    give the same bits on any number of threads with either, so extraction keeps oneDNN;
    CUDA does not use oneDNN. Restores the previous setting.
    """
    saved = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = saved


def network_input(batch: Tensor) -> Tensor:
    """A batch of clips as the network takes them: float32 in [-1, 1].

    Clips still as a prepared store keeps them (int16) become float32 by the store's own
    division (:data:`INT16_SCALE`, one correctly rounded operation), so the result has
    the bits of :meth:`~musictransfer.datasets.store.PreparedDataset.convnet_input` on any
    device; float clips are passed on as float32.
    """
    if batch.dtype == torch.int16:
        return batch.to(torch.float32) / INT16_SCALE
    return batch.to(torch.float32)


def device_batch(rows: np.ndarray, device: torch.device) -> Tensor:
    """Stacked clips (int16 as stored, or float) as the network's input on ``device``.

    int16 clips cross to the device as int16, half the bytes of float32, and are
    converted there (:func:`network_input`); to a GPU the copy is made from page-locked
    memory without waiting, so that it overlaps the work already queued.
    """
    host = torch.from_numpy(np.ascontiguousarray(rows))
    pin = device.type == "cuda"
    return network_input((host.pin_memory() if pin else host).to(device, non_blocking=pin))


class LogMelSpectrogram(nn.Module):
    """Waveform -> decibel mel spectrogram referenced to each clip's maximum.

    A power (``|STFT|^2``) mel spectrogram with a periodic Hann window, 'same' framing
    (zero padding of ``n_fft // 2`` at both ends, giving ``1 + n // hop`` frames) and
    librosa's Slaney mel filterbank, converted to dB as ``10 log10(max(x, 1e-10))``,
    minus the clip's maximum, floored at -80 dB. Always computed in float32, also under
    mixed precision, because the dB conversion loses its range in half precision.
    """

    def __init__(self) -> None:
        super().__init__()
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=SAMPLE_RATE,
            n_fft=N_FFT,
            win_length=N_FFT,
            hop_length=HOP_LENGTH,
            f_min=F_MIN,
            f_max=F_MAX,
            n_mels=N_MELS,
            window_fn=torch.hann_window,
            power=2.0,
            center=True,
            pad_mode="constant",
            norm="slaney",
            mel_scale="slaney",
        )

    def forward(self, waveform: Tensor) -> Tensor:
        """Map ``(batch, samples)`` to ``(batch, 1, n_mels, frames)`` in dB (<= 0)."""
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            power = self.mel(waveform.float())
            db = 10.0 * torch.log10(torch.clamp(power, min=AMIN))
            db = db - db.amax(dim=(-2, -1), keepdim=True)
            db = torch.clamp(db, min=-DYNAMIC_RANGE_DB)
        return db.unsqueeze(1)


class ConvBlock(nn.Module):
    """Conv 3x3 ('same') -> BatchNorm -> ELU -> max-pool."""

    def __init__(self, in_channels: int, out_channels: int, pool: tuple[int, int]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, KERNEL_SIZE, padding=KERNEL_SIZE // 2)
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPSILON)
        self.act = nn.ELU()
        self.pool = nn.MaxPool2d(pool)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block to ``(batch, channels, freq, time)``."""
        return self.pool(self.act(self.bn(self.conv(x))))


class ConvNet(nn.Module):
    """The tagging convnet of Choi et al. (2017) and its multi-layer feature.

    Parameters
    ----------
    n_tags
        Output units of the tagging head (50 for the paper's MSD tags).
    n_channels
        Channels of every conv layer (32 in the paper).
    pool_sizes
        (frequency, time) max-pooling after each block.
    dropout
        Dropout before the dense layer during training (0 disables it).
    """

    def __init__(
        self,
        n_tags: int = 50,
        n_channels: int = N_CHANNELS,
        pool_sizes: tuple[tuple[int, int], ...] = POOL_SIZES,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.frontend = LogMelSpectrogram()
        channels = [1] + [n_channels] * len(pool_sizes)
        self.blocks = nn.ModuleList(
            ConvBlock(c_in, c_out, pool)
            for c_in, c_out, pool in zip(channels[:-1], channels[1:], pool_sizes, strict=True)
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(n_channels, n_tags)

    def block_outputs(self, waveform: Tensor) -> list[Tensor]:
        """Each block's output after its max-pooling, for ``(batch, samples)`` input."""
        x = self.frontend(waveform)
        outputs = []
        for block in self.blocks:
            x = block(x)
            outputs.append(x)
        return outputs

    def forward(self, waveform: Tensor) -> Tensor:
        """Tag logits ``(batch, n_tags)``; apply a sigmoid for probabilities."""
        last = self.block_outputs(waveform)[-1]
        return self.head(self.dropout(last.mean(dim=(-2, -1))))

    def layer_features(self, waveform: Tensor) -> Tensor:
        """The convnet feature: ``(batch, n_layers * n_channels)``, layers 1..5 in order.

        Each block's post-pooling map is averaged over frequency and time (the fifth is
        already 1 x 1), as the authors' extraction code does.
        """
        return torch.cat([out.mean(dim=(-2, -1)) for out in self.block_outputs(waveform)], dim=1)


def init_he_normal(model: nn.Module, seed: int) -> nn.Module:
    """Re-initialise weights as the paper's random convnet: He-normal, seeded.

    Conv and dense weights are drawn from N(0, 2 / fan_in) (Keras' ``he_normal``, He et
    al. 2015), biases are zero, and BatchNorm is the identity (gamma 1, beta 0, running
    mean 0, variance 1). The seed makes the random network reproducible across runs.
    """
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            fan_in = module.weight[0].numel()
            std = (2.0 / fan_in) ** 0.5
            with torch.no_grad():
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * std)
                if module.bias is not None:
                    module.bias.zero_()
        elif isinstance(module, nn.BatchNorm2d):
            module.reset_parameters()
    return model
