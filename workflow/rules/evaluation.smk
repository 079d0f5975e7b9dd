# Evaluation: every cell's file scores/<task>/<extractor>/<combo>.json is made by exactly
# one of evaluate_batch, evaluate and merge_fold_parts, by combination
# (Experiment.combos_by_rule): batch_cells puts the combinations every extractor shares
# in one job per (task, extractor); fold_jobs > 1 splits each cell over evaluate_fold_part
# jobs. The rules always exist; each one's combo constraint says which cells are its.
COMBOS_BY_RULE = EXPERIMENT.combos_by_rule()


rule check_task:
    """A task's labels, folds and splits, checked as soon as its dataset's manifest exists.

    A missing label, a test value no row has or fewer clips of a class than folds stops
    the run here, in seconds, rather than at the evaluation after hours of preparation,
    training and extraction (hence the priority: ahead of prepare_audio's 5). Evaluation
    repeats the checks on the rows it evaluates.
    """
    input:
        manifest=task_manifest,
    output:
        L.check("{task}"),
    params:
        code=CODE_VERSION,
        task=task_json,
    log:
        L.log("check_task", "{task}"),
    benchmark:
        L.benchmark("check_task", "{task}")
    priority: 10
    conda:
        "../../envs/evaluation.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "python -m musictransfer check-task --task {params.task:q} --manifest {input.manifest:q} "
        "-o {output:q} > {log:q} 2>&1"


rule evaluate_batch:
    """The cells of one (task, extractor) in one job (config batch_cells), a file each."""
    input:
        unpack(batch_inputs),
    output:
        [L.cell("{task}", "{extractor}", c) for c in COMBOS_BY_RULE["evaluate_batch"]]
        or [L.cell("{task}", "{extractor}", "none")],
    params:
        code=CODE_VERSION,
        task=task_json,
        features=feature_args,
        combos=" ".join(COMBOS_BY_RULE["evaluate_batch"]),
    log:
        L.log("evaluate_batch", "{task}", "{extractor}"),
    benchmark:
        L.benchmark("evaluate_batch", "{task}", "{extractor}")
    wildcard_constraints:
        # Without batch_cells, this rule makes no file.
        task=".+" if COMBOS_BY_RULE["evaluate_batch"] else "(?!)",
    conda:
        "../../envs/evaluation.yaml"
    threads: 1
    resources:
        mem_mb=cell_mem_mb,
        runtime=batch_runtime,
    shell:
        "python -m musictransfer evaluate --task {params.task:q} --extractor {wildcards.extractor} "
        "--combo {params.combos} --manifest {input.manifest:q} {params.features} "
        "-o {output:q} --threads {threads} > {log:q} 2>&1"


rule evaluate:
    """SVM grid search of one (task, extractor, layer combination) cell."""
    input:
        unpack(cell_inputs),
    output:
        L.cell("{task}", "{extractor}", "{combo}"),
    params:
        code=CODE_VERSION,
        task=task_json,
        features=feature_args,
    log:
        L.log("evaluate", "{task}", "{extractor}", "{combo}"),
    benchmark:
        L.benchmark("evaluate", "{task}", "{extractor}", "{combo}")
    wildcard_constraints:
        combo=one_of(COMBOS_BY_RULE["evaluate"]),
    conda:
        "../../envs/evaluation.yaml"
    # Folds x scalings run in parallel inside a job (joblib, one BLAS thread each); each
    # worker holds a fold's n x n distance and kernel matrices: 2.25 GB measured for
    # UrbanSound8K's ~7,900 training clips, far less elsewhere, so memory and time are
    # sized per dataset (musictransfer.sizing). One thread by default: a demo-sized
    # cell is done before joblib's workers would have started, and on a few cores many
    # single-threaded cells in parallel use them best. Raise it per rule (profile
    # set-threads) to spread a big cell over a node's cores.
    threads: 1
    resources:
        mem_mb=cell_mem_mb,
        runtime=cell_runtime,
    shell:
        "python -m musictransfer evaluate --task {params.task:q} --extractor {wildcards.extractor} "
        "--combo {wildcards.combo} --manifest {input.manifest:q} {params.features} "
        "-o {output:q} --threads {threads} > {log:q} 2>&1"


rule evaluate_fold_part:
    """One part of a cell's cross-validation folds: every setting's fold scores."""
    input:
        unpack(cell_inputs),
    output:
        temp(L.fold_part("{task}", "{extractor}", "{combo}", "{part}")),
    params:
        code=CODE_VERSION,
        task=task_json,
        features=feature_args,
        n_parts=EXPERIMENT.fold_jobs,
    log:
        L.log("evaluate_fold_part", "{task}", "{extractor}", "{combo}", "{part}"),
    benchmark:
        L.benchmark("evaluate_fold_part", "{task}", "{extractor}", "{combo}", "{part}")
    conda:
        "../../envs/evaluation.yaml"
    threads: 1
    resources:
        mem_mb=cell_mem_mb,
        runtime=cell_runtime,
    shell:
        "python -m musictransfer evaluate --task {params.task:q} --extractor {wildcards.extractor} "
        "--combo {wildcards.combo} --manifest {input.manifest:q} {params.features} "
        "--fold-part {wildcards.part}/{params.n_parts} -o {output:q} --threads {threads} "
        "> {log:q} 2>&1"


rule merge_fold_parts:
    """A cell's result, merged from its fold parts (config fold_jobs > 1)."""
    input:
        fold_parts,
    output:
        L.cell("{task}", "{extractor}", "{combo}"),
    params:
        code=CODE_VERSION,
        task=task_json,
    log:
        L.log("merge_fold_parts", "{task}", "{extractor}", "{combo}"),
    benchmark:
        L.benchmark("merge_fold_parts", "{task}", "{extractor}", "{combo}")
    wildcard_constraints:
        combo=one_of(COMBOS_BY_RULE["merge_fold_parts"]),
    conda:
        "../../envs/evaluation.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "python -m musictransfer merge-folds {input:q} --task {params.task:q} "
        "--extractor {wildcards.extractor} --combo {wildcards.combo} -o {output:q} "
        "> {log:q} 2>&1"
