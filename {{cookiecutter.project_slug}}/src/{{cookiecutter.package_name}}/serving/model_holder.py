"""Holds the model being served and swaps in a newly promoted champion without downtime.

The model comes from the champion's copy in the model folder, which every promotion and
rollback writes (:mod:`~{{ cookiecutter.package_name }}.io.champion_copy`): serving never
imports MLflow nor calls its server.

Requests read :attr:`ModelHolder.current` once and use that object to the end, so a swap
never affects a request in flight: it finishes on the model it started with.
"""

import threading
from dataclasses import dataclass

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.errors import RegistryError
from {{ cookiecutter.package_name }}.io.champion_copy import (
    NOTHING_TO_SERVE,
    CurrentChampion,
    copy_folder,
    load_copy,
    read_current,
    refuse_other_models,
)
from {{ cookiecutter.package_name }}.model import LoadedModel
from {{ cookiecutter.package_name }}.serving.contract import RequestContract


@dataclass(frozen=True)
class ServedModel:
    """A loaded model and the request contract built from its feature schema."""

    model: LoadedModel
    contract: RequestContract
    champion_copy: CurrentChampion
    """What the champion's copy said when this model was loaded (version, run, model name)."""

    @property
    def version(self) -> str:
        """The registry version, e.g. ``v3``."""
        return self.model.version

    @property
    def run_url(self) -> str:
        """The MLflow run that trained this model."""
        return self.champion_copy.run_url


class ModelNotReadyError(Exception):
    """No model can serve yet; the message says why."""


class ModelHolder:
    """The champion in memory, refreshed from the champion's copy in the model folder."""

    def __init__(self, settings: Settings) -> None:
        """Start empty; the first :meth:`refresh` loads the champion.

        Building the app therefore reads no model file (its OpenAPI schema, for example).
        """
        self._settings = settings
        self._model: ServedModel | None = None
        self._not_ready_reason = "the model has not been loaded yet"
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether a model is in memory (serving, or kept while a newer one fails to load)."""
        return self._model is not None

    @property
    def current(self) -> ServedModel:
        """The model to use for one request."""
        model = self._model
        if model is None:
            raise ModelNotReadyError(self._not_ready_reason)
        return model

    def refresh(self) -> bool:
        """Load the champion if it is not the one in memory; True if swapped.

        If the new champion's files cannot be read or loaded, the current model keeps serving
        and the :class:`RegistryError` propagates for the caller to log and count.
        """
        model_dir = self._settings.model_dir
        with self._lock:
            try:
                current = read_current(model_dir)
                refuse_other_models(model_dir, current, self._settings.model_name)
                if current is None:  # nothing promoted yet: not a failure
                    where = copy_folder(model_dir)
                    self._not_ready_reason = NOTHING_TO_SERVE.format(where=where)
                    return False
                served = self._model
                if served is not None and served.champion_copy == current:
                    return False  # by run too: a new MLflow store numbers from v1 again
                runtime = self._settings.preprocessing_runtime
                loaded = load_copy(model_dir, current.version, runtime)
            except RegistryError as exc:
                if self._model is None:
                    self._not_ready_reason = str(exc)
                raise
            contract = RequestContract(
                loaded.metadata.feature_schema, self._settings.max_batch_size
            )
            self._model = ServedModel(model=loaded, contract=contract, champion_copy=current)
            return True
