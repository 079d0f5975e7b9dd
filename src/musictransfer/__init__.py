"""musictransfer: pre-trained convnet features for music (Choi et al., ISMIR 2017).

The package holds all the logic of the workflow; Snakemake rules only call its
command-line interface (:mod:`musictransfer.cli`). Modules by stage:

- :mod:`musictransfer.audio`: decoding, resampling, tiling to 29 s;
- :mod:`musictransfer.datasets`: manifests, the prepared-audio store, dataset sources;
- :mod:`musictransfer.model`: the convnet and its log-mel front end;
- :mod:`musictransfer.choi2017_network`: the authors' network (Kapre front end, Keras 1
  BatchNorm) on the same convnet;
- :mod:`musictransfer.modelfile`: model files (``.pt``), read and written without Lightning;
- :mod:`musictransfer.training`: the Lightning tagger training;
- :mod:`musictransfer.features`: the convnet feature and the MFCC baseline;
- :mod:`musictransfer.featurefile`: the feature-file format and layer combinations;
- :mod:`musictransfer.choi2017`: the authors' pre-trained convnet, ported;
- :mod:`musictransfer.hear`: our networks as HEAR 2021 modules (scene, timestamp and layer
  embeddings), for HEAR's runner and other benchmarks;
- :mod:`musictransfer.config`, :mod:`musictransfer.layout`: the configuration resolved to an
  Experiment (which cells, jobs and checks a run has) and where every file of a run lives;
- :mod:`musictransfer.evaluation`: the SVM grid search protocol;
- :mod:`musictransfer.protocols`: today's protocols (fixed splits, probes) beside the paper's;
- :mod:`musictransfer.scores_table`: the tidy score table of the evaluation cells;
- :mod:`musictransfer.published`: the published scores a task is compared with;
- :mod:`musictransfer.authors`, :mod:`musictransfer.protocols_report`: our scores beside the
  authors' result files, and today's protocols, as tables and report sections;
- :mod:`musictransfer.figures`: every figure;
- :mod:`musictransfer.report_markdown`: the Markdown report;
- :mod:`musictransfer.representations`, :mod:`musictransfer.imported_features`: your own
  representation (a HEAR module, or features computed elsewhere);
- :mod:`musictransfer.api`: :func:`evaluate_features` and :func:`probe_features`, the
  workflow's numbers for your features, from Python.

Which module may import which is fixed by the layers of ``tests/test_architecture.py``.
"""

__version__ = "0.2.0"


def __getattr__(name: str):
    """Lazy exports: ``musictransfer.load_pretrained`` without importing PyTorch up front."""
    if name == "load_pretrained":
        from musictransfer.choi2017 import load_pretrained  # lazy: PyTorch, 4 s, on first use

        return load_pretrained
    if name in ("evaluate_features", "probe_features"):
        from musictransfer import api  # lazy: scikit-learn and pandas, on first use

        return getattr(api, name)
    raise AttributeError(f"module 'musictransfer' has no attribute {name!r}")
