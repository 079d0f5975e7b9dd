rule prepare_audio:
    """Decode, downmix and resample a dataset to 12 kHz mono, stored for fast reading."""
    input:
        raw_manifest,
    output:
        manifest=f"{R}/prepared/{{dataset}}/manifest.csv",
        audio=f"{R}/prepared/{{dataset}}/audio.npy",
    log:
        f"{R}/logs/prepare_audio/{{dataset}}.log",
    benchmark:
        f"{R}/benchmarks/prepare_audio/{{dataset}}.tsv"
    threads: 2
    # Ahead of other jobs: the tagger's source set is prepared here (see train_tagger).
    priority: 5
    conda:
        "../../envs/audio.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    shell:
        "python -m musictransfer prepare {input} --out-dir $(dirname {output.manifest}) "
        "--threads {threads} > {log} 2>&1"
