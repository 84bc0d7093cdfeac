"""Every endpoint, and every class of bad request, through the FastAPI test client."""

import json
from typing import Any

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.schema import FeatureSchema
from {{ cookiecutter.package_name }}.serving.app import create_app
from {{ cookiecutter.package_name }}.serving.state import reload_model
from {{ cookiecutter.package_name }}.serving.validation import MAX_ERRORS

from .helpers import ADMIN_TOKEN, Record, assert_predictions_alike


def test_health(served_client: TestClient) -> None:
    assert served_client.get("/health").json() == {"status": "ok"}


def test_ready_reports_the_model(served_client: TestClient) -> None:
    response = served_client.get("/ready")
    assert response.status_code == 200
    assert response.json()["model_version"] == "v1"


def test_not_ready_without_a_model(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        response = client.get("/ready")
        assert response.status_code == 503
        assert "run `train` first" in response.json()["reason"]
        assert reload_model(app.state.service) is False  # a poll finds nothing to load...
        assert 'outcome="failed"' not in client.get("/metrics").text  # ...and is no failure
        assert client.get("/health").status_code == 200
        predict = client.post("/predict", json={"features": {"a": 1.0}})
        assert predict.status_code == 503
        assert client.get("/model").status_code == 503
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        reload = client.post("/admin/reload", headers=headers)
        assert reload.status_code == 409
        assert "run `train` first" in reload.json()["detail"]


def test_model_metadata(served_client: TestClient, record: Record) -> None:
    body = served_client.get("/model").json()
    assert body["version"] == "v1"
    assert [f["name"] for f in body["feature_schema"]["features"]] == list(record)
    assert body["primary_metric"] in body["metrics"]
    assert body["created_at"]
    assert body["onnx_sha256"]
    assert body["preprocessing_runtime"] == "onnx"


def test_both_preprocessing_runtimes_answer_alike(
    served_settings: Settings,
    served_client: TestClient,
    features: pd.DataFrame,
    schema: FeatureSchema,
) -> None:
    """APP_PREPROCESSING_RUNTIME=scikit-learn serves the pickled pipeline: the same answers."""
    body = {"records": schema.records(features.head(200), "table")}
    onnx = served_client.post("/predict/batch", json=body).json()["predictions"]
    settings = served_settings.model_copy(update={"preprocessing_runtime": "scikit-learn"})
    with TestClient(create_app(settings)) as client:
        assert client.get("/model").json()["preprocessing_runtime"] == "scikit-learn"
        scikit_learn = client.post("/predict/batch", json=body).json()["predictions"]
    assert_predictions_alike(onnx, scikit_learn)


def test_predict_one(served_client: TestClient, record: Record) -> None:
    response = served_client.post("/predict", json={"features": record})
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == "v1"
    assert body["request_id"] == response.headers["X-Request-ID"]
{%- if cookiecutter.__task == "classification" %}
    assert body["prediction"] in body["probabilities"]
    assert sum(body["probabilities"].values()) == pytest.approx(1.0)
{%- else %}
    assert isinstance(body["prediction"], float)
{%- endif %}


def test_request_id_is_kept_when_valid(served_client: TestClient, record: Record) -> None:
    sent = served_client.post(
        "/predict", json={"features": record}, headers={"X-Request-ID": "abc-123"}
    )
    assert sent.json()["request_id"] == "abc-123"
    unsafe = served_client.post(
        "/predict", json={"features": record}, headers={"X-Request-ID": "a b\t"}
    )
    assert unsafe.json()["request_id"] != "a b\t"


def test_predict_batch_keeps_order(
    served_client: TestClient, record: Record, numeric_feature: str
) -> None:
    value = record[numeric_feature]
    assert isinstance(value, float)
    other = {**record, numeric_feature: value * 1.5}
    batch = served_client.post("/predict/batch", json={"records": [record, other, record]})
    assert batch.status_code == 200
    predictions = batch.json()["predictions"]
    assert len(predictions) == 3
    single = served_client.post("/predict", json={"features": record}).json()
    for same in (predictions[0], predictions[2]):  # equal up to rounding (BLAS on 1 or 3 rows)
{%- if cookiecutter.__task == "classification" %}
        assert same["prediction"] == single["prediction"]
        assert same["probabilities"] == pytest.approx(single["probabilities"])
{%- else %}
        assert same["prediction"] == pytest.approx(single["prediction"])
{%- endif %}


def error_locations(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


@pytest.mark.parametrize(
    "bad_value",
    ["1.5", None, True, [1.0], {"v": 1}],
    ids=["string", "null", "boolean", "list", "object"],
)
def test_non_numbers_are_422_naming_the_field(
    served_client: TestClient, record: Record, numeric_feature: str, bad_value: object
) -> None:
    name = numeric_feature
    response = served_client.post("/predict", json={"features": {**record, name: bad_value}})
    assert error_locations(response) == [["body", "features", name]]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-3.5e38"])
def test_non_finite_and_float32_overflowing_numbers_are_422(
    served_client: TestClient, record: Record, numeric_feature: str, literal: str
) -> None:
    name = numeric_feature
    marker = {**record, name: "__value__"}
    body = json.dumps({"features": marker}).replace('"__value__"', literal)
    response = served_client.post(
        "/predict", content=body, headers={"Content-Type": "application/json"}
    )
    assert error_locations(response) == [["body", "features", name]]


def test_missing_and_unknown_features_are_named(
    served_client: TestClient, record: Record, numeric_feature: str
) -> None:
    name = numeric_feature
    incomplete = {k: v for k, v in record.items() if k != name} | {"surprise": 1.0}
    locations = error_locations(served_client.post("/predict", json={"features": incomplete}))
    assert ["body", "features", name] in locations
    assert ["body", "features", "surprise"] in locations


def test_batch_errors_name_the_record(
    served_client: TestClient, record: Record, numeric_feature: str
) -> None:
    name = numeric_feature
    broken = {k: v for k, v in record.items() if k != name}
    locations = error_locations(
        served_client.post("/predict/batch", json={"records": [record, broken]})
    )
    assert locations == [["body", "records", 1, name]]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/predict", "{}"),
        ("/predict", '{"features": []}'),
        ("/predict", "not json"),
        ("/predict/batch", '{"records": []}'),
        ("/predict/batch", '{"records": {}}'),
    ],
)
def test_malformed_bodies_are_422(served_client: TestClient, path: str, body: str) -> None:
    response = served_client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422


