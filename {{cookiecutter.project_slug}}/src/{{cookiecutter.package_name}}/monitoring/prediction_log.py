"""The prediction log: every served prediction, stored through SQLAlchemy.

A SQLite file by default (no services needed); any SQLAlchemy URL in ``APP_DATABASE_URL``
(``postgresql+psycopg://...`` in compose). The API never waits for the database: rows go
into a bounded queue that a background thread writes in batches, so a slow or down database
costs log rows (counted in ``/metrics``), never predictions. ``close()`` drains the queue,
so a normal shutdown loses nothing. Rows that are lost all the same (a full queue, a failed
write) are counted in the table ``prediction_log_losses`` once the database takes writes
again, so the drift job can say which fraction of the traffic it saw.
"""

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic_core import to_json
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
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from {{ cookiecutter.package_name }}.errors import (
    ConfigError,
    MonitoringError,
    first_line,
)
from {{ cookiecutter.package_name }}.schema import PREDICTION_COLUMN, FeatureValue

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)
DROP_WARNING_SECONDS = 10.0
"""Dropped rows are logged at most this often, with their count since the last warning."""
READ_CHUNK_ROWS = 900
"""Rows fetched per query when reading a sample (under SQLite's oldest limit of 999 values)."""

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

losses = Table(
    "prediction_log_losses",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("rows", Integer, nullable=False),
)
"""Rows served but never logged: one line per write that followed a loss, with the count."""

