"""Where the commands print: results to standard output, progress and errors to standard error.

An expected error (bad data, missing model, bad setting, a file the settings name) becomes
one ``error:`` line and exit status 1, never a traceback.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from {{ cookiecutter.package_name }}.errors import (
    AppError,
    needs_jobs_extra,
)

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)
JOBS_EXTRA = frozenset({"pandas", "mlflow", "evidently", "matplotlib", "skl2onnx", "alembic"})
"""The modules of the ``jobs`` extra (pyproject.toml): a command that needs one says so."""


def expected_error(exc: Exception, what: str = "this command") -> str | None:
    """The line an expected error prints after ``error:``; None for any other (a bug)."""
    if isinstance(exc, AppError):
        return str(exc)
    if isinstance(exc, ModuleNotFoundError):  # the API image leaves the jobs extra out
        extra = (exc.name or "").partition(".")[0] in JOBS_EXTRA
        return needs_jobs_extra(what, exc) if extra else None
    if isinstance(exc, OSError) and exc.filename is not None:  # a file the settings name
        return f"{exc.filename}: {exc.strerror}"
    return None


def print_error(message: str) -> None:
    """One red ``error:`` line on standard error."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn an expected error into one line on standard error and exit status 1."""
    try:
        yield
    except Exception as exc:
        message = expected_error(exc)
        if message is None:
            raise
        print_error(message)
        raise typer.Exit(1) from None


@contextmanager
def step(message: str) -> Iterator[None]:
    """Show a spinner while a step runs, then a line with its duration."""
    started = time.perf_counter()
    with stderr.status(f"{message}..."):
        yield
    stderr.print(f"- {message}: done in {time.perf_counter() - started:.2f}s", markup=False)
