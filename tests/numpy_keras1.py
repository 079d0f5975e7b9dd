"""An independent NumPy forward pass of the authors' Keras 1.2.2 / Theano / Kapre network.

Written from the semantics of the original libraries, not from the PyTorch port (it
shares no code with ``musictransfer.choi2017``), in float64, to check the port:

- Kapre a3bde3e ``Melspectrogram``: ``K.conv2d`` of the signal (as a ``(len, 1)``
  image) with the stored ``(512, 1, 1, 257)`` DFT kernels, stride 256,
  ``border_mode='same'``. Keras 1.2.2's Theano backend turns 'same' into Theano's 'half'
  padding (``kernel // 2`` zeros at both ends), calls ``T.nnet.conv2d`` (a true
  convolution: the kernel is flipped) and, the kernel being even, keeps the first
  ``ceil(len / stride)`` outputs. Power ``re^2 + im^2``, ``dot`` with the stored
  ``(257, 96)`` filterbank, ``10 log10(max(x, 1e-10))``, minus ``K.max`` of the whole
  tensor, ``max(., -80)``.
- ``Convolution2D(32, 3, 3, border_mode='same')``: 'half' padding of 1, true
  convolution with the ``(32, in, 3, 3)`` kernel, plus bias.
- ``BatchNormalization(axis=1, mode=2)``: mean and biased variance over axes (0, 2, 3)
  of the current batch, ``gamma (x - mean) / sqrt(var + 1e-3) + beta``.
- ``ELU(alpha=1)``, ``MaxPooling2D`` ('valid': trailing rows/columns that do not fill a
  window are dropped), global average, ``Dense(50, sigmoid)``.

A true convolution is written here literally, as a sum over kernel taps with the tap
index reversed (``x[i + m] * w[M - 1 - m]``), not by flipping the kernel array.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

POOLS = [(2, 4), (3, 4), (2, 5), (2, 4), (4, 4)]
EPS = 1e-3


def read_weights(path: str | Path) -> dict[str, np.ndarray]:
    """All arrays of the Keras 1 weight file, float64, by ``group/name``."""
    out = {}
    with h5py.File(path, "r") as f:
        for group in f:
            for name in f[group]:
                out[f"{group}/{name}"] = np.asarray(f[group][name], dtype=np.float64)
    return out


def melgram_db_unreferenced(signals: np.ndarray, w: dict[str, np.ndarray]) -> np.ndarray:
    """(batch, len) -> (batch, 96, frames) dB, before subtracting the batch maximum."""
    real = w["melgram/param_0"][:, 0, 0, :]  # (512 taps, 257)
    imag = w["melgram/param_1"][:, 0, 0, :]
    n_taps = real.shape[0]
    hop = 256
    pad = n_taps // 2
    x = np.pad(np.asarray(signals, dtype=np.float64), ((0, 0), (pad, pad)))
    frames = sliding_window_view(x, n_taps, axis=1)[:, ::hop, :]  # (b, T, 512)
    n_keep = -(-signals.shape[1] // hop)
    frames = frames[:, :n_keep, :]
    # true convolution: output[t] = sum_m x[t*hop + m] * kernel[n_taps - 1 - m]
    rev = np.arange(n_taps - 1, -1, -1)
    re = frames @ real[rev]
    im = frames @ imag[rev]
    power = re**2 + im**2  # (b, T, 257)
    mel = power @ w["melgram/param_2"]  # (b, T, 96)
    db = 10.0 * np.log10(np.maximum(mel, 1e-10))
    return db.transpose(0, 2, 1)


def conv_same_true(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Theano 'half' true 2-D convolution: (b, c, h, w) * (o, c, 3, 3) -> (b, o, h, w)."""
    kh, kw = kernel.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
    win = sliding_window_view(xp, (kh, kw), axis=(2, 3))  # (b, c, h, w, kh, kw)
    rev_h = np.arange(kh - 1, -1, -1)
    rev_w = np.arange(kw - 1, -1, -1)
    k = kernel[:, :, rev_h][:, :, :, rev_w]  # tap (m, n) pairs with kernel (M-1-m, N-1-n)
    b, c, h, wd = x.shape
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(b * h * wd, c * kh * kw)
    out = cols @ k.reshape(k.shape[0], -1).T + bias
    return out.reshape(b, h, wd, -1).transpose(0, 3, 1, 2)


def max_pool_valid(x: np.ndarray, pool: tuple[int, int]) -> np.ndarray:
    """Non-overlapping max pooling, dropping incomplete windows."""
    ph, pw = pool
    b, c, h, w = x.shape
    x = x[:, :, : h // ph * ph, : w // pw * pw]
    return x.reshape(b, c, h // ph, ph, w // pw, pw).max(axis=(3, 5))


def elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def forward(
    signals: np.ndarray,
    w: dict[str, np.ndarray],
    frozen: dict | None = None,
) -> dict:
    """The network on a batch; batch statistics unless ``frozen`` gives them.

    Returns the five block outputs' global averages ('features', (b, 160)), the tag
    probabilities ('probs', (b, 50)), the statistics used ('db_max', 'mean', 'var'),
    and the referenced dB melgram ('melgram').
    """
    db = melgram_db_unreferenced(signals, w)
    db_max = db.max() if frozen is None else frozen["db_max"]
    x = np.maximum(db - db_max, -80.0)[:, None]
    out = {"melgram": x, "db_max": db_max, "mean": [], "var": []}
    feats = []
    for k in range(5):
        x = conv_same_true(
            x, w[f"ConvBNEluDr/convolution2d_{k + 1}_W"], w[f"ConvBNEluDr/convolution2d_{k + 1}_b"]
        )
        if frozen is None:
            mean = x.mean(axis=(0, 2, 3))
            var = x.var(axis=(0, 2, 3))
        else:
            mean, var = frozen["mean"][k], frozen["var"][k]
        out["mean"].append(mean)
        out["var"].append(var)
        gamma = w[f"ConvBNEluDr/batchnormalization_{k + 1}_gamma"]
        beta = w[f"ConvBNEluDr/batchnormalization_{k + 1}_beta"]
        x = (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + EPS)
        x = gamma[None, :, None, None] * x + beta[None, :, None, None]
        x = max_pool_valid(elu(x), POOLS[k])
        feats.append(x.mean(axis=(2, 3)))
    logits = feats[-1] @ w["dense_1/dense_1_W"] + w["dense_1/dense_1_b"]
    out["features"] = np.concatenate(feats, axis=1)
    out["probs"] = 1.0 / (1.0 + np.exp(-logits))
    out["mean"] = np.stack(out["mean"])
    out["var"] = np.stack(out["var"])
    return out
