"""Shared fixtures: isolated settings, a trained registry, an API client, real servers."""

import os
import shutil
import signal
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data import load_dataset
from {{ cookiecutter.package_name }}.io.registry import (
    STORE_FILE,
    ModelRegistry,
    open_registry,
)
from {{ cookiecutter.package_name }}.schema import FeatureSchema, FeatureValue
from {{ cookiecutter.package_name }}.serving.app import create_app
from {{ cookiecutter.package_name }}.train import feature_schema

from .helpers import (
    Server,
    free_port,
    isolated_settings,
    server_env,
    settings_env,
    start_server,
    train_version,
)

ARTIFACT_LOCATIONS = [
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
]
"""The columns of MLflow's store that hold absolute artifact paths."""


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run every test in its own folder, with no APP_* variables or .env leaking in."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("APP_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow store (SQLite), created once: creating one takes seconds of migrations."""
    settings = isolated_settings(tmp_path_factory.mktemp("mlflow-store"))
    assert open_registry(settings).versions() == []
    return settings.model_dir / STORE_FILE


def settings_in(folder: Path, mlflow_store: Path) -> Settings:
    """Settings that keep every file under ``folder``, with a copy of the empty MLflow store."""
    settings = isolated_settings(folder)
    settings.model_dir.mkdir(parents=True)
    shutil.copy(mlflow_store, settings.model_dir / STORE_FILE)
    return settings


def promoted_v1(settings: Settings) -> ModelRegistry:
    """Train on the configured dataset, register the model as v1 and promote it."""
    registry = open_registry(settings)
    metadata, _ = train_version(registry, settings)
    registry.promote(metadata.version, reason="test")
    return registry


def copy_model_dir(source: Path, target: Path) -> None:
    """Copy a model folder (MLflow's SQLite store, its artifacts, the audit log) to ``target``.

    The store keeps absolute artifact locations: the copy's point into the copy.
    """
    shutil.copytree(source, target, dirs_exist_ok=True)
    old, new = source.resolve().as_posix(), target.resolve().as_posix()
    with closing(sqlite3.connect(target / STORE_FILE)) as store, store:
        for table, column in ARTIFACT_LOCATIONS:
            store.execute(f"UPDATE {table} SET {column} = replace({column}, ?, ?)", (old, new))  # noqa: S608 - constant names


@pytest.fixture
def settings(tmp_path: Path, mlflow_store: Path) -> Settings:
    """Settings that keep every file of the test under ``tmp_path``, MLflow's store too."""
    return settings_in(tmp_path, mlflow_store)


@pytest.fixture(scope="session")
def promoted_model_dir(tmp_path_factory: pytest.TempPathFactory, mlflow_store: Path) -> Path:
    """A model folder whose v1 is trained and promoted once a session, for ``registry``."""
    settings = settings_in(tmp_path_factory.mktemp("promoted"), mlflow_store)
    promoted_v1(settings)
    return settings.model_dir


@pytest.fixture
def registry(settings: Settings, promoted_model_dir: Path) -> ModelRegistry:
    """A registry of the test's own with one trained, promoted model (v1): free to change.

    A copy of the session's: training and registering v1 for each test costs about a second.
    """
    copy_model_dir(promoted_model_dir, settings.model_dir)
    return open_registry(settings)


@pytest.fixture(scope="session")
def served_settings(
    tmp_path_factory: pytest.TempPathFactory, mlflow_store: Path, promoted_model_dir: Path
) -> Settings:
    """Settings of a model folder with the session's promoted v1, shared by the session.

    For tests that only read the model (most API tests): training and registering one per
    test would cost about a second each. Tests that change a registry use ``registry``.
    """
    settings = settings_in(tmp_path_factory.mktemp("served"), mlflow_store)
    copy_model_dir(promoted_model_dir, settings.model_dir)
    return settings


@pytest.fixture
def served_client(served_settings: Settings) -> Iterator[TestClient]:
    """An API client of a fresh app (its own metrics) serving the session's shared v1."""
    with TestClient(create_app(served_settings)) as client:
        yield client


@pytest.fixture(scope="session")
def features(served_settings: Settings) -> pd.DataFrame:
    """The dataset's table of candidate features (raw: IDs, text, gaps and all)."""
    return load_dataset(served_settings).features


@pytest.fixture(scope="session")
def schema(served_settings: Settings) -> FeatureSchema:
    """The feature schema inferred from the configured dataset."""
    return feature_schema(load_dataset(served_settings), served_settings)


@pytest.fixture
def record(schema: FeatureSchema) -> dict[str, FeatureValue]:
    """One valid request record: the schema's example, a real row of the data."""
    return dict(schema.example)


@pytest.fixture
def numeric_feature(schema: FeatureSchema) -> str:
    """The name of a numeric feature that may not be null."""
    return next(f.name for f in schema.features if f.kind == "numeric" and not f.nullable)


@pytest.fixture
def client(settings: Settings, registry: ModelRegistry) -> Iterator[TestClient]:
    """An API client of an app serving v1 (lifespan runs: the model is loaded)."""
    with TestClient(create_app(settings)) as client:
        yield client


def cli_runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner (in this process) whose commands see ``settings`` as APP_* variables."""
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    return CliRunner()


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner on the test's own settings."""
    return cli_runner(settings, monkeypatch)


@pytest.fixture
def served_cli(served_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner on the session's shared v1, for commands that only read the model."""
    return cli_runner(served_settings, monkeypatch)


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    """Environment of a subprocess (CLI or ``serve``) using ``settings``, on a free port."""
    return server_env(settings, free_port())


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Server]]:
    """Factory: ``serve`` in a subprocess with an environment, once ready (its log in tmp_path).

    Every server still running at the end of the test is stopped by its PID (SIGTERM, then
    SIGKILL), whatever the test did.
    """
    started: list[Server] = []

    def start(env: dict[str, str]) -> Server:
        server = start_server(env, tmp_path / f"server-{len(started) + 1}.log")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop(signal.SIGTERM, timeout=20)
