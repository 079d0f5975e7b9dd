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
        f"{R}/checks/{{task}}.json",
    log:
        f"{R}/logs/check_task/{{task}}.log",
    benchmark:
        f"{R}/benchmarks/check_task/{{task}}.tsv"
    priority: 10
    conda:
        "../../envs/evaluation.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        task=lambda w: task_json(w.task),
    shell:
        "python -m musictransfer check-task --task '{params.task}' --manifest {input.manifest} "
        "-o {output} > {log} 2>&1"


if batch_cells_combos():

    ruleorder: evaluate_batch > evaluate

    rule evaluate_batch:
        """The cells of one (task, extractor) in one job (config batch_cells), a file each."""
        input:
            unpack(batch_inputs),
        output:
            expand(
                f"{R}/scores/{{{{task}}}}/{{{{extractor}}}}/{{combo}}.json",
                combo=batch_cells_combos(),
            ),
        log:
            f"{R}/logs/evaluate_batch/{{task}}/{{extractor}}.log",
        benchmark:
            f"{R}/benchmarks/evaluate_batch/{{task}}/{{extractor}}.tsv"
        conda:
            "../../envs/evaluation.yaml"
        threads: 1
        resources:
            mem_mb=cell_mem_mb,
            runtime=batch_runtime,
        params:
            code=CODE_VERSION,
            task=lambda w: task_json(w.task),
            features=cell_feature_args,
            combos=" ".join(batch_cells_combos()),
        shell:
            "python -m musictransfer evaluate --task '{params.task}' --extractor {wildcards.extractor} "
            "--combo {params.combos} --manifest {input.manifest} {params.features} "
            "-o {output} --threads {threads} > {log} 2>&1"


if config.get("fold_jobs", 1) == 1:

    rule evaluate:
        """SVM grid search of one (task, extractor, layer combination) cell."""
        input:
            unpack(cell_inputs),
        output:
            f"{R}/scores/{{task}}/{{extractor}}/{{combo}}.json",
        log:
            f"{R}/logs/evaluate/{{task}}/{{extractor}}/{{combo}}.log",
        benchmark:
            f"{R}/benchmarks/evaluate/{{task}}/{{extractor}}/{{combo}}.tsv"
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
        params:
            code=CODE_VERSION,
            task=lambda w: task_json(w.task),
            features=cell_feature_args,
        shell:
            "python -m musictransfer evaluate --task '{params.task}' --extractor {wildcards.extractor} "
            "--combo {wildcards.combo} --manifest {input.manifest} {params.features} "
            "-o {output} --threads {threads} > {log} 2>&1"

else:

    rule evaluate_folds:
        """One part of a cell's cross-validation folds: every setting's fold scores."""
        input:
            unpack(cell_inputs),
        output:
            temp(f"{R}/fold_parts/{{task}}/{{extractor}}/{{combo}}/{{part}}.json"),
        log:
            f"{R}/logs/evaluate_folds/{{task}}/{{extractor}}/{{combo}}/{{part}}.log",
        benchmark:
            f"{R}/benchmarks/evaluate_folds/{{task}}/{{extractor}}/{{combo}}/{{part}}.tsv"
        conda:
            "../../envs/evaluation.yaml"
        threads: 1
        resources:
            mem_mb=cell_mem_mb,
            runtime=cell_runtime,
        params:
            code=CODE_VERSION,
            task=lambda w: task_json(w.task),
            features=cell_feature_args,
            n_parts=config["fold_jobs"],
        shell:
            "python -m musictransfer evaluate --task '{params.task}' --extractor {wildcards.extractor} "
            "--combo {wildcards.combo} --manifest {input.manifest} {params.features} "
            "--fold-part {wildcards.part}/{params.n_parts} -o {output} --threads {threads} > {log} 2>&1"

    rule evaluate:
        """A cell's result, merged from its fold parts (config fold_jobs > 1)."""
        input:
            expand(
                f"{R}/fold_parts/{{{{task}}}}/{{{{extractor}}}}/{{{{combo}}}}/{{part}}.json",
                part=range(config["fold_jobs"]),
            ),
        output:
            f"{R}/scores/{{task}}/{{extractor}}/{{combo}}.json",
        log:
            f"{R}/logs/evaluate/{{task}}/{{extractor}}/{{combo}}.log",
        benchmark:
            f"{R}/benchmarks/evaluate/{{task}}/{{extractor}}/{{combo}}.tsv"
        conda:
            "../../envs/evaluation.yaml"
        params:
            code=CODE_VERSION,
            task=lambda w: task_json(w.task),
        shell:
            "python -m musictransfer merge-folds {input} --task '{params.task}' "
            "--extractor {wildcards.extractor} --combo {wildcards.combo} -o {output} > {log} 2>&1"
