rule aggregate:
    """The tidy score table: one row per (task, extractor, combination)."""
    input:
        score_cells(),
    output:
        report(
            f"{R}/tables/scores.csv",
            caption="../report/scores.rst",
            category="Scores",
        ),
    log:
        f"{R}/logs/aggregate.log",
    benchmark:
        f"{R}/benchmarks/aggregate.tsv"
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=CODE_VERSION,
    shell:
        "python -m musictransfer aggregate {input} -o {output} > {log} 2>&1"


rule plot:
    """Per-task figures (the paper's Figures 3-9) and the summary (Figure 2)."""
    input:
        f"{R}/tables/scores.csv",
    output:
        summary=report(
            f"{R}/figures/summary.png",
            caption="../report/summary_figure.rst",
            category="Figures",
        ),
        # report() flags each file of the list; the caption is shared, so it names no task.
        tasks=report(
            expand(f"{R}/figures/{{task}}.png", task=selected_tasks()),
            caption="../report/task_figure.rst",
            category="Figures",
        ),
    log:
        f"{R}/logs/plot.log",
    benchmark:
        f"{R}/benchmarks/plot.tsv"
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        tasks=" ".join(selected_tasks()),
        references=lambda w: shlex.quote(json.dumps(references(), sort_keys=True)),
    shell:
        "python -m musictransfer plot {input} --out-dir $(dirname {output.summary}) --tasks {params.tasks} "
        "--references {params.references} > {log} 2>&1"


rule compare_authors:
    """Every cell beside the authors' own result file, under both readings of the grid."""
    input:
        scores=f"{R}/tables/scores.csv",
        results=authors_result_inputs,
    output:
        table=f"{R}/tables/authors.csv",
        figure=report(
            f"{R}/figures/authors.png",
            caption="../report/authors_figure.rst",
            category="Figures",
        ),
    log:
        f"{R}/logs/compare_authors.log",
    benchmark:
        f"{R}/benchmarks/compare_authors.tsv"
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        tasks=lambda w: shlex.quote(json.dumps(authors_tasks(), sort_keys=True)),
    shell:
        "python -m musictransfer compare-authors {input.scores} --results {input.results} "
        "--tasks {params.tasks} -o {output.table} --figure {output.figure} > {log} 2>&1"


rule write_report:
    """A short Markdown report: the score table, best combinations, figures."""
    input:
        unpack(
            lambda w: (
                {"authors": authors_outputs()["authors"]} if authors_outputs() else {}
            )
        ),
        unpack(
            lambda w: {
                k: v
                for k, v in modern_outputs().items()
                if k in ("modern", "modern_paired", "batch_boundary")
            }
        ),
        scores=f"{R}/tables/scores.csv",
        summary=f"{R}/figures/summary.png",
    output:
        f"{R}/report.md",
    log:
        f"{R}/logs/write_report.log",
    benchmark:
        f"{R}/benchmarks/write_report.tsv"
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        experiment=EXP.name,
        tasks=" ".join(selected_tasks()),
        references=lambda w: shlex.quote(json.dumps(references(), sort_keys=True)),
        extra=lambda w: shlex.quote(json.dumps(report_extra(), sort_keys=True)),
        authors=lambda w, input: (
            f"--authors {input.authors}" if "authors" in input.keys() else ""
        ),
        modern=modern_report_args,
    shell:
        "python -m musictransfer report {input.scores} --figures-dir $(dirname {input.summary}) "
        "-o {output} --experiment {params.experiment} --tasks {params.tasks} "
        "--references {params.references} --extra {params.extra} {params.authors} "
        "{params.modern} > {log} 2>&1"
