"""Helpers shared by tests: settings, traffic frames, CLI runs, waits, and real servers under load.

Real servers and concurrent clients come from ``scripts/load_test.py`` (``make load-test``):
the tests drive the same code, so the script cannot rot unnoticed.
"""

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self, cast
from urllib.parse import urlparse

import httpx
import load_test
import numpy as np
import pandas as pd
import pytest
from load_test import (
    GRACEFUL_EXIT,
    LoadResult,
    Server,
    logged_request_ids,
    run_load,
    server_env,
    settings_env,
    start_server,
    train_champion,
)
from processes import free_port, stop
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, create_engine, make_url, text

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data import load_dataset
from {{ cookiecutter.package_name }}.io.registry import MODEL_PATH, ModelRegistry
from {{ cookiecutter.package_name }}.io.tracking import register_trained
from {{ cookiecutter.package_name }}.model import LoadedModel, ModelMetadata
from {{ cookiecutter.package_name }}.monitoring.labels import Label, record_labels
from {{ cookiecutter.package_name }}.monitoring.prediction_log import (
    ensure_table,
    insert_rows,
    log_row,
)
from {{ cookiecutter.package_name }}.monitoring.traffic import (
    Shift,
    Truth,
    sample_records,
)
from {{ cookiecutter.package_name }}.schema import PREDICTION_COLUMN, FeatureValue
from {{ cookiecutter.package_name }}.train import (
    Split,
    fit_model,
    split_dataset,
    with_onnx_export,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("{{ cookiecutter.project_slug }}"))

ADMIN_TOKEN = "test-token"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
"""A PostgreSQL database for the prediction-log tests (each test empties it)."""
FEEDBACK_TOKEN = "test-feedback-token"
Record = dict[str, FeatureValue]
"""A request record: raw feature values by name."""

__all__ = [
    "ADMIN_TOKEN",
    "CLI",
    "FEEDBACK_TOKEN",
    "GRACEFUL_EXIT",
    "POSTGRES_URL",
    "PROJECT_ROOT",
    "BackgroundLoad",
    "LoadResult",
    "Record",
    "Server",
    "artifact",
    "empty_postgres",
    "free_port",
    "isolated_settings",
    "load_test",
    "log_labelled",
    "logged_request_ids",
    "mixed_table",
    "mixed_table_settings",
    "refreshed_data",
    "run_cli",
    "server_env",
    "settings_env",
    "start_server",
    "stop",
    "traffic",
    "train_champion",
    "train_version",
    "wait_for_version",
    "wait_until",
]


