# A dataset's 12 kHz store: one prepare_audio job, or (config `shard_clips`) a plan, one
# prepare_shard job per shard and a merged manifest. Exactly one of the two paths is open.


rule prepare_audio:
    """Decode, downmix and resample a dataset to 12 kHz mono, stored for fast reading."""
    input:
        raw_manifest,
    output:
        manifest=L.prepared_manifest("{dataset}"),
        audio=L.prepared_audio("{dataset}"),
    params:
        code=CODE_VERSION,
        out_dir=lambda w: L.prepared_dir(w.dataset),
    log:
        L.log("prepare_audio", "{dataset}"),
    benchmark:
        L.benchmark("prepare_audio", "{dataset}")
    wildcard_constraints:
        dataset=UNSHARDED,
    threads: 4
    # Ahead of other jobs: the tagger's source set is prepared here (see train_tagger).
    priority: 5
    conda:
        "../../envs/audio.yaml"
    resources:
        mem_mb=8000,
        runtime=120,
    shell:
        "python -m musictransfer prepare {input:q} --out-dir {params.out_dir:q} "
        "--threads {threads} > {log:q} 2>&1"


checkpoint plan_shards:
    """How a dataset's store is cut: runs of `shard_clips` clips in manifest order.

    Run where Snakemake runs (seconds: the manifest read and hashed), not submitted.
    """
    localrule: True
    input:
        raw_manifest,
    output:
        L.shard_plan("{dataset}"),
    params:
        code=CODE_VERSION,
        out_dir=lambda w: L.prepared_dir(w.dataset),
        clips=EXPERIMENT.shard_clips,
    log:
        L.log("plan_shards", "{dataset}"),
    benchmark:
        L.benchmark("plan_shards", "{dataset}")
    wildcard_constraints:
        dataset=SHARDED,
    conda:
        "../../envs/audio.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m musictransfer prepare {input:q} --out-dir {params.out_dir:q} --plan "
        "--clips-per-shard {params.clips} > {log:q} 2>&1"


rule prepare_shard:
    """One shard of a dataset's 12 kHz store: its clips decoded, its record written."""
    input:
        manifest=raw_manifest,
        plan=L.shard_plan("{dataset}"),
    output:
        audio=L.shard_audio("{dataset}", "{shard}"),
        manifest=L.shard_manifest("{dataset}", "{shard}"),
    params:
        code=CODE_VERSION,
        out_dir=lambda w: L.prepared_dir(w.dataset),
        clips=EXPERIMENT.shard_clips,
        index=lambda w: int(w.shard.removeprefix("shard-")),
    log:
        L.log("prepare_shard", "{dataset}", "{shard}"),
    benchmark:
        L.benchmark("prepare_shard", "{dataset}", "{shard}")
    wildcard_constraints:
        dataset=SHARDED,
        shard=r"shard-\d{5}",
    threads: 4
    priority: 5
    conda:
        "../../envs/audio.yaml"
    resources:
        mem_mb=8000,
        runtime=120,
    shell:
        "python -m musictransfer prepare {input.manifest:q} --out-dir {params.out_dir:q} "
        "--shard {params.index} --clips-per-shard {params.clips} --threads {threads} "
        "> {log:q} 2>&1"


rule merge_shards:
    """A sharded store's manifest: every row with the shard that holds it, each checked.

    Run where Snakemake runs (seconds: the shards' manifests read), not submitted.
    """
    localrule: True
    input:
        manifest=raw_manifest,
        shards=lambda w: shard_files(w.dataset, "manifest"),
        audio=lambda w: shard_files(w.dataset, "audio"),
    output:
        L.prepared_manifest("{dataset}"),
    params:
        code=CODE_VERSION,
        out_dir=lambda w: L.prepared_dir(w.dataset),
    log:
        L.log("merge_shards", "{dataset}"),
    benchmark:
        L.benchmark("merge_shards", "{dataset}")
    wildcard_constraints:
        dataset=SHARDED,
    conda:
        "../../envs/audio.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m musictransfer prepare {input.manifest:q} --out-dir {params.out_dir:q} "
        "--merge > {log:q} 2>&1"
