"""GTZAN music/speech collection (Tzanetakis): 128 clips of 30 s, music or speech."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from musictransfer.datasets._folders import check_class_folders, class_folder_rows
from musictransfer.datasets.registry import DatasetSpec, Remote

NAME = "gtzan_speech_music"

FOLDERS: tuple[str, ...] = ("music_wav", "speech_wav")
CLASSES: tuple[str, ...] = ("music", "speech")
PREFIX = "gtzan_music_speech/"


def check(root: Path) -> None:
    """``music_speech/music_wav`` and ``music_speech/speech_wav``."""
    check_class_folders(root, "music_speech", FOLDERS, NAME)


def build_manifest(root: Path) -> pd.DataFrame:
    """One row per wav; label 0 = music, 1 = speech (the authors' codes)."""
    return class_folder_rows(root, "music_speech", FOLDERS, ("wav",), PREFIX, names=CLASSES)


SPEC = DatasetSpec(
    name=NAME,
    title="GTZAN music/speech",
    n_clips=128,
    remotes=(
        Remote(
            filename="music_speech.tar.gz",
            url="http://opihi.cs.uvic.ca/sound/music_speech.tar.gz",
            checksum="md5:b063639094c169062940becacd3108a0",
            checksum_source="kapre's dataset loader (K. Choi), load_gtzan_speechmusic",
            extract="tar",
        ),
    ),
    layout="music_speech.tar.gz -> music_speech/{music_wav,speech_wav}/<name>.wav (64 each)",
    check=check,
    build_manifest=build_manifest,
    licence="no licence published; research use",
    homepage="http://marsyas.info/downloads/datasets.html",
    size="about 300 MB (tar.gz)",
    manual=(
        "download music_speech.tar.gz (marsyas.info; also on Kaggle as "
        "gtzan-musicspeech-collection), put it in the mirror directory, or unpack it and "
        f"set datasets.{NAME}.data_dir to the folder holding music_speech/"
    ),
)
