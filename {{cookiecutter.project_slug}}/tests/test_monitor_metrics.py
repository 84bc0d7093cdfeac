"""The monitor's Prometheus metrics: outcomes counted, the last verdict's figures, its endpoint."""

import socket

import httpx
import pandas as pd
import pytest
from prometheus_client import generate_latest

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.evaluation import PRIMARY_METRIC
from {{ cookiecutter.package_name }}.io.registry import ModelRegistry
from {{ cookiecutter.package_name }}.monitoring.diagnosis import diagnose
from {{ cookiecutter.package_name }}.monitoring.drift import ExitCode, detect_drift
from {{ cookiecutter.package_name }}.monitoring.monitor_metrics import MonitorMetrics
from {{ cookiecutter.package_name }}.monitoring.performance import LivePerformance
from {{ cookiecutter.package_name }}.monitoring.traffic import Shift
from {{ cookiecutter.package_name }}.monitoring.window import Window
from {{ cookiecutter.package_name }}.schema import PREDICTION_COLUMN, FeatureSchema

from .helpers import free_port, traffic


def sample(metrics: MonitorMetrics, line_start: str) -> float:
    """The value of the one exposed sample whose line starts with ``line_start``."""
    text = generate_latest(metrics.registry).decode()
    [value] = [line.split()[-1] for line in text.splitlines() if line.startswith(line_start)]
    return float(value)


def test_a_verdict_and_a_failure_are_both_exposed(
    registry: ModelRegistry, features: pd.DataFrame, settings: Settings, schema: FeatureSchema
) -> None:
    model = registry.load_champion()
    shifted = next(feature.name for feature in schema.features if feature.kind == "numeric")
    shifts: dict[str, Shift] = {shifted: 3.0}
    current = traffic(model, features, 1000, shifts)
    sensitive = settings.model_copy(update={"drift_share_threshold": 0.01})
    window = Window(source="test", logged_rows=1000, lost_rows=1000, sampled_rows=1000)
    summary, _html = detect_drift(
        registry.reference(model.version), current, model.metadata, sensitive, window
    )
    metrics = MonitorMetrics()
    metrics.record(summary)
    metrics.count_failure()

    assert sample(metrics, 'drift_checks_total{outcome="drift"}') == 1
    assert sample(metrics, 'drift_checks_total{outcome="error"}') == 1
    assert sample(metrics, 'drift_checks_total{outcome="no_drift"}') == 0
    assert sample(metrics, "drift_detected ") == 1
    assert sample(metrics, "drift_drifted_feature_share ") == pytest.approx(summary.drifted_share)
    assert sample(metrics, "drift_traffic_share_seen ") == pytest.approx(0.5)
    assert sample(metrics, "drift_check_last_success_timestamp_seconds ") > 0
    by_name = {feature.column: feature for feature in summary.features}
    score = sample(metrics, "drift_feature_score{" + f'feature="{shifted}"')
    assert score == pytest.approx(by_name[shifted].score)
    assert f'feature="{PREDICTION_COLUMN}"' in generate_latest(metrics.registry).decode()


def test_a_performance_verdict_is_exposed_beside_the_drift_one(
    registry: ModelRegistry, features: pd.DataFrame, settings: Settings
) -> None:
    model = registry.load_champion()
    window = Window(source="test", logged_rows=600, lost_rows=0, sampled_rows=600)
    current = traffic(model, features, 600)
    reference = registry.reference(model.version)
    summary, _html = detect_drift(reference, current, model.metadata, settings, window)
    live = {name: value / 2 for name, value in model.metadata.metrics.items()}
    checked = LivePerformance(
        status="degraded",
        model_version=model.version,
        labelled_rows=300,
        min_labels=200,
        metric=PRIMARY_METRIC,
        max_drop=0.2,
        live=live,
        held_out=model.metadata.metrics,
    )
    summary = summary.model_copy(update={"performance": checked})
    summary = summary.model_copy(update={"diagnosis": diagnose(summary, 0.05)})
    metrics = MonitorMetrics()
    metrics.record(summary)

    assert summary.exit_code == ExitCode.PERFORMANCE_DEGRADED
    assert sample(metrics, "model_performance_degraded ") == 1
    assert sample(metrics, "model_labelled_predictions ") == 300
    held_out = model.metadata.metrics[PRIMARY_METRIC]
    primary = "{" + f'metric="{PRIMARY_METRIC}"' + "}"
    assert sample(metrics, f"model_held_out_score{primary}") == held_out
    assert sample(metrics, f"model_live_score{primary}") == held_out / 2
    assert sample(metrics, 'monitor_diagnosis{kind="model_problem"}') == 1
    assert sample(metrics, 'monitor_diagnosis{kind="healthy"}') == 0


def test_the_endpoint_serves_them_and_a_taken_port_is_one_error() -> None:
    metrics = MonitorMetrics()
    port = free_port()
    server = metrics.serve("127.0.0.1", port)
    try:
        metrics.count_failure()
        page = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        server.shutdown()
        server.server_close()
    assert 'drift_checks_total{outcome="error"} 1.0' in page
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ConfigError, match="invalid setting APP_MONITOR_METRICS_PORT: cannot"):
            MonitorMetrics().serve("127.0.0.1", taken.getsockname()[1])
