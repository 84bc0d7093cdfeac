"""The champion's copy that the API serves: written by promotion and rollback, verified on load."""

import json
import shutil
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.errors import RegistryError
from {{ cookiecutter.package_name }}.io.champion_copy import (
    CURRENT_FILE,
    METADATA_FILE,
    MODEL_FILE,
    VERSIONS_KEPT,
    CurrentChampion,
    copy_folder,
    load_copy,
    read_current,
    write_copy,
)
from {{ cookiecutter.package_name }}.io.registry import (
    CHAMPION,
    STORE_FILE,
    ModelRegistry,
    open_registry,
)
from {{ cookiecutter.package_name }}.model import LoadedModel
from {{ cookiecutter.package_name }}.preprocessing_onnx import ONNX_FILE
from {{ cookiecutter.package_name }}.serving.model_holder import (
    ModelHolder,
    ModelNotReadyError,
)

from .helpers import train_version


def served_version(settings: Settings) -> str | None:
    """The version the API would serve from this model folder."""
    current = read_current(settings.model_dir)
    return None if current is None else current.version


def test_promotion_and_rollback_copy_the_champion_for_serving(
    registry: ModelRegistry, settings: Settings
) -> None:
    assert served_version(settings) == "v1"
    v2 = train_version(registry, settings)[0].version
    assert served_version(settings) == "v1"  # registered, not promoted: not served
    registry.promote(v2, reason="test")
    current = read_current(settings.model_dir)
    assert current is not None
    assert current.version == v2
    assert current.run_url == registry.run_url(registry.metadata(v2).run_id)
    served, registered = load_copy(settings.model_dir, v2), registry.load(v2)
    assert served.metadata == registered.metadata
    features = registry.reference(v2).drop(columns="prediction").head(20)
    assert served.predict(features) == registered.predict(features)
    assert registry.rollback(reason="test") == "v1"
    assert served_version(settings) == "v1"


def test_no_copy_before_the_first_promotion(settings: Settings) -> None:
    assert read_current(settings.model_dir) is None


def test_sync_repairs_a_lost_copy_and_follows_an_alias_moved_by_hand(
    registry: ModelRegistry, settings: Settings
) -> None:
    shutil.rmtree(copy_folder(settings.model_dir))
    assert registry.sync_copy() == "v1"
    assert served_version(settings) == "v1"
    train_version(registry, settings)
    registry.client.set_registered_model_alias(settings.model_name, CHAMPION, "2")  # the UI
    assert served_version(settings) == "v1"
    assert registry.sync_copy() == "v2"
    assert served_version(settings) == "v2"


def test_only_the_newest_versions_are_kept(registry: ModelRegistry, settings: Settings) -> None:
    folder = copy_folder(settings.model_dir)
    v1 = load_copy(settings.model_dir, "v1")
    model_bytes = (folder / "v1" / MODEL_FILE).read_bytes()
    for number in range(2, 6):
        metadata = v1.metadata.model_copy(update={"version": f"v{number}"})
        current = CurrentChampion(version=metadata.version, run_url="url")
        model = LoadedModel(metadata, v1.pipeline)
        write_copy(settings.model_dir, model, {MODEL_FILE: model_bytes}, current)
    kept = sorted(path.name for path in folder.iterdir() if path.is_dir())
    assert kept == ["v3", "v4", "v5"]
    assert len(kept) == VERSIONS_KEPT
    assert served_version(settings) == "v5"


def test_a_damaged_copy_is_refused_naming_the_file(
    registry: ModelRegistry, settings: Settings
) -> None:
    version_folder = copy_folder(settings.model_dir) / "v1"
    (version_folder / MODEL_FILE).write_bytes(b"changed after the copy")
    with pytest.raises(RegistryError, match=r"model v1: model.pkl is corrupt \(checksum"):
        load_copy(settings.model_dir, "v1")
    (version_folder / METADATA_FILE).unlink()
    with pytest.raises(RegistryError, match=f"{METADATA_FILE} is missing"):
        load_copy(settings.model_dir, "v1")


def test_the_preprocessing_export_is_copied_checked_and_run(
    registry: ModelRegistry, settings: Settings
) -> None:
    served = load_copy(settings.model_dir, "v1")
    assert served.metadata.onnx_sha256 is not None
    assert served.preprocessing is not None
    assert load_copy(settings.model_dir, "v1", "scikit-learn").preprocessing is None
    (copy_folder(settings.model_dir) / "v1" / ONNX_FILE).write_bytes(b"changed after the copy")
    with pytest.raises(RegistryError, match=rf"model v1: {ONNX_FILE} is corrupt \(checksum"):
        load_copy(settings.model_dir, "v1")
    with pytest.raises(RegistryError, match=rf"{ONNX_FILE} is corrupt"):  # even if not run
        load_copy(settings.model_dir, "v1", "scikit-learn")


def test_a_model_folder_holds_one_models_champion(
    registry: ModelRegistry, settings: Settings
) -> None:
    """Another APP_MODEL_NAME is refused before it can replace this champion or serve it."""
    pointer = copy_folder(settings.model_dir) / CURRENT_FILE
    written = pointer.read_bytes()
    assert json.loads(written)["model_name"] == settings.model_name
    other = settings.model_copy(update={"model_name": "another-model"})
    refusal = rf"holds the champion of model '{settings.model_name}', not of APP_MODEL_NAME "
    with pytest.raises(RegistryError, match=refusal + "'another-model'"):
        open_registry(other)
    holder = ModelHolder(other)
    with pytest.raises(RegistryError, match=refusal):
        holder.refresh()
    with pytest.raises(ModelNotReadyError, match=r"\(APP_MODEL_DIR\)"):
        _ = holder.current
    assert pointer.read_bytes() == written
    assert ModelHolder(settings).refresh()  # its own model's API serves it


def test_a_copy_that_names_no_model_is_still_served(
    registry: ModelRegistry, settings: Settings
) -> None:
    """Copies written before current.json named its model belong to whichever model asks."""
    pointer = copy_folder(settings.model_dir) / CURRENT_FILE
    pointer.write_text(json.dumps({"version": "v1", "run_url": "url"}))
    other = settings.model_copy(update={"model_name": "another-model"})
    assert ModelHolder(other).refresh()
    assert open_registry(other).name == "another-model"


def test_a_new_store_s_v1_replaces_the_old_v1_in_serving(
    registry: ModelRegistry, settings: Settings, mlflow_store: Path, tmp_path: Path
) -> None:
    """A new MLflow store numbers from v1 again: serving and the copy compare runs too."""
    holder = ModelHolder(settings)
    assert holder.refresh()
    old_run = holder.current.run_url
    old_copy = shutil.copytree(copy_folder(settings.model_dir), tmp_path / "old-copy")
    shutil.copy(mlflow_store, settings.model_dir / STORE_FILE)  # an empty store, same folder
    fresh = open_registry(settings)
    fresh.promote(train_version(fresh, settings)[0].version, reason="test")
    assert fresh.champion() == "v1"
    assert holder.refresh()
    assert holder.current.run_url != old_run
    assert holder.current.run_url == fresh.run_url(fresh.metadata("v1").run_id)

    shutil.rmtree(copy_folder(settings.model_dir))  # the old v1's copy, as a stale volume
    shutil.copytree(old_copy, copy_folder(settings.model_dir))
    assert fresh.sync_copy() == "v1"
    current = read_current(settings.model_dir)
    assert current is not None
    assert current.run_url == holder.current.run_url
