"""Shared fixtures: isolated settings, a trained registry, and an API client."""

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data import load_dataset
from {{ cookiecutter.package_name }}.registry import ModelRegistry
from {{ cookiecutter.package_name }}.serving.app import create_app
from {{ cookiecutter.package_name }}.train import fit_model, split_dataset

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run every test in its own folder, with no APP_* variables or .env leaking in."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("APP_"):
            monkeypatch.delenv(name)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings that keep every file of the test under ``tmp_path``."""
    return Settings(
        data_path=PROJECT_ROOT / "data" / "dataset.csv",
        model_dir=tmp_path / "models",
        database_url=f"sqlite:///{tmp_path / 'predictions.db'}",
        reports_dir=tmp_path / "reports",
        admin_token="test-token",
        model_poll_seconds=0.1,
        log_flush_seconds=0.05,
        drift_min_rows=50,
    )


@pytest.fixture
def registry(settings: Settings) -> ModelRegistry:
    """A registry with one trained, promoted model (v1)."""
    registry = ModelRegistry(settings.model_dir)
    dataset = load_dataset(settings)
    trained = fit_model(dataset, split_dataset(dataset, settings), settings)
    metadata = registry.register(trained.pipeline, trained.metadata, trained.reference)
    registry.promote(metadata.version, reason="test")
    return registry


@pytest.fixture
def features(settings: Settings) -> pd.DataFrame:
    """The dataset's feature table."""
    return load_dataset(settings).features


@pytest.fixture
def record(features: pd.DataFrame) -> dict[str, float]:
    """One valid request record."""
    return {str(name): float(value) for name, value in features.iloc[0].items()}


@pytest.fixture
def client(settings: Settings, registry: ModelRegistry) -> Iterator[TestClient]:
    """An API client of an app serving v1 (lifespan runs: the model is loaded)."""
    with TestClient(create_app(settings)) as client:
        yield client
