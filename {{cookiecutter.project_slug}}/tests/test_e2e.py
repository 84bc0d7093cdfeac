"""End to end with real processes: the CLI trains, ``serve`` runs uvicorn on 127.0.0.1,
traffic flows over HTTP, the model is promoted under load, shutdown loses no log rows, and
labels sent back close the loop.
"""

import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from {{ cookiecutter.package_name }}.cli.console import JOBS_EXTRA
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.evaluation import at_least_as_good
from {{ cookiecutter.package_name }}.io.registry import ModelRegistry
from {{ cookiecutter.package_name }}.monitoring.prediction_log import (
    create_db_engine,
    metadata,
)

from .helpers import (
    CLI,
    GRACEFUL_EXIT,
    POSTGRES_URL,
    Record,
    Server,
    logged_request_ids,
    metric_value,
    run_cli,
    wait_for_version,
    wait_until,
)

pytestmark = pytest.mark.e2e
WEAKER_PARAMS = '{{ '{"C": 0.0001}' if cookiecutter.__task == "classification" else '{"alpha": 1000000}' }}'
"""Hyper-parameters that leave the model next to no signal (see APP_MODEL_PARAMS)."""
WITHOUT_JOBS_EXTRA = f"""\
import sys


class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {sorted(JOBS_EXTRA)!r}:
            raise ModuleNotFoundError("No module named " + repr(name), name=name)


sys.meta_path.insert(0, Absent())
"""
"""A ``sitecustomize`` that makes the jobs extra's modules unimportable, as in the API image."""


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


def test_the_api_serves_without_the_jobs_extra(
    registry: ModelRegistry,
    env: dict[str, str],
    serve: Callable[[dict[str, str]], Server],
    record: Record,
    tmp_path: Path,
) -> None:
    """What the API image holds: ``serve`` answers without pandas, MLflow or Evidently, and
    every command that needs them says so in one ``error:`` line."""
    site = tmp_path / "without-jobs-extra"
    site.mkdir()
    (site / "sitecustomize.py").write_text(WITHOUT_JOBS_EXTRA)
    lean = {**env, "PYTHONPATH": str(site)}
    with httpx.Client(base_url=serve(lean).base_url, timeout=10) as client:
        assert client.post("/predict", json={"features": record}).status_code == 200
        batch = client.post("/predict/batch", json={"records": [record] * 5})
        assert len(batch.json()["predictions"]) == 5
        assert client.get("/model").json()["preprocessing_runtime"] == "onnx"
    commands = [["train"], ["evaluate"], ["predict", "x.csv"], ["models", "list"], ["monitor"]]
    for command in commands:
        result = run_cli(lean, *command)
        assert result.returncode == 1, (command, result.stderr)
        [line] = result.stderr.splitlines()
        assert line.startswith("error: ") and "needs the jobs extra" in line, (command, line)


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
        labels = {"method": "POST", "path": "/predict", "status": "200"}
        assert metric_value(metrics, "http_requests_total", **labels) == 40, metrics
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


@pytest.fixture
def log_env(env: dict[str, str]) -> dict[str, str]:
    """The server's environment, its log on PostgreSQL (as in compose) when TEST_POSTGRES_URL
    is set, else on SQLite (the default, as in `make demo`)."""
    if not POSTGRES_URL:
        return env
    engine = create_db_engine(POSTGRES_URL)
    metadata.drop_all(engine)
    engine.dispose()
    return {**env, "APP_DATABASE_URL": POSTGRES_URL}


def test_labels_close_the_loop_over_http(
    registry: ModelRegistry, log_env: dict[str, str], serve: Callable[[dict[str, str]], Server]
) -> None:
    """Calm labels: healthy. Labels of a changed world: model problem, a challenger learns it
    and is served with no restart, and the live score recovers. A challenger with weaker
    hyper-parameters loses the gate and is kept out."""
    env = {**log_env, "APP_PERFORMANCE_MIN_LABELS": "100"}
    url = str(serve(env).base_url)

    def labelled_traffic(records: int, concept_shift: float, seed: int) -> None:
        sent = run_cli(
            env,
            *("simulate-traffic", "--url", url, "--records", str(records), "--batch-size", "50"),
            *("--labels", "--label-delay", "0.2", "--concept-shift", str(concept_shift)),
            *("--seed", str(seed)),
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert f", {records} labelled" in sent.stdout

    labelled_traffic(300, 0.0, seed=1)
    calm = run_cli(env, "monitor", "--retrain")
    assert calm.returncode == 0, calm.stdout + calm.stderr
    assert "diagnosis: healthy: no drift, no drop in performance, clean data" in calm.stdout
    assert registry.versions() == ["v1"]  # nothing to act on: no retraining

    labelled_traffic(900, 0.5, seed=2)
    changed = run_cli(env, "monitor", "--retrain")
    assert changed.returncode == 5, changed.stdout + changed.stderr
    assert "diagnosis: model problem: the model got worse on labelled traffic" in changed.stdout
    assert "promoted: challenger" in changed.stdout
    with httpx.Client(base_url=url) as client:
        wait_for_version(client, "v2")

    labelled_traffic(300, 0.5, seed=3)
    recovered = run_cli(env, "monitor")
    assert re.search(r"^performance ok: ", recovered.stdout, re.M), recovered.stdout
    live = r"^performance \w+: \S+ ([\d.]+) on"
    [before], [after] = (re.findall(live, out.stdout, re.M) for out in (changed, recovered))
    assert at_least_as_good(float(after), float(before)) and after != before

    weaker = {**env, "APP_MODEL_PARAMS": WEAKER_PARAMS}
    lost = run_cli(weaker, "retrain", "--reason", "a weaker configuration")
    assert lost.returncode == 0, lost.stdout + lost.stderr
    assert re.search(r"^kept v2: challenger \S+ is worse than champion ", lost.stdout, re.M)
    assert registry.versions() == ["v1", "v2", "v3"] and registry.champion() == "v2"
    with httpx.Client(base_url=url) as client:
        assert client.get("/ready").json()["model_version"] == "v2"
