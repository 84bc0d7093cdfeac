"""The current window of traffic for the drift job: from the prediction log or a CSV file."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, computed_field

from {{ cookiecutter.package_name }}.data import read_table
from {{ cookiecutter.package_name }}.model import LoadedModel
from {{ cookiecutter.package_name }}.monitoring.prediction_log import (
    log_source,
    read_predictions,
    reading,
)
from {{ cookiecutter.package_name }}.schema import PREDICTION_COLUMN


class Window(BaseModel):
    """Where the current data came from, the time span it covers, and how much of it was read.

    From the prediction log: ``logged_rows`` were logged in the span, ``lost_rows`` were
    served but never logged (a full write queue, a failed write), and ``sampled_rows`` of the
    logged ones, drawn uniformly at random, went into the comparison.
    """

    source: str
    start: datetime | None = None
    end: datetime | None = None
    logged_rows: int | None = None
    lost_rows: int | None = None
    sampled_rows: int | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def traffic_share_seen(self) -> float | None:
        """The fraction of the span's predictions that the comparison saw (None for files)."""
        if self.logged_rows is None or self.lost_rows is None or self.sampled_rows is None:
            return None
        served = self.logged_rows + self.lost_rows
        return self.sampled_rows / served if served else None

    def coverage(self) -> str | None:
        """One line on how much of the traffic the comparison saw (None for files)."""
        if self.traffic_share_seen is None:
            return None
        return (
            f"traffic seen: {self.sampled_rows:,} rows sampled of {self.logged_rows:,} logged "
            f"and {self.lost_rows:,} lost by the log ({self.traffic_share_seen:.1%} of the "
            "predictions in the window)"
        )


def from_prediction_log(
    database_url: str, hours: float, sample_rows: int
) -> tuple[pd.DataFrame, Window]:
    """A uniform sample of at most ``sample_rows`` predictions logged in the last ``hours``."""
    end = datetime.now(UTC)
    start = end - timedelta(hours=hours)
    with reading(database_url) as engine:
        frame, logged, lost = read_predictions(engine, since=start, sample_rows=sample_rows)
    window = Window(
        source=log_source(database_url),
        start=start,
        end=end,
        logged_rows=logged,
        lost_rows=lost,
        sampled_rows=len(frame),
    )
    return frame, window


def from_csv(path: Path, model: LoadedModel) -> tuple[pd.DataFrame, Window]:
    """Rows of a CSV (or JSON) file; predictions are added with ``model`` if absent."""
    frame = read_table(path)
    if PREDICTION_COLUMN not in frame.columns:
        predictions = model.predict(frame, source=str(path))
        frame[PREDICTION_COLUMN] = [p.prediction for p in predictions]
    return frame, Window(source=str(path))
