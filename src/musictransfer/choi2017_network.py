"""The authors' network (choi2017) as PyTorch modules: Kapre's front end, Keras 1 BatchNorm.

The five 3x3 conv blocks and the dense head are :class:`musictransfer.model.ConvNet`'s;
:func:`build_choi2017` swaps the two kinds of modules whose semantics differ:

- the front end, :class:`KapreMelgram`: Kapre ``Melspectrogram`` (commit a3bde3e) on
  Theano, whose semantics differ from our own front end
  (:class:`musictransfer.model.LogMelSpectrogram`) in ways the released weights depend on;
- every BatchNorm, :class:`Keras1BatchNorm`: Keras 1 ``mode=2``, batch statistics even at
  inference, unless frozen ones are set (see :mod:`musictransfer.choi2017.stats`).

The network is defined here, beside :mod:`musictransfer.model` and below the
:mod:`musictransfer.choi2017` package, because model files
(:mod:`musictransfer.modelfile`) rebuild it, and that package's loading and extraction
(:mod:`musictransfer.choi2017.api`) read model files in turn.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from musictransfer.constants import (
    AMIN,
    BN_EPSILON,
    DYNAMIC_RANGE_DB,
    HOP_LENGTH,
    MSD_TAGS,
    N_CHANNELS,
    N_FFT,
    N_MELS,
    POOL_SIZES,
)
from musictransfer.model import ConvNet


class KapreMelgram(nn.Module):
    """The old Kapre ``Melspectrogram`` (commit a3bde3e) on Theano, exactly.

    Kapre computed the STFT as ``K.conv2d`` of the signal with the stored real and
    imaginary DFT kernels, stride 256, ``border_mode='same'``. Keras 1.2.2's Theano
    backend maps 'same' to Theano's 'half' padding (256 zeros at each end for a 512
    kernel), convolves (flips the kernel), and crops an even-sized kernel's output to
    ``ceil(n / hop)`` frames. The flip makes frame ``t`` the windowed DFT of samples
    ``256 t - 257 .. 256 t + 254``: one sample earlier than a centred STFT. The power
    ``re^2 + im^2`` is mapped through the stored filterbank and converted to decibels
    relative to the maximum over the *whole batch tensor* (Kapre's
    ``amplitude_to_decibel``), or to a frozen reference (:attr:`db_max`).

    Parameters
    ----------
    dft_real, dft_imag
        The stored kernels, ``(512, 1, 1, 257)`` (TensorFlow layout as Kapre kept them).
    filterbank
        The stored mel matrix, ``(257, 96)``.
    """

    def __init__(self, dft_real: Tensor, dft_imag: Tensor, filterbank: Tensor) -> None:
        super().__init__()
        # (512, 1, 1, 257) -> (257, 1, 512), flipped in time: a true convolution as
        # a cross-correlation.
        kernels = torch.cat([dft_real, dft_imag], dim=3)[:, 0, 0, :].T.flip(-1)
        self.register_buffer("kernels", kernels.unsqueeze(1).contiguous().float())
        self.register_buffer("filterbank", filterbank.float().contiguous())
        self.register_buffer("db_max", torch.tensor(float("nan")))
        self.n_fft = int(dft_real.shape[0])
        self.hop = HOP_LENGTH

    @property
    def frozen(self) -> bool:
        """Whether the dB reference is frozen (else the batch maximum is used)."""
        return not bool(torch.isnan(self.db_max))

    def decibels(self, waveform: Tensor) -> Tensor:
        """``(batch, samples)`` -> unreferenced dB mel power ``(batch, 1, 96, frames)``."""
        x = waveform.float().unsqueeze(1)
        pad = self.n_fft // 2  # Theano 'half' padding
        x = nn.functional.pad(x, (pad, pad))
        spec = nn.functional.conv1d(x, self.kernels, stride=self.hop)
        n_frames = -(-waveform.shape[-1] // self.hop)  # Keras crops to ceil(n / hop)
        spec = spec[..., :n_frames]
        n_freq = self.filterbank.shape[0]
        power = spec[:, :n_freq] ** 2 + spec[:, n_freq:] ** 2
        mel = torch.einsum("bft,fm->bmt", power, self.filterbank)
        return (10.0 * torch.log10(torch.clamp(mel, min=AMIN))).unsqueeze(1)

    def forward(self, waveform: Tensor) -> Tensor:
        """Map ``(batch, samples)`` to ``(batch, 1, 96, frames)`` dB in [-80, 0]."""
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            db = self.decibels(waveform)
            reference = self.db_max if self.frozen else db.amax()
            return torch.clamp(db - reference, min=-DYNAMIC_RANGE_DB)


class Keras1BatchNorm(nn.Module):
    """Keras 1 ``BatchNormalization(mode=2, axis=1)``, or its frozen-statistics variant.

    Mode 2 normalises every channel with the mean and biased variance of the current
    batch over (batch, frequency, time), in training *and* at inference:
    ``gamma (x - mean) / sqrt(var + eps) + beta``. When :attr:`mean` and :attr:`var`
    hold numbers (see :func:`musictransfer.choi2017.stats.set_statistics`) they are used
    instead, so that a clip's output no longer depends on its batch.
    """

    def __init__(self, n_channels: int, eps: float = BN_EPSILON) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n_channels))
        self.bias = nn.Parameter(torch.zeros(n_channels))
        self.register_buffer("mean", torch.full((n_channels,), float("nan")))
        self.register_buffer("var", torch.full((n_channels,), float("nan")))

    @property
    def frozen(self) -> bool:
        """Whether frozen statistics are set (else batch statistics are used)."""
        return not bool(torch.isnan(self.mean).any())

    def forward(self, x: Tensor) -> Tensor:
        """Normalise ``(batch, channels, freq, time)`` per channel."""
        if self.frozen:
            mean, var = self.mean, self.var
        else:
            var, mean = torch.var_mean(x, dim=(0, 2, 3), correction=0)
        scale = self.weight * torch.rsqrt(var + self.eps)
        shift = self.bias - mean * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]


def build_choi2017() -> ConvNet:
    """An un-initialised ConvNet with the Kapre front end and Keras 1 BatchNorm.

    The five blocks, pool sizes and the dense head are :class:`~musictransfer.model.ConvNet`'s;
    only the front end and the normalisation modules are swapped.
    """
    model = ConvNet(n_tags=len(MSD_TAGS), n_channels=N_CHANNELS, pool_sizes=POOL_SIZES)
    n_freq = N_FFT // 2 + 1
    zeros = torch.zeros(N_FFT, 1, 1, n_freq)
    model.frontend = KapreMelgram(zeros, zeros, torch.zeros(n_freq, N_MELS))
    for block in model.blocks:
        block.bn = Keras1BatchNorm(block.conv.out_channels)
    return model.eval()


def kapre_frontend(model: ConvNet) -> KapreMelgram:
    """The front end of a :func:`build_choi2017` network (a TypeError for any other)."""
    if not isinstance(model.frontend, KapreMelgram):
        raise TypeError("not a choi2017 model: build it with build_choi2017()")
    return model.frontend
