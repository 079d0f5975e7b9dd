rule extract_convnet:
    """Convnet feature (5 layers x 32 averages) of every clip of a dataset, with one of our
    networks (the random convnet or a trained tagger)."""
    input:
        model=L.model("{extractor}"),
        manifest=L.prepared_manifest("{dataset}"),
        audio=lambda w: prepared_audio(w.dataset),
    output:
        L.features("{extractor}", "{dataset}"),
    params:
        code=CODE_VERSION,
        data=lambda w: L.prepared_dir(w.dataset),
    log:
        L.log("extract_convnet", "{extractor}", "{dataset}"),
    benchmark:
        L.benchmark("extract_convnet", "{extractor}", "{dataset}")
    wildcard_constraints:
        extractor=TRAINED_PATTERN,
    threads: 4
    conda:
        "../../envs/training.yaml"
    resources:
        mem_mb=8000,
        runtime=120,
    shell:
        "python -m musictransfer extract-convnet {input.model:q} {params.data:q} -o {output:q} "
        "--threads {threads} > {log:q} 2>&1"


rule extract_mfcc:
    """The MFCC baseline vector (120 values) of every clip of a dataset."""
    input:
        manifest=L.prepared_manifest("{dataset}"),
        audio=lambda w: prepared_audio(w.dataset),
    output:
        L.features("mfcc", "{dataset}"),
    params:
        code=CODE_VERSION,
        data=lambda w: L.prepared_dir(w.dataset),
    log:
        L.log("extract_mfcc", "{dataset}"),
    benchmark:
        L.benchmark("extract_mfcc", "{dataset}")
    conda:
        "../../envs/features.yaml"
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        "python -m musictransfer extract-mfcc {params.data:q} -o {output:q} > {log:q} 2>&1"
