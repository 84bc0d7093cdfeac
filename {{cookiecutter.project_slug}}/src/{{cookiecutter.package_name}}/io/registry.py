"""The model registry on MLflow: versions, the champion alias, checked loading, promotion.

One registered model per project (``APP_MODEL_NAME``), and MLflow is its only source of truth.
A version is an MLflow model version, shown as ``v3``. Its training run holds the files under
the artifact folder ``model/``::

    MLmodel, model.pkl, ...  an MLflow scikit-learn model, with its signature and an input example
    preprocessing.onnx       its preprocessing exported to ONNX, if it could be (the API runs it)
    metadata.json            metrics, feature schema, data checksum, library versions
    reference.csv            a sample of the training data with predictions: the drift baseline

- The alias ``champion`` marks the version being served; ``challenger`` the newest version
  registered and not promoted yet. Promotion and rollback move ``champion``.
- Every version is tagged with the SHA-256 of its ``model.pkl`` (its ``metadata.json`` holds
  that of ``preprocessing.onnx``), and every load checks them.
- The registered model's tag ``champion_history`` lists the champions, oldest first: rollback
  returns to the one before. Promotions through one model folder queue on a file lock.
- Every promotion, rollback and retraining decision is also appended to the audit log.
- Promotion and rollback also copy the new champion into the model folder, which is where
  the API serves it from (see :mod:`~{{ cookiecutter.package_name }}.io.champion_copy`):
  serving needs no MLflow.

MLflow is imported only when a registry is opened: ``--help`` stays instant.
"""

import fcntl
import hashlib
import io
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sklearn.pipeline import Pipeline

from {{ cookiecutter.package_name }} import __version__, audit
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.errors import (
    DataError,
    RegistryError,
    needs_jobs_extra,
)
from {{ cookiecutter.package_name }}.io.champion_copy import (
    METADATA_FILE,
    MODEL_FILE,
    CurrentChampion,
    ModelFiles,
    load_verified,
    point_at,
    read_current,
    refuse_other_models,
    stage_version,
    write_copy,
)
from {{ cookiecutter.package_name }}.model import LoadedModel, ModelMetadata
from {{ cookiecutter.package_name }}.preprocessing_onnx import ONNX_FILE
from {{ cookiecutter.package_name }}.schema import PREDICTION_COLUMN

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

MODEL_PATH = "model"
"""The artifact folder of a version in its run."""
REFERENCE_FILE = "reference.csv"
CHAMPION = "champion"
CHALLENGER = "challenger"
CHECKSUM_TAG = "sha256"
HISTORY_TAG = "champion_history"
HISTORY_KEPT = 100
"""Champions remembered for rollback (an MLflow tag holds at most 5,000 characters)."""
STORE_FILE = "mlflow.db"
ARTIFACTS_DIR = "artifacts"
LOCK_FILE = "registry.lock"
AUDIT_FILE = "audit.jsonl"
VERSION_PATTERN = re.compile(r"v?([1-9][0-9]{0,8})")
MLFLOW_DEFAULTS = {
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}
"""A tracking server that is down fails a command in about 10 s, not MLflow's default minutes
(the API never calls it). Set the variables to override them."""
NO_CHAMPION = "no model has been promoted in {where}: run `train` first"


def tracking_uri(settings: Settings) -> str:
    """``APP_MLFLOW_TRACKING_URI``, or the embedded SQLite store in ``APP_MODEL_DIR``."""
    if settings.mlflow_tracking_uri:
        return settings.mlflow_tracking_uri
    return f"sqlite:///{(settings.model_dir / STORE_FILE).resolve()}"


def open_registry(settings: Settings) -> "ModelRegistry":
    """The project's registry, on the configured MLflow (created on first use)."""
    try:
        from mlflow import MlflowClient  # noqa: PLC0415 - a 3 s import that --help never needs
    except ImportError as exc:  # the API image leaves the jobs extra out
        raise RegistryError(needs_jobs_extra("the model registry", exc)) from None

    # A new store's schema migrations log a dozen lines; saving a model warns about pickle
    # files (this registry checks their SHA-256) and pip versions. Errors still show.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    for variable, value in MLFLOW_DEFAULTS.items():  # MLflow reads its HTTP settings from here
        os.environ.setdefault(variable, value)
    uri = tracking_uri(settings)
    if uri.startswith("sqlite:"):
        settings.model_dir.mkdir(parents=True, exist_ok=True)
    return ModelRegistry(MlflowClient(tracking_uri=uri, registry_uri=uri), settings)


