"""Prometheus metrics of ``monitor --every``: its checks, their outcomes, the last verdicts.

The monitor serves them itself on ``APP_MONITOR_METRICS_PORT`` (``/metrics``), like any
long-running job: a scrape shows whether checks fail, how long ago one succeeded, and what
the last verdict found, without reading the reports folder.
"""

from __future__ import annotations  # DriftSummary is a type hint only: no Evidently import

import time
from typing import TYPE_CHECKING, get_args
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.monitoring.diagnosis import DiagnosisKind

if TYPE_CHECKING:
    from {{ cookiecutter.package_name }}.monitoring.drift import DriftSummary
    from {{ cookiecutter.package_name }}.monitoring.performance import LivePerformance

FAILED = "error"
"""The outcome label of a check that ended in an error (the others are the drift statuses)."""


class MonitorMetrics:
    """The monitor's metrics, in a registry of their own."""

    def __init__(self) -> None:
        """Create every metric in a fresh registry."""
        self.registry = CollectorRegistry()
        self.checks = Counter(
            "drift_checks_total",
            "Drift checks, by outcome: no_drift, drift, insufficient_data or error.",
            ["outcome"],
            registry=self.registry,
        )
        self.last_success = Gauge(
            "drift_check_last_success_timestamp_seconds",
            "When the last check that reached a verdict (or too little data) ended.",
            registry=self.registry,
        )
        self.interval = Gauge(
            "drift_check_interval_seconds",
            "The time between checks (monitor --every): DriftJobStale allows two of them.",
            registry=self.registry,
        )
        self.drift_detected = Gauge(
            "drift_detected",
            "1 if the last verdict was drift, else 0.",
            registry=self.registry,
        )
        self.drifted_share = Gauge(
            "drift_drifted_feature_share",
            "The share of features that drifted in the last verdict.",
            registry=self.registry,
        )
        self.feature_score = Gauge(
            "drift_feature_score",
            "Each column's drift score in the last verdict (the prediction included).",
            ["feature", "method"],
            registry=self.registry,
        )
        self.traffic_seen = Gauge(
            "drift_traffic_share_seen",
            "The share of the window's predictions the last verdict saw (log losses, sample).",
            registry=self.registry,
        )
        self.performance_degraded = Gauge(
            "model_performance_degraded",
            "1 if the champion's primary metric on labelled traffic dropped too far, else 0.",
            registry=self.registry,
        )
        self.labelled_predictions = Gauge(
            "model_labelled_predictions",
            "The champion's predictions with a label in the performance window (last check).",
            registry=self.registry,
        )
        self.live_score = Gauge(
            "model_live_score",
            "The champion's metrics on labelled traffic (last check with enough labels).",
            ["metric"],
            registry=self.registry,
        )
        self.held_out_score = Gauge(
            "model_held_out_score",
            "The champion's metrics on the held-out split at training.",
            ["metric"],
            registry=self.registry,
        )
        self.diagnosis = Gauge(
            "monitor_diagnosis",
            "1 for the last check's diagnosis (data_problem, model_problem, input_drift, "
            "healthy, no_verdict), 0 for the other kinds.",
            ["kind"],
            registry=self.registry,
        )
        for outcome in ("no_drift", "drift", "insufficient_data", FAILED):
            self.checks.labels(outcome=outcome)  # every series exists from the start, at 0

    def serve(self, host: str, port: int) -> WSGIServer:
        """Serve ``/metrics`` on ``host:port`` from a background thread; return the server."""
        try:
            server, _thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ConfigError(
                f"invalid setting APP_MONITOR_METRICS_PORT: cannot serve on {host}:{port}: "
                f"{exc.strerror or exc}"
            ) from None
        return server

    def count_failure(self) -> None:
        """A check ended in an error: the last verdict's figures stay as they were."""
        self.checks.labels(outcome=FAILED).inc()

    def record(self, summary: DriftSummary) -> None:
        """A check ended with ``summary``."""
        self.checks.labels(outcome=summary.status).inc()
        self.last_success.set(time.time())
        if summary.performance is not None:
            self._record_performance(summary.performance)
        if summary.diagnosis is not None:
            for kind in get_args(DiagnosisKind):
                self.diagnosis.labels(kind=kind).set(kind == summary.diagnosis.kind)
        if summary.status == "insufficient_data":
            return
        self.drift_detected.set(summary.status == "drift")
        self.drifted_share.set(summary.drifted_share or 0.0)
        self.feature_score.clear()
        columns = [*summary.features, *([summary.prediction] if summary.prediction else [])]
        for column in columns:
            if column.score is not None:  # None: an emptied column, no test to score
                labels = {"feature": column.column, "method": column.method}
                self.feature_score.labels(**labels).set(column.score)
        if summary.window.traffic_share_seen is not None:
            self.traffic_seen.set(summary.window.traffic_share_seen)

    def _record_performance(self, checked: LivePerformance) -> None:
        self.labelled_predictions.set(checked.labelled_rows)
        self.performance_degraded.set(checked.degraded)
        for name, value in checked.held_out.items():
            self.held_out_score.labels(metric=name).set(value)
        for name, value in checked.live.items():
            self.live_score.labels(metric=name).set(value)
