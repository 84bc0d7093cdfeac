"""The command line; ``COMMAND --help`` explains each command.

Run it as ``{{ cookiecutter.project_slug }} COMMAND``.
Results go to standard output; progress and errors go to standard error. Expected errors
(bad data, missing model, bad setting) print one line and exit 1.
"""

from __future__ import annotations  # type hints of heavy classes are never evaluated

import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from {{ cookiecutter.package_name }} import __version__
from {{ cookiecutter.package_name }}.atomic import write_atomic
from {{ cookiecutter.package_name }}.config import Settings, load_settings
from {{ cookiecutter.package_name }}.errors import (
    AppError,
    ConfigError,
    DataError,
    needs_jobs_extra,
)

if TYPE_CHECKING:
    import httpx

    from {{ cookiecutter.package_name }}.data import Dataset
    from {{ cookiecutter.package_name }}.io.registry import ModelRegistry
    from {{ cookiecutter.package_name }}.model import LoadedModel, ModelMetadata
    from {{ cookiecutter.package_name }}.monitoring.drift import DriftSummary
    from {{ cookiecutter.package_name }}.monitoring.monitor_metrics import MonitorMetrics
    from {{ cookiecutter.package_name }}.monitoring.retraining import GateDecision
    from {{ cookiecutter.package_name }}.monitoring.retraining_data import TrainingData
    from {{ cookiecutter.package_name }}.schema import FeatureSchema

# Each command imports what it needs when it runs: pandas, scikit-learn, MLflow, Evidently
# and uvicorn take seconds to import, and `--help` needs none of them.

