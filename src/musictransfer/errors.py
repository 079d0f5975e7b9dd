"""User-facing errors.

Every failure a user can cause (a bad audio file, a wrong manifest, an unknown task in
the config, a failed download) raises :class:`MusicTransferError` with a message that
names the file or key and says what to do next. The command-line entry point prints the
message without a traceback and exits with status 2.
"""

from __future__ import annotations


class MusicTransferError(Exception):
    """A problem with the user's input or environment, with a hint for the next step.

    Parameters
    ----------
    message
        What went wrong, naming the file, key or URL involved.
    hint
        What the user can do about it. Printed on its own line after the message.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\n  -> {hint}")


class AudioError(MusicTransferError):
    """An audio file that cannot be decoded, is empty or is otherwise unusable."""


class ManifestError(MusicTransferError):
    """A manifest (CSV of clips) with missing columns or invalid values."""


class ConfigError(MusicTransferError):
    """A configuration value that is unknown, out of range or inconsistent."""


class DownloadError(MusicTransferError):
    """A download that failed, or whose checksum does not match."""
