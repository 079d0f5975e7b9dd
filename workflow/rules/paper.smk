"""The authors' released features, metadata and weights (experiment paper_features).

download_paper_features fetches one file at the pinned commit (or copies it from the
`mirror` directory), checked against the SHA256 registry of the package: the metadata
tables, features, weights (models/choi2017.pt is imported from its copy) and the authors'
per-cell scores (result_transfer/). In an experiment with `released_features: true`, the
import rules turn a dataset's released files into feature files under released/ and its
labels manifest, which the evaluation reads in place of features extracted from audio.
"""


rule download_paper_features:
    """One of the authors' released files, SHA256-verified (download or mirror copy).

    Checksum-verified, not computed: no code version.
    """
    output:
        L.paper_file("{kind}/{file}"),
    params:
        mirror=shlex.join(mirror_args()),
    log:
        L.log("download_paper_features", "{kind}", "{file}"),
    benchmark:
        L.benchmark("download_paper_features", "{kind}", "{file}")
    wildcard_constraints:
        kind="data_csv|data_feats|weights|result_transfer",
        file=r"[A-Za-z0-9_+]+\.(csv|npy|hdf5)",
    retries: 1
    conda:
        "../../envs/audio.yaml"
    resources:
        mem_mb=500,
        runtime=30,
    shell:
        "python -m musictransfer fetch-paper-file {wildcards.kind}/{wildcards.file} -o {output:q} "
        "{params.mirror} > {log:q} 2>&1"


rule import_paper_features:
    """A dataset's released convnet features (n x 160) and its labels manifest."""
    input:
        unpack(released_convnet_inputs),
    output:
        features=L.released_features("choi2017", "{dataset}"),
        manifest=L.released_labels("{dataset}"),
    params:
        code=CODE_VERSION,
    log:
        L.log("import_paper_features", "{dataset}"),
    benchmark:
        L.benchmark("import_paper_features", "{dataset}")
    wildcard_constraints:
        dataset=one_of(RELEASED_DATASETS),
    conda:
        "../../envs/features.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m musictransfer import-paper-features {wildcards.dataset} --csv {input.csv:q} "
        "--layers {input.layers:q} --features-out {output.features:q} "
        "--manifest-out {output.manifest:q} > {log:q} 2>&1"


rule import_paper_mfcc:
    """A dataset's released MFCC vectors (n x 120), ids from its metadata table."""
    input:
        unpack(released_mfcc_inputs),
    output:
        L.released_features("mfcc", "{dataset}"),
    params:
        code=CODE_VERSION,
    log:
        L.log("import_paper_mfcc", "{dataset}"),
    benchmark:
        L.benchmark("import_paper_mfcc", "{dataset}")
    wildcard_constraints:
        dataset=one_of(RELEASED_DATASETS),
    conda:
        "../../envs/features.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m musictransfer import-paper-features {wildcards.dataset} --csv {input.csv:q} "
        "--mfcc {input.mfcc:q} --mfcc-out {output:q} > {log:q} 2>&1"
