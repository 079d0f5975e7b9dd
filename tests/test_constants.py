"""Pin every number the paper and the authors' code fix (see constants.py)."""

from musictransfer import constants as c


def test_audio_constants():
    assert c.SAMPLE_RATE == 12_000
    assert c.CLIP_SECONDS == 29
    assert c.N_SAMPLES == 348_000
    assert c.MFCC_MIN_SAMPLES == 1024


def test_front_end_constants():
    assert (c.N_FFT, c.HOP_LENGTH, c.N_MELS) == (512, 256, 96)
    assert (c.F_MIN, c.F_MAX) == (0.0, 6000.0)
    assert c.N_FRAMES == 1360
    assert c.AMIN == 1e-10
    assert c.DYNAMIC_RANGE_DB == 80.0


def test_network_constants():
    assert c.N_LAYERS == 5
    assert c.N_CHANNELS == 32
    assert c.KERNEL_SIZE == 3
    assert c.POOL_SIZES == ((2, 4), (3, 4), (2, 5), (2, 4), (4, 4))
    assert c.BN_EPSILON == 1e-3
    assert c.FEATURE_DIM == 160


def test_pools_reduce_input_to_one_by_one():
    freq, time = c.N_MELS, c.N_FRAMES
    for pf, pt in c.POOL_SIZES:
        freq, time = freq // pf, time // pt
    assert (freq, time) == (1, 1)


def test_tags():
    assert len(c.MSD_TAGS) == 50
    assert len(set(c.MSD_TAGS)) == 50
    assert c.MSD_TAGS[:3] == ("rock", "pop", "alternative")
    assert c.MSD_TAGS[9] == "jazz"
    assert c.MSD_TAGS[-1] == "happy"


def test_mfcc_constants():
    assert c.N_MFCC == 20
    assert c.MFCC_DIM == 120


def test_combos():
    assert len(c.ALL_COMBOS) == 31
    assert c.ALL_COMBOS[:5] == ("1", "2", "3", "4", "5")
    assert c.ALL_COMBOS[-1] == "12345"
    assert "135" in c.ALL_COMBOS
    assert all(list(x) == sorted(x) for x in c.ALL_COMBOS)
    assert len(c.PAPER_COMBOS) == 28
    assert set(c.ALL_COMBOS) - set(c.PAPER_COMBOS) == {"1235", "1245", "1345"}
    assert c.MFCC_COMBOS == ("mfcc", "mfcc+12345")


def test_svm_grid():
    assert c.SVM_C == (0.1, 2.0, 8.0, 32.0)
    assert c.SVM_GAMMA == (1 / 8, 1 / 32, 1 / 128, 1 / 512, 1 / 2048, 1 / 8192, "auto")
    assert set(c.SVM_KERNELS) == {"rbf", "linear"}
    assert set(c.SCALING) == {True, False}
    assert c.N_FOLDS == 10
    assert c.GRID_SIZE == 64
