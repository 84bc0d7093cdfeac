"""Errors the system expects and reports as one clear line (the CLI exits non-zero on them)."""


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


def first_line(exc: BaseException) -> str:
    """An error's message cut to its first line (a database's or a parser's runs on)."""
    return (str(exc).strip() or type(exc).__name__).splitlines()[0]


def needs_jobs_extra(what: str, missing: ImportError) -> str:
    """The message for ``what`` (a command, the registry) run without the ``jobs`` extra.

    The API image leaves that extra out: pandas, MLflow, Evidently and the rest.
    """
    return (
        f"{what} needs the jobs extra ({missing}): run it from the monitor image, or install "
        "it with `uv sync --all-extras`"
    )
