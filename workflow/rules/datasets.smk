rule download:
    """Fetch, verify and unpack a real dataset, or check the copy named by its data_dir.

    Checksum-verified files, not computed: no code version. Downloads run where the job
    runs: on a cluster, compute nodes need outbound network, or run
    `snakemake --until download` on the login node first, or set `mirror`.
    """
    output:
        receipt=L.download_receipt("{dataset}"),
    params:
        out_dir=lambda w: str(Path(L.download_receipt(w.dataset)).parent),
        args=download_args,
    log:
        str(L.data / "logs" / "download" / "{dataset}.log"),
    benchmark:
        str(L.data / "benchmarks" / "download" / "{dataset}.tsv")
    conda:
        "../../envs/audio.yaml"
    resources:
        mem_mb=2000,
        runtime=600,
    shell:
        "python -m musictransfer download {wildcards.dataset} --out-dir {params.out_dir:q} "
        "{params.args} > {log:q} 2>&1"


rule dataset_manifest:
    """A real dataset's manifest (id, path, labels, folds), in the authors' order if asked."""
    input:
        receipt=L.download_receipt("{dataset}"),
    output:
        manifest=L.real_manifest("{dataset}"),
    params:
        code=CODE_VERSION,
        args=manifest_args,
    log:
        L.log("dataset_manifest", "{dataset}"),
    benchmark:
        L.benchmark("dataset_manifest", "{dataset}")
    conda:
        "../../envs/audio.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "python -m musictransfer manifest {wildcards.dataset} {input.receipt:q} "
        "-o {output.manifest:q} {params.args} > {log:q} 2>&1"
