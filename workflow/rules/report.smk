rule aggregate:
    """The tidy score table: one row per (task, extractor, combination) and reading."""
    input:
        score_cells(),
    output:
        report(
            L.table("scores"),
            caption="../report/scores.rst",
            category="Scores",
        ),
    params:
        code=CODE_VERSION,
    log:
        L.log("aggregate"),
    benchmark:
        L.benchmark("aggregate")
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m musictransfer aggregate {input:q} -o {output:q} > {log:q} 2>&1"


rule plot:
    """Per-task figures (the paper's Figures 3-9) and the summary (Figure 2)."""
    input:
        L.table("scores"),
    output:
        summary=report(
            L.figure("summary"),
            caption="../report/summary_figure.rst",
            category="Figures",
        ),
        # report() flags each file of the list; the caption is shared, so it names no task.
        tasks=report(
            [L.figure(task) for task in EXPERIMENT.selected_tasks],
            caption="../report/task_figure.rst",
            category="Figures",
        ),
    params:
        code=CODE_VERSION,
        out_dir=lambda w, output: str(Path(output.summary).parent),
        tasks=list(EXPERIMENT.selected_tasks),
        published=json.dumps(EXPERIMENT.selected_published(), sort_keys=True),
    log:
        L.log("plot"),
    benchmark:
        L.benchmark("plot")
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m musictransfer plot {input:q} --out-dir {params.out_dir:q} "
        "--tasks {params.tasks:q} --published {params.published:q} > {log:q} 2>&1"


rule compare_authors:
    """Every cell beside the authors' own result file, under both readings of the grid."""
    input:
        scores=L.table("scores"),
        results=authors_result_inputs,
    output:
        table=L.table("authors"),
        figure=report(
            L.figure("authors"),
            caption="../report/authors_figure.rst",
            category="Figures",
        ),
    params:
        code=CODE_VERSION,
        tasks=json.dumps(EXPERIMENT.selected_authors_tasks(), sort_keys=True),
    log:
        L.log("compare_authors"),
    benchmark:
        L.benchmark("compare_authors")
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "python -m musictransfer compare-authors {input.scores:q} --results {input.results:q} "
        "--tasks {params.tasks:q} -o {output.table:q} --figure {output.figure:q} > {log:q} 2>&1"


rule write_report:
    """A short Markdown report: the score table, best combinations, figures."""
    input:
        unpack(report_inputs),
        scores=L.table("scores"),
        summary=L.figure("summary"),
    output:
        L.report(),
    params:
        code=CODE_VERSION,
        experiment=EXPERIMENT.name,
        figures=lambda w, input: str(Path(input.summary).parent),
        tasks=list(EXPERIMENT.selected_tasks),
        published=json.dumps(EXPERIMENT.selected_published(), sort_keys=True),
        extra=json.dumps(EXPERIMENT.report_extra(), sort_keys=True),
        tables=report_args,
    log:
        L.log("write_report"),
    benchmark:
        L.benchmark("write_report")
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "python -m musictransfer report {input.scores:q} --figures-dir {params.figures:q} "
        "-o {output:q} --experiment {params.experiment:q} --tasks {params.tasks:q} "
        "--published {params.published:q} --extra {params.extra:q} {params.tables} "
        "> {log:q} 2>&1"