def empty_postgres() -> str:
    """TEST_POSTGRES_URL in an empty schema of this test worker's own; skips the test if unset.

    `make test` runs one pytest worker per core: with a schema each (PostgreSQL's
    ``search_path``), their tests never see each other's rows.
    """
    if not POSTGRES_URL:
        pytest.skip("set TEST_POSTGRES_URL=postgresql+psycopg://... to test PostgreSQL")
    schema = f"test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    database = create_engine(POSTGRES_URL)
    with database.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    database.dispose()
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def metric_value(metrics: str, name: str, **labels: str) -> float:
    """The value of the sample ``name`` with exactly ``labels`` in ``/metrics`` text (0 if none)."""
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def assert_predictions_alike(
    served: Sequence[Mapping[str, object]], expected: Sequence[Mapping[str, object]]
) -> None:
    """Predictions with the ONNX and with scikit-learn's preprocessing: alike up to float32."""
    assert len(served) == len(expected)
{%- if cookiecutter.__task == "classification" %}
    assert [p["prediction"] for p in served] == [p["prediction"] for p in expected]
    for ours, theirs in zip(served, expected, strict=True):
        assert ours["probabilities"] == pytest.approx(theirs["probabilities"], abs=1e-4)
{%- else %}
    assert [p["prediction"] for p in served] == pytest.approx(
        [p["prediction"] for p in expected], rel=1e-4, abs=1e-3
    )
{%- endif %}


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` did not happen in ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.02)


def wait_for_version(client: httpx.Client, version: str) -> None:
    """Wait until the server behind ``client`` (HTTP or TestClient) serves model ``version``."""
    wait_until(
        lambda: client.get("/ready").json().get("model_version") == version,
        f"the server to switch to {version}",
    )


def artifact(registry: ModelRegistry, version: str, name: str) -> Path:
    """A file of a version in the local artifact store (to damage it, as a disk would)."""
    run_id = registry.client.get_model_version(registry.name, version.removeprefix("v")).run_id
    assert run_id is not None
    root = urlparse(registry.client.get_run(run_id).info.artifact_uri).path
    return Path(root) / MODEL_PATH / name


def isolated_settings(root: Path) -> Settings:
    """Settings that keep every file under ``root``, with short polling and flush delays."""
    return Settings(
        data_path=PROJECT_ROOT / "data" / "dataset.csv",
        model_dir=root / "models",
        database_url=f"sqlite:///{root / 'predictions.db'}",
        reports_dir=root / "reports",
        admin_token=ADMIN_TOKEN,
        feedback_token=FEEDBACK_TOKEN,
        model_poll_seconds=0.1,
        log_flush_seconds=0.05,
        drift_min_rows=50,
    )


def train_version(registry: ModelRegistry, settings: Settings) -> tuple[ModelMetadata, Split]:
    """Fit on the configured dataset and register the model as the next version (not promoted)."""
    dataset = load_dataset(settings)
    split = split_dataset(dataset, settings)
    trained = with_onnx_export(fit_model(dataset, split, settings))
    return register_trained(registry, trained, dataset, split, "test"), split


def traffic(
    model: LoadedModel,
    features: pd.DataFrame,
    rows: int,
    shifts: dict[str, Shift] | None = None,
    seed: int = 1,
) -> pd.DataFrame:
    """Records drawn from the dataset (optionally shifted), with the model's predictions."""
    schema = model.metadata.feature_schema
    frame = pd.DataFrame(sample_records(features, schema, rows, shifts or {}, seed))
    frame[PREDICTION_COLUMN] = [p.prediction for p in model.predict(frame)]
    return frame


def log_labelled(
    engine: Engine, version: str, scored: pd.DataFrame, truths: list[Truth], request_id: str
) -> None:
    """Log ``scored`` (records and predictions) as one batch request of ``version``; label it."""
    outputs = scored[PREDICTION_COLUMN].tolist()
    records = [  # gaps as null, as the API logs them
        cast(Record, {name: None if pd.isna(value) else value for name, value in row.items()})
        for row in scored.drop(columns=PREDICTION_COLUMN).to_dict("records")
    ]
    now = datetime.now(UTC)  # one time for the request's rows, as the API logs them
    logged = [
        log_row(request_id, version, r, o, now) for r, o in zip(records, outputs, strict=True)
    ]
    ensure_table(engine)
    with engine.begin() as connection:
        insert_rows(connection, logged)
    record_labels(engine, [Label(request_id, i, truth) for i, truth in enumerate(truths)])


def mixed_table(rows: int = 60) -> pd.DataFrame:
    """A small table like a learner's: an ID, a date, categories, booleans, gaps, free text."""
    rng = np.random.default_rng(0)
    tenure = rng.integers(1, 72, rows).astype(float)
    tenure[::10] = np.nan
    return pd.DataFrame(
        {
            "customer id": [f"C-{i:04d}" for i in range(rows)],
            "signup date": [f"2024-01-{1 + i % 28:02d}" for i in range(rows)],
            "plan": rng.choice(np.array(["basic", "premium", None], dtype=object), rows),
            "tenure months": tenure,
            "auto pay": rng.choice([True, False], rows),
            "notes": [f"called about bill {i}" for i in range(rows)],
            "row number": range(rows),
        }
    )


def mixed_table_settings(settings: Settings, folder: Path) -> Settings:
    """Settings that train on :func:`mixed_table` (as a CSV with a target) in ``folder``."""
    table = mixed_table(200)
    score = table["tenure months"].fillna(30) + 25 * (table["plan"] == "premium")
{%- if cookiecutter.__task == "classification" %}
    table["label"] = np.where(score > 40, "stays", "leaves")
{%- else %}
    table["label"] = score * 2.0 + 5.0
{%- endif %}
    path = folder / "mixed.csv"
    table.to_csv(path, index=False)
    return settings.model_copy(
        update={"dataset": "csv", "data_path": path, "target_column": "label"}
    )


def refreshed_data(settings: Settings, path: Path, new_rows: int = 20) -> dict[str, str]:
    """Write the dataset plus ``new_rows`` more rows to ``path``; return the APP_* variables
    that make it the data source (as when newly labelled data arrives)."""
    dataset = load_dataset(settings)
    table = dataset.features.assign(**{settings.target_column: dataset.target})
    pd.concat([table, table.sample(new_rows, random_state=0)]).to_csv(path, index=False)
    return {"APP_DATASET": "csv", "APP_DATA_PATH": str(path)}


def run_cli(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the project's command in a subprocess with ``env``; never raises on failure."""
    return subprocess.run([CLI, *args], env=dict(env), capture_output=True, text=True, check=False)


class BackgroundLoad:
    """``run_load`` in a thread while the test stops, kills and restarts servers.

    ``with BackgroundLoad(url, records) as load: ...``; the clients stop when the block ends
    and ``load.result`` holds what they saw.
    """

    def __init__(
        self, base_url: str, records: Sequence[Mapping[str, FeatureValue]], concurrency: int = 8
    ) -> None:
        """Configure; the clients start on ``__enter__``."""
        self.result = LoadResult()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(base_url, records, concurrency), name="load", daemon=True
        )

    def _run(
        self, base_url: str, records: Sequence[Mapping[str, FeatureValue]], clients: int
    ) -> None:
        load = run_load(
            base_url,
            records,
            duration=120,
            concurrency=clients,
            stop=self._stop,
            result=self.result,
        )
        asyncio.run(load)

    def __enter__(self) -> Self:
        """Start the clients."""
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        """Stop the clients and wait for them to finish."""
        self._stop.set()
        self._thread.join(timeout=60)

    def wait_for_successes(self, count: int, after: float = 0.0, timeout: float = 30.0) -> None:
        """Wait until ``count`` requests answered after ``after`` (monotonic) have succeeded."""

        def enough() -> bool:
            assert self._thread.is_alive(), "the clients stopped early"
            return sum(1 for at, _, _ in list(self.result.successes) if at > after) >= count

        wait_until(enough, f"{count} successful requests", timeout)