class ModelRegistry:
    """The versions of the project's registered model, and which of them is the champion."""

    def __init__(self, client: "MlflowClient", settings: Settings) -> None:
        """Use ``client``'s store; the audit log and the promotion lock live in the model folder."""
        self.client = client
        self.name = settings.model_name
        self.uri = tracking_uri(settings)
        self.ui_url = settings.mlflow_ui_url.rstrip("/")
        self.experiment_name = settings.model_name
        self._folder = settings.model_dir
        self._runtime = settings.preprocessing_runtime
        self._local_artifacts = (
            (settings.model_dir / ARTIFACTS_DIR).resolve().as_uri()
            if self.uri.startswith("sqlite:")
            else None  # a tracking server keeps the artifacts itself
        )
        refuse_other_models(self._folder, self._current_copy(), self.name)

    @property
    def audit_log(self) -> Path:
        """Path of the audit log."""
        return self._folder / AUDIT_FILE

    # Runs and versions ---------------------------------------------------------------------

    @contextmanager
    def run(self, run_name: str, tags: dict[str, str]) -> Iterator[str]:
        """An MLflow run of the project's experiment; yields its id, ends FINISHED or FAILED."""
        with self._mlflow("cannot start a run"):
            experiment = self.client.get_experiment_by_name(self.experiment_name)
            experiment_id = (
                experiment.experiment_id
                if experiment is not None
                else self.client.create_experiment(
                    self.experiment_name, artifact_location=self._local_artifacts
                )
            )
            run = self.client.create_run(
                experiment_id,
                run_name=run_name,
                tags={"template_version": __version__, **tags},
            )
        status = "FAILED"
        try:
            yield run.info.run_id
            status = "FINISHED"
        finally:
            with self._mlflow(f"cannot end run {run.info.run_id}"):
                self.client.set_terminated(run.info.run_id, status=status)

    def register(
        self,
        pipeline: Pipeline,
        metadata: ModelMetadata,
        reference: "pd.DataFrame",
        run_id: str,
        preprocessing_onnx: bytes | None = None,
    ) -> ModelMetadata:
        """Log a fitted pipeline to ``run_id`` and register it as the next version.

        ``preprocessing_onnx`` (the preprocessing's ONNX export, if any) is logged with it.
        The new version gets the ``challenger`` alias. Its version, run and SHA-256 fields of
        ``metadata`` are assigned here.
        """
        import pandas as pd  # noqa: PLC0415 - like MLflow, in the jobs extra: see open_registry
        from mlflow.sklearn import save_model  # noqa: PLC0415

        from {{ cookiecutter.package_name }}.io.signature import model_signature  # noqa: PLC0415

        schema = metadata.feature_schema
        with tempfile.TemporaryDirectory() as staging:
            folder = Path(staging) / MODEL_PATH
            save_model(
                pipeline,
                str(folder),
                serialization_format="pickle",
                signature=model_signature(metadata),
                input_example=pd.DataFrame([schema.example]),
                pip_requirements=[
                    f"{name}=={version}"
                    for name, version in metadata.library_versions.items()
                    if name in ("scikit-learn", "pandas")
                ],
            )
            checksum = hashlib.sha256((folder / MODEL_FILE).read_bytes()).hexdigest()
            onnx_checksum = None
            if preprocessing_onnx is not None:
                (folder / ONNX_FILE).write_bytes(preprocessing_onnx)
                onnx_checksum = hashlib.sha256(preprocessing_onnx).hexdigest()
            final = metadata.model_copy(
                update={"sha256": checksum, "run_id": run_id, "onnx_sha256": onnx_checksum}
            )
            (folder / METADATA_FILE).write_text(final.model_dump_json(indent=2))
            reference.to_csv(folder / REFERENCE_FILE, index=False)
            with self._mlflow("cannot register the model"):
                self.client.log_artifacts(run_id, str(folder), MODEL_PATH)
                self._ensure_registered_model()
                created = self.client.create_model_version(
                    self.name,
                    source=f"runs:/{run_id}/{MODEL_PATH}",
                    run_id=run_id,
                    tags={CHECKSUM_TAG: checksum},
                )
                self.client.set_registered_model_alias(self.name, CHALLENGER, created.version)
        return final.model_copy(update={"version": f"v{created.version}"})

    def record_decision(self, version: str, decision: dict[str, Any]) -> None:
        """Tag a version's run with the retraining gate's decision about it."""
        run_id = self._model_version(version).run_id
        if run_id is None:  # registered from outside a run (by hand, in the UI)
            return
        with self._mlflow(f"cannot record the decision on {version}"):
            for key, value in decision.items():
                self.client.set_tag(run_id, f"gate.{key}", str(value)[:5000])

    def versions(self) -> list[str]:
        """All registered versions, oldest first."""
        with self._mlflow("cannot list the versions"):
            found = self.client.search_model_versions(f"name = '{self.name}'")
        return [f"v{number}" for number in sorted(int(v.version) for v in found)]

    def run_url(self, run_id: str) -> str:
        """The page of a run in the MLflow UI."""
        with self._mlflow(f"cannot read run {run_id}"):
            experiment_id = self.client.get_run(run_id).info.experiment_id
        return f"{self.ui_url}/#/experiments/{experiment_id}/runs/{run_id}"

    # Reading versions ----------------------------------------------------------------------

    def metadata(self, version: str) -> ModelMetadata:
        """Read a version's metadata, or fail with a clear reason."""
        return self._metadata(version, self._model_version(version))

    def _metadata(self, version: str, found: "ModelVersion") -> ModelMetadata:
        raw = self._artifact(version, found, METADATA_FILE)
        try:
            metadata = ModelMetadata.model_validate_json(raw)
        except ValidationError as exc:
            raise RegistryError(
                f"model {version}: {METADATA_FILE} is corrupt ({exc.error_count()} errors)"
            ) from None
        return metadata.model_copy(update={"version": f"v{found.version}"})

    def load(self, version: str) -> LoadedModel:
        """Load a version after checking its files against the SHA-256 the registry recorded."""
        return self._load_with_files(version)[0]

    def _load_with_files(self, version: str) -> tuple[LoadedModel, ModelFiles]:
        found = self._model_version(version)
        metadata = self._metadata(version, found)
        files = {MODEL_FILE: self._artifact(version, found, MODEL_FILE)}
        if metadata.onnx_sha256 is not None:
            files[ONNX_FILE] = self._artifact(version, found, ONNX_FILE)
        model = load_verified(metadata, files, found.tags.get(CHECKSUM_TAG), self._runtime)
        return model, files

    def reference(self, version: str) -> "pd.DataFrame":
        """The training reference sample of a version (features and predictions)."""
        import pandas as pd  # noqa: PLC0415

        found = self._model_version(version)
        raw = self._artifact(version, found, REFERENCE_FILE)
        where = f"model {version}: {REFERENCE_FILE}"
        try:
            frame = pd.read_csv(io.BytesIO(raw))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            raise RegistryError(f"{where} is corrupt (not a CSV table)") from None
        if frame.empty:
            raise RegistryError(f"{where} is corrupt (no rows)")
        if PREDICTION_COLUMN not in frame.columns:
            raise RegistryError(f"{where} is corrupt (no {PREDICTION_COLUMN!r})")
        schema = self._metadata(version, found).feature_schema
        try:  # CSV loses types (a category "1" reads back as a number): restore them
            features = schema.normalise(frame, REFERENCE_FILE)
        except DataError as exc:
            raise RegistryError(f"model {version}: reference is corrupt ({exc})") from None
        return features.assign(**{PREDICTION_COLUMN: frame[PREDICTION_COLUMN]})

    # The champion --------------------------------------------------------------------------

    def champion(self) -> str | None:
        """The version the ``champion`` alias points at, or None before the first promotion."""
        found = self._alias(CHAMPION)
        return None if found is None else f"v{found.version}"

    def require_champion(self) -> str:
        """The champion's version, or fail saying how to get one."""
        champion = self.champion()
        if champion is None:
            raise RegistryError(NO_CHAMPION.format(where=self.where))
        return champion

    def load_champion(self) -> LoadedModel:
        """Load the champion."""
        return self.load(self.require_champion())

    def promote(self, version: str, reason: str, *, allow_schema_change: bool = False) -> None:
        """Move the ``champion`` alias to ``version``, after proving that it loads.

        A version that would break the champion's clients (see :func:`schema_change`) is
        refused unless ``allow_schema_change``.
        """
        candidate, files = self._load_with_files(version)
        version = candidate.version
        with self._locked():
            previous = self.champion()
            if previous == version:
                raise RegistryError(f"model {version} is already the champion")
            if previous is not None and not allow_schema_change:
                change = schema_change(self.metadata(previous), candidate.metadata)
                if change:
                    raise RegistryError(
                        f"model {version} changes the request schema ({change}): clients of "
                        f"{previous} would break; promote it with --allow-schema-change once "
                        "they are ready"
                    )
            history = [v for v in self._history() if v != version] + [version]
            self._move_champion(candidate, files, history)
            if (challenger := self._alias(CHALLENGER)) and f"v{challenger.version}" == version:
                with self._mlflow("cannot clear the challenger alias"):
                    self.client.delete_registered_model_alias(self.name, CHALLENGER)
        audit.record(self.audit_log, "promote", version=version, previous=previous, reason=reason)

    def rollback(self, reason: str) -> str:
        """Move ``champion`` back to the previous champion; return its version."""
        with self._locked():
            current = self.champion()
            history = [] if current is None else [v for v in self._history() if v != current]
            if not history:
                raise RegistryError("no previous champion to roll back to")
            target = history[-1]
            model, files = self._load_with_files(target)
            self._move_champion(model, files, history)
        audit.record(self.audit_log, "rollback", version=target, previous=current, reason=reason)
        return target

    def sync_copy(self) -> str | None:
        """Copy the champion into the model folder unless its copy is there already.

        Promotion and rollback write the copy themselves. This repairs a model folder that
        lost it, or follows an alias moved by hand in the MLflow UI. Returns the champion.
        """
        with self._locked():
            found = self._alias(CHAMPION)
            if found is None:
                return None
            champion = f"v{found.version}"
            copied = self._current_copy()
            # By run too: a new MLflow store numbers from v1 again.
            served = None if copied is None else (copied.version, copied.run_url.split("/")[-1])
            if served != (champion, found.run_id):
                model, files = self._load_with_files(champion)
                write_copy(self._folder, model, files, self._copy_of(model))
        return champion

    @property
    def where(self) -> str:
        """The store, for messages: its path or URL."""
        return self.uri.removeprefix("sqlite:///")

    # Internals -----------------------------------------------------------------------------

    def _move_champion(self, model: LoadedModel, files: ModelFiles, history: list[str]) -> None:
        """Stage the champion's copy, move the alias, then point the copy at it.

        In that order, a failure at any step leaves the API serving the previous champion.
        """
        version, current = model.version, self._copy_of(model)  # reads MLflow: before any move
        stage_version(self._folder, model.metadata, files)
        with self._mlflow(f"cannot make {version} the champion"):
            self.client.set_registered_model_tag(
                self.name, HISTORY_TAG, json.dumps(history[-HISTORY_KEPT:])
            )
            self.client.set_registered_model_alias(self.name, CHAMPION, _number(version))
        point_at(self._folder, current)

    def _copy_of(self, model: LoadedModel) -> CurrentChampion:
        """What the model folder's ``current.json`` says once ``model`` is the champion."""
        run_url = self.run_url(model.metadata.run_id)
        return CurrentChampion(version=model.version, run_url=run_url, model_name=self.name)

    def _current_copy(self) -> CurrentChampion | None:
        """The model folder's ``current.json``; None if absent or unreadable (written anew)."""
        try:
            return read_current(self._folder)
        except RegistryError:
            return None

    def _history(self) -> list[str]:
        with self._mlflow("cannot read the champion history"):
            tags = self.client.get_registered_model(self.name).tags
        try:
            history = json.loads(tags.get(HISTORY_TAG, "[]"))
        except json.JSONDecodeError:
            raise RegistryError(
                f"the {HISTORY_TAG} tag of {self.name} is corrupt: fix it in the MLflow UI"
            ) from None
        return [str(v) for v in history] if isinstance(history, list) else []

    def _alias(self, alias: str) -> "ModelVersion | None":
        with self._mlflow(f"cannot read the {alias} alias"):
            try:
                return self.client.get_model_version_by_alias(self.name, alias)
            except Exception as exc:
                if _not_found(exc, "INVALID_PARAMETER_VALUE"):
                    return None  # no registered model yet, or no such alias
                raise

    def _model_version(self, version: str) -> "ModelVersion":
        match = VERSION_PATTERN.fullmatch(version)
        if match is None:
            raise RegistryError(f"{version!r} is not a model version: versions look like v1, v2")
        with self._mlflow(f"cannot read model {version}"):
            try:
                return self.client.get_model_version(self.name, match.group(1))
            except Exception as exc:
                if not _not_found(exc):
                    raise
        known = ", ".join(self.versions()) or "none"
        raise RegistryError(f"model {version} not found in {self.where} (versions: {known})")

    def _artifact(self, version: str, found: "ModelVersion", name: str) -> bytes:
        from mlflow.artifacts import download_artifacts  # noqa: PLC0415

        with tempfile.TemporaryDirectory() as folder:
            try:
                path = download_artifacts(
                    run_id=found.run_id,
                    artifact_path=f"{MODEL_PATH}/{name}",
                    dst_path=folder,
                    tracking_uri=self.uri,
                )
                return Path(path).read_bytes()
            except Exception as exc:  # the seam: whatever the store raises
                missing = ("No such file", "Failed to download artifacts from path")
                if isinstance(exc, FileNotFoundError) or any(m in str(exc) for m in missing):
                    raise RegistryError(f"model {version}: {name} is missing") from None
                raise RegistryError(
                    self._failure(f"cannot read {name} of {version}", exc)
                ) from None

    def _ensure_registered_model(self) -> None:
        try:
            self.client.create_registered_model(
                self.name, description="Served as the `champion` alias; see docs/runbook.md."
            )
        except Exception as exc:
            if getattr(exc, "error_code", None) != "RESOURCE_ALREADY_EXISTS":
                raise

    @contextmanager
    def _mlflow(self, what: str) -> Iterator[None]:
        """Turn any failure of the store (down, unreachable, refusing, corrupt) into RegistryError.

        Callers, such as the API's watcher, then handle that one error, which names the store.
        """
        try:
            yield
        except RegistryError:
            raise
        except Exception as exc:  # the seam: whatever the store raises
            raise RegistryError(self._failure(what, exc)) from None

    def _failure(self, what: str, exc: Exception) -> str:
        lines = str(getattr(exc, "message", exc)).strip().splitlines() or [type(exc).__name__]
        return f"{what}: MLflow at {self.where} failed ({lines[0][:300]})"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the promotion lock (released when the file closes, even on a crash)."""
        self._folder.mkdir(parents=True, exist_ok=True)
        with (self._folder / LOCK_FILE).open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield


def schema_change(current: ModelMetadata, candidate: ModelMetadata) -> str:
    """How ``candidate`` would break clients of ``current`` ("" if it would not).

    New optional features, newly nullable ones and new categories are compatible; a new
    required feature, a removed one, a changed kind or a feature that may no longer be null
    are not.
    """
    old = {name: (kind, nullable) for name, kind, nullable in current.feature_schema.contract()}
    new = {name: (kind, nullable) for name, kind, nullable in candidate.feature_schema.contract()}
    changes = [
        f"new required feature {name!r}"
        for name, (_, null) in new.items()
        if name not in old and not null
    ]
    changes += [f"no feature {name!r}" for name in old if name not in new]
    for name in new.keys() & old.keys():
        (old_kind, old_null), (new_kind, new_null) = old[name], new[name]
        if new_kind != old_kind:
            changes.append(f"{name!r} is {new_kind} instead of {old_kind}")
        elif old_null and not new_null:
            changes.append(f"{name!r} may no longer be null")
    return "; ".join(sorted(changes))


def _not_found(exc: Exception, *also: str) -> bool:
    """Whether MLflow refused a lookup because the thing does not exist."""
    return getattr(exc, "error_code", None) in ("RESOURCE_DOES_NOT_EXIST", *also)


def _number(version: str) -> str:
    match = VERSION_PATTERN.fullmatch(version)
    if match is None:
        raise RegistryError(f"{version!r} is not a model version: versions look like v1, v2")
    return match.group(1)
