"""The model registry on MLflow: versions, aliases, integrity checks, promotion, rollback."""

import threading

import pytest

from {{ cookiecutter.package_name }} import audit
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.errors import RegistryError
from {{ cookiecutter.package_name }}.io.champion_copy import METADATA_FILE, MODEL_FILE
from {{ cookiecutter.package_name }}.io.registry import (
    CHALLENGER,
    CHAMPION,
    CHECKSUM_TAG,
    HISTORY_TAG,
    REFERENCE_FILE,
    ModelRegistry,
    open_registry,
)

from .helpers import artifact, train_version


def test_versions_are_mlflow_model_versions_with_a_checksum_tag(
    registry: ModelRegistry, settings: Settings
) -> None:
    metadata = train_version(registry, settings)[0]
    assert metadata.version == "v2"
    assert registry.versions() == ["v1", "v2"]
    found = registry.client.get_model_version(settings.model_name, "2")
    assert found.run_id == metadata.run_id == registry.metadata("v2").run_id
    assert found.tags[CHECKSUM_TAG] == metadata.sha256
    assert len(metadata.sha256) == 64
    by_alias = registry.client.get_model_version_by_alias
    assert str(by_alias(settings.model_name, CHALLENGER).version) == "2"
    assert str(by_alias(settings.model_name, CHAMPION).version) == "1"


def test_load_checks_the_checksum(registry: ModelRegistry) -> None:
    assert registry.load("v1").version == "v1"
    model_file = artifact(registry, "v1", MODEL_FILE)
    model_file.write_bytes(model_file.read_bytes() + b"tampered")
    with pytest.raises(RegistryError, match=r"model\.pkl is corrupt \(checksum mismatch\)"):
        registry.load("v1")


def test_a_truncated_model_is_refused_naming_the_cause(registry: ModelRegistry) -> None:
    model_file = artifact(registry, "v1", MODEL_FILE)
    model_file.write_bytes(model_file.read_bytes()[:100])
    with pytest.raises(RegistryError, match=r"model v1: model\.pkl is corrupt"):
        registry.load("v1")


@pytest.mark.parametrize(
    ("version", "message"),
    [("v9", r"not found .*versions: v1\)"), ("latest", r"not a model version"), ("v0", "not a")],
)
def test_unknown_versions_are_refused(registry: ModelRegistry, version: str, message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        registry.load(version)


def test_missing_and_corrupt_files_are_reported(registry: ModelRegistry) -> None:
    artifact(registry, "v1", METADATA_FILE).write_text("{")
    with pytest.raises(RegistryError, match=r"metadata\.json is corrupt"):
        registry.metadata("v1")
    artifact(registry, "v1", REFERENCE_FILE).unlink()
    with pytest.raises(RegistryError, match=r"reference\.csv is missing"):
        registry.reference("v1")


def test_empty_registry_says_to_train(settings: Settings) -> None:
    registry = open_registry(settings)
    assert registry.versions() == []
    assert registry.champion() is None
    with pytest.raises(RegistryError, match="run `train` first"):
        registry.load_champion()
    with pytest.raises(RegistryError, match="no previous champion"):
        registry.rollback(reason="nothing to roll back")


def test_promote_and_rollback_move_the_champion_alias(
    registry: ModelRegistry, settings: Settings
) -> None:
    v2 = train_version(registry, settings)[0].version
    registry.promote(v2, reason="better")
    assert registry.champion() == v2
    model = registry.client.get_registered_model(settings.model_name)
    aliases = {alias: str(version) for alias, version in model.aliases.items()}
    assert aliases == {CHAMPION: "2"}  # the promoted challenger is no longer one
    assert model.tags[HISTORY_TAG] == '["v1", "v2"]'
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
    artifact(registry, v2, MODEL_FILE).write_bytes(b"not a model")
    with pytest.raises(RegistryError, match="corrupt"):
        registry.promote(v2, reason="bad")
    assert registry.champion() == "v1"
    assert registry.client.get_registered_model(settings.model_name).tags[HISTORY_TAG] == '["v1"]'


def test_concurrent_promotions_queue_up_and_both_are_recorded(
    registry: ModelRegistry, settings: Settings
) -> None:
    versions = [train_version(registry, settings)[0].version for _ in range(2)]
    errors: list[Exception] = []

    def promote(version: str) -> None:
        try:
            open_registry(settings).promote(version, reason="at once")
        except RegistryError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=promote, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    history = registry.client.get_registered_model(settings.model_name).tags[HISTORY_TAG]
    assert sorted(history.strip("[]").replace('"', "").split(", ")[1:]) == versions
    assert registry.champion() in versions
    assert [e["event"] for e in audit.read(registry.audit_log)].count("promote") == 3


def test_an_unreachable_tracking_server_is_one_clear_error(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    unreachable = settings.model_copy(update={"mlflow_tracking_uri": "http://127.0.0.1:9"})
    with pytest.raises(RegistryError, match=r"MLflow at http://127\.0\.0\.1:9 failed"):
        open_registry(unreachable).champion()
