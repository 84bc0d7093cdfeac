"""The ``monitor`` command: drift and live performance, their reports, diagnosis and retraining.

Once, or every N seconds until SIGTERM (``--every``, the compose service): a failed check
prints its error, is counted in the job's metrics, and the schedule goes on.
"""

from __future__ import annotations  # type hints of heavy classes are never evaluated

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from {{ cookiecutter.package_name }}.cli.console import (
    expected_error,
    print_error,
    reported_errors,
    stderr,
    stdout,
    step,
)
from {{ cookiecutter.package_name }}.cli.training import retrain_behind_gate
from {{ cookiecutter.package_name }}.config import (
    Settings,
    load_settings,
)
from {{ cookiecutter.package_name }}.errors import needs_jobs_extra

if TYPE_CHECKING:
    from types import FrameType

    from {{ cookiecutter.package_name }}.io.registry import ModelRegistry
    from {{ cookiecutter.package_name }}.model import LoadedModel
    from {{ cookiecutter.package_name }}.monitoring.drift import DriftSummary
    from {{ cookiecutter.package_name }}.monitoring.monitor_metrics import MonitorMetrics

app = typer.Typer()
# Touched by `monitor --every` after each check: compose's health check for the monitor.
HEARTBEAT = "monitor.heartbeat"


def _above_zero(value: float | None) -> float | None:
    """Check a length of time given as an option (None: its default)."""
    if value is not None and value <= 0:
        raise typer.BadParameter("must be above 0")
    return value


@app.command()
def monitor(
    input_path: Annotated[
        Path | None,
        typer.Option("--input", help="Check a CSV file instead of the prediction log."),
    ] = None,
    hours: Annotated[
        float | None,
        typer.Option(callback=_above_zero, help="Window length. Default: APP_DRIFT_WINDOW_HOURS."),
    ] = None,
    max_rows: Annotated[
        int | None,
        typer.Option(min=1, help="Rows to sample from the window. Default: APP_DRIFT_MAX_ROWS."),
    ] = None,
    retrain_on_drift: Annotated[
        bool,
        typer.Option(
            "--retrain", help="On drift or a performance drop, retrain and gate a challenger."
        ),
    ] = False,
    every: Annotated[
        float | None,
        typer.Option(
            callback=_above_zero,
            help=f"Repeat every N seconds until SIGTERM, touching REPORTS_DIR/{HEARTBEAT} "
            "after each check (the container's health check reads its age). With "
            "APP_MONITOR_METRICS_PORT, serve the checks' Prometheus metrics there.",
        ),
    ] = None,
    exit_zero: Annotated[
        bool,
        typer.Option(
            "--exit-zero",
            help="Exit 0 whatever the verdict, and 1 only when the job fails (`make monitor`). "
            "CI and cron keep the verdict's exit status (`make monitor-check`).",
        ),
    ] = False,
) -> None:
    """Compare recent traffic with the training reference; write HTML and JSON reports.

    With labels sent back (POST /feedback), also score the champion on its labelled
    predictions against its held-out metrics. The last lines give the diagnosis (data
    problem, model problem, input drift, healthy) and its action.

    Exit status: 0 no drift, 3 drift, 4 not enough data, 5 performance degraded, 1 error.
    """
    if every is None:
        status = _monitor_once(input_path, hours, max_rows, retrain_on_drift=retrain_on_drift)
        if exit_zero and status != 1:  # 1: the job failed, and says why
            stdout.print(f"(exit status {status} without --exit-zero: `make monitor-check`)")
            status = 0
        raise typer.Exit(status)
    from {{ cookiecutter.package_name }}.monitoring.monitor_metrics import MonitorMetrics

    metrics = MonitorMetrics()
    metrics.interval.set(every)
    with reported_errors():
        settings = load_settings()
        heartbeat = settings.reports_dir / HEARTBEAT
        if settings.monitor_metrics_port is not None:
            metrics.serve(settings.host, settings.monitor_metrics_port)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    while not _stop_requested.is_set():  # a failed check prints its error and is counted
        try:
            _monitor_once(
                input_path, hours, max_rows, retrain_on_drift=retrain_on_drift, metrics=metrics
            )
        except Exception as exc:  # even a bug in one check must not stop the schedule
            print_error(f"the check crashed: {exc!r}")
            metrics.count_failure()
        try:
            heartbeat.parent.mkdir(parents=True, exist_ok=True)
            heartbeat.touch()
        except OSError as exc:  # no heartbeat: the container turns unhealthy, as it should
            print_error(f"heartbeat {heartbeat}: {exc.strerror}")
        _between_checks.set()
        time.sleep(every)
        _between_checks.clear()


_between_checks = threading.Event()
_stop_requested = threading.Event()


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Stop the monitor loop on SIGTERM: as a container's PID 1, Python would ignore it."""
    stderr.print("monitor: stopped by SIGTERM")
    _stop_requested.set()
    if _between_checks.is_set():
        # Nothing is in progress: skip the interpreter's teardown of scikit-learn, Evidently
        # and pandas (about 2 s), so that `docker compose down` is quick.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    # In the middle of a check: unwind, so that its files are cleaned up. SystemExit, not
    # typer.Exit (a RuntimeError), which a library's `except Exception` could swallow; if
    # one swallows even this, the loop still ends after the check.
    raise SystemExit(0)


