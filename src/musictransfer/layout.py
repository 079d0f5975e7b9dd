"""Where every file of a run lives: the one declaration of the results layout.

The rules name their inputs and outputs through :class:`Layout` (called with wildcard
placeholders such as ``"{dataset}"``), the input functions through the same methods with
values, and the package's readers through the file names here, so a path is written once.
Standard library only: the Snakefile imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MANIFEST_FILE = "manifest.csv"
"""A prepared dataset's manifest, beside its audio (:mod:`musictransfer.datasets.store`)."""
AUDIO_FILE = "audio.npy"
"""A prepared dataset's audio: one int16 row of samples per clip, memory-mapped."""
SHARD_FILE = "shard.json"
"""A shard's record, beside its audio: its rows, the manifest and code it was made from."""
SHARD_PLAN_FILE = "shards.json"
"""A sharded store's plan: how many clips, how many per shard, the shards' names."""


def shard_name(index: int) -> str:
    """The folder of shard ``index`` of a prepared store (zero-padded: sorts in order)."""
    return f"shard-{index:05d}"


@dataclass(frozen=True)
class Layout:
    """The paths of one experiment's run, below ``root`` (``results/<experiment>``).

    Real datasets are shared by all experiments, below ``data`` (``data/``).
    """

    root: Path
    data: Path

    def _at(self, *parts: str) -> str:
        return str(Path(self.root, *parts))

    # --- audio and labels --------------------------------------------------------------
    def demo_manifest(self, dataset: str) -> str:
        """A demo dataset's raw WAV files' manifest (generate_demo)."""
        return self._at("raw", dataset, MANIFEST_FILE)

    def download_receipt(self, dataset: str) -> str:
        """A real dataset's receipt: where it was unpacked, and from what (download)."""
        return str(self.data / dataset / "dataset.json")

    def real_manifest(self, dataset: str) -> str:
        """A real dataset's manifest (dataset_manifest)."""
        return self._at("manifests", f"{dataset}.csv")

    def prepared_dir(self, dataset: str) -> str:
        """A dataset's prepared store: 12 kHz mono int16 audio and its manifest."""
        return self._at("prepared", dataset)

    def prepared_manifest(self, dataset: str) -> str:
        """A prepared dataset's manifest: ids, labels, folds, splits, durations."""
        return self._at("prepared", dataset, MANIFEST_FILE)

    def prepared_audio(self, dataset: str) -> str:
        """A prepared dataset's audio (:data:`AUDIO_FILE`)."""
        return self._at("prepared", dataset, AUDIO_FILE)

    def decoded_dir(self, dataset: str, rate: str) -> str:
        """A dataset decoded whole at ``rate`` Hz, float32, for the representations of that rate."""
        return self._at("decoded", dataset, f"{rate}hz")

    def decoded_manifest(self, dataset: str, rate: str) -> str:
        """A decoded dataset's manifest (ids, offsets, lengths, ``sample_rate``)."""
        return self._at("decoded", dataset, f"{rate}hz", MANIFEST_FILE)

    def decoded_audio(self, dataset: str, rate: str) -> str:
        """A decoded dataset's samples (:data:`AUDIO_FILE`, float32)."""
        return self._at("decoded", dataset, f"{rate}hz", AUDIO_FILE)

    def shard_plan(self, dataset: str) -> str:
        """A sharded store's plan (:data:`SHARD_PLAN_FILE`; config ``shard_clips``)."""
        return self._at("prepared", dataset, SHARD_PLAN_FILE)

    def shard_audio(self, dataset: str, shard: str) -> str:
        """One shard's audio; ``shard`` is its folder name (:func:`shard_name`)."""
        return self._at("prepared", dataset, shard, AUDIO_FILE)

    def shard_manifest(self, dataset: str, shard: str) -> str:
        """One shard's manifest (its rows, with offsets into its own audio)."""
        return self._at("prepared", dataset, shard, MANIFEST_FILE)

    def released_labels(self, dataset: str) -> str:
        """The labels manifest of the authors' released features (import_paper_features)."""
        return self._at("labels", f"{dataset}.csv")

    # --- models and features -----------------------------------------------------------
    def model(self, name: str) -> str:
        """A network: ``random``, ``tagger-<source>`` or ``choi2017`` (the authors')."""
        return self._at("models", f"{name}.pt")

    def training_metrics(self, source: str) -> str:
        """A tagger's validation and test AUC (train_tagger)."""
        return self._at("models", f"tagger-{source}.metrics.json")

    def checkpoints(self, source: str) -> str:
        """A tagger's Lightning checkpoints (not a declared output: a retry resumes here)."""
        return self._at("checkpoints", f"tagger-{source}")

    def features(self, extractor: str, dataset: str) -> str:
        """Features extracted here from the prepared audio."""
        return self._at("features", extractor, f"{dataset}.npz")

    def released_features(self, kind: str, dataset: str) -> str:
        """The authors' released features as a feature file (``kind``: choi2017 or mfcc)."""
        return self._at("released", kind, f"{dataset}.npz")

    # --- evaluation --------------------------------------------------------------------
    def check(self, task: str) -> str:
        """check_task's summary of a task's labels, folds and splits."""
        return self._at("checks", f"{task}.json")

    def cell(self, task: str, extractor: str, combo: str) -> str:
        """One cell's file: the whole SVM grid of (task, extractor, combination)."""
        return self._at("scores", task, extractor, f"{combo}.json")

    def fold_part(self, task: str, extractor: str, combo: str, part: str) -> str:
        """One part of a cell's folds (config fold_jobs > 1; temporary)."""
        return self._at("fold_parts", task, extractor, combo, f"{part}.json")

    def split(self, task: str) -> str:
        """A task's fixed split (id, split) for today's protocols."""
        return self._at("splits", f"{task}.csv")

    def probe(self, task: str, extractor: str, combo: str, kind: str) -> str:
        """One probe of today's protocols on a cell's features."""
        return self._at("probes", task, extractor, combo, f"{kind}.json")

    # --- downloads ---------------------------------------------------------------------
    def paper_file(self, path: str) -> str:
        """One of the authors' released files, by its path in their repository."""
        return self._at("downloads", "paper", path)

    def protocol_file(self, name: str) -> str:
        """One of today's split files."""
        return self._at("downloads", "protocols", name)

    # --- tables, figures, report ---------------------------------------------------------
    def table(self, name: str) -> str:
        """A table of the run: scores, authors, protocols, batch_boundary, ..."""
        return self._at("tables", f"{name}.csv")

    def figure(self, name: str) -> str:
        """A figure of the run: one per task, summary, authors, protocols, ..."""
        return self._at("figures", f"{name}.png")

    def report(self) -> str:
        """The Markdown report."""
        return self._at("report.md")

    # --- logs and benchmarks -----------------------------------------------------------
    def log(self, rule: str, *parts: str) -> str:
        """``logs/<rule>/<parts>.log`` (``logs/<rule>.log`` for a rule without wildcards)."""
        return self._at(
            "logs", *((rule, *parts[:-1], f"{parts[-1]}.log") if parts else (f"{rule}.log",))
        )

    def benchmark(self, rule: str, *parts: str) -> str:
        """Snakemake's per-job timing (``benchmark:``), laid out like the logs."""
        return self._at(
            "benchmarks", *((rule, *parts[:-1], f"{parts[-1]}.tsv") if parts else (f"{rule}.tsv",))
        )
