rule train_tagger:
    """Train the tagging convnet on a source dataset (PyTorch Lightning; GPU if present, and
    required if the job asks for one)."""
    input:
        manifest=f"{R}/prepared/{{source}}/manifest.csv",
        audio=f"{R}/prepared/{{source}}/audio.npy",
    output:
        model=f"{R}/models/tagger-{{source}}.pt",
        metrics=f"{R}/models/tagger-{{source}}.metrics.json",
    params:
        code=CODE_VERSION,
        settings=lambda w: json.dumps(EXP.training, sort_keys=True),
        checkpoints=lambda w: f"{R}/checkpoints/tagger-{w.source}",
        # 'gpu' when the job asks for one (the SLURM profile): no CUDA is then an error,
        # not a CPU run fifty times slower.
        accelerator=lambda w, resources: accelerator_for(resources),
    log:
        f"{R}/logs/train_tagger/{{source}}.log",
    benchmark:
        f"{R}/benchmarks/train_tagger/{{source}}.tsv"
    threads: 2
    # The tagger is on the critical path (every tagger-* feature and cell waits for it):
    # start it as soon as its data is ready, before the many cheaper jobs that can wait.
    priority: 10
    # A run cut off (time limit, pre-emption, node failure) is retried; training
    # resumes from the last checkpoint in params.checkpoints (not a declared output).
    retries: 2
    conda:
        "../../envs/training.yaml"
    resources:
        mem_mb=8000,
        runtime=600,
    shell:
        "python -m musictransfer train $(dirname {input.manifest}) --out {output.model} "
        "--metrics {output.metrics} --settings '{params.settings}' "
        "--checkpoint-dir {params.checkpoints} --threads {threads} "
        "--accelerator {params.accelerator} > {log} 2>&1"


rule random_convnet:
    """The untrained convnet with seeded He-normal weights (the paper's random feature)."""
    output:
        model=f"{R}/models/random.pt",
    params:
        code=CODE_VERSION,
        seed=lambda w: EXP.random_convnet_seed,
    log:
        f"{R}/logs/random_convnet.log",
    benchmark:
        f"{R}/benchmarks/random_convnet.tsv"
    conda:
        "../../envs/training.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m musictransfer random-convnet --out {output.model} --seed {params.seed} > {log} 2>&1"
