"""The champion's copy in the model folder: what promotion writes and the API serves.

MLflow is the registry of record, but the API does not talk to it: every promotion and
rollback also copies the new champion's verified files into ``APP_MODEL_DIR/champion/``::

    current.json        which version to serve, its run's page in the MLflow UI, the model name
    v3/model.pkl        the pickled pipeline
    v3/preprocessing.onnx  its preprocessing exported to ONNX, if training could export it
    v3/metadata.json    its metadata (with the SHA-256 of each of the files above)

``current.json`` is replaced atomically, after the version's files are complete, so a reader
sees the old champion or the new one, never half of one. The API polls it and checks every
model file against its SHA-256 before unpickling. So serving needs neither the MLflow client
(about 60 MB of the API image and 1.5 s of its start) nor a reachable tracking server: if
MLflow is down, the API keeps serving and can even restart.

``current.json`` also names the registered model (``APP_MODEL_NAME``). A model folder holds
one model's champion: a registry or an API configured for another model refuses the folder,
rather than replace that champion or serve it.
"""

import hashlib
import os
import pickle  # nosec B403 - only files whose SHA-256 matches the registry's are unpickled
import shutil
from pathlib import Path

from pydantic import BaseModel, ValidationError
from sklearn.pipeline import Pipeline

from {{ cookiecutter.package_name }}.atomic import write_atomic
from {{ cookiecutter.package_name }}.config import PreprocessingRuntime
from {{ cookiecutter.package_name }}.errors import RegistryError, first_line
from {{ cookiecutter.package_name }}.model import LoadedModel, ModelMetadata
from {{ cookiecutter.package_name }}.preprocessing_onnx import ONNX_FILE, OnnxPreprocessing

COPY_DIR = "champion"
CURRENT_FILE = "current.json"
MODEL_FILE = "model.pkl"
METADATA_FILE = "metadata.json"
ModelFiles = dict[str, bytes]
"""A version's files by name: ``model.pkl``, and ``preprocessing.onnx`` if it has one."""
VERSIONS_KEPT = 3
"""Version folders kept: the champion and the two before it (an API may still be reading one)."""
NOTHING_TO_SERVE = (
    "no model has been promoted in {where}: run `train` first (or `train --if-missing`, "
    "which copies the registry's champion there)"
)


class CurrentChampion(BaseModel):
    """The content of ``current.json``."""

    version: str
    run_url: str
    model_name: str | None = None  # None in copies written before the name was recorded


def copy_folder(model_dir: Path) -> Path:
    """Where the champion's copy lives in a model folder."""
    return model_dir / COPY_DIR


def write_copy(
    model_dir: Path, model: LoadedModel, files: ModelFiles, current: CurrentChampion
) -> None:
    """Copy a verified version's files, then make it the one to serve (one atomic rename)."""
    stage_version(model_dir, model.metadata, files)
    point_at(model_dir, current)


def stage_version(model_dir: Path, metadata: ModelMetadata, files: ModelFiles) -> None:
    """Write a version's folder in the copy, unless a complete one is there already."""
    folder = copy_folder(model_dir)
    target = folder / metadata.version
    if (target / METADATA_FILE).is_file() and all(
        _sha256(target / name) == hashlib.sha256(content).hexdigest()
        for name, content in files.items()
    ):
        return
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".{metadata.version}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for name, content in files.items():
        (staging / name).write_bytes(content)
    (staging / METADATA_FILE).write_text(metadata.model_dump_json(indent=2))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def point_at(model_dir: Path, current: CurrentChampion) -> None:
    """Make ``current`` the version to serve, then drop all but the newest version folders."""
    folder = copy_folder(model_dir)
    os.utime(folder / current.version)  # the newest served: kept longest
    write_atomic(folder / CURRENT_FILE, current.model_dump_json(indent=2))
    versions = sorted(
        (path for path in folder.iterdir() if path.is_dir() and not path.name.startswith(".")),
        key=lambda path: path.stat().st_mtime,
    )
    for old in versions[:-VERSIONS_KEPT]:
        if old.name != current.version:
            shutil.rmtree(old, ignore_errors=True)


