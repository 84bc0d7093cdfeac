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


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn an expected error into one line on standard error and exit status 1."""
    try:
        yield
    except AppError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    except OSError as exc:  # a file the settings name: missing, not writable, read-only
        if exc.filename is None:
            raise
        typer.secho(f"error: {exc.filename}: {exc.strerror}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    except ModuleNotFoundError as exc:  # the API image leaves the jobs extra out
        if (exc.name or "").partition(".")[0] not in JOBS_EXTRA:
            raise
        message = needs_jobs_extra("this command", exc)
        typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None


@contextmanager
def step(message: str) -> Iterator[None]:
    """Show a spinner while a step runs, then a line with its duration."""
    started = time.perf_counter()
    with stderr.status(f"{message}..."):
        yield
    stderr.print(f"- {message}: done in {time.perf_counter() - started:.2f}s", markup=False)
