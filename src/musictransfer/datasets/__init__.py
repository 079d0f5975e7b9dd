"""Datasets: manifests of clips, the prepared-audio store, and the dataset sources.

- :mod:`musictransfer.datasets.manifest`: the manifest format every dataset is turned
  into (one row per clip: id, path, label(s), fold or split) and its validation.
- :mod:`musictransfer.datasets.store`: decoding a manifest's audio to 12 kHz mono and
  storing it for fast, memory-bounded reading (``prepare_audio``).
- :mod:`musictransfer.datasets.demo`: the synthetic demo corpus.
- :mod:`musictransfer.datasets.paper`: the authors' released files (registry, fetching,
  reading, converting into feature files).
- :mod:`musictransfer.datasets.protocols`: today's split files (registry, fetching) and
  the splits derived from them.

This ``__init__`` imports nothing: the Snakefile imports the two registries below it in
Snakemake's own environment.
"""

SOURCE_DATASETS: tuple[str, ...] = ("mtat", "msd")
"""The tagging sources of the registry, beside the six target datasets of
:data:`musictransfer.datasets.paper.RELEASED_DATASETS`: together, every name a
configuration's ``datasets`` may give without ``audio_dir`` (checked before anything
runs)."""
