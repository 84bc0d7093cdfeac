"""End to end with real processes: the CLI trains, ``serve`` runs uvicorn on 127.0.0.1,
traffic flows over HTTP, the model is promoted under load, and shutdown loses no log rows.
"""

import re
import signal
import subprocess
from collections.abc import Callable, Iterator

import httpx
import pytest

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.io.registry import ModelRegistry

from .helpers import (
    CLI,
    GRACEFUL_EXIT,
    Record,
    Server,
    logged_request_ids,
    run_cli,
    wait_for_version,
    wait_until,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(
    registry: ModelRegistry, env: dict[str, str], serve: Callable[[dict[str, str]], Server]
) -> Iterator[tuple[httpx.Client, Server]]:
    """``serve`` in a subprocess (stopped by its PID), serving v1 from ``registry``.

    v1 is trained in-process (fast); the CLI trains in a subprocess in the promotion test.
    """
    started = serve(env)
    with httpx.Client(base_url=started.base_url, timeout=10) as client:
        yield client, started


def logged_rows(settings: Settings) -> int:
    return sum(logged_request_ids(settings.database_url).values())


def wait_for_logged_rows(settings: Settings, count: int) -> None:
    wait_until(lambda: logged_rows(settings) >= count, f"{count} logged rows")


def test_train_serve_predict_over_http(server: tuple[httpx.Client, Server], record: Record) -> None:
    client, _ = server
    assert client.get("/health").json() == {"status": "ok"}
    single = client.post("/predict", json={"features": record})
    assert single.status_code == 200
    assert single.json()["model_version"] == "v1"
    batch = client.post("/predict/batch", json={"records": [record] * 10})
    assert len(batch.json()["predictions"]) == 10
    assert client.post("/predict", json={"features": {}}).status_code == 422
    assert "http_requests_total" in client.get("/metrics").text


def test_promotion_under_load_and_graceful_shutdown_lose_nothing(
    server: tuple[httpx.Client, Server],
    env: dict[str, str],
    settings: Settings,
) -> None:
    client, started = server
    base_url = str(client.base_url)
    traffic = subprocess.Popen(
        [CLI, "simulate-traffic", "--url", base_url, "--records", "400", "--batch-size", "4"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert run_cli(env, "train", "--promote").returncode == 0
    wait_for_version(client, "v2")
    assert run_cli(env, "rollback").returncode == 0
    out, _ = traffic.communicate(timeout=120)
    assert traffic.returncode == 0, out
    assert "sent 400 records in 100 requests (200: 100)" in out

    # uvicorn shuts down gracefully, then re-raises the signal: the status is -SIGTERM.
    assert started.stop(signal.SIGTERM) in GRACEFUL_EXIT
    assert logged_rows(settings) == 400


def test_two_workers_answer_metrics_for_both(
    registry: ModelRegistry,
    env: dict[str, str],
    serve: Callable[[dict[str, str]], Server],
    settings: Settings,
    record: Record,
) -> None:
    """APP_WORKERS=2: whichever worker answers /metrics, it counts both workers' requests."""
    started = serve({**env, "APP_WORKERS": "2"})
    url = started.base_url
    for _ in range(40):  # a new connection each: the two workers share them out
        assert httpx.post(f"{url}/predict", json={"features": record}).status_code == 200
    for _ in range(8):
        metrics = httpx.get(f"{url}/metrics").text
        served = re.search(
            r'^http_requests_total\{[^}]*path="/predict"[^}]*\} (\S+)$', metrics, re.M
        )
        assert served and float(served.group(1)) == 40, metrics
        assert 'model_info{version="v1"} 1.0' in metrics
    assert started.stop(signal.SIGTERM) in GRACEFUL_EXIT
    assert logged_rows(settings) == 40


def test_drift_loop_over_http(
    server: tuple[httpx.Client, Server], env: dict[str, str], settings: Settings
) -> None:
    client, _ = server
    base_url = str(client.base_url)
    calm = run_cli(
        env, "simulate-traffic", "--url", base_url, "--records", "300", "--batch-size", "50"
    )
    assert calm.returncode == 0, calm.stderr
    features = client.get("/model").json()["feature_schema"]["features"]
    first_numeric = next(f["name"] for f in features if f["kind"] == "numeric")
    wait_for_logged_rows(settings, 300)
    assert run_cli(env, "monitor").returncode == 0

    shifted = run_cli(
        env,
        "simulate-traffic",
        "--url",
        base_url,
        "--records",
        "900",
        "--batch-size",
        "50",
        "--shift",
        f"{first_numeric}=4",
    )
    assert shifted.returncode == 0, shifted.stderr
    wait_for_logged_rows(settings, 1200)
    sensitive = {**env, "APP_DRIFT_SHARE_THRESHOLD": "0.01"}
    drifted = run_cli(sensitive, "monitor", "--max-rows", "900")
    assert drifted.returncode == 3, drifted.stderr
    assert f"({first_numeric})" in drifted.stdout
