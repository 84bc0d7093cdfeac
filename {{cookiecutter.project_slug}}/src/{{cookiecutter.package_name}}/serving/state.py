"""What the running service holds: settings, the model, metrics and the prediction log."""

import gc
import logging
from dataclasses import dataclass, field
from typing import cast

from fastapi import Request

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.errors import RegistryError
from {{ cookiecutter.package_name }}.monitoring.prediction_log import PredictionLogger
from {{ cookiecutter.package_name }}.serving.metrics import ServiceMetrics
from {{ cookiecutter.package_name }}.serving.micro_batch import MicroBatcher
from {{ cookiecutter.package_name }}.serving.model_holder import ModelHolder

logger = logging.getLogger(__name__)


@dataclass
class ReloadHealth:
    """The error of the reloads failing since the last good one (None while they succeed)."""

    failing: str | None = None


@dataclass(frozen=True)
class ServiceState:
    """Everything a request handler needs, created once per app."""

    settings: Settings
    holder: ModelHolder
    metrics: ServiceMetrics
    prediction_log: PredictionLogger
    batcher: MicroBatcher
    reload_health: ReloadHealth = field(default_factory=ReloadHealth)


def get_state(request: Request) -> ServiceState:
    """The state of the app serving ``request`` (a dependency, and the predict routes' call)."""
    return cast(ServiceState, request.app.state.service)


def reload_model(state: ServiceState) -> bool:
    """Load a newly promoted champion if there is one; True if the served model changed.

    On failure the current model keeps serving; the error is counted and raised. It is logged
    once when reloads start failing and once when they recover, not at every poll.

    After a swap, every object alive (the libraries, the new model) is frozen out of the
    garbage collector's scans (``gc.freeze``): a full collection walks ~300,000 objects here,
    about 0.25 s, and batch requests allocate enough to start one every few requests. When a
    model is swapped out, the previous freeze is undone and one full collection runs first:
    the old model's objects that only a collection frees (its request classes, for one).
    """
    swapping = state.holder.loaded
    try:
        changed = state.holder.refresh()
    except RegistryError as exc:
        state.metrics.model_reloads.labels(outcome="failed").inc()
        if state.reload_health.failing is None:
            logger.error(
                "model reload failed, serving the previous model if any (counted in "
                "model_reloads_total, logged again once it recovers): %s",
                exc,
            )
            state.reload_health.failing = str(exc)
        raise
    if state.reload_health.failing is not None:
        logger.info("model reload recovered after: %s", state.reload_health.failing)
        state.reload_health.failing = None
    if changed:
        version = state.holder.current.version
        state.metrics.model_reloads.labels(outcome="loaded").inc()
        state.metrics.set_model_version(version)
        logger.info("serving model %s", version)
        if swapping:
            gc.unfreeze()
            gc.collect()
        gc.freeze()
    return changed
