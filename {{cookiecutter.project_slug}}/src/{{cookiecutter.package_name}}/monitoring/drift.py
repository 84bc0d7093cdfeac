"""The drift job: recent traffic against the model's training reference, with Evidently.

Per feature, Evidently runs the configured test (Wasserstein distance by default: its
threshold reads as "how many reference standard deviations the distribution moved", and
unlike a p-value it does not flag trivial shifts in large windows). The window drifts when
the share of drifted features reaches ``APP_DRIFT_SHARE_THRESHOLD`` or the predictions
themselves drift. Each run writes an HTML report for people and a JSON summary for
machines, both atomically.
"""

from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.metrics import ValueDrift
from evidently.presets import DataDriftPreset
from pydantic import BaseModel

from {{ cookiecutter.package_name }}.atomic import write_atomic
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data import PREDICTION_COLUMN
from {{ cookiecutter.package_name }}.errors import MonitoringError
from {{ cookiecutter.package_name }}.model import ModelMetadata
from {{ cookiecutter.package_name }}.monitoring.window import Window

METADATA_COLUMNS = ("model_version", "created_at")
"""Columns of the prediction log that are not model inputs or outputs."""

DriftStatus = Literal["no_drift", "drift", "insufficient_data"]


class ExitCode(IntEnum):
    """Exit codes of ``monitor``, so cron and CI can act on the outcome."""

    NO_DRIFT = 0
    ERROR = 1
    DRIFT = 3
    INSUFFICIENT_DATA = 4


EXIT_CODES: dict[DriftStatus, ExitCode] = {
    "no_drift": ExitCode.NO_DRIFT,
    "drift": ExitCode.DRIFT,
    "insufficient_data": ExitCode.INSUFFICIENT_DATA,
}


class ColumnDrift(BaseModel):
    """The drift test of one column."""

    column: str
    method: str
    score: float
    threshold: float
    drifted: bool


class DriftSummary(BaseModel):
    """The machine-readable outcome of one drift run (the JSON report)."""

    status: DriftStatus
    generated_at: datetime
    model_version: str
    window: Window
    current_rows: int
    reference_rows: int
    min_rows: int
    share_threshold: float
    drifted_share: float | None = None
    drifted_features: list[str] = []
    features: list[ColumnDrift] = []
    prediction: ColumnDrift | None = None
    report_html: str | None = None

    @property
    def exit_code(self) -> ExitCode:
        """The exit code ``monitor`` ends with."""
        return EXIT_CODES[self.status]

    def headline(self) -> str:
        """The outcome in one line."""
        if self.status == "insufficient_data":
            return (
                f"not enough data: {self.current_rows} rows in the window, {self.min_rows} "
                "needed (APP_DRIFT_MIN_ROWS); no verdict"
            )
        drifted = ", ".join(self.drifted_features) or "none"
        prediction = "drifted" if self.prediction and self.prediction.drifted else "stable"
        return (
            f"{self.status.replace('_', ' ')}: {len(self.drifted_features)} of "
            f"{len(self.features)} features drifted ({drifted}); predictions {prediction}"
        )


def current_features(current: pd.DataFrame, model: ModelMetadata, source: str) -> pd.DataFrame:
    """The current window's features and predictions, checked against the model's schema."""
    names = model.feature_schema.names
    allowed = {*names, PREDICTION_COLUMN, *METADATA_COLUMNS}
    unknown = [str(column) for column in current.columns if column not in allowed]
    if unknown:
        raise MonitoringError(
            f"{source}: unknown column(s) {', '.join(map(repr, unknown))}: model "
            f"{model.version} was trained on {', '.join(map(repr, names))}"
        )
    missing = [name for name in [*names, PREDICTION_COLUMN] if name not in current.columns]
    if missing:
        raise MonitoringError(f"{source}: missing column(s) {', '.join(map(repr, missing))}")
    return current[[*names, PREDICTION_COLUMN]]


