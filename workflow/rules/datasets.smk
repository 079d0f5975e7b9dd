rule download:
    """Fetch, verify and unpack a real dataset, or check the copy named by its data_dir."""
    output:
        receipt=f"{DATA}/{{dataset}}/dataset.json",
    log:
        f"{DATA}/logs/download/{{dataset}}.log",
    benchmark:
        f"{DATA}/benchmarks/download/{{dataset}}.tsv"
    conda:
        "../../envs/audio.yaml"
    resources:
        mem_mb=2000,
        runtime=600,
    params:
        args=download_args,
    shell:
        "python -m musictransfer download {wildcards.dataset} --out-dir $(dirname {output.receipt}) "
        "{params.args} > {log} 2>&1"


rule dataset_manifest:
    """A real dataset's manifest (id, path, labels, folds), in the authors' order if asked."""
    input:
        receipt=f"{DATA}/{{dataset}}/dataset.json",
    output:
        manifest=f"{R}/manifests/{{dataset}}.csv",
    log:
        f"{R}/logs/dataset_manifest/{{dataset}}.log",
    benchmark:
        f"{R}/benchmarks/dataset_manifest/{{dataset}}.tsv"
    conda:
        "../../envs/audio.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        args=manifest_args,
    shell:
        "python -m musictransfer manifest {wildcards.dataset} {input.receipt} -o {output.manifest} "
        "{params.args} > {log} 2>&1"
