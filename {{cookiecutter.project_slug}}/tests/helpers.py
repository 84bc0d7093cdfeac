"""Helpers shared by tests: traffic frames for the drift job, and CLI environments."""

import pandas as pd

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data import PREDICTION_COLUMN
from {{ cookiecutter.package_name }}.model import LoadedModel
from {{ cookiecutter.package_name }}.monitoring.traffic import sample_records


def traffic(
    model: LoadedModel,
    features: pd.DataFrame,
    rows: int,
    shifts: dict[str, float] | None = None,
    seed: int = 1,
) -> pd.DataFrame:
    """Records drawn from the dataset (optionally shifted), with the model's predictions."""
    frame = pd.DataFrame(sample_records(features, rows, shifts or {}, seed))
    frame[PREDICTION_COLUMN] = [p.prediction for p in model.predict(frame)]
    return frame


def settings_env(settings: Settings) -> dict[str, str]:
    """The APP_* variables that reproduce ``settings`` in a subprocess or CLI run."""
    return {
        "APP_DATA_PATH": str(settings.data_path),
        "APP_MODEL_DIR": str(settings.model_dir),
        "APP_DATABASE_URL": settings.database_url,
        "APP_REPORTS_DIR": str(settings.reports_dir),
        "APP_DRIFT_MIN_ROWS": str(settings.drift_min_rows),
        "APP_MODEL_POLL_SECONDS": str(settings.model_poll_seconds),
        "APP_LOG_FLUSH_SECONDS": str(settings.log_flush_seconds),
    }