app = typer.Typer(
    help="Train, serve and monitor the {{ cookiecutter.project_slug }} model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
models_app = typer.Typer(help="Inspect the model registry.", no_args_is_help=True)
app.add_typer(models_app, name="models")

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)
# Touched by `monitor --every` after each check: compose's health check for the monitor.
HEARTBEAT = "monitor.heartbeat"
JOBS_EXTRA = frozenset({"pandas", "mlflow", "evidently", "matplotlib", "skl2onnx", "alembic"})
"""The modules of the ``jobs`` extra (pyproject.toml): a command that needs one says so."""
DISPLAY_DECIMALS = 4
"""Decimals of the numbers that ``predict`` prints (not of what it writes to ``--output``)."""


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn an expected error into one line on standard error and exit status 1."""
    try:
        yield
    except AppError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    except OSError as exc:  # a file the settings name: missing, not writable, read-only
        if exc.filename is None:
            raise
        typer.secho(f"error: {exc.filename}: {exc.strerror}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    except ModuleNotFoundError as exc:  # the API image leaves the jobs extra out
        if (exc.name or "").partition(".")[0] not in JOBS_EXTRA:
            raise
        message = needs_jobs_extra("this command", exc)
        typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None


@contextmanager
def step(message: str) -> Iterator[None]:
    """Show a spinner while a step runs, then a line with its duration."""
    started = time.perf_counter()
    with stderr.status(f"{message}..."):
        yield
    stderr.print(f"- {message}: done in {time.perf_counter() - started:.2f}s", markup=False)


def version_callback(value: bool) -> None:
    """Print the version and exit."""
    if value:
        typer.echo(__version__)
        raise typer.Exit


@app.callback()
def main(
    _version: Annotated[
        bool | None,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Show the version."
        ),
    ] = None,
) -> None:
    """Train, serve and monitor the model. Settings come from APP_* variables and .env."""


def load_data(settings: Settings) -> Dataset:
    """Load the configured dataset, showing progress."""
    from {{ cookiecutter.package_name }}.data import load_dataset

    with step(f"Loading the {settings.dataset} dataset"):
        return load_dataset(settings)


def train_challenger(
    settings: Settings, registry: ModelRegistry, data: TrainingData, run_name: str
) -> ModelMetadata:
    """Fit and evaluate a new model on ``data``; record the run and register the model.

    The new version is the ``challenger``, not yet promoted.
    """
    from {{ cookiecutter.package_name }}.examples import write_examples
    from {{ cookiecutter.package_name }}.io.tracking import register_trained
    from {{ cookiecutter.package_name }}.train import fit_model, with_onnx_export

    dataset, split, schema = data.dataset, data.split, data.schema
    kinds = Counter(feature.kind for feature in schema.features)
    stderr.print(
        f"- {len(schema.features)} features ("
        + ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
        + ")",
        markup=False,
    )
    for column in schema.excluded:
        stderr.print(f"- excluded {column.name!r}: {column.reason}", markup=False)
    with step(
        f"Fitting on the training split ({len(split.train_features)} of "
        f"{len(dataset.features)} rows), evaluating on the other {len(split.test_features)}"
    ):
        trained = fit_model(dataset, split, settings, schema)
    with step("Exporting the preprocessing to ONNX (for the API), checked on the held-out split"):
        trained = with_onnx_export(trained)
    with step(f"Recording the run and registering the model in MLflow ({registry.where})"):
        metadata = register_trained(registry, trained, dataset, split, run_name)
    written = write_examples(schema, split.test_features, settings.examples_dir)
    stderr.print(f"- examples for this model: {', '.join(map(str, written))}", markup=False)
    stderr.print(f"- run: {registry.run_url(metadata.run_id)}", markup=False)
    stdout.print(f"{metadata.version}: " + _format_metrics(metadata.metrics))
    return metadata


@app.command()
def train(
    promote: Annotated[
        bool | None,
        typer.Option(
            "--promote/--no-promote",
            help="Make the new version the champion. Default: only if there is none yet.",
        ),
    ] = None,
    if_missing: Annotated[
        bool,
        typer.Option(
            "--if-missing",
            help="Train only if there is no champion yet; if there is one, make sure that "
            "its copy for the API is in APP_MODEL_DIR.",
        ),
    ] = False,
) -> None:
    """Train a new model version on the configured dataset."""
    from {{ cookiecutter.package_name }}.io.registry import open_registry

    with reported_errors():
        settings = load_settings()
        registry = open_registry(settings)
        champion = registry.sync_copy() if if_missing else registry.champion()
        if if_missing and champion is not None:
            stdout.print(f"champion {champion} exists and is copied for serving: nothing to train")
            return
        metadata = train_challenger(settings, registry, _table(settings), "train")
        if promote or (promote is None and champion is None):
            registry.promote(metadata.version, reason="train")
            stdout.print(f"{metadata.version} is the champion")
        else:
            stdout.print(
                f"{metadata.version} registered; {champion} is still the champion "
                f"(`promote {metadata.version}` to serve it, or `retrain` to gate it)"
            )


@app.command("evaluate")
def evaluate_command(
    version: Annotated[str | None, typer.Argument(help="Default: the champion.")] = None,
) -> None:
    """Score a model version on the held-out split of the configured dataset."""
    with reported_errors():
        from {{ cookiecutter.package_name }}.data import load_dataset
        from {{ cookiecutter.package_name }}.evaluation import evaluate
        from {{ cookiecutter.package_name }}.io.registry import open_registry
        from {{ cookiecutter.package_name }}.train import split_dataset

        settings = load_settings()
        registry = open_registry(settings)
        model = registry.load(version or registry.require_champion())
        with step(f"Evaluating {model.version} on the held-out split"):
            split = split_dataset(load_dataset(settings), settings)
            schema = model.metadata.feature_schema
            features = schema.to_matrix(split.test_features, "held-out split")
            metrics = evaluate(model.pipeline, features, split.test_target)
        table = Table("metric", "now", "at training", title=f"model {model.version}")
        for name, value in metrics.items():
            at_training = model.metadata.metrics.get(name, float("nan"))
            table.add_row(name, f"{value:.4f}", f"{at_training:.4f}")
        stdout.print(table)


@app.command()
def predict(
    input_path: Annotated[Path, typer.Argument(help="CSV file, or JSON record(s).")],
    version: Annotated[str | None, typer.Option(help="Default: the champion.")] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write a CSV of the inputs with predictions here.")
    ] = None,
) -> None:
    """Predict every record of a file; print one JSON line per record (or write --output)."""
    with reported_errors():
        import pandas as pd

        from {{ cookiecutter.package_name }}.data import read_table
        from {{ cookiecutter.package_name }}.io.registry import open_registry

        settings = load_settings()
        registry = open_registry(settings)
        model = registry.load(version or registry.require_champion())
        records = read_table(input_path)
        predictions = model.predict(records, source=str(input_path))
        if output is None:
            for prediction in predictions:
                shown = _rounded(prediction.model_dump())
                typer.echo(json.dumps(shown, ensure_ascii=False, separators=(",", ":")))
            return
        outputs = pd.json_normalize([p.model_dump() for p in predictions], sep="_")
        write_atomic(output, pd.concat([records, outputs], axis=1).to_csv(index=False))
        stderr.print(f"{len(predictions)} predictions by {model.version} written to {output}")


def _rounded(value: object) -> object:
    """Floats to DISPLAY_DECIMALS places, for reading (``--output`` keeps every digit)."""
    if isinstance(value, float):
        return round(value, DISPLAY_DECIMALS)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    return value


@app.command()
def serve() -> None:
    """Start the API server (APP_HOST, APP_PORT, APP_WORKERS)."""
    import uvicorn

    from {{ cookiecutter.package_name }}.monitoring.prediction_log import create_db_engine

    with reported_errors():
        settings = load_settings()
        create_db_engine(settings.database_url).dispose()  # a bad URL: one line, not a trace
        _refuse_a_taken_port(settings.host, settings.port)
    # After its graceful shutdown, uvicorn raises the signal that stopped it again, which ends
    # the process with 143 (SIGTERM) or 130 (Ctrl-C), and `make serve` reports an error. These
    # handlers, which uvicorn restores first, end it with 0.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _exit_after_shutdown)
    with _metrics_shared_by_workers(settings.workers):
        uvicorn.run(
            "{{ cookiecutter.package_name }}.serving.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            limit_concurrency=settings.limit_concurrency,
            access_log=settings.access_log,
        )


def _refuse_a_taken_port(host: str, port: int) -> None:
    """One line naming APP_PORT when the port is taken (uvicorn would fail after loading)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"invalid setting APP_PORT: cannot serve on {host}:{port}: {exc.strerror}; "
                f"choose a free port, e.g. APP_PORT={port + 1}"
            ) from None


