rule generate_demo:
    """Synthesise one dataset of the demo corpus (WAV files and a manifest)."""
    output:
        manifest=L.demo_manifest("{dataset}"),
    params:
        code=CODE_VERSION,
        out_dir=lambda w: str(Path(L.demo_manifest(w.dataset)).parent),
        n_clips=lambda w: EXPERIMENT.demo.n_clips[w.dataset],
        seed=lambda w: EXPERIMENT.demo.seed,
    log:
        L.log("generate_demo", "{dataset}"),
    benchmark:
        L.benchmark("generate_demo", "{dataset}")
    # Ahead of other jobs: the tagger's source set is made here (see train_tagger).
    priority: 5
    conda:
        "../../envs/audio.yaml"
    resources:
        mem_mb=2000,
        runtime=20,
    shell:
        "python -m musictransfer generate-demo {wildcards.dataset} --out-dir {params.out_dir:q} "
        "--n-clips {params.n_clips} --seed {params.seed} > {log:q} 2>&1"
