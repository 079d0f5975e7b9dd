"""The authors' pre-trained convnet (Keras 1.2.2 / Theano / Kapre a3bde3e) in PyTorch.

Choi et al. released the weights of their tagger as ``weights_theano.hdf5``. This package
imports them into :class:`musictransfer.model.ConvNet` (the same five blocks and dense
head as our own networks) after swapping two kinds of modules whose semantics differ:

- the front end becomes :class:`~musictransfer.choi2017_network.KapreMelgram`, which
  reproduces the old Kapre ``Melspectrogram`` exactly: the *stored* DFT kernels applied
  as a Theano true convolution (so the kernels are flipped in time, which delays every
  frame by one sample against a textbook STFT), Theano's 'half' padding of 256 samples
  at each end and the crop to ``ceil(n / 256)`` frames, ``re^2 + im^2``, the stored mel
  filterbank, ``10 log10(max(x, 1e-10))``, minus the maximum over the *whole batch
  tensor*, floored at -80 dB;
- every BatchNorm becomes :class:`~musictransfer.choi2017_network.Keras1BatchNorm`,
  Keras 1 ``BatchNormalization`` ``mode=2``: normalised with the mean and (biased)
  variance of the *current batch* over batch, frequency and time, epsilon 1e-3, even at
  inference. The stored running statistics are 0 and 1 and never used.

The 3x3 conv kernels are flipped on both spatial axes, because Theano convolves and
PyTorch cross-correlates.

Batch statistics make a clip's features depend on the other clips of its batch (and a
batch of one clip collapses: every channel is normalised over that clip alone). Three
statistics modes are offered (:data:`~musictransfer.constants.BN_MODES`):

``batch``
    Faithful: statistics of each batch of ``batch_size`` consecutive clips (the
    authors extracted with batches of
    :data:`~musictransfer.constants.AUTHORS_BATCH_SIZE` in dataset order).
``dataset``
    Consistent within a set: the statistics of the whole set being extracted, taken
    as if it were one batch (computed in a first pass, layer by layer), then frozen.
``reference``
    Consistent everywhere: statistics frozen from a reference set and shipped with the
    package (``data/choi2017_reference_stats.json``: the 14 recordings of librosa's
    example data, which anyone can download with ``librosa.example``; made with
    ``musictransfer choi2017-stats``). A single file gets sensible tags; this is the
    default of ``musictransfer extract`` and ``tag``.

Frozen statistics of a set S are exactly mode-2 statistics of S as one batch, so
``batch`` mode over a batch S and ``dataset`` mode over S give the same features.

Modules
-------
:mod:`~musictransfer.choi2017_network` (outside this package)
    The Kapre mel spectrogram, Keras 1 BatchNorm and the assembled network: model files
    (:mod:`musictransfer.modelfile`) rebuild it, and this package reads model files.
:mod:`~musictransfer.choi2017.stats`
    Frozen statistics: computing, freezing, the shipped reference.
:mod:`~musictransfer.choi2017.weights`
    Reading ``weights_theano.hdf5`` and importing it into a model file.
:mod:`~musictransfer.choi2017.api`
    :func:`load_pretrained`, extraction and tagging (what the commands call).
"""

from musictransfer.choi2017.api import extract, load_pretrained, tag_files, top_tags
from musictransfer.choi2017.stats import Statistics, compute_statistics, set_statistics

__all__ = [
    "Statistics",
    "compute_statistics",
    "extract",
    "load_pretrained",
    "set_statistics",
    "tag_files",
    "top_tags",
]
