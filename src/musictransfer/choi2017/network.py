"""The authors' network: our ConvNet with the Kapre front end and Keras 1 BatchNorm.

The five 3x3 conv blocks and the dense head are :class:`musictransfer.model.ConvNet`'s;
the two kinds of modules whose semantics differ are swapped: the front end
(:class:`~musictransfer.choi2017.frontend.KapreMelgram`) and every BatchNorm
(:class:`Keras1BatchNorm`, Keras 1 ``mode=2``: batch statistics even at inference, unless
frozen ones are set, see :mod:`musictransfer.choi2017.stats`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from musictransfer.choi2017.frontend import KapreMelgram
from musictransfer.constants import BN_EPSILON, MSD_TAGS, N_CHANNELS, N_FFT, N_MELS, POOL_SIZES
from musictransfer.model import ConvNet


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
