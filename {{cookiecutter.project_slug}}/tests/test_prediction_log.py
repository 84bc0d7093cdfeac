"""The prediction log: batched background writes, no loss on shutdown, outages survive."""

import logging
import threading
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.io.registry import ModelRegistry
from {{ cookiecutter.package_name }}.monitoring.prediction_log import (
    PredictionLogger,
    create_db_engine,
    ensure_table,
    log_row,
    predictions,
    read_predictions,
)
from {{ cookiecutter.package_name }}.monitoring.window import from_prediction_log
from {{ cookiecutter.package_name }}.schema import PREDICTION_COLUMN
from {{ cookiecutter.package_name }}.serving.app import create_app

from .helpers import Record, empty_postgres, wait_until


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, settings: Settings) -> Engine:
    """An empty log database: a SQLite file, and PostgreSQL when TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        return create_db_engine(settings.database_url)
    return create_db_engine(empty_postgres())


def count_rows(engine: Engine) -> int:
    ensure_table(engine)
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(predictions)).scalar_one())


def rows(count: int) -> list[dict[str, object]]:
    return [log_row(f"req-{i}", "v1", {"a": float(i), "b": 2.0}, "yes") for i in range(count)]


def test_close_writes_every_queued_row(engine: Engine) -> None:
    logger = PredictionLogger(engine, queue_size=10_000, batch_size=100, flush_seconds=60)
    logger.start()
    logger.log(rows(1234))
    logger.close()
    assert count_rows(engine) == 1234


def test_rows_are_flushed_after_flush_seconds(engine: Engine) -> None:
    logger = PredictionLogger(engine, queue_size=100, batch_size=1000, flush_seconds=0.05)
    logger.start()
    logger.log(rows(3))
    wait_until(lambda: count_rows(engine) == 3, "3 flushed rows")
    logger.close()


def test_read_predictions_returns_the_window_oldest_first(engine: Engine) -> None:
    logger = PredictionLogger(engine, queue_size=100, batch_size=10, flush_seconds=60)
    older = [  # the same day too: SQLite compares the times as text
        log_row("old", "v1", {"a": -1.0, "b": -1.0}, "no")
        | {"created_at": datetime.now(UTC) - timedelta(days=days, minutes=minutes)}
        for days, minutes in [(3, 0), (0, 61)]
    ]
    logger.start()
    logger.log([*older, *rows(5)])
    logger.close()
    frame, logged, lost = read_predictions(
        engine, since=datetime.now(UTC) - timedelta(hours=1), sample_rows=10
    )
    assert (logged, lost) == (5, 0)
    assert list(frame["a"]) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert list(frame[PREDICTION_COLUMN]) == ["yes"] * 5
    assert set(frame.columns) == {"a", "b", PREDICTION_COLUMN, "model_version", "created_at"}
    assert str(frame["created_at"].dt.tz) == "UTC"


def test_a_large_window_is_sampled_uniformly_within_the_limit(engine: Engine) -> None:
    logger = PredictionLogger(engine, queue_size=10_000, batch_size=1000, flush_seconds=60)
    logger.start()
    logger.log(rows(3000))
    logger.close()
    since = datetime.now(UTC) - timedelta(hours=1)
    frame, logged, lost = read_predictions(engine, since=since, sample_rows=1000)
    assert (len(frame), logged, lost) == (1000, 3000, 0)
    values = list(frame["a"])
    assert values == sorted(set(values))  # distinct rows, oldest first
    thirds = pd.cut(frame["a"], [-1, 999, 1999, 2999]).value_counts()
    assert thirds.between(250, 420).all()  # each third of the window: about 333 rows
    again, _, _ = read_predictions(engine, since=since, sample_rows=1000)
    assert list(again["a"]) == values  # the same seed, the same sample


def test_rows_lost_by_the_log_are_recorded_and_reported(engine: Engine) -> None:
    logger = PredictionLogger(engine, queue_size=3, batch_size=10, flush_seconds=60)
    logger.log(rows(5))  # not started: 2 rows do not fit
    logger.start()
    logger.close()  # writes the 3 rows, and the count of the 2 others
    frame, logged, lost = read_predictions(
        engine, since=datetime.now(UTC) - timedelta(hours=1), sample_rows=100
    )
    assert (len(frame), logged, lost) == (3, 3, 2)
    url = engine.url.render_as_string(hide_password=False)
    _frame, window = from_prediction_log(url, hours=1, sample_rows=2)
    assert (window.logged_rows, window.lost_rows, window.sampled_rows) == (3, 2, 2)
    assert window.traffic_share_seen == pytest.approx(0.4)
    assert window.coverage() == (
        "traffic seen: 2 rows sampled of 3 logged and 2 lost by the log (40.0% of the "
        "predictions in the window)"
    )


def test_a_database_outage_is_counted_not_raised() -> None:
    errors: list[int] = []
    engine = create_db_engine("postgresql+psycopg://nobody:secret@127.0.0.1:9/none")
    logger = PredictionLogger(
        engine, queue_size=10, batch_size=5, flush_seconds=60, on_write_error=errors.append
    )
    logger.start()
    logger.log(rows(7))
    logger.close()
    assert sum(errors) == 7


def test_a_row_the_database_cannot_take_is_counted_and_the_writer_lives_on(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    errors: list[int] = []
    logger = PredictionLogger(
        engine, queue_size=100, batch_size=5, flush_seconds=0.05, on_write_error=errors.append
    )
    logger.start()
    logger.log([log_row("bad", "v1", {"a": object()}, "yes")])  # type: ignore[dict-item]
    wait_until(lambda: errors == [1], "the bad row's failed write", timeout=10)
    logger.log(rows(3))
    logger.close()
    assert count_rows(engine) == 3
    assert "1 rows not written: PydanticSerializationError: Unable to serialize" in caplog.text


def test_a_full_queue_drops_and_counts(engine: Engine) -> None:
    dropped: list[int] = []
    logger = PredictionLogger(
        engine, queue_size=3, batch_size=10, flush_seconds=60, on_drop=dropped.append
    )
    logger.log(rows(5))  # not started: nothing drains the queue
    assert sum(dropped) == 2
    assert logger.pending == 3


def test_dropped_rows_are_logged_at_most_every_ten_seconds(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    logger = PredictionLogger(engine, queue_size=3, batch_size=10, flush_seconds=60)
    logger.log(rows(5))
    logger.log(rows(4))  # within 10 s of the warning: counted for the next one
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "prediction log: 2 rows dropped, the write queue is full (APP_LOG_QUEUE_SIZE): "
        "the drift job sees only part of the traffic"
    ]
    logger.close()  # the rest is reported when the logger stops
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and warnings[1].startswith("prediction log: 4 rows dropped")


def test_every_served_prediction_is_logged(
    settings: Settings, registry: ModelRegistry, record: Record
) -> None:
    with TestClient(create_app(settings)) as client:
        ids = [client.post("/predict", json={"features": record}).json()["request_id"]]
        batch = client.post("/predict/batch", json={"records": [record] * 3}).json()
        ids.append(batch["request_id"])
    engine = create_db_engine(settings.database_url)
    with engine.connect() as connection:
        logged = connection.execute(select(predictions)).mappings().all()
    assert [row["request_id"] for row in logged] == [ids[0]] + [ids[1]] * 3
    assert logged[0]["features"] == record
    assert logged[0]["model_version"] == "v1"


def test_predictions_succeed_while_the_database_is_down(
    settings: Settings, registry: ModelRegistry, record: Record
) -> None:
    settings = settings.model_copy(
        update={"database_url": "postgresql+psycopg://nobody:secret@127.0.0.1:9/none"}
    )
    with TestClient(create_app(settings)) as client:
        assert client.post("/predict", json={"features": record}).status_code == 200
        wait_until(
            lambda: "prediction_log_errors_total 1.0" in client.get("/metrics").text,
            "the write error to be counted",
        )


def test_concurrent_creators_of_the_table_all_succeed(engine: Engine) -> None:
    """Replicas and the drift job racing to create the table: the losers' CREATE TABLE fails."""
    start = threading.Barrier(6)
    errors: list[Exception] = []

    def create() -> None:
        start.wait()
        try:
            ensure_table(engine)
        except Exception as exc:  # the test reports any failure
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert count_rows(engine) == 0
