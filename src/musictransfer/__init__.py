"""musictransfer: pre-trained convnet features for music (Choi et al., ISMIR 2017).

The package holds all the logic of the workflow; Snakemake rules only call its
command-line interface (:mod:`musictransfer.cli`). Modules by stage:

- :mod:`musictransfer.audio`: decoding, resampling, tiling to 29 s;
- :mod:`musictransfer.datasets`: manifests, the prepared-audio store, dataset sources;
- :mod:`musictransfer.model`: the convnet and its log-mel front end;
- :mod:`musictransfer.modelfile`: model files (``.pt``), read and written without Lightning;
- :mod:`musictransfer.training`: the Lightning tagger training;
- :mod:`musictransfer.features`: the convnet feature and the MFCC baseline;
- :mod:`musictransfer.featurefile`: the feature-file format and layer combinations;
- :mod:`musictransfer.choi2017`: the authors' pre-trained convnet, ported;
- :mod:`musictransfer.evaluation`: the SVM grid search protocol;
- :mod:`musictransfer.reporting`: score tables, figures and the report.
"""

__version__ = "0.2.0"


def __getattr__(name: str):
    """Lazy exports: ``musictransfer.load_pretrained`` without importing PyTorch up front."""
    if name == "load_pretrained":
        from musictransfer.choi2017 import load_pretrained

        return load_pretrained
    raise AttributeError(f"module 'musictransfer' has no attribute {name!r}")