def _exit_after_shutdown(signum: int, frame: FrameType | None) -> None:
    """SIGTERM or SIGINT outside uvicorn's own handling: exit with status 0."""
    raise SystemExit(0)


@contextmanager
def _metrics_shared_by_workers(workers: int) -> Iterator[None]:
    """With several workers, an empty folder for Prometheus' multiprocess mode, then removed.

    A PROMETHEUS_MULTIPROC_DIR set by the deployment (an emptyDir, say) is used as it is.
    """
    import tempfile

    from {{ cookiecutter.package_name }}.serving.metrics import MULTIPROCESS_DIR

    if workers == 1 or MULTIPROCESS_DIR in os.environ:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="prometheus-") as folder:
        os.environ[MULTIPROCESS_DIR] = folder  # the workers, spawned below, inherit it
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_DIR]


@models_app.command("list")
def list_models() -> None:
    """List the stored model versions; the champion is marked."""
    with reported_errors():
        from {{ cookiecutter.package_name }}.evaluation import PRIMARY_METRIC
        from {{ cookiecutter.package_name }}.io.registry import open_registry

        registry = open_registry(load_settings())
        champion = registry.champion()
        table = Table("", "version", "created (UTC)", PRIMARY_METRIC, "trained on", "MLflow run")
        for version in registry.versions():
            metadata = registry.metadata(version)
            table.add_row(
                "*" if version == champion else "",
                version,
                f"{metadata.created_at:%Y-%m-%d %H:%M:%S}",
                f"{metadata.metrics[PRIMARY_METRIC]:.4f}",
                f"{metadata.training_rows} training rows of {metadata.dataset}",
                metadata.run_id,
            )
        stdout.print(table)


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="The version to serve, e.g. v3.")],
    reason: Annotated[str, typer.Option(help="Recorded in the audit log.")] = "manual promotion",
    allow_schema_change: Annotated[
        bool,
        typer.Option(
            "--allow-schema-change",
            help="Promote even if clients must change their requests (a new required "
            "feature, a removed one, another kind, or no more nulls).",
        ),
    ] = False,
) -> None:
    """Make a version the champion; running servers switch to it without restarting."""
    from {{ cookiecutter.package_name }}.io.registry import open_registry

    with reported_errors():
        registry = open_registry(load_settings())
        registry.promote(version, reason=reason, allow_schema_change=allow_schema_change)
        stdout.print(f"{version} is the champion")


