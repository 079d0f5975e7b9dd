# The authors' pre-trained convnet (Keras 1 / Theano weights) as the extractors 'choi2017'
# (under the experiment's choi2017.bn_mode) and 'choi2017-<mode>' (under that mode); the
# experiment's `choi2017:` block is described in the schema (docs/configuration.md).


rule import_paper_weights:
    """The authors' weights_theano.hdf5 (from download_paper_features) as a PyTorch model."""
    input:
        weights=L.paper_file(WEIGHTS_THEANO),
    output:
        model=L.model("choi2017"),
    params:
        code=CODE_VERSION,
    log:
        L.log("import_paper_weights"),
    benchmark:
        L.benchmark("import_paper_weights")
    conda:
        "../../envs/training.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m musictransfer import-paper-weights --weights {input.weights:q} "
        "--out {output.model:q} > {log:q} 2>&1"


rule extract_convnet_choi2017:
    """Features of a dataset with the authors' network, under the extractor's bn mode."""
    input:
        model=L.model("choi2017"),
        manifest=L.prepared_manifest("{dataset}"),
        audio=lambda w: prepared_audio(w.dataset),
    output:
        L.features("{extractor}", "{dataset}"),
    params:
        code=CODE_VERSION,
        data=lambda w: L.prepared_dir(w.dataset),
        bn_mode=lambda w: EXPERIMENT.choi2017.bn_mode_of(w.extractor),
        batch_size=EXPERIMENT.choi2017.batch_size,
        chunk_size=EXPERIMENT.choi2017.chunk_size,
        # --batch-order COLUMN where the choi2017 block sets one; nothing otherwise, so
        # that experiments without it keep their shell command (and are not rerun).
        batch_order=(
            shlex.join(["--batch-order", EXPERIMENT.choi2017.batch_order]) + " "
            if EXPERIMENT.choi2017.batch_order
            else ""
        ),
    log:
        L.log("extract_convnet", "{extractor}", "{dataset}"),
    benchmark:
        L.benchmark("extract_convnet", "{extractor}", "{dataset}")
    wildcard_constraints:
        extractor=CHOI2017_PATTERN,
    threads: 4
    conda:
        "../../envs/training.yaml"
    resources:
        mem_mb=8000,
        runtime=240,
    shell:
        "python -m musictransfer extract-choi2017 {input.model:q} {params.data:q} -o {output:q} "
        "--bn-mode {params.bn_mode} --batch-size {params.batch_size} {params.batch_order}"
        "--chunk-size {params.chunk_size} --threads {threads} > {log:q} 2>&1"
