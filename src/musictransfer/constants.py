"""Every number the paper (and the authors' code) fixes, in one place.

Choi, Fazekas, Sandler and Cho, "Transfer learning for music classification and
regression tasks", ISMIR 2017. Where the paper's text and the authors' released code
disagree, the code wins, because the released features and weights were made by the
code; each such case is noted next to the constant. ``tests/test_constants.py`` pins
every value so that a change here is a deliberate, reviewed change.
"""

from __future__ import annotations

from itertools import combinations
from typing import Final

# --- Audio ---------------------------------------------------------------------------
SAMPLE_RATE: Final[int] = 12_000
"""Sampling rate of everything the network and the MFCC baseline see, in Hz."""

CLIP_SECONDS: Final[int] = 29
"""Clip duration fed to the convnet, in seconds (``librosa.load(..., duration=29)``)."""

N_SAMPLES: Final[int] = SAMPLE_RATE * CLIP_SECONDS
"""348,000 samples: the convnet's fixed input length. Shorter clips are tiled to it."""

INT16_SCALE: Final[float] = 32767.0
"""Full scale of the int16 samples of a prepared 12 kHz store: float = int16 / this."""

MFCC_MIN_SAMPLES: Final[int] = 1024
"""The authors zero-pad a signal only up to this many samples before computing MFCCs."""

# --- Log-mel front end ---------------------------------------------------------------
N_FFT: Final[int] = 512
HOP_LENGTH: Final[int] = 256
N_MELS: Final[int] = 96
F_MIN: Final[float] = 0.0
F_MAX: Final[float] = 6_000.0
"""Upper edge of the mel filterbank in Hz: the Nyquist frequency at 12 kHz."""

N_FRAMES: Final[int] = 1 + N_SAMPLES // HOP_LENGTH
"""1,360 frames: Kapre's 'same'-padded STFT of 348,000 samples with hop 256."""

AMIN: Final[float] = 1e-10
"""Floor of the power before ``10 * log10``, as in Kapre's ``amplitude_to_decibel``."""

DYNAMIC_RANGE_DB: Final[float] = 80.0
"""Decibels kept below the reference maximum; lower values are clipped."""

# --- Convnet ---------------------------------------------------------------------------
N_LAYERS: Final[int] = 5
N_CHANNELS: Final[int] = 32
KERNEL_SIZE: Final[int] = 3
POOL_SIZES: Final[tuple[tuple[int, int], ...]] = ((2, 4), (3, 4), (2, 5), (2, 4), (4, 4))
"""(frequency, time) max-pooling after each block, for 96 mel bins, from the authors'
code. The paper's Figure 1 caption lists (2,4),(4,4),(4,5),(2,4),(4,4), which is the
code's setting for >= 256 mel bins; with 96 bins only these sizes reach a 1 x 1 map."""

BN_EPSILON: Final[float] = 1e-3
"""Keras 1 BatchNormalization's default epsilon, used by our networks too."""

FEATURE_DIM: Final[int] = N_LAYERS * N_CHANNELS
"""160: the five layers' 32-channel averages, concatenated in layer order."""

AUTHORS_BATCH_SIZE: Final[int] = 256
"""Clips per batch in the authors' extraction (Keras ``predict_generator``): under their
BatchNorm "mode 2" each run of 256 consecutive clips was normalised by its own statistics,
so rows 256, 512, ... of a released table start a new batch."""

BN_MODES: Final[tuple[str, ...]] = ("batch", "dataset", "reference")
"""BatchNorm statistics of the authors' network at inference: ``batch`` (each batch's own,
as the authors extracted), ``dataset`` (all clips extracted, then frozen) and
``reference`` (frozen, from the 14 example recordings shipped with the package)."""

# --- Tagging source task -----------------------------------------------------------------
MSD_TAGS: Final[tuple[str, ...]] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance",
    "00s", "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists",
    "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s",
    "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal",
    "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
)  # fmt: skip
"""The 50 last.fm tags of the authors' tagger, in the order of its output units."""

# --- MFCC baseline -------------------------------------------------------------------
N_MFCC: Final[int] = 20
MFCC_DIM: Final[int] = N_MFCC * 3 * 2
"""120: mean and std of the MFCCs and of their first and second frame differences."""

# --- Layer combinations ----------------------------------------------------------------
ALL_COMBOS: Final[tuple[str, ...]] = tuple(
    "".join(str(layer) for layer in combo)
    for n in range(1, N_LAYERS + 1)
    for combo in combinations(range(1, N_LAYERS + 1), n)
)
"""The 31 layer combinations, named by their 1-based layer indices ('1', '12', '135', ...)."""

PAPER_COMBOS: Final[tuple[str, ...]] = tuple(
    c for c in ALL_COMBOS if len(c) <= 3 or c in ("1234", "2345", "12345")
)
"""The 28 combinations the paper reports: all 1-, 2- and 3-layer ones, 1234, 2345, 12345."""

MFCC_COMBOS: Final[tuple[str, ...]] = ("mfcc", "mfcc+12345")
"""Baselines: the MFCC vector alone, and MFCC concatenated before the five layers."""

SPLITS: Final[tuple[str, ...]] = ("train", "valid", "test")
"""The names of a fixed split's parts, in every manifest column and split file."""

# --- SVM protocol ----------------------------------------------------------------------
SVM_C: Final[tuple[float, ...]] = (0.1, 2.0, 8.0, 32.0)
SVM_GAMMA: Final[tuple[float | str, ...]] = (2**-3, 2**-5, 2**-7, 2**-9, 2**-11, 2**-13, "auto")
"""RBF bandwidths; 'auto' is 1 / n_features, the paper's 1/N_f."""

SVM_KERNELS: Final[tuple[str, ...]] = ("rbf", "linear")
SCALING: Final[tuple[bool, ...]] = (True, False)
"""Standardisation (mean and std) on or off is itself a grid parameter."""

N_FOLDS: Final[int] = 10
"""``cv=10`` in the authors' GridSearchCV: StratifiedKFold / KFold without shuffling."""

GRID_SIZE: Final[int] = len(SCALING) * len(SVM_C) * (len(SVM_GAMMA) + 1)
"""64 settings: 2 scalings x 4 C x (7 gammas + the linear kernel)."""

EVALUATION_METHODS: Final[tuple[str, ...]] = ("fast", "sklearn")
"""How a cell's grid is searched (:func:`musictransfer.evaluation.evaluate_cell`): our fast
search of the same grid, or plain ``GridSearchCV``. Declared here, not beside the search,
so that the command line offers them without importing scikit-learn."""
