"""Promotion and rollback reach a running app without restarts and without failed requests."""

import threading
import time

from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.registry import ModelRegistry
from {{ cookiecutter.package_name }}.serving.app import create_app

from .helpers import ADMIN_TOKEN, Record, train_version, wait_for_version, wait_until


def test_promote_and_rollback_under_load(
    client: TestClient, registry: ModelRegistry, settings: Settings, record: Record
) -> None:
    v2 = train_version(registry, settings)[0].version

    statuses: list[int] = []
    versions: set[str] = set()
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            response = client.post("/predict", json={"features": record})
            statuses.append(response.status_code)
            if response.status_code == 200:
                versions.add(response.json()["model_version"])

    workers = [threading.Thread(target=hammer) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        registry.promote(v2, reason="test")
        wait_for_version(client, v2)
        wait_until(lambda: v2 in versions, f"a request answered by {v2}")
        registry.rollback(reason="test")
        wait_for_version(client, "v1")
        time.sleep(0.2)
    finally:
        stop.set()
        for worker in workers:
            worker.join()

    assert len(statuses) > 20
    assert set(statuses) == {200}
    assert versions == {"v1", v2}
    metrics = client.get("/metrics").text
    assert 'model_reloads_total{outcome="loaded"} 3.0' in metrics


def test_a_broken_champion_keeps_the_old_model_serving(
    registry: ModelRegistry, settings: Settings, record: Record
) -> None:
    # Only /admin/reload may load: a polling watcher could load v2 before it is corrupted.
    manual_reload_only = settings.model_copy(update={"model_poll_seconds": 3600.0})
    with TestClient(create_app(manual_reload_only)) as client:
        v2 = train_version(registry, settings)[0].version
        registry.promote(v2, reason="test")
        (registry.root / v2 / "model.joblib").write_bytes(b"corrupted after promotion")

        reload = client.post("/admin/reload", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert reload.status_code == 409
        assert "corrupt" in reload.json()["detail"]
        response = client.post("/predict", json={"features": record})
        assert response.status_code == 200
        assert response.json()["model_version"] == "v1"
        assert 'model_reloads_total{outcome="failed"} 1.0' in client.get("/metrics").text
