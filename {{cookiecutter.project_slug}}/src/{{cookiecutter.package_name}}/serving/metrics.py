"""Prometheus metrics of the service, exposed at ``GET /metrics``.

With ``APP_WORKERS`` > 1, ``serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` (Prometheus' multiprocess
mode): every worker writes its values to files there, and ``/metrics``, whichever worker
answers it, adds up all of them. Without it, each answer would show one worker's share.
"""

import os
{% if cookiecutter.__task == "classification" -%}
from collections import Counter as TallyCounter
{% endif -%}
from collections.abc import Iterable, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
{%- if cookiecutter.__task == "regression" %}
    Summary,
{%- endif %}
    generate_latest,
    multiprocess,
)

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
"""The variable that switches prometheus_client to multiprocess mode (read at its import)."""
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
MICRO_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class ServiceMetrics:
    """The metrics of one app, in a registry of its own (so tests can build many apps)."""

    def __init__(self) -> None:
        """Create every metric in a fresh registry."""
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by method, route and status code.",
            ["method", "path", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by method and route.",
            ["method", "path"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
{%- if cookiecutter.__task == "classification" %}
        self.predictions = Counter(
            "predictions_total",
            "Predictions served, by model version and predicted class.",
            ["model_version", "label"],
            registry=self.registry,
        )
{%- else %}
        self.predictions = Summary(
            "prediction_value",
            "Predicted values, by model version (count and sum give the mean).",
            ["model_version"],
            registry=self.registry,
        )
{%- endif %}
        self.micro_batch_rows = Histogram(
            "predict_micro_batch_rows",
            "Rows per model call on /predict: the requests that waited together (micro-batches).",
            buckets=MICRO_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.missing_values = Counter(
            "feature_missing_values_total",
            "Request values that were null or left out (imputed by the model), by feature.",
            ["feature"],
            registry=self.registry,
        )
        self.unknown_categories = Counter(
            "feature_unknown_categories_total",
            "Request values of a category the model never saw in training, by feature.",
            ["feature"],
            registry=self.registry,
        )
        self.model_info = Gauge(
            "model_info",
            "The model version being served (value 1; 0 once swapped out).",
            ["version"],
            registry=self.registry,
            multiprocess_mode="max",  # 1 while any worker serves it
        )
        self.model_reloads = Counter(
            "model_reloads_total",
            "Attempts to load a newly promoted champion, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.log_write_errors = Counter(
            "prediction_log_errors_total",
            "Prediction log rows that could not be written (database errors).",
            registry=self.registry,
        )
        self.log_dropped = Counter(
            "prediction_log_dropped_total",
            "Prediction log rows dropped because the write queue was full.",
            registry=self.registry,
        )
        self.log_pending = Gauge(
            "prediction_log_pending_rows",
            "Prediction log rows waiting to be written.",
            registry=self.registry,
            multiprocess_mode="livesum",  # all workers' buffers together
        )
        self._served_version: str | None = None

    def set_model_version(self, version: str) -> None:
        """Report ``version`` as the one being served, and the previous one at 0.

        Not ``clear()``: in multiprocess mode a cleared series would keep its last value in
        the worker's file.
        """
        if self._served_version is not None:
            self.model_info.labels(version=self._served_version).set(0)
        self.model_info.labels(version=version).set(1)
        self._served_version = version

    def count_predictions(self, model_version: str, outputs: Iterable[{{ "str" if cookiecutter.__task == "classification" else "float" }}]) -> None:
        """Count the predictions of one request (a label's counter moves once per request)."""
{%- if cookiecutter.__task == "classification" %}
        for label, count in TallyCounter(outputs).items():
            self.predictions.labels(model_version=model_version, label=label).inc(count)
{%- else %}
        summary = self.predictions.labels(model_version=model_version)
        for output in outputs:
            summary.observe(output)
{%- endif %}

    def count_inputs(self, missing: Mapping[str, int], unknown: Mapping[str, int]) -> None:
        """Count the missing values and unknown categories of the records just scored."""
        for feature, count in missing.items():
            self.missing_values.labels(feature=feature).inc(count)
        for feature, count in unknown.items():
            self.unknown_categories.labels(feature=feature).inc(count)

    def render(self) -> bytes:
        """All metrics in the Prometheus text format (of every worker, in multiprocess mode)."""
        if MULTIPROCESS_DIR not in os.environ:
            return generate_latest(self.registry)
        workers = CollectorRegistry()
        multiprocess.MultiProcessCollector(workers)  # type: ignore[no-untyped-call]
        return generate_latest(workers)
