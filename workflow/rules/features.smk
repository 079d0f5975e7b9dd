rule extract_convnet:
    """Convnet feature (5 layers x 32 averages) of every clip of a dataset."""
    input:
        model=f"{R}/models/{{extractor}}.pt",
        manifest=f"{R}/prepared/{{dataset}}/manifest.csv",
        audio=f"{R}/prepared/{{dataset}}/audio.npy",
    output:
        f"{R}/features/{{extractor}}/{{dataset}}.npz",
    log:
        f"{R}/logs/extract_convnet/{{extractor}}/{{dataset}}.log",
    benchmark:
        f"{R}/benchmarks/extract_convnet/{{extractor}}/{{dataset}}.tsv"
    threads: 2
    conda:
        "../../envs/training.yaml"
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        code=CODE_VERSION,
    shell:
        "python -m musictransfer extract-convnet {input.model} $(dirname {input.manifest}) -o {output} "
        "--threads {threads} > {log} 2>&1"


rule extract_mfcc:
    """The MFCC baseline vector (120 values) of every clip of a dataset."""
    input:
        manifest=f"{R}/prepared/{{dataset}}/manifest.csv",
        audio=f"{R}/prepared/{{dataset}}/audio.npy",
    output:
        f"{R}/features/mfcc/{{dataset}}.npz",
    log:
        f"{R}/logs/extract_mfcc/{{dataset}}.log",
    benchmark:
        f"{R}/benchmarks/extract_mfcc/{{dataset}}.tsv"
    conda:
        "../../envs/features.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        code=CODE_VERSION,
    shell:
        "python -m musictransfer extract-mfcc $(dirname {input.manifest}) -o {output} > {log} 2>&1"
