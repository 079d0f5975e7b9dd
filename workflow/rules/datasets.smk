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
    wildcard_constraints:
        dataset=one_of(REGISTRY_DATASETS),
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


rule folder_manifest:
    """Your own dataset's manifest: its audio folder and labels CSV (datasets: audio_dir, labels).

    The labels file is an input (an edit reruns what depends on it); the audio files are
    read where they are, not tracked one by one: after changing them in place, rerun
    with --forcerun folder_manifest.
    """
    input:
        labels=lambda w: EXPERIMENT.datasets[w.dataset].labels,
    output:
        manifest=L.real_manifest("{dataset}"),
    params:
        code=CODE_VERSION,
        audio_dir=lambda w: EXPERIMENT.datasets[w.dataset].audio_dir,
    log:
        L.log("folder_manifest", "{dataset}"),
    benchmark:
        L.benchmark("folder_manifest", "{dataset}")
    wildcard_constraints:
        dataset=one_of(FOLDER_DATASETS),
    conda:
        "../../envs/audio.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "python -m musictransfer folder-manifest --audio-dir {params.audio_dir:q} "
        "--labels {input.labels:q} -o {output.manifest:q} > {log:q} 2>&1"