def read_current(model_dir: Path) -> CurrentChampion | None:
    """The version to serve, or None before the first promotion."""
    path = copy_folder(model_dir) / CURRENT_FILE
    try:
        return CurrentChampion.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else f"{exc.error_count()} errors"
        raise RegistryError(f"{path} is unreadable ({reason})") from None


def refuse_other_models(model_dir: Path, current: CurrentChampion | None, model_name: str) -> None:
    """Fail when the folder's copy is the champion of another registered model.

    The copy, the audit log and the promotion lock of a model folder belong to one model:
    a second one there would replace the first one's champion, and its API would serve it.
    """
    if current is not None and current.model_name not in (None, model_name):
        raise RegistryError(
            f"{copy_folder(model_dir)} holds the champion of model '{current.model_name}', "
            f"not of APP_MODEL_NAME '{model_name}': give each model a folder of its own "
            f"(APP_MODEL_DIR), or set APP_MODEL_NAME={current.model_name}"
        )


def load_copy(model_dir: Path, version: str, runtime: PreprocessingRuntime = "onnx") -> LoadedModel:
    """Load a version of the copy after checking its files against their SHA-256."""
    folder = copy_folder(model_dir) / version
    try:
        metadata = ModelMetadata.model_validate_json((folder / METADATA_FILE).read_bytes())
        files = {MODEL_FILE: (folder / MODEL_FILE).read_bytes()}
        if metadata.onnx_sha256 is not None:
            files[ONNX_FILE] = (folder / ONNX_FILE).read_bytes()
    except FileNotFoundError as exc:
        raise RegistryError(f"model {version}: {exc.filename} is missing") from None
    except ValidationError as exc:
        raise RegistryError(
            f"model {version}: {METADATA_FILE} is corrupt ({exc.error_count()} errors)"
        ) from None
    return load_verified(metadata, files, metadata.sha256, runtime)


def load_verified(
    metadata: ModelMetadata,
    files: ModelFiles,
    model_sha256: str | None,
    runtime: PreprocessingRuntime,
) -> LoadedModel:
    """A version from its files, each checked against the SHA-256 the registry recorded.

    The pipeline's preprocessing runs in ONNX Runtime if the version has an export and
    ``runtime`` is ``onnx``.
    """
    version = metadata.version
    _verify(version, MODEL_FILE, files[MODEL_FILE], model_sha256)
    try:
        # Unpickling runs code: only a file whose checksum the registry recorded (above).
        pipeline: Pipeline = pickle.loads(files[MODEL_FILE])  # noqa: S301 # nosec B301 - checksum verified
    except Exception as exc:  # e.g. saved by an incompatible scikit-learn
        raise RegistryError(_unloadable(version, MODEL_FILE, exc)) from None
    exported = files.get(ONNX_FILE)
    if exported is None:
        return LoadedModel(metadata=metadata, pipeline=pipeline)
    _verify(version, ONNX_FILE, exported, metadata.onnx_sha256)
    if runtime != "onnx":
        return LoadedModel(metadata=metadata, pipeline=pipeline)
    try:
        preprocessing = OnnxPreprocessing(exported, metadata.feature_schema)
    except Exception as exc:  # ONNX Runtime's own exception types
        raise RegistryError(_unloadable(version, ONNX_FILE, exc)) from None
    return LoadedModel(metadata=metadata, pipeline=pipeline, preprocessing=preprocessing)


def _verify(version: str, name: str, content: bytes, expected_sha256: str | None) -> None:
    """Fail clearly unless ``content`` has the SHA-256 that the registry recorded."""
    if hashlib.sha256(content).hexdigest() != expected_sha256:
        problem = "no checksum tag" if expected_sha256 is None else "checksum mismatch"
        raise RegistryError(f"model {version}: {name} is corrupt ({problem})")


def _unloadable(version: str, name: str, exc: Exception) -> str:
    return f"model {version}: {name} cannot be loaded ({first_line(exc)})"


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None