def test_batch_size_is_limited(served_settings: Settings, record: Record) -> None:
    settings = served_settings.model_copy(update={"max_batch_size": 2})
    with TestClient(create_app(settings)) as client:
        response = client.post("/predict/batch", json={"records": [record] * 3})
        assert error_locations(response) == [["body", "records"]]
        assert "at most 2 records" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_bodies_over_the_limit_are_413_before_parsing(
    served_settings: Settings, record: Record, declared: bool
) -> None:
    settings = served_settings.model_copy(update={"max_body_bytes": 1000})
    body = json.dumps({"records": [record] * 50}).encode()
    content = body if declared else iter([body[:600], body[600:]])  # no Content-Length
    with TestClient(create_app(settings)) as client:
        response = client.post("/predict/batch", content=content)
        assert response.status_code == 413
        assert "larger than 1000 bytes (APP_MAX_BODY_BYTES)" in response.json()["detail"]
        assert 'path="/predict/batch",status="413"' in client.get("/metrics").text
        small = client.post("/predict/batch", json={"records": [record]})
        assert small.status_code == 200


def test_422_answers_stay_small_whatever_the_request(
    served_client: TestClient, record: Record, numeric_feature: str
) -> None:
    unknown = {f"unknown feature {i}": "x" * 100 for i in range(10_000)}
    response = served_client.post("/predict", json={"features": {**record, **unknown}})
    body = response.json()
    assert response.status_code == 422
    assert len(response.content) < 64 * 1024
    assert body["error_count"] == 10_000 and len(body["detail"]) == MAX_ERRORS
    incomplete = {k: v for k, v in record.items() if k != numeric_feature} | {"note": "y" * 5000}
    records = served_client.post("/predict/batch", json={"records": [incomplete] * 500})
    assert records.status_code == 422
    assert len(records.content) < 64 * 1024
    assert all(len(json.dumps(error["input"])) < 300 for error in records.json()["detail"])


def test_docs_can_be_switched_off(served_settings: Settings) -> None:
    settings = served_settings.model_copy(update={"docs_enabled": False})
    with TestClient(create_app(settings)) as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/redoc").status_code == 404
        assert client.get("/openapi.json").status_code == 200


def test_metrics_count_requests_and_predictions(served_client: TestClient, record: Record) -> None:
    served_client.post("/predict", json={"features": record})
    served_client.post("/predict/batch", json={"records": [record, record]})
    served_client.post("/predict", json={"features": {}})
    text = served_client.get("/metrics").text
    assert 'http_requests_total{method="POST",path="/predict",status="200"} 1.0' in text
    assert 'http_requests_total{method="POST",path="/predict",status="422"} 1.0' in text
    assert 'http_request_duration_seconds_count{method="POST",path="/predict/batch"} 1.0' in text
    assert 'model_info{version="v1"} 1.0' in text
{%- if cookiecutter.__task == "classification" %}
    counted = [line for line in text.splitlines() if line.startswith("predictions_total{")]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in counted) == 3.0
{%- else %}
    assert 'prediction_value_count{model_version="v1"} 3.0' in text
{%- endif %}


def test_unknown_paths_are_counted_without_their_path(served_client: TestClient) -> None:
    assert served_client.get("/nowhere/42").status_code == 404
    assert 'path="unmatched",status="404"' in served_client.get("/metrics").text


def test_admin_reload_needs_the_token(served_client: TestClient) -> None:
    assert served_client.post("/admin/reload").status_code == 401
    wrong = served_client.post("/admin/reload", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = served_client.post("/admin/reload", headers={"Authorization": "Bearer test-token"})
    assert right.json() == {"model_version": "v1", "changed": False}


@pytest.mark.parametrize("token", [None, ""], ids=["unset", "empty"])
def test_admin_endpoints_are_off_without_a_token(
    served_settings: Settings, token: str | None
) -> None:
    secret = None if token is None else SecretStr(token)
    settings = served_settings.model_copy(update={"admin_token": secret})
    with TestClient(create_app(settings)) as client:
        assert client.post("/admin/reload").status_code == 403
        response = client.post("/admin/reload", headers={"Authorization": "Bearer "})
        assert response.status_code == 403


def test_openapi_documents_every_endpoint(served_client: TestClient) -> None:
    paths = set(served_client.get("/openapi.json").json()["paths"])
    assert paths == {
        "/health",
        "/ready",
        "/model",
        "/metrics",
        "/predict",
        "/predict/batch",
        "/admin/reload",
        "/feedback",
        "/feedback/batch",
    }
