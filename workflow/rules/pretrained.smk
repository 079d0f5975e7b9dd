# The authors' pre-trained convnet (Keras 1 / Theano weights) as the extractors 'choi2017'
# (under the experiment's bn_mode) and 'choi2017-<batch|dataset|reference>' (under that
# mode). Settings (optional) under the experiment's `choi2017:` key:
#   bn_mode: batch      # batch (faithful; the authors' batches of 256 in dataset order),
#                       # dataset (statistics of the whole dataset, frozen) or reference
#   batch_size: 256     # clips per batch in batch mode
#   chunk_size: 16      # clips in memory at once (any value gives the same features)
#   batch_order: null   # a manifest column to extract (and batch) in sorted order


rule import_paper_weights:
    """The authors' weights_theano.hdf5 (from download_paper_features) as a PyTorch model."""
    input:
        weights=released_file(WEIGHTS_THEANO),
    output:
        model=f"{R}/models/choi2017.pt",
    log:
        f"{R}/logs/import_paper_weights.log",
    benchmark:
        f"{R}/benchmarks/import_paper_weights.tsv"
    conda:
        "../../envs/training.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m musictransfer import-paper-weights --weights {input.weights} "
        "--out {output.model} > {log} 2>&1"


rule extract_convnet_choi2017:
    """Features of a dataset with the authors' network, under the extractor's bn mode."""
    input:
        model=f"{R}/models/choi2017.pt",
        manifest=f"{R}/prepared/{{dataset}}/manifest.csv",
        audio=f"{R}/prepared/{{dataset}}/audio.npy",
    output:
        f"{R}/features/{{extractor}}/{{dataset}}.npz",
    log:
        f"{R}/logs/extract_convnet/{{extractor}}/{{dataset}}.log",
    benchmark:
        f"{R}/benchmarks/extract_convnet/{{extractor}}/{{dataset}}.tsv"
    wildcard_constraints:
        extractor=r"choi2017(?:-(?:batch|dataset|reference))?",
    conda:
        "../../envs/training.yaml"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=240,
    params:
        code=CODE_VERSION,
        bn_mode=lambda w: EXP.choi2017.bn_mode_of(w.extractor),
        batch_size=lambda w: EXP.choi2017.batch_size,
        chunk_size=lambda w: EXP.choi2017.chunk_size,
        batch_order=choi2017_batch_order_option(),
    shell:
        "python -m musictransfer extract-choi2017 {input.model} $(dirname {input.manifest}) -o {output} "
        "--bn-mode {params.bn_mode} --batch-size {params.batch_size} {params.batch_order}"
        "--chunk-size {params.chunk_size} --threads {threads} > {log} 2>&1"


ruleorder: extract_convnet_choi2017 > extract_convnet
