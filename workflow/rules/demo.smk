rule generate_demo:
    """Synthesise one dataset of the demo corpus (WAV files and a manifest)."""
    output:
        manifest=f"{R}/raw/{{dataset}}/manifest.csv",
    params:
        n_clips=lambda w: EXP.demo.n_clips[w.dataset],
        seed=lambda w: EXP.demo.seed,
    log:
        f"{R}/logs/generate_demo/{{dataset}}.log",
    benchmark:
        f"{R}/benchmarks/generate_demo/{{dataset}}.tsv"
    # Ahead of other jobs: the tagger's source set is made here (see train_tagger).
    priority: 5
    conda:
        "../../envs/audio.yaml"
    resources:
        mem_mb=2000,
        runtime=20,
    shell:
        "python -m musictransfer generate-demo {wildcards.dataset} --out-dir $(dirname {output.manifest}) "
        "--n-clips {params.n_clips} --seed {params.seed} > {log} 2>&1"
