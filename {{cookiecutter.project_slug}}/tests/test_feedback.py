"""POST /feedback: labels come back for logged predictions, stored beside them, checked."""

import uuid
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.exc import NoResultFound

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.monitoring.prediction_log import (
    create_db_engine,
    ensure_table,
    labels,
    predictions,
)
from {{ cookiecutter.package_name }}.monitoring.traffic import send
from {{ cookiecutter.package_name }}.serving.app import create_app

from .helpers import FEEDBACK_TOKEN, Record, wait_until

AUTH = {"Authorization": f"Bearer {FEEDBACK_TOKEN}"}


def logged(client: TestClient, settings: Settings, record: Record, count: int = 1) -> Any:
    """Predict ``count`` copies of ``record`` in one batch; return the response once logged."""
    response = client.post("/predict/batch", json={"records": [record] * count}).json()
    engine = create_db_engine(settings.database_url)
    ensure_table(engine)
    this_request = predictions.c.request_id == response["request_id"]

    def in_log() -> bool:
        with engine.connect() as connection:
            query = select(func.count()).select_from(predictions).where(this_request)
            return bool(connection.execute(query).scalar_one() == count)

    wait_until(in_log, "the batch to reach the log")
    return response


def stored(settings: Settings, request_id: str, position: int) -> Any:
    """The row of ``labels`` for that prediction."""
    with create_db_engine(settings.database_url).connect() as connection:
        query = select(labels).where(
            labels.c.request_id == request_id, labels.c.position == position
        )
        return connection.execute(query).one()


def other_label(prediction: {{ "str" if cookiecutter.__task == "classification" else "float" }}, client: TestClient) -> {{ "str" if cookiecutter.__task == "classification" else "float" }}:
    """A label the model did not predict."""
{%- if cookiecutter.__task == "classification" %}
    classes: list[str] = client.get("/model").json()["classes"]
    return next(label for label in classes if label != prediction)
{%- else %}
    del client
    return prediction + 1000.0
{%- endif %}


def test_a_label_is_stored_beside_its_prediction_and_a_resend_is_a_revision(
    served_client: TestClient, served_settings: Settings, record: Record
) -> None:
    batch = logged(served_client, served_settings, record, count=2)
    request_id, second = batch["request_id"], batch["predictions"][1]
    wrong = other_label(second["prediction"], served_client)
    body = {"request_id": request_id, "position": 1, "label": wrong}
    assert served_client.post("/feedback", json=body, headers=AUTH).json() == {
        "request_id": request_id,
        "position": 1,
        "revision": 1,
    }
    corrected = {**body, "label": second["prediction"]}
    again = served_client.post("/feedback", json=corrected, headers=AUTH)
    assert again.json()["revision"] == 2

    row = stored(served_settings, request_id, 1)
    assert (row.label, row.revision) == (second["prediction"], 2)  # the correction replaced it
    with pytest.raises(NoResultFound):
        stored(served_settings, request_id, 0)


def test_a_batch_of_labels_is_stored_whole_or_not_at_all(
    served_client: TestClient, served_settings: Settings, record: Record
) -> None:
    batch = logged(served_client, served_settings, record, count=3)
    labels = [
        {"request_id": batch["request_id"], "position": i, "label": p["prediction"]}
        for i, p in enumerate(batch["predictions"])
    ]
    stored = served_client.post("/feedback/batch", json={"labels": labels}, headers=AUTH)
    assert [label["revision"] for label in stored.json()["labels"]] == [1, 1, 1]

    beyond = {**labels[0], "position": 3}
    refused = served_client.post(
        "/feedback/batch", json={"labels": [labels[0], beyond]}, headers=AUTH
    )
    assert refused.status_code == 404
    assert "at position 3 (it logged 3 records" in refused.json()["detail"]
    resent = served_client.post("/feedback/batch", json={"labels": labels[:1]}, headers=AUTH)
    assert resent.json()["labels"][0]["revision"] == 2  # the refused batch stored nothing


