"""Errors the system expects and reports as one clear line (the CLI exits non-zero on them)."""

JOBS_EXTRA_HINT = "run it from the monitor image, or install it with `uv sync --all-extras`"
"""What to do when a command needs the ``jobs`` extra, which the API image leaves out."""


class AppError(Exception):
    """Base of every expected, user-facing error."""


class ConfigError(AppError):
    """A setting (environment variable or ``.env`` entry) has an invalid value."""


class DataError(AppError):
    """The dataset or an input file is missing, empty, malformed or off-schema."""


class RegistryError(AppError):
    """A model version is missing, corrupt, or cannot be promoted or rolled back."""


class MonitoringError(AppError):
    """The drift job cannot run on the data it was given."""
