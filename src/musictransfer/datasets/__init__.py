"""Datasets: manifests of clips, the prepared-audio store, and the dataset sources.

- :mod:`musictransfer.datasets.manifest`: the manifest format every dataset is turned
  into (one row per clip: id, path, label(s), fold or split) and its validation.
- :mod:`musictransfer.datasets.store`: decoding a manifest's audio to 12 kHz mono and
  storing it for fast, memory-bounded reading (``prepare_audio``).
- :mod:`musictransfer.datasets.demo`: the synthetic demo corpus.
"""
