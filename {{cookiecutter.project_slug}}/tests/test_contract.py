"""The API's contract is the served model's schema: raw values, gaps, unknown categories."""

import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.errors import RegistryError
from {{ cookiecutter.package_name }}.io.registry import open_registry
from {{ cookiecutter.package_name }}.monitoring.prediction_log import (
    create_db_engine,
    ensure_table,
    predictions,
)
from {{ cookiecutter.package_name }}.schema_inference import infer_schema
from {{ cookiecutter.package_name }}.serving.app import create_app
from {{ cookiecutter.package_name }}.serving.contract import RequestContract

from .helpers import mixed_table_settings, train_version, wait_for_version, wait_until

RAW = {"plan": "premium", "tenure months": None, "auto pay": True}


@pytest.fixture
def mixed_settings(settings: Settings, tmp_path: Path) -> Settings:
    """Settings that train on a table with an ID, a date, categories, booleans and gaps."""
    return mixed_table_settings(settings, tmp_path)


@pytest.fixture
def mixed_client(mixed_settings: Settings) -> Iterator[TestClient]:
    """An API client of an app serving a model of the mixed table."""
    registry = open_registry(mixed_settings)
    metadata, _ = train_version(registry, mixed_settings)
    registry.promote(metadata.version, reason="test")
    with TestClient(create_app(mixed_settings)) as client:
        yield client


def test_raw_values_with_a_null_are_scored(mixed_client: TestClient) -> None:
    response = mixed_client.post("/predict", json={"features": RAW})
    assert response.status_code == 200, response.text


def test_nullable_features_may_be_left_out(mixed_client: TestClient) -> None:
    response = mixed_client.post("/predict", json={"features": {"auto pay": False}})
    assert response.status_code == 200, response.text
    text = mixed_client.get("/metrics").text
    assert 'feature_missing_values_total{feature="tenure months"} 1.0' in text
    assert 'feature_missing_values_total{feature="plan"} 1.0' in text


def test_unknown_categories_are_scored_and_counted(mixed_client: TestClient) -> None:
    known = mixed_client.post("/predict", json={"features": {**RAW, "plan": None}}).json()
    unknown = mixed_client.post("/predict", json={"features": {**RAW, "plan": "gold"}})
    assert unknown.status_code == 200
    assert unknown.json()["prediction"] is not None
    assert known["model_version"] == unknown.json()["model_version"]
    text = mixed_client.get("/metrics").text
    assert 'feature_unknown_categories_total{feature="plan"} 1.0' in text


def test_an_empty_category_is_422_naming_the_field(mixed_client: TestClient) -> None:
    """The ONNX preprocessing would read it as a gap and scikit-learn as unknown: a gap is null."""
    response = mixed_client.post("/predict", json={"features": {**RAW, "plan": ""}})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "features", "plan"]
    assert "at least 1 character" in error["msg"]


def test_a_model_of_one_feature_reads_one_column() -> None:
    schema = infer_schema(pd.DataFrame({"plan": ["basic", "premium", None]}), {}, 50, "test")
    parsed = RequestContract(schema, max_batch_size=10).parse_batch(
        b'{"records": [{"plan": "gold"}, {"plan": null}, {"plan": "basic"}]}'
    )
    assert parsed.matrix.shape == (3, 1)
    assert parsed.matrix[0, 0] == "gold"
    assert math.isnan(parsed.matrix[1, 0])
    assert parsed.logged == [{"plan": "gold"}, {"plan": None}, {"plan": "basic"}]
    assert (parsed.missing, parsed.unknown) == (Counter(plan=1), Counter(plan=1))


@pytest.mark.parametrize(
    ("name", "value"),
    [("auto pay", None), ("auto pay", "yes"), ("tenure months", "3"), ("plan", 3)],
    ids=[
        "null-in-a-required-feature",
        "text-for-a-boolean",
        "text-for-a-number",
        "number-for-a-category",
    ],
)
def test_wrong_kinds_are_422_naming_the_field(
    mixed_client: TestClient, name: str, value: object
) -> None:
    response = mixed_client.post("/predict", json={"features": {**RAW, name: value}})
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "features", name]]


def test_excluded_columns_are_unknown_features(mixed_client: TestClient) -> None:
    response = mixed_client.post("/predict", json={"features": {**RAW, "customer id": "C-1"}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "features", "customer id"]


def test_openapi_lists_the_real_features_and_a_working_example(mixed_client: TestClient) -> None:
    document = mixed_client.get("/openapi.json").json()
    features = document["components"]["schemas"]["Features"]
    properties = features["properties"]
    assert set(properties) == {"plan", "tenure months", "auto pay"}
    assert features["required"] == ["auto pay"]
    plan = properties["plan"]["anyOf"]
    assert {"type": "null"} in plan
    assert plan[0]["enum"] == ["basic", "premium"]  # the categories seen in training...
    assert plan[1]["type"] == "string"  # ... or any other text, scored as unknown
    body = document["components"]["schemas"]["PredictRequest"]["examples"][0]
    assert mixed_client.post("/predict", json=body).status_code == 200
    batch = document["components"]["schemas"]["BatchPredictRequest"]["examples"][0]
    assert mixed_client.post("/predict/batch", json=batch).status_code == 200


def test_logged_rows_keep_raw_values_and_gaps(
    mixed_client: TestClient, mixed_settings: Settings
) -> None:
    response = mixed_client.post("/predict", json={"features": {"auto pay": True, "plan": "gold"}})
    assert response.status_code == 200, response.text
    engine = create_db_engine(mixed_settings.database_url)
    ensure_table(engine)  # the app's log writer may be creating it at this very moment

    def logged() -> list[dict[str, object]]:
        with engine.connect() as connection:
            return [row.features for row in connection.execute(select(predictions))]

    wait_until(lambda: len(logged()) == 1, "the row to be logged")
    assert logged() == [{"plan": "gold", "tenure months": None, "auto pay": True}]


def test_a_schema_change_needs_an_explicit_promotion(
    mixed_client: TestClient, mixed_settings: Settings
) -> None:
    registry = open_registry(mixed_settings)
    narrower = mixed_settings.model_copy(update={"feature_kinds": {"plan": "exclude"}})
    metadata, _ = train_version(registry, narrower)
    with pytest.raises(RegistryError, match=r"changes the request schema \(no feature 'plan'\)"):
        registry.promote(metadata.version, reason="test")
    registry.promote(metadata.version, reason="test", allow_schema_change=True)
    wait_for_version(mixed_client, metadata.version)
    properties = mixed_client.get("/openapi.json").json()["components"]["schemas"]["Features"]
    assert set(properties["properties"]) == {"tenure months", "auto pay"}
    assert mixed_client.post("/predict", json={"features": RAW}).status_code == 422
