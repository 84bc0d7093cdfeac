"""Promotion and rollback reach a running app without restarts and without failed requests;
a broken or unreachable MLflow never takes a loaded model away."""

import logging
import re
import threading

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.io.registry import (
    MODEL_FILE,
    STORE_FILE,
    ModelRegistry,
)
from {{ cookiecutter.package_name }}.serving.app import create_app

from .helpers import (
    ADMIN_TOKEN,
    Record,
    artifact,
    free_port,
    train_version,
    wait_for_version,
    wait_until,
)


def test_promote_and_rollback_under_load(
    client: TestClient, registry: ModelRegistry, settings: Settings, record: Record
) -> None:
    v2 = train_version(registry, settings)[0].version

    statuses: list[int] = []
    answered_by: list[str] = []  # model_version of every 200, in the order they came back
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            response = client.post("/predict", json={"features": record})
            statuses.append(response.status_code)
            if response.status_code == 200:
                answered_by.append(response.json()["model_version"])

    def answered_after(mark: int, version: str, count: int = 5) -> bool:
        return answered_by[mark:].count(version) >= count

    workers = [threading.Thread(target=hammer) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        wait_until(lambda: answered_after(0, "v1"), "requests answered by v1 under load")
        registry.promote(v2, reason="test")
        wait_for_version(client, v2)
        wait_until(lambda: answered_after(0, v2), f"requests answered by {v2}")
        registry.rollback(reason="test")
        wait_for_version(client, "v1")
        mark = len(answered_by)
        wait_until(lambda: answered_after(mark, "v1"), "requests answered by v1 after rollback")
    finally:
        stop.set()
        for worker in workers:
            worker.join()

    assert set(statuses) == {200}, "a request failed while the model was swapped"
    assert set(answered_by) == {"v1", v2}
    metrics = client.get("/metrics").text
    assert 'model_reloads_total{outcome="loaded"} 3.0' in metrics


def test_a_broken_champion_keeps_the_old_model_serving(
    registry: ModelRegistry, settings: Settings, record: Record, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # Only /admin/reload may load: a polling watcher could load v2 before it is corrupted.
    manual_reload_only = settings.model_copy(update={"model_poll_seconds": 3600.0})
    with TestClient(create_app(manual_reload_only)) as client:
        v2 = train_version(registry, settings)[0].version
        registry.promote(v2, reason="test")
        artifact(registry, v2, MODEL_FILE).write_bytes(b"corrupted after promotion")

        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        for _ in range(3):
            reload = client.post("/admin/reload", headers=admin)
            assert reload.status_code == 409
            assert "corrupt" in reload.json()["detail"]
        response = client.post("/predict", json={"features": record})
        assert response.status_code == 200
        assert response.json()["model_version"] == "v1"
        assert 'model_reloads_total{outcome="failed"} 3.0' in client.get("/metrics").text

        registry.rollback(reason="v2 is corrupt")
        assert client.post("/admin/reload", headers=admin).json()["changed"] is False
    failures = caplog.text.count("model reload failed, serving the previous model if any")
    assert failures == 1, caplog.text  # logged when reloads broke, not at every attempt
    assert caplog.text.count("model reload recovered after: model v2") == 1


def failed_reloads(client: TestClient) -> float:
    """The server's count of failed model reloads."""
    found = re.search(
        r'^model_reloads_total\{outcome="failed"\} (\S+)$', client.get("/metrics").text, re.M
    )
    return float(found.group(1)) if found else 0.0


def test_a_broken_mlflow_store_keeps_the_loaded_model_serving(
    registry: ModelRegistry, settings: Settings, record: Record, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get("/ready").json()["model_version"] == "v1"
        (settings.model_dir / STORE_FILE).write_bytes(b"not a database " * 1000)
        wait_until(lambda: failed_reloads(client) >= 2, "reloads to fail on the broken store")
        assert client.get("/ready").status_code == 200
        response = client.post("/predict", json={"features": record})
        assert response.status_code == 200
        assert response.json()["model_version"] == "v1"
    assert "model reload failed, serving the previous model if any" in caplog.text
    assert "MLflow at " in caplog.text


def test_a_fresh_api_without_a_reachable_mlflow_is_not_ready_and_says_why(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    down = settings.model_copy(update={"mlflow_tracking_uri": url})
    with TestClient(create_app(down)) as client:
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert f"MLflow at {url} failed" in ready.json()["reason"]
        assert client.post("/predict", json={"features": {}}).status_code == 503
