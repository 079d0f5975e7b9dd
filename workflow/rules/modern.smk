"""Today's protocols beside the paper's (experiment key `modern`; docs/protocols.md).

fetch_protocol_file gets a pinned split file (or copies it from `protocols_mirror`);
modern_split maps a task's fixed split onto its labels manifest; probe fits one linear
or MLP probe per (task, extractor, combination) on it, chosen on valid and scored once on
test with a bootstrap interval; modern_table puts them beside the paper's
cross-validated cells, with the paired comparison of the best convnet combination and
MFCC, and draws figures/modern.png. batch_boundary and plot_batch_boundary test the
convnet features (the released ones, or each choi2017 statistics mode extracted here) for
the trace of their extraction batches. The logic is in
musictransfer.modern; the paper's evaluate cells are read, never rerun.
"""

import re

from musictransfer.datasets.protocols import PROTOCOL_FILES


rule fetch_protocol_file:
    """One of today's split files, SHA256-verified (download or mirror copy)."""
    output:
        f"{R}/downloads/protocols/{{name}}",
    log:
        f"{R}/logs/fetch_protocol_file/{{name}}.log",
    benchmark:
        f"{R}/benchmarks/fetch_protocol_file/{{name}}.tsv"
    wildcard_constraints:
        name="|".join(re.escape(n) for n in PROTOCOL_FILES),
    retries: 1
    conda:
        "../../envs/audio.yaml"
    resources:
        mem_mb=500,
        runtime=30,
    params:
        mirror=protocols_mirror_option(),
    shell:
        "python -m musictransfer fetch-protocol-file {wildcards.name} -o {output} "
        "{params.mirror} > {log} 2>&1"


if modern_tasks():

    rule modern_split:
        """A task's fixed split (id, split) from its labels manifest and the split files."""
        input:
            unpack(modern_split_inputs),
        output:
            f"{R}/splits/{{task}}.csv",
        log:
            f"{R}/logs/modern_split/{{task}}.log",
        benchmark:
            f"{R}/benchmarks/modern_split/{{task}}.tsv"
        wildcard_constraints:
            task="|".join(modern_tasks()),
        conda:
            "../../envs/evaluation.yaml"
        resources:
            mem_mb=500,
            runtime=10,
        params:
            split=lambda w: shlex.quote(EXP.modern.tasks[w.task].to_json()),
            files=modern_split_file_args,
            code=CODE_VERSION,
        shell:
            "python -m musictransfer modern-split --split {params.split} "
            "--manifest {input.manifest} {params.files} -o {output} > {log} 2>&1"

    rule probe:
        """One probe on one cell: fit on train, chosen on valid, scored once on test."""
        input:
            unpack(probe_inputs),
        output:
            f"{R}/modern/{{task}}/{{extractor}}/{{combo}}/{{probe}}.json",
        log:
            f"{R}/logs/probe/{{task}}/{{extractor}}/{{combo}}/{{probe}}.log",
        benchmark:
            f"{R}/benchmarks/probe/{{task}}/{{extractor}}/{{combo}}/{{probe}}.tsv"
        wildcard_constraints:
            task="|".join(modern_tasks()),
            probe="linear|mlp",
        threads: 1
        conda:
            "../../envs/evaluation.yaml"
        resources:
            mem_mb=2000,
            runtime=30,
        params:
            task=lambda w: shlex.quote(task_json(w.task)),
            features=cell_feature_args,
            seed=EXP.modern.seed,
            n_boot=EXP.modern.n_boot,
            code=CODE_VERSION,
        shell:
            "python -m musictransfer probe --task {params.task} --extractor {wildcards.extractor} "
            "--combo {wildcards.combo} --kind {wildcards.probe} --manifest {input.manifest} "
            "--split {input.split} {params.features} --seed {params.seed} "
            "--n-boot {params.n_boot} -o {output} > {log} 2>&1"


if EXP.modern is not None:

    rule modern_table:
        """The paper's protocol beside today's per task: table, paired tests, figure."""
        input:
            cells=modern_paper_cells(),
            probes=modern_probe_files(),
        output:
            table=f"{R}/tables/modern.csv",
            paired=f"{R}/tables/modern_paired.csv",
            figure=report(
                f"{R}/figures/modern.png",
                caption="../report/modern_figure.rst",
                category="Figures",
            ),
        log:
            f"{R}/logs/modern_table.log",
        benchmark:
            f"{R}/benchmarks/modern_table.tsv"
        conda:
            "../../envs/report.yaml"
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            tasks=" ".join(selected_tasks()),
            seed=EXP.modern.seed,
            n_boot=EXP.modern.n_boot,
            code=CODE_VERSION,
        shell:
            "python -m musictransfer modern-table --cells {input.cells} --probes {input.probes} "
            "--tasks {params.tasks} --seed {params.seed} --n-boot {params.n_boot} "
            "-o {output.table} --paired {output.paired} --figure {output.figure} > {log} 2>&1"


if batch_boundary_entries():

    rule batch_boundary:
        """Class halves told apart at vs away from the extraction batches' edges."""
        input:
            features=[convnet_features(e, d) for d, e in batch_boundary_entries()],
            manifests=[labels_manifest(d) for d, _ in batch_boundary_entries()],
        output:
            f"{R}/tables/batch_boundary.csv",
        log:
            f"{R}/logs/batch_boundary.log",
        benchmark:
            f"{R}/benchmarks/batch_boundary.tsv"
        conda:
            "../../envs/evaluation.yaml"
        resources:
            mem_mb=2000,
            runtime=30,
        params:
            datasets=" ".join(d for d, _ in batch_boundary_entries()),
            extractors=" ".join(e for _, e in batch_boundary_entries()),
            batch_size=batch_boundary_batch_size(),
            code=CODE_VERSION,
        shell:
            "python -m musictransfer batch-boundary --dataset {params.datasets} "
            "--extractor {params.extractors} --batch-size {params.batch_size} "
            "--features {input.features} --manifest {input.manifests} -o {output} > {log} 2>&1"

    rule plot_batch_boundary:
        """The batch-boundary figure: one panel per dataset."""
        input:
            f"{R}/tables/batch_boundary.csv",
        output:
            report(
                f"{R}/figures/batch_boundary.png",
                caption="../report/batch_boundary_figure.rst",
                category="Figures",
            ),
        log:
            f"{R}/logs/plot_batch_boundary.log",
        benchmark:
            f"{R}/benchmarks/plot_batch_boundary.tsv"
        conda:
            "../../envs/report.yaml"
        resources:
            mem_mb=1000,
            runtime=10,
        shell:
            "python -m musictransfer plot-batch-boundary {input} -o {output} > {log} 2>&1"
