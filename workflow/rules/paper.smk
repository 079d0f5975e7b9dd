"""The authors' released features, metadata and weights (issue 4: experiment paper_features).

download_paper_features fetches one file at the pinned commit (or copies it from the
`mirror` directory), checked against the SHA256 registry of the package
(src/musictransfer/data/paper_registry.txt, read by musictransfer.datasets.paper): the
metadata tables, features, weights (models/choi2017.pt is imported from its copy) and the
authors' per-cell scores (result_transfer/).
In an experiment with `released_features: true`, the import rules turn a dataset's
released files into the project's feature files and labels manifest, in place of audio
preparation and extraction (hence the rule orders).
"""


rule download_paper_features:
    """One of the authors' released files, SHA256-verified (download or mirror copy)."""
    output:
        f"{R}/downloads/paper/{{kind}}/{{file}}",
    log:
        f"{R}/logs/download_paper_features/{{kind}}/{{file}}.log",
    benchmark:
        f"{R}/benchmarks/download_paper_features/{{kind}}/{{file}}.tsv"
    wildcard_constraints:
        kind="data_csv|data_feats|weights|result_transfer",
        file=r"[A-Za-z0-9_+]+\.(csv|npy|hdf5)",
    retries: 1
    conda:
        "../../envs/audio.yaml"
    resources:
        mem_mb=500,
        runtime=30,
    params:
        mirror=mirror_option(),
    shell:
        "python -m musictransfer fetch-paper-file {wildcards.kind}/{wildcards.file} -o {output} "
        "{params.mirror} > {log} 2>&1"


if released_features():

    ruleorder: import_paper_features > extract_convnet_choi2017 > extract_convnet
    ruleorder: import_paper_mfcc > extract_mfcc

    rule import_paper_features:
        """A dataset's released convnet features (n x 160) and its labels manifest."""
        input:
            unpack(released_convnet_inputs),
        output:
            features=f"{R}/features/choi2017/{{dataset}}.npz",
            manifest=f"{R}/labels/{{dataset}}.csv",
        log:
            f"{R}/logs/import_paper_features/{{dataset}}.log",
        benchmark:
            f"{R}/benchmarks/import_paper_features/{{dataset}}.tsv"
        wildcard_constraints:
            dataset="|".join(RELEASED_DATASETS),
        conda:
            "../../envs/features.yaml"
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            code=CODE_VERSION,
        shell:
            "python -m musictransfer import-paper-features {wildcards.dataset} --csv {input.csv} "
            "--layers {input.layers} --features-out {output.features} "
            "--manifest-out {output.manifest} > {log} 2>&1"

    rule import_paper_mfcc:
        """A dataset's released MFCC vectors (n x 120), ids from its metadata table."""
        input:
            unpack(released_mfcc_inputs),
        output:
            f"{R}/features/mfcc/{{dataset}}.npz",
        log:
            f"{R}/logs/import_paper_mfcc/{{dataset}}.log",
        benchmark:
            f"{R}/benchmarks/import_paper_mfcc/{{dataset}}.tsv"
        wildcard_constraints:
            dataset="|".join(RELEASED_DATASETS),
        conda:
            "../../envs/features.yaml"
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            code=CODE_VERSION,
        shell:
            "python -m musictransfer import-paper-features {wildcards.dataset} --csv {input.csv} "
            "--mfcc {input.mfcc} --mfcc-out {output} > {log} 2>&1"
