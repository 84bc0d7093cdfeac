"""Holds the model being served and swaps in a newly promoted champion without downtime.

Requests read :attr:`ModelHolder.current` once and use that object to the end, so a swap
never affects a request in flight: it finishes on the model it started with.
"""

import threading
from dataclasses import dataclass

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.errors import RegistryError
from {{ cookiecutter.package_name }}.io.registry import (
    NO_CHAMPION,
    ModelRegistry,
    open_registry,
)
from {{ cookiecutter.package_name }}.model import LoadedModel
from {{ cookiecutter.package_name }}.serving.contract import RequestContract


@dataclass(frozen=True)
class ServedModel:
    """A loaded model and the request contract built from its feature schema."""

    model: LoadedModel
    contract: RequestContract
    run_url: str

    @property
    def version(self) -> str:
        """The registry version, e.g. ``v3``."""
        return self.model.version


class ModelNotReadyError(Exception):
    """No model can serve yet; the message says why."""


class ModelHolder:
    """The champion in memory, refreshed from the registry's ``champion`` alias."""

    def __init__(self, settings: Settings) -> None:
        """Start empty; the first :meth:`refresh` opens the registry and loads the champion.

        Building the app therefore touches no MLflow store (its OpenAPI schema, for example).
        """
        self._settings = settings
        self._registry: ModelRegistry | None = None
        self._model: ServedModel | None = None
        self._not_ready_reason = "the model has not been loaded yet"
        self._lock = threading.Lock()

    @property
    def current(self) -> ServedModel:
        """The model to use for one request."""
        model = self._model
        if model is None:
            raise ModelNotReadyError(self._not_ready_reason)
        return model

    def refresh(self) -> bool:
        """Load the registry's champion if it is not the one in memory; True if swapped.

        If the new champion cannot be loaded, or MLflow cannot be reached, the current model
        keeps serving and the :class:`RegistryError` propagates for the caller to log and count.
        """
        with self._lock:
            if self._registry is None:
                self._registry = open_registry(self._settings)
            registry = self._registry
            try:
                champion = registry.champion()
                if champion is None:  # nothing to load yet: not a failure
                    self._not_ready_reason = NO_CHAMPION.format(where=registry.where)
                    return False
                if self._model is not None and self._model.version == champion:
                    return False
                loaded = registry.load(champion)
                run_url = registry.run_url(loaded.metadata.run_id)
            except RegistryError as exc:
                if self._model is None:
                    self._not_ready_reason = str(exc)
                raise
            contract = RequestContract(
                loaded.metadata.feature_schema, self._settings.max_batch_size
            )
            self._model = ServedModel(model=loaded, contract=contract, run_url=run_url)
            return True
