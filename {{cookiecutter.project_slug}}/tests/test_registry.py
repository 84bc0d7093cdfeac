"""The model registry: versions, integrity checks, promotion, rollback and the audit log."""

import json

import pytest

from {{ cookiecutter.package_name }} import audit
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.errors import RegistryError
from {{ cookiecutter.package_name }}.registry import (
    MODEL_FILE,
    REFERENCE_FILE,
    STATE_FILE,
    ModelRegistry,
)

from .helpers import train_version


def test_versions_are_numbered_and_complete(registry: ModelRegistry, settings: Settings) -> None:
    assert train_version(registry, settings)[0].version == "v2"
    assert registry.versions() == ["v1", "v2"]
    metadata = registry.metadata("v2")
    assert metadata.version == "v2"
    assert len(metadata.sha256) == 64
    assert not list(registry.root.glob(".staging-*"))


def test_load_checks_the_checksum(registry: ModelRegistry) -> None:
    assert registry.load("v1").version == "v1"
    model_file = registry.root / "v1" / MODEL_FILE
    model_file.write_bytes(model_file.read_bytes() + b"tampered")
    with pytest.raises(RegistryError, match="corrupt \\(checksum mismatch\\)"):
        registry.load("v1")


@pytest.mark.parametrize(
    ("version", "message"),
    [("v9", r"not found .*versions: v1"), ("latest", r"not a model version")],
)
def test_unknown_versions_are_refused(registry: ModelRegistry, version: str, message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        registry.load(version)


def test_missing_and_corrupt_files_are_reported(registry: ModelRegistry) -> None:
    (registry.root / "v1" / "metadata.json").write_text("{")
    with pytest.raises(RegistryError, match=r"metadata\.json is corrupt"):
        registry.metadata("v1")
    (registry.root / "v1" / REFERENCE_FILE).unlink()
    with pytest.raises(RegistryError, match=r"reference\.csv is missing"):
        registry.reference("v1")
    (registry.root / STATE_FILE).write_text("[]")
    with pytest.raises(RegistryError, match=r"registry\.json is corrupt"):
        registry.champion()


def test_empty_registry_says_to_train(settings: Settings) -> None:
    registry = ModelRegistry(settings.model_dir)
    assert registry.versions() == []
    assert registry.champion() is None
    with pytest.raises(RegistryError, match="run `train` first"):
        registry.load_champion()


def test_promote_and_rollback_move_the_champion(
    registry: ModelRegistry, settings: Settings
) -> None:
    v2 = train_version(registry, settings)[0].version
    registry.promote(v2, reason="better")
    assert registry.champion() == v2
    with pytest.raises(RegistryError, match="already the champion"):
        registry.promote(v2, reason="again")
    assert registry.rollback(reason="bad deploy") == "v1"
    assert registry.champion() == "v1"
    with pytest.raises(RegistryError, match="no previous champion"):
        registry.rollback(reason="again")
    events = audit.read(registry.audit_log)
    assert [e["event"] for e in events] == ["promote", "promote", "rollback"]
    assert events[-1] | {"at": None} == {
        "at": None,
        "event": "rollback",
        "version": "v1",
        "previous": v2,
        "reason": "bad deploy",
    }


def test_a_corrupt_version_cannot_be_promoted(registry: ModelRegistry, settings: Settings) -> None:
    v2 = train_version(registry, settings)[0].version
    (registry.root / v2 / MODEL_FILE).write_bytes(b"not a model")
    with pytest.raises(RegistryError, match="corrupt"):
        registry.promote(v2, reason="bad")
    assert registry.champion() == "v1"
    state = json.loads((registry.root / STATE_FILE).read_text())
    assert state == {"history": ["v1"]}
