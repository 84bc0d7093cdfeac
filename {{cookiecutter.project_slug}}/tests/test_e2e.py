"""End to end with real processes: the CLI trains, ``serve`` runs uvicorn on 127.0.0.1,
traffic flows over HTTP, the model is promoted under load, and shutdown loses no log rows.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.monitoring.prediction_log import create_db_engine, predictions

from .helpers import settings_env

pytestmark = pytest.mark.e2e
CLI = str(Path(sys.executable).with_name("{{ cookiecutter.project_slug }}"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, check=False)


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        **settings_env(settings),
        "APP_HOST": "127.0.0.1",
        "APP_PORT": str(free_port()),
    }


@pytest.fixture
def server(env: dict[str, str]) -> Iterator[tuple[httpx.Client, subprocess.Popen[str]]]:
    """``serve`` in a subprocess; stopped by its PID (SIGTERM, then SIGKILL)."""
    trained = run_cli(env, "train")
    assert trained.returncode == 0, trained.stderr
    process = subprocess.Popen([CLI, "serve"], env=env, stderr=subprocess.PIPE, text=True)
    base_url = f"http://127.0.0.1:{env['APP_PORT']}"
    try:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                try:
                    if client.get("/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "server did not become ready"
                time.sleep(0.2)
            yield client, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def logged_rows(settings: Settings) -> int:
    with create_db_engine(settings.database_url).connect() as connection:
        return int(connection.execute(select(func.count()).select_from(predictions)).scalar_one())


def test_train_serve_predict_over_http(
    server: tuple[httpx.Client, subprocess.Popen[str]], record: dict[str, float]
) -> None:
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
    server: tuple[httpx.Client, subprocess.Popen[str]],
    env: dict[str, str],
    settings: Settings,
) -> None:
    client, process = server
    base_url = str(client.base_url)
    traffic = subprocess.Popen(
        [CLI, "simulate-traffic", "--url", base_url, "--records", "400", "--batch-size", "4"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert run_cli(env, "train", "--promote").returncode == 0
    deadline = time.monotonic() + 30
    while client.get("/ready").json()["model_version"] != "v2":
        assert time.monotonic() < deadline, "the server never picked up v2"
        time.sleep(0.1)
    assert run_cli(env, "rollback").returncode == 0
    out, _ = traffic.communicate(timeout=120)
    assert traffic.returncode == 0, out
    assert "sent 400 records in 100 requests (200: 100)" in out

    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal: the status is -SIGTERM.
    assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    assert logged_rows(settings) == 400


def test_drift_loop_over_http(
    server: tuple[httpx.Client, subprocess.Popen[str]], env: dict[str, str], settings: Settings
) -> None:
    client, _ = server
    base_url = str(client.base_url)
    calm = run_cli(
        env, "simulate-traffic", "--url", base_url, "--records", "300", "--batch-size", "50"
    )
    assert calm.returncode == 0, calm.stderr
    first_feature = client.get("/model").json()["feature_schema"]["features"][0]["name"]
    deadline = time.monotonic() + 10
    while logged_rows(settings) < 300:
        assert time.monotonic() < deadline
        time.sleep(0.1)
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
        f"{first_feature}=4",
    )
    assert shifted.returncode == 0, shifted.stderr
    while logged_rows(settings) < 1200:
        assert time.monotonic() < deadline + 10
        time.sleep(0.1)
    sensitive = {**env, "APP_DRIFT_SHARE_THRESHOLD": "0.01"}
    drifted = run_cli(sensitive, "monitor", "--max-rows", "900")
    assert drifted.returncode == 3, drifted.stderr
    assert f"({first_feature})" in drifted.stdout