labels = Table(
    "labels",
    metadata,
    Column("request_id", String(128), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("label", JSON, nullable=False),
    Column("labelled_at", DateTime(timezone=True), nullable=False, index=True),
    Column("revision", Integer, nullable=False),
)
"""The true label of a logged prediction (POST /feedback): its request and its position in
the request (0 for /predict), the label, when it came, and how many times it was sent."""

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


def log_source(database_url: str) -> str:
    """``prediction log <url>``, the password hidden: how errors and reports name the log."""
    return f"prediction log {make_url(database_url).render_as_string(hide_password=True)}"


@contextmanager
def reading(database_url: str) -> Iterator[Engine]:
    """An engine on the log for one job; a database error becomes one MonitoringError."""
    engine = create_db_engine(database_url)
    try:
        yield engine
    except SQLAlchemyError as exc:
        reason = first_line(exc)
        raise MonitoringError(f"cannot read the {log_source(database_url)}: {reason}") from None
    finally:
        engine.dispose()


_engines_with_tables: weakref.WeakSet[Engine] = weakref.WeakSet()
"""Engines whose database has the log's tables: POST /feedback does not ask again."""


def ensure_table(engine: Engine, attempts: int = 5) -> None:
    """Create the tables of the log unless they exist (asked once per engine).

    Another process or thread (an API replica, the drift job, the log writer) may be creating
    them at the same moment, and the database then refuses one of the two (SQLite: "database
    is locked" or "already exists"). That is fine once the tables are there; until then, try
    again a few times, briefly.
    """
    if engine in _engines_with_tables:
        return
    for attempt in range(1, attempts + 1):
        try:
            metadata.create_all(engine)
            break
        except SQLAlchemyError:
            tables = inspect(engine)
            if all(tables.has_table(table.name) for table in metadata.sorted_tables):
                break
            if attempt == attempts:
                raise
            time.sleep(0.1 * attempt)
    _engines_with_tables.add(engine)


def log_row(
    request_id: str,
    model_version: str,
    features: dict[str, FeatureValue],
    output: str | float,
    created_at: datetime | None = None,
) -> LogRow:
    """One row of the log, timestamped ``created_at`` (default: now, UTC)."""
    return {
        "request_id": request_id,
        "created_at": created_at or datetime.now(UTC),
        "model_version": model_version,
        "features": features,
        PREDICTION_COLUMN: output,
    }


class PredictionLogger:
    """Buffers log rows and writes them in batches from a background thread.

    A request adds its rows under one lock, and the writer takes the whole buffer at once:
    with a row-by-row queue, the writer thread lost the GIL race to the requests and a
    batch load dropped three rows of four (see make bench).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        queue_size: int,
        batch_size: int,
        flush_seconds: float,
        on_write_error: Callable[[int], None] = lambda _rows: None,
        on_drop: Callable[[int], None] = lambda _rows: None,
        on_pending: Callable[[int], None] = lambda _rows: None,
    ) -> None:
        """Configure; nothing runs until :meth:`start`.

        The callbacks count rows that failed to write or were dropped, and report the rows
        waiting (after every write, and at least every ``flush_seconds``).
        """
        self._engine = engine
        self._queue_size = queue_size
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._on_write_error = on_write_error
        self._on_drop = on_drop
        self._on_pending = on_pending
        self._buffer: list[LogRow] = []
        self._writing = 0  # rows taken from the buffer, not yet written
        self._changed = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._drops_lock = threading.Lock()
        self._unreported_drops = 0
        self._unrecorded_losses = 0  # rows lost since the last write that recorded them
        self._last_drop_warning = -DROP_WARNING_SECONDS

    @property
    def pending(self) -> int:
        """Rows waiting to be written."""
        return len(self._buffer) + self._writing

    @property
    def engine(self) -> Engine:
        """The log's database (labels are written there too, by the feedback endpoints)."""
        return self._engine

    def start(self) -> None:
        """Start the writer thread."""
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def log(self, rows: Iterable[LogRow]) -> None:
        """Buffer rows without waiting; rows over APP_LOG_QUEUE_SIZE are dropped and counted."""
        rows = list(rows)
        with self._changed:
            room = max(0, self._queue_size - self.pending)
            self._buffer.extend(rows[:room])
            if len(self._buffer) >= self._batch_size:
                self._changed.notify()
        dropped = len(rows) - min(room, len(rows))
        if dropped:
            self._on_drop(dropped)
            self._warn_of_drops(dropped)
            self._count_losses(dropped)

    def close(self, timeout: float = 30.0) -> None:
        """Write every buffered row, then stop the thread."""
        self._warn_of_drops(0, force=True)
        if self._thread is None:
            return
        with self._changed:
            self._closing = True
            self._changed.notify()
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

    def _count_losses(self, rows: int) -> int:
        """Add ``rows`` to the losses not yet in the database; return the new total."""
        with self._drops_lock:
            self._unrecorded_losses += rows
            return self._unrecorded_losses

    def _run(self) -> None:
        """Take the whole buffer when a batch is full, flush_seconds passed or close() asks."""
        while True:
            with self._changed:
                self._changed.wait_for(
                    lambda: len(self._buffer) >= self._batch_size or self._closing,
                    timeout=self._flush_seconds,
                )
                rows, self._buffer = self._buffer, []
                self._writing = len(rows)
                closing = self._closing
            for start in range(0, len(rows), self._batch_size):
                self._on_pending(self.pending)
                self._write(rows[start : start + self._batch_size])
                self._writing = max(0, len(rows) - start - self._batch_size)
            self._on_pending(self.pending)
            if closing:
                return

    def _write(self, batch: list[LogRow]) -> None:
        if not batch:
            return
        lost = self._count_losses(0)
        try:
            ensure_table(self._engine)
            with self._engine.begin() as connection:
                insert_rows(connection, batch)
                if lost:
                    loss = {"created_at": batch[0]["created_at"], "rows": lost}
                    connection.execute(insert(losses), [loss])
        except Exception as exc:  # a database error, or a row it can't take: the writer lives on
            logger.error("prediction log: %d rows not written: %s", len(batch), _reason(exc))
            self._on_write_error(len(batch))
            self._count_losses(len(batch))
        else:
            self._count_losses(-lost)


def _reason(error: Exception) -> str:
    """What went wrong, in one line: the database's message, or the error's type and text."""
    if isinstance(error, SQLAlchemyError):
        return str(error)
    return f"{type(error).__name__}: {error}"


BULK_INSERTS = {
    "sqlite": text(
        "INSERT INTO predictions (request_id, created_at, model_version, features, prediction) "
        "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
        "json_extract(value, '$[2]'), json_extract(value, '$[3]'), "
        "json_quote(json_extract(value, '$[4]')) FROM json_each(:rows)"
    ),
    "postgresql": text(
        "INSERT INTO predictions (request_id, created_at, model_version, features, prediction) "
        "SELECT row->>0, CAST(row->>1 AS timestamptz), row->>2, row->3, row->4 "
        "FROM json_array_elements(CAST(:rows AS json)) AS row"
    ),
}
"""One statement per batch: the rows travel as one JSON array that the database unpacks."""


def insert_rows(connection: Connection, rows: list[LogRow]) -> None:
    """Insert log rows with one statement (SQLite, PostgreSQL), or an executemany elsewhere.

    Why one statement: the writer thread shares the GIL with the requests, and a driver
    gives the GIL back for every row of an executemany. Under a batch load, each row then
    waited for the busy request thread, and the log fell behind by three rows in four. One
    JSON array of the whole batch (pydantic-core's encoder, 3x faster than ``json.dumps``)
    and one call cost 1,000 rows about 1 ms of Python.
    """
    bulk = BULK_INSERTS.get(connection.dialect.name)
    if bulk is None:
        connection.execute(insert(predictions), rows)
        return
    # The timestamps as SQLAlchemy writes them on this database, so that the window's
    # `created_at >= since` compares like with like (SQLite compares the text). The rows of
    # one request share one time: each distinct time is formatted once.
    column_type = predictions.c.created_at.type.dialect_impl(connection.dialect)
    stamp = column_type.bind_processor(connection.dialect) or datetime.isoformat
    stamps = {moment: stamp(moment) for moment in {row["created_at"] for row in rows}}
    payload = [
        [
            row["request_id"],
            stamps[row["created_at"]],
            row["model_version"],
            row["features"],
            row[PREDICTION_COLUMN],
        ]
        for row in rows
    ]
    connection.execute(bulk, {"rows": to_json(payload).decode()})


def read_predictions(
    engine: Engine, since: datetime, sample_rows: int, seed: int = 0
) -> tuple["pd.DataFrame", int, int]:
    """A uniform random sample of the rows logged since ``since``, with the window's counts.

    Returns the sample (at most ``sample_rows`` rows, oldest first, a column per feature),
    the number of rows logged in the window, and the number lost (served, never logged).
    Memory stays bounded whatever the window holds: only the ids of the window are read in
    full, then the sampled rows in chunks of READ_CHUNK_ROWS.
    """
    import pandas as pd  # noqa: PLC0415 - the API writes the log without pandas

    ensure_table(engine)
    in_window = predictions.c.created_at >= since
    with engine.connect() as connection:
        ids = np.fromiter(
            connection.execute(select(predictions.c.id).where(in_window)).scalars(), np.int64
        )
        lost = connection.execute(
            select(func.coalesce(func.sum(losses.c.rows), 0)).where(losses.c.created_at >= since)
        ).scalar_one()
        logged = len(ids)
        if logged > sample_rows:
            ids = np.random.default_rng(seed).choice(ids, size=sample_rows, replace=False)
        chosen = np.sort(ids).tolist()
        rows = [
            row
            for start in range(0, len(chosen), READ_CHUNK_ROWS)
            for row in connection.execute(
                select(predictions)
                .where(predictions.c.id.in_(chosen[start : start + READ_CHUNK_ROWS]))
                .order_by(predictions.c.id)
            ).mappings()
        ]
    frame = pd.DataFrame.from_records([row["features"] for row in rows])
    frame[PREDICTION_COLUMN] = [row[PREDICTION_COLUMN] for row in rows]
    frame["model_version"] = [row["model_version"] for row in rows]
    frame["created_at"] = pd.to_datetime([row["created_at"] for row in rows], utc=True)
    return frame, logged, int(lost)
