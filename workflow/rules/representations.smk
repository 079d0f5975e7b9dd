# Representations brought by the user (top-level `representations`): a HEAR module's
# embeddings of a dataset's original audio, or a features file checked and aligned to the
# dataset's clips. Either way the result is a feature file like any extractor's, so that
# evaluation, probes and the report treat it as they treat the paper's networks.


rule decode_audio:
    """A dataset decoded once at one rate, whole and float32, for the representations of
    that rate (those that declare their `sample_rate`)."""
    input:
        raw_manifest,
    output:
        manifest=L.decoded_manifest("{dataset}", "{rate}"),
        audio=L.decoded_audio("{dataset}", "{rate}"),
    params:
        code=CODE_VERSION,
        out_dir=lambda w: L.decoded_dir(w.dataset, w.rate),
    log:
        L.log("decode_audio", "{dataset}", "{rate}"),
    benchmark:
        L.benchmark("decode_audio", "{dataset}", "{rate}")
    wildcard_constraints:
        rate=r"[1-9][0-9]*",
    threads: 4
    conda:
        "../../envs/audio.yaml"
    resources:
        mem_mb=4000,
        runtime=120,
    shell:
        "python -m musictransfer prepare {input:q} --out-dir {params.out_dir:q} "
        "--sample-rate {wildcards.rate} --whole --threads {threads} > {log:q} 2>&1"


rule extract_representation:
    """A HEAR module's scene embedding (and listed layers) of every clip of a dataset.

    The original files at the module's rate, whole (not tiled to 29 s): read from the
    dataset decoded once at that rate (decode_audio) where the representation declares
    its `sample_rate`, else decoded here. In batches of clips of equal length; on the GPU
    where there is one. The module runs in the representation's own environment (its
    `env`, else envs/representation.yaml).
    """
    input:
        unpack(representation_inputs),
    output:
        L.features("{extractor}", "{dataset}"),
    params:
        code=CODE_VERSION,
        spec=lambda w: EXPERIMENT.representations[w.extractor].to_json(),
        args=representation_args,
        python=representation_python,
    log:
        L.log("extract_representation", "{extractor}", "{dataset}"),
    benchmark:
        L.benchmark("extract_representation", "{extractor}", "{dataset}")
    wildcard_constraints:
        extractor=one_of(EXPERIMENT.extractors_of("hear")),
    threads: 4
    conda:
        representation_env
    resources:
        mem_mb=8000,
        runtime=120,
    shell:
        "{params.python:q} -m musictransfer extract --features-of {input.manifest:q} "
        "-o {output:q} {params.args} > {log:q} 2>&1"


rule import_features:
    """A features file brought by the user, checked against the dataset's clips and aligned.

    A missing, repeated or extra clip, a NaN, or a dimension that differs from the
    representation's other datasets stops the run here, naming the file and the clip,
    before any cell is written.
    """
    input:
        unpack(imported_features_inputs),
    output:
        L.features("{extractor}", "{dataset}"),
    params:
        code=CODE_VERSION,
        pooling=lambda w: EXPERIMENT.representations[w.extractor].pooling,
    log:
        L.log("import_features", "{extractor}", "{dataset}"),
    benchmark:
        L.benchmark("import_features", "{extractor}", "{dataset}")
    wildcard_constraints:
        extractor=one_of(EXPERIMENT.extractors_of("features")),
    conda:
        "../../envs/evaluation.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "python -m musictransfer import-features {input.source:q} --manifest {input.manifest:q} "
        "--name {wildcards.extractor} --pooling {params.pooling} --siblings {input.siblings:q} "
        "-o {output:q} > {log:q} 2>&1"
