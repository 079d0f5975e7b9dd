"""Today's protocols beside the paper's (experiment key `protocols`; docs/protocols.md).

fetch_protocol_file gets a pinned split file (or copies it from `protocols_mirror`);
fixed_split maps a task's fixed split onto its labels manifest; probe fits one linear or
MLP probe per (task, extractor, combination) on it, chosen on valid and scored once on
test with a bootstrap interval; protocols_table puts them beside the paper's
cross-validated cells, with the paired comparison of the best convnet combination and
MFCC, and draws figures/protocols.png. batch_boundary and plot_batch_boundary test the
convnet features (the released ones, or each choi2017 statistics mode extracted here) for
the trace of their extraction batches. The paper's evaluate cells are read, never rerun.
"""


rule fetch_protocol_file:
    """One of today's split files, SHA256-verified (download or mirror copy).

    Checksum-verified, not computed: no code version.
    """
    output:
        L.protocol_file("{name}"),
    params:
        mirror=shlex.join(mirror_args("protocols_mirror")),
    log:
        L.log("fetch_protocol_file", "{name}"),
    benchmark:
        L.benchmark("fetch_protocol_file", "{name}")
    wildcard_constraints:
        name=one_of(PROTOCOL_FILES),
    retries: 1
    conda:
        "../../envs/audio.yaml"
    resources:
        mem_mb=500,
        runtime=30,
    shell:
        "python -m musictransfer fetch-protocol-file {wildcards.name} -o {output:q} "
        "{params.mirror} > {log:q} 2>&1"


rule fixed_split:
    """A task's fixed split (id, split) from its labels manifest and the split files."""
    input:
        unpack(split_inputs),
    output:
        L.split("{task}"),
    params:
        code=CODE_VERSION,
        split=lambda w: EXPERIMENT.protocols.tasks[w.task].to_json(),
        files=split_file_args,
    log:
        L.log("fixed_split", "{task}"),
    benchmark:
        L.benchmark("fixed_split", "{task}")
    wildcard_constraints:
        task=one_of(EXPERIMENT.protocol_tasks),
    conda:
        "../../envs/evaluation.yaml"
    resources:
        mem_mb=500,
        runtime=10,
    shell:
        "python -m musictransfer fixed-split --split {params.split:q} "
        "--manifest {input.manifest:q} {params.files} -o {output:q} > {log:q} 2>&1"


rule probe:
    """One probe on one cell: fit on train, chosen on valid, scored once on test."""
    input:
        unpack(probe_inputs),
    output:
        L.probe("{task}", "{extractor}", "{combo}", "{probe}"),
    params:
        code=CODE_VERSION,
        task=task_json,
        features=feature_args,
        seed=EXPERIMENT.protocols.seed if EXPERIMENT.protocols else 0,
        n_boot=EXPERIMENT.protocols.n_boot if EXPERIMENT.protocols else 0,
    log:
        L.log("probe", "{task}", "{extractor}", "{combo}", "{probe}"),
    benchmark:
        L.benchmark("probe", "{task}", "{extractor}", "{combo}", "{probe}")
    wildcard_constraints:
        task=one_of(EXPERIMENT.protocol_tasks),
        probe="linear|mlp",
    threads: 1
    conda:
        "../../envs/evaluation.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "python -m musictransfer probe --task {params.task:q} --extractor {wildcards.extractor} "
        "--combo {wildcards.combo} --kind {wildcards.probe} --manifest {input.manifest:q} "
        "--split {input.split:q} {params.features} --seed {params.seed} "
        "--n-boot {params.n_boot} -o {output:q} > {log:q} 2>&1"


rule protocols_table:
    """The paper's protocol beside today's per task: table, paired tests, figure."""
    input:
        cells=[
            L.cell(c.task, c.extractor, c.combo) for c in EXPERIMENT.protocol_cells()
        ],
        probes=[
            L.probe(p.task, p.extractor, p.combo, p.kind) for p in EXPERIMENT.probes()
        ],
    output:
        table=L.table("protocols"),
        paired=L.table("protocols_paired"),
        figure=report(
            L.figure("protocols"),
            caption="../report/protocols_figure.rst",
            category="Figures",
        ),
    params:
        code=CODE_VERSION,
        tasks=list(EXPERIMENT.selected_tasks),
        seed=EXPERIMENT.protocols.seed if EXPERIMENT.protocols else 0,
        n_boot=EXPERIMENT.protocols.n_boot if EXPERIMENT.protocols else 0,
    log:
        L.log("protocols_table"),
    benchmark:
        L.benchmark("protocols_table")
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "python -m musictransfer protocols-table --cells {input.cells:q} --probes {input.probes:q} "
        "--tasks {params.tasks:q} --seed {params.seed} --n-boot {params.n_boot} "
        "-o {output.table:q} --paired {output.paired:q} --figure {output.figure:q} > {log:q} 2>&1"


rule batch_boundary:
    """Class halves told apart at vs away from the extraction batches' edges."""
    input:
        features=[features_file(e, d) for d, e in EXPERIMENT.batch_boundary_entries()],
        manifests=[labels_manifest(d) for d, _ in EXPERIMENT.batch_boundary_entries()],
    output:
        L.table("batch_boundary"),
    params:
        code=CODE_VERSION,
        datasets=[d for d, _ in EXPERIMENT.batch_boundary_entries()],
        extractors=[e for _, e in EXPERIMENT.batch_boundary_entries()],
        columns=[
            EXPERIMENT.batch_boundary_column(d)
            for d, _ in EXPERIMENT.batch_boundary_entries()
        ],
        batch_size=EXPERIMENT.extraction_batch_size,
    log:
        L.log("batch_boundary"),
    benchmark:
        L.benchmark("batch_boundary")
    conda:
        "../../envs/evaluation.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "python -m musictransfer batch-boundary --dataset {params.datasets:q} "
        "--extractor {params.extractors:q} --column {params.columns:q} "
        "--batch-size {params.batch_size} "
        "--features {input.features:q} --manifest {input.manifests:q} -o {output:q} > {log:q} 2>&1"


rule plot_batch_boundary:
    """The batch-boundary figure: one panel per dataset."""
    input:
        L.table("batch_boundary"),
    output:
        report(
            L.figure("batch_boundary"),
            caption="../report/batch_boundary_figure.rst",
            category="Figures",
        ),
    params:
        code=CODE_VERSION,
    log:
        L.log("plot_batch_boundary"),
    benchmark:
        L.benchmark("plot_batch_boundary")
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "python -m musictransfer plot-batch-boundary {input:q} -o {output:q} > {log:q} 2>&1"