def _monitor_once(
    input_path: Path | None,
    hours: float | None,
    max_rows: int | None,
    *,
    retrain_on_drift: bool,
    metrics: MonitorMetrics | None = None,
) -> int:
    from {{ cookiecutter.package_name }}.io.registry import open_registry

    try:
        from {{ cookiecutter.package_name }}.monitoring import drift, window
    except ImportError as exc:  # the API image leaves the jobs extra out
        print_error(needs_jobs_extra("the monitor", exc))
        if metrics is not None:
            metrics.count_failure()
        return 1
    try:
        settings = load_settings()
        registry = open_registry(settings)
        registry.sync_copy()  # follows an alias moved by hand in the MLflow UI
        model = registry.load_champion()
        reference = registry.reference(model.version)
        if input_path is None:
            frame, span = window.from_prediction_log(
                settings.database_url,
                hours or settings.drift_window_hours,
                max_rows or settings.drift_max_rows,
            )
        else:
            frame, span = window.from_csv(input_path, model)
        with step(f"Comparing {len(frame)} rows with the reference of {model.version}"):
            summary, html = drift.detect_drift(reference, frame, model.metadata, settings, span)
        stdout.print(summary.headline())  # first: the verdict survives a failed report write
        if coverage := span.coverage():
            stdout.print(coverage)
        performance_html = None
        if input_path is None:  # labels live in the prediction log's database
            summary, performance_html = _with_performance(summary, settings, model)
        summary = _diagnosed(summary, settings)
        if html is not None or performance_html is not None:  # no verdict at all, no report
            summary = _write_reports(summary, html, performance_html, settings)
    except Exception as exc:
        message = expected_error(exc, "the monitor")
        if message is None:
            raise
        print_error(message)
        if metrics is not None:
            metrics.count_failure()
        return drift.ExitCode.ERROR
    if metrics is not None:
        metrics.record(summary)
    if retrain_on_drift:
        _retrain_after(summary, settings, registry)
    return summary.exit_code


def _retrain_after(summary: DriftSummary, settings: Settings, registry: ModelRegistry) -> None:
    """On drift or a performance drop, retrain behind the gate; a failure leaves the verdict."""
    from {{ cookiecutter.package_name }}.monitoring.drift import ExitCode

    triggers = {ExitCode.DRIFT: "drift", ExitCode.PERFORMANCE_DEGRADED: "performance degraded"}
    if summary.exit_code not in triggers:
        return
    if summary.diagnosis is not None and summary.diagnosis.kind == "data_problem":
        stdout.print("not retraining: a model retrained on broken data would learn it")
        return
    try:
        report = summary.report_html or summary.performance_html
        trigger = f"{triggers[summary.exit_code]}: report {report}"
        retrain_behind_gate(settings, registry, trigger=trigger)
    except Exception as exc:  # the verdict stands: its exit code tells cron what was found
        message = expected_error(exc)
        if message is None:
            raise
        print_error(f"retraining failed: {message}")


def _with_performance(
    summary: DriftSummary, settings: Settings, model: LoadedModel
) -> tuple[DriftSummary, str | None]:
    """``summary`` with the champion's live performance on labelled traffic, printed.

    Also returns Evidently's report of that performance (None without a verdict).
    """
    from {{ cookiecutter.package_name }}.monitoring import performance

    checked, labelled = performance.from_prediction_log(
        settings.database_url,
        settings.performance_window_hours,
        model,
        settings.performance_min_labels,
        settings.performance_max_drop,
    )
    stdout.print(checked.headline())
    html = None
    if checked.status != "insufficient_labels":
        html = performance.evidently_report_html(labelled, model.metadata)
    return summary.model_copy(update={"performance": checked}), html


def _write_reports(
    summary: DriftSummary, html: str | None, performance_html: str | None, settings: Settings
) -> DriftSummary:
    """Write the check's reports and print where they are."""
    from {{ cookiecutter.package_name }}.monitoring.drift import write_reports

    summary = write_reports(
        summary, html, settings.reports_dir, settings.reports_keep, performance_html
    )
    for page in (summary.report_html, summary.performance_html):
        if page is not None:
            stdout.print(f"report: {settings.reports_dir / page}")
    return summary


def _diagnosed(summary: DriftSummary, settings: Settings) -> DriftSummary:
    """``summary`` with its diagnosis; the data-quality notes and the diagnosis printed."""
    from {{ cookiecutter.package_name }}.monitoring.diagnosis import diagnose

    for note in summary.quality_notes():
        stdout.print(f"data quality: {note}")
    diagnosis = diagnose(summary, settings.quality_max_share)
    for line in diagnosis.lines():
        stdout.print(line, markup=False)
    return summary.model_copy(update={"diagnosis": diagnosis})
