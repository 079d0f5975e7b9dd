"""The authors' log-mel front end: Kapre ``Melspectrogram`` (commit a3bde3e) on Theano.

Its semantics differ from our own front end (:class:`musictransfer.model.LogMelSpectrogram`)
in ways the released weights depend on; see :class:`KapreMelgram`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from musictransfer.constants import AMIN, DYNAMIC_RANGE_DB, HOP_LENGTH


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
