"""Published scores a task is compared with: :class:`PublishedScore` and its parser.

A published score is what the paper (or later work) reports for a task. The configuration
gives it per task (``published_score``, ``published_combo``, ``published_label``,
``published_scores``); the rules pass the experiment's published scores to the figure and
report jobs as one JSON mapping ``{task: number | {score, combo, label, scores}}``, which
:func:`parse_published` reads back:

``score``
    The published score.
``combo``
    The combination the number was obtained with; absent, None or ``'best'`` means the
    best combination.
``label``
    A short text for the legend (default ``'published'``).
``scores``
    Further published scores by combination (e.g. the paper's MFCC baseline).

Standard library only: the configuration, which the Snakefile imports in Snakemake's own
environment, builds its published scores with this class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PublishedScore:
    """A task's published score, as the figures and the report compare with it.

    The configuration keeps the values as written (``combo`` None where the config gives
    none): the rules pass them to jobs as parameters, and a value written differently
    would rerun the jobs. :func:`parse_published` normalises what the jobs receive.
    """

    score: float
    combo: str | None = None
    label: str = "published"
    scores: Mapping[str, float] = field(default_factory=dict)


def parse_published(published: Mapping[str, Any] | None) -> dict[str, PublishedScore]:
    """Normalise ``{task: number | {score, combo, label, scores}}`` to :class:`PublishedScore`."""
    out: dict[str, PublishedScore] = {}
    for task, value in (published or {}).items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            if value.get("score") is None:
                continue
            combo = value.get("combo")
            out[task] = PublishedScore(
                score=float(value["score"]),
                combo=None if combo in (None, "best") else str(combo),
                label=str(value.get("label") or "published"),
                scores={str(k): float(v) for k, v in (value.get("scores") or {}).items()},
            )
        else:
            out[task] = PublishedScore(score=float(value))
    return out
