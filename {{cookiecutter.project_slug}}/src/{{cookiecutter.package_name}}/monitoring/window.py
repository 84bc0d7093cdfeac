"""The current window of traffic for the drift job: from the prediction log or a CSV file."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from pydantic import BaseModel
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from {{ cookiecutter.package_name }}.data import read_table
from {{ cookiecutter.package_name }}.errors import MonitoringError
from {{ cookiecutter.package_name }}.model import LoadedModel
from {{ cookiecutter.package_name }}.monitoring.prediction_log import (
    create_db_engine,
    read_predictions,
)
from {{ cookiecutter.package_name }}.schema import PREDICTION_COLUMN


class Window(BaseModel):
    """Where the current data came from, and the time span it covers (if known)."""

    source: str
    start: datetime | None = None
    end: datetime | None = None


def from_prediction_log(
    database_url: str, hours: float, max_rows: int
) -> tuple[pd.DataFrame, Window]:
    """The newest ``max_rows`` predictions logged in the last ``hours``."""
    end = datetime.now(UTC)
    start = end - timedelta(hours=hours)
    source = f"prediction log {make_url(database_url).render_as_string(hide_password=True)}"
    engine = create_db_engine(database_url)
    try:
        frame = read_predictions(engine, since=start, limit=max_rows)
    except SQLAlchemyError as exc:
        reason = str(exc).strip().splitlines()[0]
        raise MonitoringError(f"cannot read the {source}: {reason}") from None
    finally:
        engine.dispose()
    return frame, Window(source=source, start=start, end=end)


def from_csv(path: Path, model: LoadedModel) -> tuple[pd.DataFrame, Window]:
    """Rows of a CSV (or JSON) file; predictions are added with ``model`` if absent."""
    frame = read_table(path)
    if PREDICTION_COLUMN not in frame.columns:
        predictions = model.predict(frame, source=str(path))
        frame[PREDICTION_COLUMN] = [p.prediction for p in predictions]
    return frame, Window(source=str(path))