@app.command()
def rollback(
    reason: Annotated[str, typer.Option(help="Recorded in the audit log.")] = "manual rollback",
) -> None:
    """Serve the previous champion again; running servers switch without restarting."""
    from {{ cookiecutter.package_name }}.io.registry import open_registry

    with reported_errors():
        registry = open_registry(load_settings())
        version = registry.rollback(reason=reason)
        stdout.print(f"rolled back: {version} is the champion")


@app.command()
def retrain(
    reason: Annotated[str, typer.Option(help="Recorded in the audit log.")] = "manual retraining",
) -> None:
    """Train a challenger and promote it only if it is at least as good as the champion."""
    from {{ cookiecutter.package_name }}.io.registry import open_registry

    with reported_errors():
        settings = load_settings()
        _retrain(settings, open_registry(settings), reason)


@app.command()
def monitor(
    input_path: Annotated[
        Path | None,
        typer.Option("--input", help="Check a CSV file instead of the prediction log."),
    ] = None,
    hours: Annotated[
        float | None, typer.Option(help="Window length. Default: APP_DRIFT_WINDOW_HOURS.")
    ] = None,
    max_rows: Annotated[
        int | None,
        typer.Option(help="Rows to sample from the window. Default: APP_DRIFT_MAX_ROWS."),
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
            help=f"Repeat every N seconds until SIGTERM, touching REPORTS_DIR/{HEARTBEAT} "
            "after each check (the container's health check reads its age). With "
            "APP_MONITOR_METRICS_PORT, serve the checks' Prometheus metrics there."
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
            typer.secho(f"error: the check crashed: {exc!r}", err=True, fg=typer.colors.RED)
            metrics.count_failure()
        try:
            heartbeat.parent.mkdir(parents=True, exist_ok=True)
            heartbeat.touch()
        except OSError as exc:  # no heartbeat: the container turns unhealthy, as it should
            message = f"error: heartbeat {heartbeat}: {exc.strerror}"
            typer.secho(message, err=True, fg=typer.colors.RED)
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


@app.command("simulate-traffic")
def simulate_traffic(
    url: Annotated[
        str, typer.Option(help="Base URL of the running server.")
    ] = "http://127.0.0.1:8000",
    records: Annotated[int, typer.Option(min=1, help="How many records to send.")] = 500,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Records per request (1 uses /predict).")
    ] = 1,
    shift: Annotated[
        list[str] | None,
        typer.Option(
            help="NAME=K adds K standard deviations to a numeric feature; NAME=VALUE@SHARE "
            "gives a category (or true/false) to a share of the records. Repeatable."
        ),
    ] = None,
    shift_share: Annotated[
        float | None,
        typer.Option(
            min=0,
            max=1,
            help="Shift this share of the features (the first ones): numbers by 3 standard "
            "deviations, a category (or true) in 90% of the records.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the sample.")] = 0,
    labels: Annotated[
        bool,
        typer.Option(
            "--labels",
            help="Send each batch's true labels to /feedback/batch (needs APP_FEEDBACK_TOKEN).",
        ),
    ] = False,
    label_delay: Annotated[
        float,
        typer.Option(
            min=0, help="With --labels: send each request's labels this many seconds after it."
        ),
    ] = 0.0,
    concept_shift: Annotated[
        float,
        typer.Option(
            min=0,
            max=1,
            help="With --labels: in this top share of the first numeric feature, the labels "
            "{{ "all become the last class" if cookiecutter.__task == "classification" else "rise by 3 standard deviations" }}, as if the world changed while the inputs did not.",
        ),
    ] = 0.0,
) -> None:
    """Send records drawn from the dataset to a running server, optionally shifted.

    With --labels, their true labels follow, as ground truth comes back in production.
    """
    import httpx
    from rich.progress import Progress

    with reported_errors():
        from {{ cookiecutter.package_name }}.data import load_dataset
        from {{ cookiecutter.package_name }}.monitoring.traffic import (
            TrafficResult,
            parse_shifts,
            sample_records,
            sample_truths,
            send,
            shifts_for_share,
        )

        settings = load_settings()
        headers = _feedback_headers(settings) if labels else {}
    with (
        httpx.Client(base_url=url, timeout=30, headers=headers) as client,
        Progress(console=stderr) as progress,
    ):
        with reported_errors():
            schema = _served_schema(client)
            dataset = load_dataset(settings)
            specs = [*(shift or []), *shifts_for_share(schema, shift_share or 0.0)]
            shifts = parse_shifts(specs, schema)
            if shifts:
                stderr.print(f"- shifted: {', '.join(specs)}", markup=False)
            sample = sample_records(dataset.features, schema, records, shifts, seed)
            truths = (
                sample_truths(dataset, schema, records, seed, concept_shift) if labels else None
            )
        task = progress.add_task(f"Sending {records} records to {url}", total=records)
        result = TrafficResult()
        for result in send(client, sample, batch_size, truths, label_delay):
            progress.update(task, completed=result.records)
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(result.status_counts.items()))
    labelled = f", {result.labels} labelled" if labels else ""
    stdout.print(
        f"sent {result.records} records in {result.requests} requests ({statuses}){labelled}"
    )
    if result.failed:
        raise typer.Exit(1)


