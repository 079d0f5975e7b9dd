"""Tagger training end to end on a tiny synthetic tagging source, and model files."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from musictransfer.constants import N_SAMPLES
from musictransfer.datasets.manifest import split_tags
from musictransfer.datasets.store import prepare_audio
from musictransfer.errors import ConfigError, ManifestError, MusicTransferError
from musictransfer.modelfile import (
    BN_CALIBRATE,
    BN_RUNNING,
    load_model,
    read_model_file,
    save_random_convnet,
)
from musictransfer.training import (
    TaggerModule,
    TaggingDataModule,
    TrainingSettings,
    multi_hot,
    num_workers_for,
    tag_vocabulary,
    train_tagger,
)

SR = 16_000
SETTINGS = {"seed": 0, "max_epochs": 2, "batch_size": 2, "learning_rate": 0.01,
            "early_stopping_patience": 5}  # fmt: skip


def _clip(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One second of a low tone ('low'), of noise ('noisy'), or both."""
    t = np.arange(SR) / SR
    out = np.zeros(SR)
    if "low" in kind:
        out += 0.5 * np.sin(2 * np.pi * rng.uniform(100, 200) * t)
    if "noisy" in kind:
        out += 0.2 * rng.standard_normal(SR)
    return out.astype(np.float32)


def make_tagging_source(
    root: Path, splits: dict[str, list[str]], sounds: dict[str, list[str]] | None = None
) -> Path:
    """Write WAV clips and a manifest (tags, split), prepare them, return the store.

    A clip sounds like its tags, unless ``sounds`` gives a split's clips other kinds
    (tags that its sound does not bear out, for an AUC short of 1).
    """
    rng = np.random.default_rng(0)
    rows = []
    for split, kinds in splits.items():
        for i, tags in enumerate(kinds):
            name = f"{split}{i}.wav"
            sound = (sounds or {}).get(split, kinds)[i]
            sf.write(root / name, _clip(sound, rng), SR)
            rows.append({"id": f"{split}{i}", "path": name, "tags": tags, "split": split})
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    prepare_audio(root / "manifest.csv", root / "prepared", progress=False)
    return root / "prepared"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tagging_source(
        tmp_path_factory.mktemp("tags"),
        {
            "train": ["low", "noisy", "low;noisy", "noisy"],
            "valid": ["low", "noisy"],
            "test": ["noisy", "low"],
        },
    )