def detect_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    model: ModelMetadata,
    settings: Settings,
    window: Window,
) -> tuple[DriftSummary, str | None]:
    """Compare ``current`` with ``reference``; return the summary and the HTML report."""
    names = model.feature_schema.names
    missing = [name for name in [*names, PREDICTION_COLUMN] if name not in reference.columns]
    if missing:
        raise MonitoringError(
            f"reference of model {model.version} is corrupt: no column(s) {', '.join(missing)}"
        )
    if reference[[*names, PREDICTION_COLUMN]].isna().any().any():
        raise MonitoringError(f"reference of model {model.version} is corrupt: missing values")
    if not current.empty:  # an empty window has no columns to check
        current = current_features(current, model, window.source)
    summary = DriftSummary(
        status="insufficient_data",
        generated_at=datetime.now(UTC),
        model_version=model.version,
        window=window,
        current_rows=len(current),
        reference_rows=len(reference),
        min_rows=settings.drift_min_rows,
        share_threshold=settings.drift_share_threshold,
    )
    if len(current) < settings.drift_min_rows:
        return summary, None

    snapshot = _run_report(reference[[*names, PREDICTION_COLUMN]], current, names, settings)
    columns = _column_results(snapshot.dict())
    features = [columns[name] for name in names]
    prediction = columns[PREDICTION_COLUMN]
    drifted = [feature.column for feature in features if feature.drifted]
    share = len(drifted) / len(features)
    drift = share >= settings.drift_share_threshold or prediction.drifted
    summary = summary.model_copy(
        update={
            "status": "drift" if drift else "no_drift",
            "drifted_share": share,
            "drifted_features": drifted,
            "features": features,
            "prediction": prediction,
        }
    )
    return summary, snapshot.get_html_str(as_iframe=False)


def write_reports(summary: DriftSummary, html: str, reports_dir: Path) -> DriftSummary:
    """Write ``drift-<time>.html`` and ``.json`` (plus ``latest.json``), each atomically."""
    stem = f"drift-{summary.generated_at:%Y%m%dT%H%M%S%fZ}"
    write_atomic(reports_dir / f"{stem}.html", html)
    summary = summary.model_copy(update={"report_html": f"{stem}.html"})
    payload = summary.model_dump_json(indent=2)
    write_atomic(reports_dir / f"{stem}.json", payload)
    write_atomic(reports_dir / "latest.json", payload)
    return summary


def _run_report(
    reference: pd.DataFrame, current: pd.DataFrame, names: list[str], settings: Settings
) -> Any:  # an Evidently Snapshot (Evidently ships no type hints)
{%- if cookiecutter.task == "classification" %}
    definition = DataDefinition(numerical_columns=names, categorical_columns=[PREDICTION_COLUMN])
    prediction_method = settings.drift_categorical_method
    prediction_threshold = settings.drift_categorical_threshold
    current = current.astype({PREDICTION_COLUMN: str})
    reference = reference.astype({PREDICTION_COLUMN: str})
{%- else %}
    definition = DataDefinition(numerical_columns=[*names, PREDICTION_COLUMN])
    prediction_method = settings.drift_numeric_method
    prediction_threshold = settings.drift_numeric_threshold
{%- endif %}
    report = Report(
        [
            DataDriftPreset(
                columns=names,
                drift_share=settings.drift_share_threshold,
                num_method=settings.drift_numeric_method,
                num_threshold=settings.drift_numeric_threshold,
                per_column_threshold=settings.drift_feature_thresholds or None,
            ),
            ValueDrift(
                column=PREDICTION_COLUMN,
                method=prediction_method,
                threshold=prediction_threshold,
            ),
        ],
        include_tests=True,
    )
    return report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )


def _column_results(result: dict[str, Any]) -> dict[str, ColumnDrift]:
    """Per-column score, method and threshold (metrics) and verdict (tests) of a run."""
    verdicts = {
        test["metric_config"]["metric_id"]: test["status"] == "FAIL" for test in result["tests"]
    }
    columns = {}
    for metric in result["metrics"]:
        config = metric["config"]
        if config.get("type") != "evidently:metric_v2:ValueDrift":
            continue
        columns[config["column"]] = ColumnDrift(
            column=config["column"],
            method=config["method"],
            score=float(metric["value"]),
            threshold=float(config["threshold"]),
            drifted=verdicts[metric["id"]],
        )
    return columns
