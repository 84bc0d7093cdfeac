"""The ``serve`` command: the API under uvicorn, with one line for a bad setting."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from {{ cookiecutter.package_name }}.cli.console import reported_errors
from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.errors import ConfigError

if TYPE_CHECKING:
    from types import FrameType

app = typer.Typer()


@app.command()
def serve() -> None:
    """Start the API server (APP_HOST, APP_PORT, APP_WORKERS)."""
    import uvicorn

    from {{ cookiecutter.package_name }}.monitoring.prediction_log import create_db_engine

    with reported_errors():
        settings = load_settings()
        create_db_engine(settings.database_url).dispose()  # a bad URL: one line, not a trace
        _refuse_a_taken_port(settings.host, settings.port)
    # After its graceful shutdown, uvicorn raises the signal that stopped it again, which ends
    # the process with 143 (SIGTERM) or 130 (Ctrl-C), and `make serve` reports an error. These
    # handlers, which uvicorn restores first, end it with 0.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _exit_after_shutdown)
    with _metrics_shared_by_workers(settings.workers):
        uvicorn.run(
            "{{ cookiecutter.package_name }}.serving.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            limit_concurrency=settings.limit_concurrency,
            access_log=settings.access_log,
        )


def _refuse_a_taken_port(host: str, port: int) -> None:
    """One line naming APP_PORT when the port is taken (uvicorn would fail after loading)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"invalid setting APP_PORT: cannot serve on {host}:{port}: {exc.strerror}; "
                f"choose a free port, e.g. APP_PORT={port + 1}"
            ) from None


def _exit_after_shutdown(signum: int, frame: FrameType | None) -> None:
    """SIGTERM or SIGINT outside uvicorn's own handling: exit with status 0."""
    raise SystemExit(0)


@contextmanager
def _metrics_shared_by_workers(workers: int) -> Iterator[None]:
    """With several workers, an empty folder for Prometheus' multiprocess mode, then removed.

    A PROMETHEUS_MULTIPROC_DIR set by the deployment (an emptyDir, say) is used as it is.
    """
    import tempfile

    from {{ cookiecutter.package_name }}.serving.metrics import MULTIPROCESS_DIR

    if workers == 1 or MULTIPROCESS_DIR in os.environ:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="prometheus-") as folder:
        os.environ[MULTIPROCESS_DIR] = folder  # the workers, spawned below, inherit it
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_DIR]