@pytest.fixture(scope="module")
def trained(source: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("model")
    mp = pytest.MonkeyPatch()
    # Inside a SLURM job Lightning would take itself for an srun-launched task and fail
    # on the ntasks-per-node mismatch; train_tagger must not let it look.
    for key, value in {"SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2",
                       "SLURM_JOB_ID": "1", "SLURM_JOB_NAME": "snakejob"}.items():  # fmt: skip
        mp.setenv(key, value)
    try:
        metrics = train_tagger(
            source, out / "tagger.pt", settings=SETTINGS, checkpoint_dir=out / "ckpt",
            threads=1, metrics_out=out / "metrics.json",
        )  # fmt: skip
    finally:
        mp.undo()
    return {"dir": out, "metrics": metrics}


def test_train_tagger_outputs(trained: dict) -> None:
    out = trained["dir"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(trained["metrics"]))
    assert metrics["epochs_run"] == 2
    assert 0.0 <= metrics["best_val_auc"] <= 1.0
    assert 0.0 <= metrics["test_auc"] <= 1.0
    assert metrics["device"] == "cpu" and metrics["precision"] == "32-true"
    assert metrics["n_clips"] == {"train": 4, "valid": 2, "test": 2}
    assert (out / "ckpt" / "last.ckpt").is_file()
    assert Path(metrics["best_checkpoint"]).parent == out / "ckpt"
    assert (out / "ckpt" / "logs").is_dir()
    assert not list(out.glob(".tagger.pt*")), "temporary file left behind"
    payload = read_model_file(out / "tagger.pt")
    assert payload["tags"] == ["low", "noisy"]
    assert payload["bn_statistics"] == BN_RUNNING
    assert payload["hparams"]["n_tags"] == 2


def test_model_file_holds_best_checkpoint(trained: dict) -> None:
    best = torch.load(trained["metrics"]["best_checkpoint"], map_location="cpu")["state_dict"]
    model = load_model(trained["dir"] / "tagger.pt")
    assert not model.training
    state = model.state_dict()
    assert set(state) == {k.removeprefix("model.") for k in best if k.startswith("model.")}
    for key, value in state.items():
        torch.testing.assert_close(value, best[f"model.{key}"], rtol=0, atol=0)
    # Training moved the BatchNorm statistics away from their initial 0 / 1.
    assert model.blocks[0].bn.running_mean.abs().sum() > 0


def test_resume_from_last(trained: dict, source: Path) -> None:
    out = trained["dir"]
    metrics = train_tagger(
        source, out / "tagger2.pt", settings={**SETTINGS, "max_epochs": 3},
        checkpoint_dir=out / "ckpt", threads=1, metrics_out=out / "metrics2.json",
    )  # fmt: skip
    assert metrics["resumed_from"] == str(out / "ckpt" / "last.ckpt")
    assert metrics["epochs_run"] == 3
    log = pd.read_csv(next((out / "ckpt" / "logs").rglob("metrics.csv")))
    assert log["val_auc"].notna().sum() >= 1
    assert np.isfinite(log["val_auc"].dropna()).all()


def test_loss_decreases_when_overfitting(source: Path) -> None:
    torch.manual_seed(0)
    data = TaggingDataModule(source, batch_size=4, num_workers=0, seed=0)
    stored, target = next(iter(data.train_dataloader()))
    assert stored.shape == (4, N_SAMPLES) and stored.dtype == torch.int16
    waveform, _ = data.on_after_batch_transfer((stored, target), 0)
    assert waveform.dtype == torch.float32
    module = TaggerModule(data.vocabulary, learning_rate=0.01)
    optimiser = module.configure_optimizers()
    losses = []
    for _ in range(5):
        optimiser.zero_grad()
        loss = module.loss(module(waveform), target)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_the_loader_sends_int16_that_becomes_the_stores_float_signal(source: Path) -> None:
    """Half the bytes through the workers and to the device; the same bits once there."""
    from musictransfer.datasets.store import PreparedDataset

    data = TaggingDataModule(source, batch_size=2, num_workers=0, seed=0)
    store = PreparedDataset(source)
    clips = data.splits["valid"]
    stored, _ = next(iter(data.val_dataloader()))
    assert stored.dtype == torch.int16
    waveform, _ = data.on_after_batch_transfer((stored, torch.zeros(2)), 0)
    for k in range(2):
        expected = store.convnet_input(int(clips.indices[k]))
        assert waveform[k].numpy().tobytes() == expected.tobytes()


def test_datamodule_targets(source: Path) -> None:
    data = TaggingDataModule(source, batch_size=2, num_workers=0, seed=0)
    assert data.vocabulary == ["low", "noisy"]
    np.testing.assert_array_equal(data.splits["train"].targets, [[1, 0], [0, 1], [1, 1], [0, 1]])
    assert len(data.splits["valid"]) == 2 and len(data.splits["test"]) == 2


def test_tags_are_split_one_way() -> None:
    """The manifest's tag cells, as training reads them: blanks and empty tags dropped."""
    assert split_tags(["rock;pop", "", " jazz ; ;pop ", "a;"]) == [
        ["rock", "pop"],
        [],
        ["jazz", "pop"],
        ["a"],
    ]
    assert tag_vocabulary(["b; a", " ;c"]) == ["a", "b", "c"]


def test_vocabulary_and_multi_hot() -> None:
    vocab = tag_vocabulary(["rock;pop", "jazz", "", "pop; rock"])
    assert vocab == ["jazz", "pop", "rock"]
    np.testing.assert_array_equal(
        multi_hot(["rock;pop", "", "unknown;jazz"], vocab), [[0, 1, 1], [0, 0, 0], [1, 0, 0]]
    )


def test_num_workers_rule() -> None:
    assert num_workers_for(1) == 0
    assert num_workers_for(2) == 1
    assert num_workers_for(8) == 7


def test_settings_validation() -> None:
    """The schema checks the block and fills its defaults: no second statement of either."""
    defaults = TrainingSettings.from_mapping({})
    assert (defaults.max_epochs, defaults.batch_size, defaults.dropout) == (12, 16, 0.0)
    assert TrainingSettings.from_mapping({"learning_rate": 1}).learning_rate == 1.0
    with pytest.raises(ConfigError, match="unknown key 'epochs' in training"):
        TrainingSettings.from_mapping({"epochs": 3})
    with pytest.raises(ConfigError, match="is not of type 'integer'"):
        TrainingSettings.from_mapping({"batch_size": 2.5})
    with pytest.raises(ConfigError, match=r"training\.dropout"):
        TrainingSettings.from_mapping({"dropout": 1.0})


def test_missing_columns_and_splits(tmp_path: Path) -> None:
    store = make_tagging_source(tmp_path, {"train": ["low", "noisy"], "test": ["low"]})
    with pytest.raises(ManifestError, match="no clips in the valid split"):
        TaggingDataModule(store, batch_size=2, num_workers=0, seed=0)
    manifest = pd.read_csv(store / "manifest.csv").drop(columns=["tags"])
    manifest.to_csv(store / "manifest.csv", index=False)
    with pytest.raises(ManifestError, match="tags"):
        TaggingDataModule(store, batch_size=2, num_workers=0, seed=0)


def test_random_convnet_file(tmp_path: Path) -> None:
    save_random_convnet(tmp_path / "random.pt", seed=5)
    save_random_convnet(tmp_path / "again.pt", seed=5)
    payload = read_model_file(tmp_path / "random.pt")
    assert payload["bn_statistics"] == BN_CALIBRATE
    assert payload["tags"] == [] and payload["meta"]["seed"] == 5
    a, b = load_model(tmp_path / "random.pt"), load_model(tmp_path / "again.pt")
    for (key, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), key
    w = a.blocks[2].conv.weight
    assert w.std().item() == pytest.approx((2 / (32 * 9)) ** 0.5, rel=0.1)


def test_load_model_errors(tmp_path: Path) -> None:
    with pytest.raises(MusicTransferError, match="not found"):
        load_model(tmp_path / "absent.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a torch file")
    with pytest.raises(MusicTransferError, match="cannot read model file"):
        load_model(tmp_path / "bad.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(MusicTransferError, match="not a musictransfer model"):
        load_model(tmp_path / "other.pt")


def test_stale_checkpoints_are_not_resumed(
    trained: dict, source: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = trained["dir"]
    caplog.set_level(logging.INFO, logger="musictransfer")
    metrics = train_tagger(
        source, out / "tagger3.pt", settings={**SETTINGS, "max_epochs": 1, "learning_rate": 0.02},
        checkpoint_dir=out / "ckpt", threads=1,
    )  # fmt: skip
    assert metrics["resumed_from"] is None
    assert metrics["epochs_run"] == 1
    logged = [r.getMessage() for r in caplog.records if r.name == "musictransfer.training"]
    printed = "\n".join(logged)
    assert "from another configuration" in printed
    assert re.search(r"epoch 1/1 +train_loss [0-9.]+ +val_loss [0-9.]+ +val_auc [0-9.]+", printed)
    assert json.loads((out / "ckpt" / "run.json").read_text())["settings"]["learning_rate"] == 0.02


@pytest.mark.slow  # starting a loader worker costs seconds (see below)
def test_worker_loader_gives_the_in_process_batches(source: Path) -> None:
    # The workers start from a fork server (never a fork of a process running CUDA):
    # the clips must reach them by pickling, and come back as the same seeded batches.
    def batches(num_workers: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        data = TaggingDataModule(source, batch_size=2, num_workers=num_workers, seed=3)
        loader = data.train_dataloader()
        assert (loader.multiprocessing_context is None) == (num_workers == 0)
        return list(loader)

    in_process, from_worker = batches(0), batches(1)
    assert len(in_process) == len(from_worker) == 2
    for (wave_a, target_a), (wave_b, target_b) in zip(in_process, from_worker, strict=True):
        torch.testing.assert_close(wave_a, wave_b, rtol=0, atol=0)
        torch.testing.assert_close(target_a, target_b, rtol=0, atol=0)


class _KilledError(Exception):
    """Stands for the kill -9 of a training job."""


def _train_losses(checkpoint_dir: Path) -> dict[int, float]:
    """Epoch -> mean training loss, from every CSV log (version) in a checkpoint directory."""
    losses: dict[int, float] = {}
    for path in sorted((checkpoint_dir / "logs").rglob("metrics.csv")):
        log = pd.read_csv(path)
        if "train_loss" in log:
            for row in log.dropna(subset=["train_loss"]).itertuples():
                losses[int(row.epoch)] = float(row.train_loss)
    return losses


@pytest.mark.fault(
    item=5,
    case="training killed in epoch k and rerun",
    outcome="resumes from the last checkpoint to the same weights as an uninterrupted run",
)
# With a loader worker the first epoch's indices are fetched as soon as Lightning makes the
# iterator, before it calls set_epoch; starting the workers costs seconds per run, hence slow.
@pytest.mark.parametrize(
    "threads", [1, pytest.param(2, marks=pytest.mark.slow)], ids=["in-process", "loader-worker"]
)
def test_killed_training_resumes_to_the_uninterrupted_weights(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    from musictransfer.training import EpochPrinter

    # Dropout on, so that its random draws must be the same after the restart too.
    settings = {**SETTINGS, "max_epochs": 4, "dropout": 0.3, "early_stopping_patience": 10}
    straight = train_tagger(source, tmp_path / "a.pt", settings=settings,
                            checkpoint_dir=tmp_path / "a", threads=threads)  # fmt: skip

    def kill(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch == 2 and batch_idx == 1:  # mid-way through epoch 3 of 4
            raise _KilledError

    with monkeypatch.context() as m:
        m.setattr(EpochPrinter, "on_train_batch_start", kill, raising=False)
        with pytest.raises(_KilledError):
            train_tagger(source, tmp_path / "b.pt", settings=settings,
                         checkpoint_dir=tmp_path / "b", threads=threads)  # fmt: skip
    assert not (tmp_path / "b.pt").exists()
    killed_at = torch.load(tmp_path / "b" / "last.ckpt", map_location="cpu")
    assert killed_at["epoch"] == 1  # the last checkpoint is the end of epoch 2 (0-based 1)
    resumed = train_tagger(source, tmp_path / "b.pt", settings=settings,
                           checkpoint_dir=tmp_path / "b", threads=threads)  # fmt: skip
    assert resumed["resumed_from"] == str(tmp_path / "b" / "last.ckpt")

    a = torch.load(tmp_path / "a" / "last.ckpt", map_location="cpu")
    b = torch.load(tmp_path / "b" / "last.ckpt", map_location="cpu")
    assert a["global_step"] == b["global_step"] == 4 * 2  # 4 epochs of 2 batches
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key
    for key, moments in a["optimizer_states"][0]["state"].items():
        for name, value in moments.items():
            assert torch.equal(value, b["optimizer_states"][0]["state"][key][name]), name
    losses = _train_losses(tmp_path / "a")
    assert sorted(losses) == [0, 1, 2, 3]
    assert _train_losses(tmp_path / "b") == losses
    assert resumed["best_val_auc"] == straight["best_val_auc"]
    for key, value in load_model(tmp_path / "a.pt").state_dict().items():
        assert torch.equal(value, load_model(tmp_path / "b.pt").state_dict()[key]), key


def test_epoch_order_is_a_function_of_seed_and_epoch() -> None:
    from musictransfer.training import EpochShuffle

    def order(seed: int, epoch: int, history: tuple[int, ...] = ()) -> list[int]:
        sampler = EpochShuffle(50, seed)
        for earlier in history:  # epochs drawn before do not change this one
            sampler.set_epoch(earlier)
            list(sampler)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert sorted(order(0, 0)) == list(range(50))
    assert order(0, 3) == order(0, 3, history=(0, 1, 2))
    assert order(0, 3) != order(0, 2)
    assert order(0, 1) != order(1, 0)  # not seed + epoch
    assert order(7, 0) != order(8, 0)


@pytest.mark.slow  # starting a loader worker costs seconds
def test_resumed_worker_loader_starts_at_the_resumed_epoch(source: Path) -> None:
    # Lightning makes the first iterator of a (resumed) run before calling set_epoch, and a
    # worker fetches its first indices at once: the loader must already be at that epoch.
    from types import SimpleNamespace

    def batches(num_workers: int, epoch: int) -> list[torch.Tensor]:
        data = TaggingDataModule(source, batch_size=2, num_workers=num_workers, seed=3)
        progress = SimpleNamespace(current=SimpleNamespace(processed=epoch))
        data.trainer = SimpleNamespace(
            fit_loop=SimpleNamespace(epoch_progress=progress), global_rank=0, world_size=1
        )
        return [target for _, target in data.train_dataloader()]

    first, resumed = batches(0, 0), batches(1, 2)
    expected = batches(0, 2)
    assert [t.tolist() for t in resumed] == [t.tolist() for t in expected]
    assert [t.tolist() for t in first] != [t.tolist() for t in expected]


@pytest.mark.fault(
    item=0,
    case="training asked for a GPU on a node without CUDA",
    outcome="exit 2 naming the host and why CUDA is missing; nothing trained on the CPU",
)
def test_gpu_asked_for_but_no_cuda_is_an_error(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import socket

    from musictransfer.cli import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # also on a GPU machine
    args = ["train", str(source), "--out", str(tmp_path / "tagger.pt"), "--settings",
            json.dumps(SETTINGS), "--checkpoint-dir", str(tmp_path / "ckpt")]  # fmt: skip
    assert main([*args, "--accelerator", "gpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("musictransfer train: error: asked for a GPU (--accelerator gpu")
    assert f"CUDA is not available on {socket.gethostname()}" in err
    assert "->" in err and "gpu resource" in err
    assert "Traceback" not in err
    assert not (tmp_path / "tagger.pt").exists() and not (tmp_path / "ckpt").exists()


def test_gpu_request_follows_the_job_resources(repo: Path, tmp_path: Path) -> None:
    from musictransfer.sizing import accelerator_for
    from test_workflow import snakemake

    assert accelerator_for({}) == accelerator_for({"gpu": 0}) == "auto"
    assert accelerator_for({"gpu": 1}) == accelerator_for({"gres": "gpu:a100:1"}) == "gpu"
    target = f"{tmp_path}/demo/models/tagger-demo_tags.pt"
    plain = snakemake(repo, "-n", "-p", target, "--config", f"results={tmp_path}")
    assert "--accelerator auto" in plain.stdout
    gpu = snakemake(repo, "-n", "-p", target, "--config", f"results={tmp_path}",
                    "--set-resources", "train_tagger:gpu=1")  # fmt: skip
    assert "--accelerator gpu" in gpu.stdout


@pytest.mark.slow
def test_the_tagger_does_not_depend_on_the_number_of_threads(source: Path, tmp_path: Path) -> None:
    # oneDNN's convolution backward sums the weight gradients per thread on some CPUs
    # (AVX-512 ones); the trainer's CPU kernels must not, or --cores would change the
    # tagger and every feature and score after it.
    models, previous = [], torch.get_num_threads()
    for threads in (1, 2):
        train_tagger(source, tmp_path / f"{threads}.pt", settings={**SETTINGS, "max_epochs": 2},
                     checkpoint_dir=tmp_path / f"ckpt{threads}", threads=threads,
                     accelerator="cpu")  # fmt: skip
        models.append(load_model(tmp_path / f"{threads}.pt").state_dict())
    torch.set_num_threads(previous)
    assert models[0].keys() == models[1].keys()
    for key, value in models[0].items():
        assert torch.equal(value, models[1][key]), key
