"""Dashboards and alerts: the generated monitoring/ folder, checked by promtool and live.

The live test starts Debian's Prometheus on 127.0.0.1 against a generated API, a second API
whose champion is corrupt, and ``monitor --every``. Every alert expression and every
dashboard query is evaluated through Prometheus' HTTP API; then real failures (the corrupt
champion, shifted traffic, labels that stopped matching the model (concept shift), the log
database refusing connections) must fire their alerts.
"""

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml

from .conftest import (
    free_port,
    fresh_database,
    project_env,
    render,
    run,
    stop,
    tool,
    wait_until_ready,
)
from .test_drift_e2e import deployment

DASHBOARD = Path("monitoring/grafana/dashboards/ml-service.json")
SHORT_FOR = re.compile(r"^(\s+for:) \S+$", re.M)
SCRAPE_SECONDS = 1


def alert_rules(project: Path) -> list[dict[str, Any]]:
    groups = yaml.safe_load((project / "monitoring" / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_queries(project: Path) -> list[str]:
    dashboard = json.loads((project / DASHBOARD).read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


TASKS = {"classification": "churn", "regression": "diabetes"}
"""The option that changes the metrics (and so the rules and the dashboard), with a dataset."""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A project per task, rendered once for this module."""
    return {
        task: render(tmp_path_factory.mktemp(task), dataset=dataset)
        for task, dataset in TASKS.items()
    }


@pytest.mark.parametrize("task", TASKS)
def test_alert_rules_pass_their_unit_tests(task: str, rendered: dict[str, Path]) -> None:
    """`make alerts-check`: promtool checks the config and rules and runs alerts.test.yml."""
    project = rendered[task]
    tool("promtool")
    result = run(["make", "alerts-check"], cwd=project)
    assert "SUCCESS" in result.stdout and "FAILED" not in result.stdout

    rules = alert_rules(project)
    runbook = (project / "docs" / "runbook.md").read_text()
    sections = set(re.findall(r"^### (\w+)$", runbook, re.M))
    tests = (project / "monitoring" / "alerts.test.yml").read_text()
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["runbook_url"].endswith("#" + rule["alert"].lower())
        assert rule["alert"] in sections, f"no runbook section for {rule['alert']}"
        assert f"alertname: {rule['alert']}" in tests, f"no unit test for {rule['alert']}"


@pytest.mark.parametrize("task", TASKS)
def test_dashboard_is_provisioned_with_its_datasource(task: str, rendered: dict[str, Path]) -> None:
    project = rendered[task]
    dashboard = json.loads((project / DASHBOARD).read_text())
    provisioning = project / "monitoring" / "grafana" / "provisioning"
    [datasource] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert datasource["url"] == "http://prometheus:9090"
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
        assert panel["targets"], panel["title"]
    queries = " ".join(dashboard_queries(project))
    prediction_metric = "predictions_total" if task == "classification" else "prediction_value"
    for metric in (
        prediction_metric,
        "http_request_duration_seconds_bucket",
        "drift_feature_score",
    ):
        assert metric in queries
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    for service in ("prometheus", "grafana"):
        assert compose["services"][service]["profiles"] == ["observability"]
    [provider] = yaml.safe_load((provisioning / "dashboards" / "dashboards.yml").read_text())[
        "providers"
    ]
    mounts = dict(volume.split(":")[:2] for volume in compose["services"]["grafana"]["volumes"])
    assert mounts["./" + str(DASHBOARD.parent)] == provider["options"]["path"]


class Prometheus:
    """Debian's Prometheus on 127.0.0.1, scraping every second, with the project's rules."""

    def __init__(self, project: Path, root: Path, api_targets: list[str], monitor: str) -> None:
        root.mkdir()
        rules = SHORT_FOR.sub(r"\1 0s", (project / "monitoring" / "alerts.yml").read_text())
        (root / "alerts.yml").write_text(rules)
        config = {
            "global": {
                "scrape_interval": f"{SCRAPE_SECONDS}s",
                "evaluation_interval": f"{SCRAPE_SECONDS}s",
            },
            "rule_files": ["alerts.yml"],
            "scrape_configs": [
                {"job_name": "api", "static_configs": [{"targets": api_targets}]},
                {"job_name": "monitor", "static_configs": [{"targets": [monitor]}]},
            ],
        }
        (root / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.url = f"http://127.0.0.1:{free_port()}"
        self.process = subprocess.Popen(
            [
                tool("prometheus"),
                f"--config.file={root / 'prometheus.yml'}",
                f"--storage.tsdb.path={root / 'data'}",
                f"--web.listen-address={self.url.removeprefix('http://')}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(root / "prometheus.log").open("w"),
        )

    def ready(self) -> bool:
        """Whether it answers queries: it refuses connections, then says 503, while it starts."""
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=10).status_code == 200
        except httpx.TransportError:
            return False

    def query(self, expression: str) -> list[dict[str, Any]]:
        """The instant vector of ``expression``, failing the test on any query error."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expression}, timeout=10)
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", (expression, body)
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def firing(self) -> list[dict[str, str]]:
        """The labels of every firing alert."""
        alerts = httpx.get(f"{self.url}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
        return [alert["labels"] for alert in alerts if alert["state"] == "firing"]

    def wait_for(self, what: str, condition: Callable[[], bool], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, "prometheus exited"
            if time.monotonic() > deadline:
                pytest.fail(f"not within {timeout:.0f} s: {what}; firing: {self.firing()}")
            time.sleep(SCRAPE_SECONDS)

    def wait_for_alert(self, name: str, timeout: float = 120, **labels: str) -> None:
        self.wait_for(
            f"alert {name} {labels}",
            lambda: any(
                alert["alertname"] == name and labels.items() <= alert.items()
                for alert in self.firing()
            ),
            timeout,
        )


Started = Callable[[subprocess.Popen[Any]], subprocess.Popen[Any]]


@pytest.fixture
def started() -> Iterator[Started]:
    """Register each process started, to stop them all by PID at the end of the test."""
    processes: list[subprocess.Popen[Any]] = []

    def register(process: subprocess.Popen[Any]) -> subprocess.Popen[Any]:
        processes.append(process)
        return process

    yield register
    for process in reversed(processes):
        stop(process)


def block_connections(postgres_url: str, database: str) -> None:
    """Stop ``database`` taking connections, and end the ones it has: the log is down."""
    libpq_url = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq_url, autocommit=True) as connection:
        connection.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            [database],
        )


def test_live_prometheus_evaluates_every_query_and_fires_on_real_failures(
    default_project: Path,
    postgres_url: str,
    tmp_path: Path,
    started: Started,
) -> None:
    database = "observability"
    healthy = deployment(
        default_project, tmp_path / "healthy", fresh_database(postgres_url, database)
    )
    healthy.root.mkdir()
    healthy.env["APP_FEEDBACK_TOKEN"] = "live-test"  # noqa: S105 - a test token for /feedback
    broken = deployment(default_project, tmp_path / "broken", f"sqlite:///{tmp_path / 'broken.db'}")
    broken.root.mkdir()
    for target in (healthy, broken):
        assert "v1 is the champion" in target.cli("train").stdout
    # The served copy of the champion, truncated after promotion: that API is never ready.
    model_file = broken.root / "models" / "champion" / "v1" / "model.pkl"
    model_file.write_bytes(model_file.read_bytes()[:100])

    monitor_port = free_port()
    monitor_env = {
        **healthy.env,
        "APP_MONITOR_METRICS_PORT": str(monitor_port),
        "APP_DRIFT_SHARE_THRESHOLD": "0.05",
    }
    api = started(healthy.serve())
    started(broken.serve())
    prometheus = Prometheus(
        default_project,
        tmp_path / "prometheus",
        [url.removeprefix("http://") for url in (healthy.url, broken.url)],
        f"127.0.0.1:{monitor_port}",
    )
    started(prometheus.process)
    wait_until_ready(healthy.url, api)
    prometheus.wait_for("prometheus ready", prometheus.ready)
    prometheus.wait_for(  # traffic before the first scrape would make no rate
        "both apis scraped", lambda: len(prometheus.query('up{job="api"} == 1')) == 2
    )
    calm = ["simulate-traffic", "--url", healthy.url, "--batch-size", "50", "--labels"]
    healthy.cli(*calm, "--records", "1000")
    features = httpx.get(f"{healthy.url}/model").json()["feature_schema"]["features"]
    category = next(f for f in features if f["kind"] == "categorical")
    record = json.loads((healthy.root / "examples" / "request.json").read_text())["features"]
    unknown = httpx.post(
        f"{healthy.url}/predict", json={"features": {**record, category["name"]: "never seen"}}
    )
    assert unknown.status_code == 200, unknown.text
    assert httpx.post(f"{broken.url}/predict", json={"features": record}).status_code == 503

    # Checks every 20 s: DriftJobStale allows two intervals between successes, and a check
    # takes seconds (more on a loaded machine).
    monitor_args = ["monitor", "--every", "20", "--hours", "1", "--max-rows", "1000"]
    started(
        subprocess.Popen(
            [healthy.command, *monitor_args],
            cwd=healthy.root,
            env={**project_env(), **monitor_env},
            stdout=(tmp_path / "monitor.log").open("w"),
            stderr=subprocess.STDOUT,
        )
    )
    prometheus.wait_for(
        "a calm drift check scraped",
        lambda: bool(prometheus.query('drift_checks_total{outcome="no_drift"} > 0')),
        timeout=180,
    )
    # Counters are born at their first increment: more traffic once Prometheus has seen them,
    # so that every rate has two different samples, however the scrapes fell.
    healthy.cli("simulate-traffic", "--url", healthy.url, "--records", "100", "--batch-size", "10")
    prometheus.wait_for(
        "a rate over two scrapes",
        lambda: bool(prometheus.query('rate(predictions_total{job="api"}[5m]) > 0')),
    )

    # Every panel query returns a series in this scenario; every alert expression evaluates.
    for expression in dashboard_queries(default_project):
        if "ALERTS" not in expression:  # the firing-alerts panel is checked after the failures
            assert prometheus.query(expression), f"no series for dashboard query {expression}"
    rules = alert_rules(default_project)
    for rule in rules:
        prometheus.query(rule["expr"])
    silent = {"DataProblem", "DriftDetected", "DriftJobStale", "NoTraffic", "PerformanceDegraded"}
    firing = prometheus.firing()
    assert silent.isdisjoint(alert["alertname"] for alert in firing), firing

    # A corrupt champion on a fresh API: up, but no model; its reloads keep failing.
    broken_instance = broken.url.removeprefix("http://")
    prometheus.wait_for_alert("ModelNotReady", instance=broken_instance)
    prometheus.wait_for_alert("ModelReloadFailing", instance=broken_instance)
    healthy_instance = healthy.url.removeprefix("http://")
    assert not any(
        alert["alertname"] == "ModelNotReady" and alert["instance"] == healthy_instance
        for alert in prometheus.firing()
    )

    # Shifted traffic, then a monitor run: drift.
    numeric = [f["name"] for f in features if f["kind"] == "numeric"][:2]
    shifts = [arg for name in numeric for arg in ("--shift", f"{name}=3")]
    healthy.cli(
        "simulate-traffic", "--url", healthy.url, "--records", "2000", "--batch-size", "100",
        "--seed", "7", *shifts,
    )  # fmt: skip
    prometheus.wait_for_alert("DriftDetected", timeout=180)

    # Labels that no longer match the inputs' usual outcome (concept shift): the live check.
    healthy.cli(*calm, "--records", "2000", "--seed", "5", "--concept-shift", "0.8")
    prometheus.wait_for_alert("PerformanceDegraded", timeout=180)

    # The log database stops taking connections: rows are lost, and counted.
    block_connections(postgres_url, database)
    healthy.cli("simulate-traffic", "--url", healthy.url, "--records", "200", "--batch-size", "50")
    prometheus.wait_for_alert("PredictionLogFailing", instance=healthy_instance)

    assert prometheus.query('sum by (alertname) (ALERTS{alertstate="firing"})')
    for expression in [rule["expr"] for rule in rules] + dashboard_queries(default_project):
        prometheus.query(expression)