def test_simulated_labels_come_back_after_their_delay(
    client: TestClient, settings: Settings, record: Record
) -> None:
    """simulate-traffic --label-delay: each request's labels are stored that much later."""
    prediction = client.post("/predict", json={"features": record}).json()["prediction"]
    client.headers.update(AUTH)
    truths = [other_label(prediction, client)] * 6
    *_, result = send(client, [record] * 6, batch_size=2, truths=truths, label_delay=0.3)
    assert (result.requests, result.labels, result.failed) == (3, 6, 0)
    query = select(predictions.c.created_at, labels.c.labelled_at).join(
        labels, labels.c.request_id == predictions.c.request_id
    )
    with create_db_engine(settings.database_url).connect() as connection:
        rows = pd.DataFrame(connection.execute(query).all(), columns=["created", "labelled"])
    assert len(rows) == 3 * 2 * 2  # per request: 2 logged rows x 2 labels
    delays = pd.to_datetime(rows["labelled"], utc=True) - pd.to_datetime(rows["created"], utc=True)
    assert (delays >= pd.Timedelta(seconds=0.3)).all()


def test_an_unknown_prediction_is_404(
    served_client: TestClient, served_settings: Settings, record: Record
) -> None:
    label = logged(served_client, served_settings, record)["predictions"][0]["prediction"]
    body = {"request_id": "never-served", "label": label}
    response = served_client.post("/feedback", json=body, headers=AUTH)
    assert response.status_code == 404
    assert "no logged prediction for request_id 'never-served'" in response.json()["detail"]


def test_a_request_id_sent_with_two_requests_is_409(
    served_client: TestClient, served_settings: Settings, record: Record
) -> None:
    """Two requests logged under one client X-Request-ID: a position could name either's."""
    request_id = f"reused-{uuid.uuid4().hex}"
    for _ in range(2):
        answer = served_client.post(
            "/predict", json={"features": record}, headers={"X-Request-ID": request_id}
        )
        assert answer.json()["request_id"] == request_id
    engine = create_db_engine(served_settings.database_url)
    count = select(func.count()).where(predictions.c.request_id == request_id)

    def both_logged() -> bool:
        with engine.connect() as connection:
            return bool(connection.execute(count).scalar_one() == 2)

    wait_until(both_logged, "both requests to reach the log")
    label = answer.json()["prediction"]
    body = {"request_id": request_id, "position": 0, "label": label}
    response = served_client.post("/feedback", json=body, headers=AUTH)
    assert response.status_code == 409
    assert f"request_id {request_id!r} was sent with 2 requests" in response.json()["detail"]
    with pytest.raises(NoResultFound):
        stored(served_settings, request_id, 0)

{%- if cookiecutter.__task == "classification" %}


def test_a_label_outside_the_classes_is_422_naming_it(served_client: TestClient) -> None:
    body = {"labels": [{"request_id": "r", "label": "no such class"}]}
    response = served_client.post("/feedback/batch", json=body, headers=AUTH)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "labels", 0, "label"]
    assert error["msg"].startswith("not a class of the model: expected one of ")
{%- else %}


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_label_is_422_naming_it(served_client: TestClient, value: str) -> None:
    body = '{"request_id": "r", "label": ' + value + "}"
    response = served_client.post(
        "/feedback", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "label"]
{%- endif %}


def test_feedback_needs_its_token(served_client: TestClient, served_settings: Settings) -> None:
    body = {"request_id": "r", "label": 1}
    assert served_client.post("/feedback", json=body).status_code == 401
    wrong = served_client.post("/feedback", json=body, headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 401
    settings = served_settings.model_copy(update={"feedback_token": SecretStr("")})
    with TestClient(create_app(settings)) as client:
        response = client.post("/feedback", json=body, headers=AUTH)
        assert response.status_code == 403
        assert response.json()["detail"] == "feedback is disabled: set APP_FEEDBACK_TOKEN"
