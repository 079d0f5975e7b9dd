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
    # Folds x scalings run in parallel inside a job (joblib, one BLAS thread each);
    # each worker holds a fold's n x n distance and kernel matrices: ~1.5 GB for
    # UrbanSound8K's ~7,900 training clips, far less for the other datasets.
    # One thread: a demo-sized cell is done before joblib's workers would have started;
    # raise it per rule (profile set-threads) for UrbanSound8K-sized cells.
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        task=lambda w: task_json(w.task),
        features=cell_feature_args,
    shell:
        "python -m musictransfer evaluate --task '{params.task}' --extractor {wildcards.extractor} "
        "--combo {wildcards.combo} --manifest {input.manifest} {params.features} "
        "-o {output} --threads {threads} > {log} 2>&1"
