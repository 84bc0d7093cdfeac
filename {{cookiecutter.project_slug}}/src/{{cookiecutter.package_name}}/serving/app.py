"""The FastAPI application, built by :func:`create_app`.

``{{ cookiecutter.project_slug }} serve`` runs it with uvicorn.

Start-up loads the champion once (lifespan); a watcher then polls the champion's copy in
the model folder every ``APP_MODEL_POLL_SECONDS`` and swaps in a newly promoted or
rolled-back champion while requests keep flowing. If the new one cannot be loaded, the loaded
model keeps serving. Shutdown stops the watcher and drains the prediction log.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from {{ cookiecutter.package_name }} import __version__
from {{ cookiecutter.package_name }}.config import Settings, get_settings
from {{ cookiecutter.package_name }}.errors import RegistryError
from {{ cookiecutter.package_name }}.monitoring.prediction_log import (
    PredictionLogger,
    create_db_engine,
)
from {{ cookiecutter.package_name }}.serving import feedback
from {{ cookiecutter.package_name }}.serving.limits import RequestLimits
from {{ cookiecutter.package_name }}.serving.metrics import ServiceMetrics
from {{ cookiecutter.package_name }}.serving.micro_batch import MicroBatcher
from {{ cookiecutter.package_name }}.serving.middleware import RequestObserver
from {{ cookiecutter.package_name }}.serving.model_holder import ModelHolder
from {{ cookiecutter.package_name }}.serving.openapi import served_openapi
from {{ cookiecutter.package_name }}.serving.routes import router
from {{ cookiecutter.package_name }}.serving.state import ServiceState, reload_model
from {{ cookiecutter.package_name }}.serving.validation import validation_error_response

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; nothing is loaded until the server starts it (lifespan)."""
    settings = settings or get_settings()
    configure_logging()
    metrics = ServiceMetrics()
    state = ServiceState(
        settings=settings,
        holder=ModelHolder(settings),
        metrics=metrics,
        prediction_log=PredictionLogger(
            create_db_engine(settings.database_url),
            queue_size=settings.log_queue_size,
            batch_size=settings.log_batch_size,
            flush_seconds=settings.log_flush_seconds,
            on_write_error=metrics.log_write_errors.inc,
            on_drop=metrics.log_dropped.inc,
            on_pending=metrics.log_pending.set,
        ),
        batcher=MicroBatcher(settings.micro_batch_max_rows, metrics.micro_batch_rows.observe),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        with contextlib.suppress(RegistryError):  # /ready reports why until a model loads
            await run_in_threadpool(reload_model, state)
        state.prediction_log.start()
        watcher = asyncio.create_task(_watch_champion(state))
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await run_in_threadpool(state.prediction_log.close)

    app = FastAPI(
        title="{{ cookiecutter.project_name | replace('"', "'") }}",
        version=__version__,
        summary="Predictions from the champion model, with health, readiness and metrics.",
        lifespan=lifespan,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url="/redoc" if settings.docs_enabled else None,
    )
    app.state.service = state
    app.openapi = lambda: served_openapi(app, state)  # type: ignore[method-assign]
    # The last added runs first: the observer gives the limits' 413 and 408 a request id and
    # counts them.
    app.add_middleware(
        RequestLimits,
        max_bytes=settings.body_limit,
        timeout_seconds=settings.body_timeout_seconds,
    )
    app.add_middleware(RequestObserver, metrics=metrics)
    app.exception_handler(RequestValidationError)(validation_error_response)
    app.include_router(router)
    app.include_router(feedback.router)
    return app


def configure_logging() -> None:
    """Send the app's log lines (model swaps, log-writer errors) to stderr, with time and level.

    Does nothing if logging is already configured (e.g. by tests or an embedding program).
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )


async def _watch_champion(state: ServiceState) -> None:
    while True:
        await asyncio.sleep(state.settings.model_poll_seconds)
        try:
            await run_in_threadpool(reload_model, state)
        except RegistryError:  # logged and counted by reload_model
            pass
        except Exception:  # a bug must not stop the polling: log it and try again
            logger.exception("model reload crashed, serving the previous model if any")
