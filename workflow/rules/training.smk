rule train_tagger:
    """Train the tagging convnet on a source dataset (PyTorch Lightning; GPU if present, and
    required if the job asks for one: the SLURM profile's `gpu` resource)."""
    input:
        manifest=L.prepared_manifest("{source}"),
        audio=lambda w: prepared_audio(w.source),
    output:
        model=L.model("tagger-{source}"),
        metrics=L.training_metrics("{source}"),
    params:
        code=CODE_VERSION,
        data=lambda w: L.prepared_dir(w.source),
        settings=json.dumps(EXPERIMENT.training, sort_keys=True),
        checkpoints=lambda w: L.checkpoints(w.source),
        # 'gpu' when the job asks for one (the SLURM profile): no CUDA is then an error,
        # not a CPU run fifty times slower.
        accelerator=lambda w, resources: accelerator_for(resources),
        # `srun ` when training spans nodes (training.num_nodes), else nothing.
        launcher=training_launcher(EXPERIMENT.training),
    log:
        L.log("train_tagger", "{source}"),
    benchmark:
        L.benchmark("train_tagger", "{source}")
    threads: 8
    # The tagger is on the critical path (every tagger-* feature and cell waits for it):
    # start it as soon as its data is ready, before the many cheaper jobs that can wait.
    priority: 10
    # A run cut off (time limit, pre-emption, node failure) is retried; training
    # resumes from the last checkpoint in params.checkpoints (not a declared output).
    retries: 2
    conda:
        "../../envs/training.yaml"
    # Over several nodes also the nodes and one task per device (musictransfer.sizing).
    resources:
        **training_job(EXPERIMENT.training),
        mem_mb=32000,
        runtime=720,
    shell:
        "{params.launcher}python -m musictransfer train {params.data:q} --out {output.model:q} "
        "--metrics {output.metrics:q} --settings {params.settings:q} "
        "--checkpoint-dir {params.checkpoints:q} --threads {threads} "
        "--accelerator {params.accelerator} > {log:q} 2>&1"


rule random_convnet:
    """The untrained convnet with seeded He-normal weights (the paper's random feature)."""
    output:
        model=L.model("random"),
    params:
        code=CODE_VERSION,
        seed=EXPERIMENT.random_convnet_seed,
    log:
        L.log("random_convnet"),
    benchmark:
        L.benchmark("random_convnet")
    conda:
        "../../envs/training.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m musictransfer random-convnet --out {output.model:q} --seed {params.seed} "
        "> {log:q} 2>&1"
