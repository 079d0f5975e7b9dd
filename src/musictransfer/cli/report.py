"""Commands that turn cell results into the score table, figures and the report."""

from __future__ import annotations

import argparse
from pathlib import Path

from musictransfer.cli.common import add_command, json_arg


def cmd_aggregate(args: argparse.Namespace) -> None:
    """Collect cell JSON files into the tidy score table."""
    from musictransfer.scores_table import aggregate_scores

    aggregate_scores(args.cells, args.out)


def add_aggregate_parser(sub: argparse._SubParsersAction) -> None:
    """``aggregate CELLS... -o CSV``."""
    p = add_command(sub, "aggregate", cmd_aggregate, "collect cell JSON files into scores.csv")
    p.add_argument("cells", nargs="+", type=Path)
    p.add_argument("-o", "--out", required=True, type=Path)


def cmd_plot(args: argparse.Namespace) -> None:
    """Draw the per-task and summary figures from the score table."""
    from musictransfer.figures import plot_scores

    plot_scores(args.scores, args.out_dir, tasks=args.tasks, published=args.published)


def add_plot_parser(sub: argparse._SubParsersAction) -> None:
    """``plot SCORES --out-dir D [--tasks T...] [--published JSON]``."""
    p = add_command(sub, "plot", cmd_plot, "figures from scores.csv")
    p.add_argument("scores", type=Path)
    p.add_argument("--out-dir", required=True, type=Path)
    p.add_argument("--tasks", nargs="*", default=None)
    p.add_argument("--published", type=json_arg, default={}, help="task -> published score")


def cmd_report(args: argparse.Namespace) -> None:
    """Write the Markdown report."""
    from musictransfer.report_markdown import write_report

    write_report(
        args.scores,
        args.figures_dir,
        args.out,
        experiment=args.experiment,
        extra=args.extra,
        published=args.published,
        tasks=args.tasks,
        authors=args.authors,
        protocols=args.protocols,
        protocols_paired=args.protocols_paired,
        batch_boundary=args.batch_boundary,
        representations=args.representations,
    )


def add_report_parser(sub: argparse._SubParsersAction) -> None:
    """``report SCORES --figures-dir D -o MD --experiment NAME``."""
    p = add_command(sub, "report", cmd_report, "Markdown report from scores.csv and figures")
    p.add_argument("scores", type=Path)
    p.add_argument("--figures-dir", required=True, type=Path)
    p.add_argument("-o", "--out", required=True, type=Path)
    p.add_argument("--experiment", required=True)
    p.add_argument("--extra", type=json_arg, default={}, help="extra facts to report (JSON)")
    p.add_argument("--published", type=json_arg, default={}, help="task -> published (JSON)")
    p.add_argument("--tasks", nargs="*", default=None, help="tasks, in report order")
    p.add_argument("--authors", type=Path, help="tables/authors.csv: compare with their results")
    p.add_argument("--protocols", type=Path, help="tables/protocols.csv: today's protocols")
    p.add_argument("--protocols-paired", type=Path, help="tables/protocols_paired.csv")
    p.add_argument("--batch-boundary", type=Path, help="tables/batch_boundary.csv")
    p.add_argument(
        "--representations",
        nargs="*",
        type=Path,
        default=[],
        help="a feature file of each representation brought by the user (what made it)",
    )


def cmd_compare_authors(args: argparse.Namespace) -> None:
    """Our scores beside the authors' per-cell result files: a table and a figure."""
    from musictransfer.authors import compare_authors_files

    compare_authors_files(args.scores, args.results, args.tasks, args.out, args.figure)


def add_compare_authors_parser(sub: argparse._SubParsersAction) -> None:
    """``compare-authors SCORES --results NPY... --tasks JSON -o CSV --figure PNG``."""
    p = add_command(
        sub, "compare-authors", cmd_compare_authors, "our scores beside the authors' result files"
    )
    p.add_argument("scores", type=Path, help="tables/scores.csv")
    p.add_argument("--results", nargs="+", required=True, type=Path, help="their .npy files")
    p.add_argument("--tasks", type=json_arg, required=True, help="our task -> theirs (JSON)")
    p.add_argument("-o", "--out", required=True, type=Path, help="the comparison table (CSV)")
    p.add_argument("--figure", required=True, type=Path, help="the comparison figure (PNG)")
