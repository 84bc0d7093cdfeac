"""Versioned model store on disk: register, list, load, promote and roll back.

Layout of ``APP_MODEL_DIR``::

    registry.json     {"history": ["v1", "v3"]}: champions, oldest first; the last one serves
    registry.lock     held while registry.json changes, so concurrent promotions queue up
    audit.jsonl       every promotion, rollback and retraining decision
    v1/model.joblib   the fitted pipeline (its SHA-256 is checked on every load)
    v1/metadata.json  version, metrics, feature schema, ...
    v1/reference.csv  a sample of the training data with predictions: the drift baseline

A version directory appears in one rename, complete, or not at all; ``registry.json`` is
replaced atomically, so a server polling it never reads half a promotion.
"""

import fcntl
import hashlib
import io
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import joblib
import pandas as pd
from pydantic import BaseModel, ValidationError
from sklearn.pipeline import Pipeline

from {{ cookiecutter.package_name }} import audit
from {{ cookiecutter.package_name }}.atomic import write_atomic
from {{ cookiecutter.package_name }}.errors import DataError, RegistryError
from {{ cookiecutter.package_name }}.model import LoadedModel, ModelMetadata
from {{ cookiecutter.package_name }}.schema import PREDICTION_COLUMN

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
REFERENCE_FILE = "reference.csv"
STATE_FILE = "registry.json"
LOCK_FILE = "registry.lock"
AUDIT_FILE = "audit.jsonl"
VERSION_PATTERN = re.compile(r"v([1-9][0-9]*)")
NO_CHAMPION = "no model has been promoted in {root}: run `train` first"


class RegistryState(BaseModel):
    """Which versions have been champion, oldest first; the last one is serving."""

    history: list[str] = []


