rule evaluate:
    """SVM grid search of one (task, extractor, layer combination) cell."""
    input:
        unpack(cell_inputs),
    output:
        f"{R}/scores/{{task}}/{{extractor}}/{{combo}}.json",
    params:
        task=lambda w: task_json(w.task),
        features=cell_feature_args,
    log:
        f"{R}/logs/evaluate/{{task}}/{{extractor}}/{{combo}}.log",
    benchmark:
        f"{R}/benchmarks/evaluate/{{task}}/{{extractor}}/{{combo}}.tsv"
    conda:
        "../../envs/evaluation.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    shell:
        "python -m musictransfer evaluate --task '{params.task}' --extractor {wildcards.extractor} "
        "--combo {wildcards.combo} --manifest {input.manifest} {params.features} "
        "-o {output} --threads {threads} > {log} 2>&1"
