rule prepare_audio:
    """Decode, downmix and resample a dataset to 12 kHz mono, stored for fast reading."""
    input:
        raw_manifest,
    output:
        manifest=L.prepared_manifest("{dataset}"),
        audio=L.prepared_audio("{dataset}"),
    params:
        code=CODE_VERSION,
        out_dir=lambda w: L.prepared_dir(w.dataset),
    log:
        L.log("prepare_audio", "{dataset}"),
    benchmark:
        L.benchmark("prepare_audio", "{dataset}")
    threads: 4
    # Ahead of other jobs: the tagger's source set is prepared here (see train_tagger).
    priority: 5
    conda:
        "../../envs/audio.yaml"
    resources:
        mem_mb=8000,
        runtime=120,
    shell:
        "python -m musictransfer prepare {input:q} --out-dir {params.out_dir:q} "
        "--threads {threads} > {log:q} 2>&1"