class ModelRegistry:
    """The model versions under one directory, and which of them is the champion."""

    def __init__(self, root: Path) -> None:
        """Use ``root`` (created on first write) as the store."""
        self.root = root

    @property
    def audit_log(self) -> Path:
        """Path of the audit log."""
        return self.root / AUDIT_FILE

    def register(
        self, pipeline: Pipeline, metadata: ModelMetadata, reference: pd.DataFrame
    ) -> ModelMetadata:
        """Store a fitted pipeline as the next version; return its final metadata.

        The version and SHA-256 fields of ``metadata`` are assigned here.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        joblib.dump(pipeline, buffer)
        model_bytes = buffer.getvalue()
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".staging-"))
        try:
            (staging / MODEL_FILE).write_bytes(model_bytes)
            reference.to_csv(staging / REFERENCE_FILE, index=False)
            while True:
                number = max((_number(v) for v in self.versions()), default=0) + 1
                final = metadata.model_copy(
                    update={
                        "version": f"v{number}",
                        "sha256": hashlib.sha256(model_bytes).hexdigest(),
                    }
                )
                (staging / METADATA_FILE).write_text(final.model_dump_json(indent=2))
                try:
                    staging.rename(self.root / final.version)
                except OSError:  # another process took this number first: take the next
                    if (self.root / final.version).exists():
                        continue
                    raise
                return final
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def versions(self) -> list[str]:
        """All stored versions, oldest first."""
        if not self.root.is_dir():
            return []
        found = [p.name for p in self.root.iterdir() if VERSION_PATTERN.fullmatch(p.name)]
        return sorted(found, key=_number)

    def metadata(self, version: str) -> ModelMetadata:
        """Read a version's metadata, or fail with a clear reason."""
        path = self._version_dir(version) / METADATA_FILE
        try:
            return ModelMetadata.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            raise RegistryError(f"model {version}: {path} is missing") from None
        except ValidationError as exc:
            problems = exc.error_count()
            raise RegistryError(f"model {version}: {path} is corrupt ({problems} errors)") from None

    def load(self, version: str) -> LoadedModel:
        """Load a version after checking its file against the recorded SHA-256."""
        metadata = self.metadata(version)
        path = self._version_dir(version) / MODEL_FILE
        try:
            model_bytes = path.read_bytes()
        except FileNotFoundError:
            raise RegistryError(f"model {version}: {path} is missing") from None
        if hashlib.sha256(model_bytes).hexdigest() != metadata.sha256:
            raise RegistryError(f"model {version}: {path} is corrupt (checksum mismatch)")
        try:
            # Unpickling runs code: only load files this registry wrote (checked above).
            pipeline = joblib.load(io.BytesIO(model_bytes))
        except Exception as exc:  # e.g. saved by an incompatible scikit-learn
            raise RegistryError(f"model {version}: {path} cannot be loaded ({exc})") from None
        return LoadedModel(metadata=metadata, pipeline=pipeline)

    def reference(self, version: str) -> pd.DataFrame:
        """The training reference sample of a version (features and predictions)."""
        path = self._version_dir(version) / REFERENCE_FILE
        try:
            frame = pd.read_csv(path)
        except FileNotFoundError:
            raise RegistryError(f"model {version}: {path} is missing") from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            raise RegistryError(f"model {version}: {path} is corrupt (not a CSV table)") from None
        if frame.empty:
            raise RegistryError(f"model {version}: {path} is corrupt (no rows)")
        if PREDICTION_COLUMN not in frame.columns:
            raise RegistryError(f"model {version}: {path} is corrupt (no {PREDICTION_COLUMN!r})")
        schema = self.metadata(version).feature_schema
        try:  # CSV loses types (a category "1" reads back as a number): restore them
            features = schema.normalise(frame, str(path))
        except DataError as exc:
            raise RegistryError(f"model {version}: reference is corrupt ({exc})") from None
        return features.assign(**{PREDICTION_COLUMN: frame[PREDICTION_COLUMN]})

    def champion(self) -> str | None:
        """The version being served, or None before the first promotion."""
        history = self._state().history
        return history[-1] if history else None

    def require_champion(self) -> str:
        """The champion's version, or fail saying how to get one."""
        champion = self.champion()
        if champion is None:
            raise RegistryError(NO_CHAMPION.format(root=self.root))
        return champion

    def load_champion(self) -> LoadedModel:
        """Load the champion."""
        return self.load(self.require_champion())

    def promote(self, version: str, reason: str, *, allow_schema_change: bool = False) -> None:
        """Make ``version`` the champion, after proving that it loads.

        A version that would break the champion's clients (see :func:`schema_change`) is
        refused unless ``allow_schema_change``.
        """
        candidate = self.load(version)
        with self._locked():
            state = self._state()
            previous = state.history[-1] if state.history else None
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
            state.history.append(version)
            self._save(state)
        audit.record(self.audit_log, "promote", version=version, previous=previous, reason=reason)

    def rollback(self, reason: str) -> str:
        """Return to the previous champion; return its version."""
        with self._locked():
            state = self._state()
            if len(state.history) < 2:  # noqa: PLR2004 - a rollback needs a previous champion
                raise RegistryError("no previous champion to roll back to")
            current = state.history.pop()
            target = state.history[-1]
            self.load(target)
            self._save(state)
        audit.record(self.audit_log, "rollback", version=target, previous=current, reason=reason)
        return target

    def _version_dir(self, version: str) -> Path:
        if not VERSION_PATTERN.fullmatch(version):
            raise RegistryError(f"{version!r} is not a model version: versions look like v1, v2")
        path = self.root / version
        if not path.is_dir():
            known = ", ".join(self.versions()) or "none"
            raise RegistryError(f"model {version} not found in {self.root} (versions: {known})")
        return path

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the registry's lock (released when the file closes, even on a crash)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / LOCK_FILE).open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _state(self) -> RegistryState:
        path = self.root / STATE_FILE
        if not path.exists():
            return RegistryState()
        try:
            return RegistryState.model_validate_json(path.read_bytes())
        except ValidationError:
            raise RegistryError(f"{path} is corrupt: restore it or promote again") from None

    def _save(self, state: RegistryState) -> None:
        write_atomic(self.root / STATE_FILE, state.model_dump_json(indent=2))


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


def _number(version: str) -> int:
    match = VERSION_PATTERN.fullmatch(version)
    return int(match.group(1)) if match else 0
