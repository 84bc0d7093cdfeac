"""The prediction log: every served prediction, stored through SQLAlchemy.

A SQLite file by default (no services needed); any SQLAlchemy URL in ``APP_DATABASE_URL``
(``postgresql+psycopg://...`` in compose). The API never waits for the database: rows go
into a bounded queue that a background thread writes in batches, so a slow or down database
costs log rows (counted in ``/metrics``), never predictions. ``close()`` drains the queue,
so a normal shutdown loses nothing.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.schema import PREDICTION_COLUMN, FeatureValue

logger = logging.getLogger(__name__)
DROP_WARNING_SECONDS = 10.0
"""Dropped rows are logged at most this often, with their count since the last warning."""

metadata = MetaData()
predictions = Table(
    "predictions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(128), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("model_version", String(32), nullable=False),
    Column("features", JSON, nullable=False),
    Column(PREDICTION_COLUMN, JSON, nullable=False),
)

LogRow = dict[str, Any]


def create_db_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder, WAL mode and a busy timeout.

    A URL that is not one, names a driver that is not installed, or a SQLite file whose
    folder cannot be created is one ConfigError naming APP_DATABASE_URL.
    """
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite":
            return create_engine(url, pool_pre_ping=True)
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"invalid setting APP_DATABASE_URL: {exc}") from None
    except OSError as exc:
        raise ConfigError(
            f"invalid setting APP_DATABASE_URL: cannot create {exc.filename}: {exc.strerror}"
        ) from None

    @event.listens_for(engine, "connect")
    def _configure_sqlite(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # the drift job reads while the API writes
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    return engine


def ensure_table(engine: Engine) -> None:
    """Create the predictions table unless it exists.

    Another process (an API replica, the drift job) may create it between SQLAlchemy's check
    and its CREATE TABLE: that failure is fine when the table is there afterwards.
    """
    try:
        metadata.create_all(engine)
    except SQLAlchemyError:
        if not inspect(engine).has_table(predictions.name):
            raise


def log_row(
    request_id: str, model_version: str, features: dict[str, FeatureValue], output: str | float
) -> LogRow:
    """One row of the log, timestamped now (UTC)."""
    return {
        "request_id": request_id,
        "created_at": datetime.now(UTC),
        "model_version": model_version,
        "features": features,
        PREDICTION_COLUMN: output,
    }


class PredictionLogger:
    """Writes log rows in batches from a background thread."""

    def __init__(
        self,
        engine: Engine,
        *,
        queue_size: int,
        batch_size: int,
        flush_seconds: float,
        on_write_error: Callable[[int], None] = lambda _rows: None,
        on_drop: Callable[[int], None] = lambda _rows: None,
    ) -> None:
        """Configure; nothing runs until :meth:`start`."""
        self._engine = engine
        self._queue: queue.Queue[LogRow | None] = queue.Queue(maxsize=queue_size)
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._on_write_error = on_write_error
        self._on_drop = on_drop
        self._thread: threading.Thread | None = None
        self._table_ready = False
        self._drops_lock = threading.Lock()
        self._unreported_drops = 0
        self._last_drop_warning = -DROP_WARNING_SECONDS

    @property
    def pending(self) -> int:
        """Rows waiting to be written."""
        return self._queue.qsize()

    def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def log(self, rows: Iterable[LogRow]) -> None:
        """Queue rows without blocking; rows that do not fit are dropped, counted and logged."""
        dropped = 0
        for row in rows:
            try:
                self._queue.put_nowait(row)
            except queue.Full:
                dropped += 1
        if dropped:
            self._on_drop(dropped)
            self._warn_of_drops(dropped)

    def close(self, timeout: float = 30.0) -> None:
        """Write every queued row, then stop the thread."""
        self._warn_of_drops(0, force=True)
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None

    def _warn_of_drops(self, dropped: int, *, force: bool = False) -> None:
        """Log the rows dropped since the last warning, at most every DROP_WARNING_SECONDS."""
        with self._drops_lock:
            self._unreported_drops += dropped
            now = time.monotonic()
            due = force or now - self._last_drop_warning >= DROP_WARNING_SECONDS
            if not self._unreported_drops or not due:
                return
            count = self._unreported_drops
            self._unreported_drops = 0
            self._last_drop_warning = now
        logger.warning(
            "prediction log: %d rows dropped, the write queue is full (APP_LOG_QUEUE_SIZE): "
            "the drift job sees only part of the traffic",
            count,
        )

    def _run(self) -> None:
        batch: list[LogRow] = []
        flush_at = 0.0
        while True:
            wait = max(0.0, flush_at - time.monotonic()) if batch else None
            try:
                row = self._queue.get(timeout=wait)
            except queue.Empty:  # the oldest queued row has waited flush_seconds
                self._write(batch)
                batch = []
                continue
            if row is None:  # close() was called: write the rest and stop
                self._write(batch)
                return
            if not batch:
                flush_at = time.monotonic() + self._flush_seconds
            batch.append(row)
            if len(batch) >= self._batch_size or time.monotonic() >= flush_at:
                self._write(batch)
                batch = []

    def _write(self, batch: list[LogRow]) -> None:
        if not batch:
            return
        try:
            if not self._table_ready:
                ensure_table(self._engine)
                self._table_ready = True
            with self._engine.begin() as connection:
                connection.execute(insert(predictions), batch)
        except SQLAlchemyError as exc:
            logger.error("prediction log: %d rows not written: %s", len(batch), exc)
            self._on_write_error(len(batch))


def read_predictions(engine: Engine, since: datetime, limit: int) -> pd.DataFrame:
    """The newest ``limit`` rows logged since ``since``, oldest first, a column per feature."""
    ensure_table(engine)
    query = (
        select(predictions)
        .where(predictions.c.created_at >= since)
        .order_by(predictions.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as connection:
        rows = list(reversed(connection.execute(query).mappings().all()))
    frame = pd.DataFrame.from_records([row["features"] for row in rows])
    frame[PREDICTION_COLUMN] = [row[PREDICTION_COLUMN] for row in rows]
    frame["model_version"] = [row["model_version"] for row in rows]
    frame["created_at"] = pd.to_datetime([row["created_at"] for row in rows], utc=True)
    return frame
