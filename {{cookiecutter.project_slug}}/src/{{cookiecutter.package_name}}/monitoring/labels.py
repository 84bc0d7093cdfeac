"""Ground truth: the true labels of logged predictions, stored beside them.

A label names its prediction by the ``request_id`` that ``/predict`` or ``/predict/batch``
returned and by the record's ``position`` in that request (0 for ``/predict``); a batch's
rows are logged in order, so the n-th logged row of a request is its n-th record. Labels go
to the table ``labels`` of the prediction log's database. Sending a label again replaces it
and counts a new ``revision``, so a corrected label never counts twice.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine, and_, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from {{ cookiecutter.package_name }}.errors import AppError
from {{ cookiecutter.package_name }}.monitoring.prediction_log import (
    ensure_table,
    labels,
    predictions,
)
from {{ cookiecutter.package_name }}.schema import PREDICTION_COLUMN

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)
LABEL_COLUMN = "label"


class UnknownPredictionError(AppError):
    """A label names a prediction that is not in the log (yet)."""


class AmbiguousPredictionError(AppError):
    """A label names a request id that several requests were logged under."""


@dataclass(frozen=True)
class Label:
    """The true {{ "class" if cookiecutter.__task == "classification" else "value" }} of the record at ``position`` of request ``request_id``."""

    request_id: str
    position: int
    label: {{ "str" if cookiecutter.__task == "classification" else "float" }}


def record_labels(engine: Engine, given: Sequence[Label]) -> list[int]:
    """Store the labels in one transaction; return each one's revision (1 when new).

    Raises UnknownPredictionError, and stores none, when one names no logged prediction, and
    AmbiguousPredictionError when its request id was sent with several requests.
    Two replicas labelling the same prediction at once: the loser tries again, as an update.
    """
    ensure_table(engine)
    try:
        return _record(engine, given)
    except IntegrityError:
        return _record(engine, given)


def _record(engine: Engine, given: Sequence[Label]) -> list[int]:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        _check_logged(connection, given)
        revisions = _revisions(connection, {label.request_id for label in given})
        result = []
        for label in given:
            key = (label.request_id, label.position)
            revision = revisions.get(key, 0) + 1
            values = {"label": label.label, "labelled_at": now, "revision": revision}
            if revision == 1:
                connection.execute(
                    insert(labels).values(
                        request_id=label.request_id, position=label.position, **values
                    )
                )
            else:
                matches = and_(labels.c.request_id == key[0], labels.c.position == key[1])
                connection.execute(update(labels).where(matches).values(**values))
                logger.info("label of %s #%d replaced (revision %d)", *key, revision)
            revisions[key] = revision
            result.append(revision)
    return result


def _check_logged(connection: Connection, given: Sequence[Label]) -> None:
    """Raise unless every label names one record of one logged request.

    A request's rows share one ``created_at``: more than one means that clients sent the same
    ``X-Request-ID`` with several requests, and a position could name a record of either.
    """
    request_ids = sorted({label.request_id for label in given})
    found = connection.execute(
        select(
            predictions.c.request_id, func.count(), func.count(predictions.c.created_at.distinct())
        )
        .where(predictions.c.request_id.in_(request_ids))
        .group_by(predictions.c.request_id)
    ).all()
    logged = {request_id: rows for request_id, rows, _ in found}
    for request_id, _, requests in found:
        if requests > 1:
            raise AmbiguousPredictionError(
                f"request_id {request_id!r} was sent with {requests} requests, so a position "
                "cannot name one record: send a unique X-Request-ID per request (or none: the "
                "API makes one)"
            )
    for label in given:
        if label.position >= logged.get(label.request_id, 0):
            raise UnknownPredictionError(
                f"no logged prediction for request_id {label.request_id!r} at position "
                f"{label.position} (it logged {logged.get(label.request_id, 0)} records; "
                "a prediction reaches the log within APP_LOG_FLUSH_SECONDS)"
            )


def _revisions(connection: Connection, request_ids: set[str]) -> dict[tuple[str, int], int]:
    rows = connection.execute(
        select(labels.c.request_id, labels.c.position, labels.c.revision).where(
            labels.c.request_id.in_(sorted(request_ids))
        )
    )
    return {(request_id, position): revision for request_id, position, revision in rows}


def read_labelled(engine: Engine, since: datetime) -> "pd.DataFrame":
    """The labelled predictions made since ``since``, oldest first.

    Columns: ``model_version``, the prediction, ``label``, ``created_at`` (when predicted) and
    ``features`` (the record as logged: a dict of raw values).
    """
    import pandas as pd  # noqa: PLC0415 - the API records labels without pandas: see schema

    ensure_table(engine)
    position = func.row_number().over(
        partition_by=predictions.c.request_id, order_by=predictions.c.id
    )
    ranked = (
        select(
            predictions.c.id,
            predictions.c.request_id,
            predictions.c.created_at,
            predictions.c.model_version,
            predictions.c.features,
            predictions.c[PREDICTION_COLUMN],
            (position - 1).label("position"),
        )
        .where(predictions.c.created_at >= since)
        .where(predictions.c.request_id.in_(select(labels.c.request_id)))
        .subquery()
    )
    columns = ["model_version", PREDICTION_COLUMN, LABEL_COLUMN, "created_at", "features"]
    query = select(*(ranked.c[name] for name in columns if name != LABEL_COLUMN), labels.c.label)
    query = query.join(
        labels,
        and_(labels.c.request_id == ranked.c.request_id, labels.c.position == ranked.c.position),
    ).order_by(ranked.c.id)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    frame = pd.DataFrame([{name: row[name] for name in columns} for row in rows], columns=columns)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame
