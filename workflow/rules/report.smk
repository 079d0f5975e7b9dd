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
        tasks=report(
            expand(f"{R}/figures/{{task}}.png", task=list(EXP.tasks)),
            caption="../report/task_figure.rst",
            category="Figures",
        ),
    params:
        references=lambda w: json.dumps(
            {t: s.reference for t, s in EXP.tasks.items() if s.reference is not None}
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
    shell:
        "python -m musictransfer plot {input} --out-dir $(dirname {output.summary}) "
        "--references '{params.references}' > {log} 2>&1"


rule write_report:
    """A short Markdown report: the score table, best combinations, figures."""
    input:
        scores=f"{R}/tables/scores.csv",
        summary=f"{R}/figures/summary.png",
    output:
        f"{R}/report.md",
    params:
        experiment=EXP.name,
    log:
        f"{R}/logs/write_report.log",
    benchmark:
        f"{R}/benchmarks/write_report.tsv"
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "python -m musictransfer report {input.scores} --figures-dir $(dirname {input.summary}) "
        "-o {output} --experiment {params.experiment} > {log} 2>&1"