def _feedback_headers(settings: Settings) -> dict[str, str]:
    """The Authorization header of the feedback endpoints, from APP_FEEDBACK_TOKEN."""
    token = settings.feedback_token.get_secret_value() if settings.feedback_token else ""
    if not token:
        raise ConfigError("--labels needs APP_FEEDBACK_TOKEN: the server's feedback token")
    return {"Authorization": f"Bearer {token}"}


def _table(settings: Settings) -> TrainingData:
    """The configured dataset, its schema and its split."""
    from {{ cookiecutter.package_name }}.monitoring.retraining_data import from_table

    table = load_data(settings)
    with step(f"Inferring the feature schema from its {len(table.features)} rows, splitting them"):
        return from_table(table, settings)


def _retrain(settings: Settings, registry: ModelRegistry, trigger: str) -> GateDecision:
    from {{ cookiecutter.package_name }}.monitoring.retraining import (
        challenge,
        skip_unchanged_data,
    )
    from {{ cookiecutter.package_name }}.monitoring.retraining_data import (
        labelled_traffic,
        with_labelled_traffic,
    )

    table = _table(settings)
    traffic = labelled_traffic(settings)
    data = with_labelled_traffic(table, traffic, settings)
    stderr.print(f"- {data.describe(len(traffic), settings)}", markup=False)
    decision = skip_unchanged_data(registry, data.dataset.sha256, trigger)
    if decision is None:
        metadata = train_challenger(settings, registry, data, "retrain")
        decision = challenge(
            registry, metadata, data.split, settings.gate_tolerance, trigger, data.labelled_rows
        )
    verdict = "promoted" if decision.promoted else f"kept {decision.champion}"
    stdout.print(f"{verdict}: {decision.reason}")
    return decision


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
        message = needs_jobs_extra("the monitor", exc)
        typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
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
    except AppError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
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
        _retrain(settings, registry, trigger=trigger)
    except AppError as exc:  # the verdict stands: its exit code tells cron what was found
        typer.secho(f"error: retraining failed: {exc}", err=True, fg=typer.colors.RED)


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


def _served_schema(client: httpx.Client) -> FeatureSchema:
    """The feature schema of the model the server at ``client`` is serving."""
    import httpx

    from {{ cookiecutter.package_name }}.schema import FeatureSchema

    try:
        response = client.get("/model")
    except httpx.HTTPError as exc:
        raise DataError(f"cannot reach {client.base_url}: {exc}") from None
    if response.status_code != httpx.codes.OK:
        raise DataError(f"{client.base_url}/model answered {response.status_code}: {response.text}")
    return FeatureSchema.model_validate(response.json()["feature_schema"])


def _format_metrics(metrics: dict[str, float]) -> str:
    return ", ".join(f"{name}={value:.4f}" for name, value in metrics.items())
