"""The drift job: recent traffic against the model's training reference, with Evidently.

Per feature, Evidently runs the configured test: for numbers, the Wasserstein distance by
default (its threshold reads as "how many reference standard deviations the distribution
moved", and unlike a p-value it does not flag trivial shifts in large windows); for
categories and booleans, the Jensen-Shannon distance between the two mixes. The window
drifts when the share of drifted features reaches ``APP_DRIFT_SHARE_THRESHOLD`` or the
predictions themselves drift. Beside drift, each feature's share of missing values (now and
in training) and each category feature's share of unknown categories are reported: rising
shares are data-quality problems upstream. Each run writes an HTML report for people and a
JSON summary for machines, both atomically. The verdict comes from Evidently's stat tests
run column by column (``drift_tests``). The HTML report opens with a table of every column's
test, score and verdict (``drift_overview``), charts the predictions and every drifted
feature (Evidently's ``ValueDrift``, which draws while it computes) and counts the
data-quality shares of every feature: its cost grows with what went wrong, not with the
table's width. The JSON summary has every feature's score.
"""

import contextlib
import math
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.metrics import (
    MissingValueCount,
    OutListValueCount,
    OutRangeValueCount,
    ValueDrift,
)
from pydantic import BaseModel

from {{ cookiecutter.package_name }}.atomic import write_atomic
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.errors import ConfigError, DataError, MonitoringError
from {{ cookiecutter.package_name }}.model import ModelMetadata
from {{ cookiecutter.package_name }}.monitoring.diagnosis import Diagnosis
from {{ cookiecutter.package_name }}.monitoring.drift_overview import DriftOverview
from {{ cookiecutter.package_name }}.monitoring.drift_tests import (
    DriftResult,
    DriftTest,
    configured_test,
    run_drift_tests,
)
from {{ cookiecutter.package_name }}.monitoring.performance import LivePerformance
from {{ cookiecutter.package_name }}.monitoring.window import Window
from {{ cookiecutter.package_name }}.schema import (
    PREDICTION_COLUMN,
    FeatureSchema,
    FeatureSpec,
)

METADATA_COLUMNS = ("model_version", "created_at")
"""Columns of the prediction log that are not model inputs or outputs."""

MISSING_METRIC = "evidently:metric_v2:MissingValueCount"
UNKNOWN_METRIC = "evidently:metric_v2:OutListValueCount"
OUT_OF_RANGE_METRIC = "evidently:metric_v2:OutRangeValueCount"
PLAUSIBLE_WIDTHS = 3.0
"""How many training-range widths beyond the range a number may lie before it is far out."""

DriftStatus = Literal["no_drift", "drift", "insufficient_data"]


class ExitCode(IntEnum):
    """Exit codes of ``monitor``, so cron and CI can act on the outcome."""

    NO_DRIFT = 0
    ERROR = 1
    DRIFT = 3
    INSUFFICIENT_DATA = 4
    PERFORMANCE_DEGRADED = 5


EXIT_CODES: dict[DriftStatus, ExitCode] = {
    "no_drift": ExitCode.NO_DRIFT,
    "drift": ExitCode.DRIFT,
    "insufficient_data": ExitCode.INSUFFICIENT_DATA,
}


class ColumnDrift(BaseModel):
    """The drift test of one column, and its data quality in the window."""

    column: str
    method: str
    score: float | None
    """None when the window holds no value of the column to test: an emptied column, which
    counts as drifted (and, 100 % missing, as a data problem)."""
    threshold: float | None
    drifted: bool
    missing_share: float | None = None
    reference_missing_share: float | None = None
    unknown_share: float | None = None
    out_of_range_share: float | None = None
    """Numbers only: the share of values outside ``plausible_range`` (a unit change, a
    sentinel such as -999)."""

    def quality_note(self) -> str | None:
        """A line about missing values, unknown categories or far-out numbers, if any."""
        notes = []
        if self.unknown_share:
            notes.append(f"{self.unknown_share:.1%} unknown categories")
        if self.out_of_range_share:
            notes.append(f"{self.out_of_range_share:.1%} far outside the training range")
        if self.missing_share and self.missing_share > (self.reference_missing_share or 0):
            notes.append(
                f"{self.missing_share:.1%} missing ({self.reference_missing_share or 0:.1%} in "
                "training)"
            )
        return f"{self.column!r}: {', '.join(notes)}" if notes else None


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
    performance: LivePerformance | None = None
    diagnosis: Diagnosis | None = None
    report_html: str | None = None
    performance_html: str | None = None

    @property
    def exit_code(self) -> ExitCode:
        """The exit code ``monitor`` ends with: a performance drop first, then the drift."""
        if self.performance is not None and self.performance.degraded:
            return ExitCode.PERFORMANCE_DEGRADED
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

    def quality_notes(self) -> list[str]:
        """One line per feature with unknown categories or more missing values than in training."""
        return [note for feature in self.features if (note := feature.quality_note())]


def current_features(current: pd.DataFrame, model: ModelMetadata, source: str) -> pd.DataFrame:
    """The current window's features (as the model reads them) and predictions, checked."""
    schema = model.feature_schema
    excluded = [column.name for column in schema.excluded]  # IDs, dates...: not model inputs
    allowed = {*schema.names, *excluded, PREDICTION_COLUMN, *METADATA_COLUMNS}
    unknown = [str(column) for column in current.columns if column not in allowed]
    if unknown:
        raise MonitoringError(
            f"{source}: unknown column(s) {', '.join(map(repr, unknown))}: model "
            f"{model.version} was trained on {', '.join(map(repr, schema.names))}"
        )
    if PREDICTION_COLUMN not in current.columns:
        raise MonitoringError(f"{source}: missing column {PREDICTION_COLUMN!r}")
    try:
        features = schema.normalise(current, source)
    except DataError as exc:
        raise MonitoringError(str(exc)) from None
    return features.assign(**{PREDICTION_COLUMN: current[PREDICTION_COLUMN]})


def detect_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    model: ModelMetadata,
    settings: Settings,
    window: Window,
) -> tuple[DriftSummary, str | None]:
    """Compare ``current`` with ``reference``; return the summary and the HTML report.

    A drift method Evidently has no test of is a ConfigError, whatever the window; a corrupt
    reference, or a window with other columns than the model's, is a MonitoringError.
    """
    tests = drift_tests(model.feature_schema, settings)
    names = model.feature_schema.names
    missing = [name for name in [*names, PREDICTION_COLUMN] if name not in reference.columns]
    if missing:
        raise MonitoringError(
            f"reference of model {model.version} is corrupt: no column(s) {', '.join(missing)}"
        )
    if reference[PREDICTION_COLUMN].isna().any():
        raise MonitoringError(f"reference of model {model.version} is corrupt: missing predictions")
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

    reference, current = (frame[[*names, PREDICTION_COLUMN]] for frame in (reference, current))
{%- if cookiecutter.__task == "classification" %}
    # Classes are categories to Evidently, whatever type the log gave them.
    reference, current = (frame.astype({PREDICTION_COLUMN: str}) for frame in (reference, current))
{%- endif %}
    results = run_drift_tests(tests, reference, current)
    tested = {name: _column_drift(name, tests[name], results.get(name)) for name in tests}
    charted = [name for name in names if name in results and results[name].drifted]
    snapshot = _run_report(reference, current, model.feature_schema, tests, charted, tested)
    shares = _quality_shares(snapshot.dict())
    features = [
        tested[name].model_copy(
            update={
                "missing_share": shares.get((MISSING_METRIC, name)),
                "reference_missing_share": float(reference[name].isna().mean()),
                "unknown_share": shares.get((UNKNOWN_METRIC, name)),
                "out_of_range_share": shares.get((OUT_OF_RANGE_METRIC, name)),
            }
        )
        for name in names
    ]
    prediction = tested[PREDICTION_COLUMN]
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


def drift_tests(schema: FeatureSchema, settings: Settings) -> dict[str, DriftTest]:
    """Each feature's drift test and the predictions', checked against Evidently's registry.

    A method Evidently has no test of, for that kind of column, is a ConfigError naming
    APP_DRIFT_NUMERIC_METHOD or APP_DRIFT_CATEGORICAL_METHOD; a threshold for a column that
    is no feature, one naming APP_DRIFT_FEATURE_THRESHOLDS.
    """
    numeric = configured_test(settings, "numeric")
    categorical = configured_test(settings, "categorical")
    tests = {
        feature.name: numeric if feature.kind == "numeric" else categorical
        for feature in schema.features
    }
    unknown = sorted(set(settings.drift_feature_thresholds) - set(tests))
    if unknown:  # a typo would leave the feature at the default threshold, silently
        raise ConfigError(
            f"APP_DRIFT_FEATURE_THRESHOLDS names no feature of the model: "
            f"{', '.join(map(repr, unknown))} (features: {', '.join(map(repr, schema.names))})"
        )
    for name, threshold in settings.drift_feature_thresholds.items():
        tests[name] = tests[name]._replace(threshold=threshold)
{%- if cookiecutter.__task == "classification" %}
    tests[PREDICTION_COLUMN] = categorical  # classes: Jensen-Shannon by default
{%- else %}
    tests[PREDICTION_COLUMN] = numeric
{%- endif %}
    return tests


def write_reports(
    summary: DriftSummary,
    html: str | None,
    reports_dir: Path,
    keep: int = 100,
    performance_html: str | None = None,
) -> DriftSummary:
    """Write ``drift-<time>.html`` and ``.json`` (plus ``latest.json``), each atomically.

    Evidently's report of the live performance, if given, goes to ``performance-<time>.html``.
    Without a drift verdict (``html`` None: too few rows), the JSON holds the performance
    verdict, and there is no drift page. Then only the newest ``keep`` runs' reports stay
    (APP_REPORTS_KEEP). A folder that cannot be written is one ConfigError naming
    APP_REPORTS_DIR, and the files of this report written before the failure are removed.
    """
    stem = f"drift-{summary.generated_at:%Y%m%dT%H%M%S%fZ}"
    drift_page = f"{stem}.html" if html is not None else None
    performance_page = _performance_page(f"{stem}.json") if performance_html is not None else None
    summary = summary.model_copy(
        update={"report_html": drift_page, "performance_html": performance_page}
    )
    payload = summary.model_dump_json(indent=2)
    pages = [(drift_page, html), (performance_page, performance_html), (f"{stem}.json", payload)]
    written: list[Path] = []
    try:
        for name, text in pages:
            if name is None or text is None:
                continue
            write_atomic(reports_dir / name, text)
            written.append(reports_dir / name)
        write_atomic(reports_dir / "latest.json", payload)
    except OSError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        raise ConfigError(
            f"cannot write the reports to APP_REPORTS_DIR={reports_dir}: {exc.strerror or exc}"
        ) from None
    prune_reports(reports_dir, keep)
    return summary


def prune_reports(reports_dir: Path, keep: int) -> list[Path]:
    """Delete the reports of all but the newest ``keep`` runs; return the deleted files."""
    runs = sorted(reports_dir.glob("drift-*.json"), reverse=True)  # names sort by time
    deleted = []
    for report in runs[keep:]:
        for path in (
            report,
            report.with_suffix(".html"),
            report.with_name(_performance_page(report.name)),
        ):
            with contextlib.suppress(FileNotFoundError):  # another run pruned it first
                path.unlink()
                deleted.append(path)
    return deleted


def _performance_page(report_json: str) -> str:
    """The name of the live-performance page of the run whose JSON report is ``report_json``."""
    return report_json.replace("drift-", "performance-", 1).removesuffix(".json") + ".html"


def plausible_range(feature: FeatureSpec) -> tuple[float, float] | None:
    """The training range of a numeric feature, widened by three times its width each side.

    A drifted feature moves within it (a range spans at least 2 sd, so even a two-valued
    number shifted by 6 sd stays inside); a unit change (cents for euros) or a sentinel
    (-999, 99999) lands outside. None for other kinds.
    """
    if feature.kind != "numeric" or feature.min is None or feature.max is None:
        return None
    margin = PLAUSIBLE_WIDTHS * (feature.max - feature.min)
    return feature.min - margin, feature.max + margin


def _run_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    schema: FeatureSchema,
    tests: dict[str, DriftTest],
    charted: list[str],
    tested: dict[str, ColumnDrift],
) -> Any:  # an Evidently Snapshot (Evidently ships no type hints)
    """Evidently's report of the window: test results, drift charts, data quality.

    A table of every column's test result first, then the charts of the predictions and of
    ``charted``, then every feature's quality shares.
    """
    definition = DataDefinition(
        numerical_columns=[name for name, test in tests.items() if test.numeric],
        categorical_columns=[name for name, test in tests.items() if not test.numeric],
    )
    drift = [
        ValueDrift(column=name, method=tests[name].method, threshold=tests[name].threshold)
        for name in [PREDICTION_COLUMN, *charted]
    ]
    quality = [
        *(MissingValueCount(column=name) for name in schema.names),
        *(
            OutListValueCount(column=feature.name, values=feature.categories)
            for feature in schema.features
            if feature.kind == "categorical"
        ),
        *(
            OutRangeValueCount(column=feature.name, left=bounds[0], right=bounds[1])
            for feature in schema.features
            if (bounds := plausible_range(feature)) is not None
        ),
    ]
    overview = DriftOverview(rows=[_overview_row(column) for column in _drifted_first(tested)])
    return Report([overview, *drift, *quality], include_tests=True).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )


def _drifted_first(tested: dict[str, ColumnDrift]) -> list[ColumnDrift]:
    """The predictions, then the drifted features, then the stable ones (each in schema order)."""
    features = [column for name, column in tested.items() if name != PREDICTION_COLUMN]
    return [tested[PREDICTION_COLUMN], *sorted(features, key=lambda column: not column.drifted)]


def _overview_row(column: ColumnDrift) -> list[str]:
    """One row of the report's first table (see ``drift_overview``)."""
    if column.score is None or column.threshold is None:
        return [column.column, column.method, "no values", "", "drifted"]
    verdict = "drifted" if column.drifted else "stable"
    return [column.column, column.method, f"{column.score:.4g}", f"{column.threshold:g}", verdict]


def _column_drift(name: str, test: DriftTest, result: DriftResult | None) -> ColumnDrift:
    """One column's test result; None (no value left to test) counts as drifted."""
    if result is None:  # 100 % missing too, in the feature's quality shares
        return ColumnDrift(column=name, method="none", score=None, threshold=None, drifted=True)
    return ColumnDrift(
        column=name,
        method=test.method,
        score=result.score,
        threshold=test.threshold,
        drifted=result.drifted,
    )


def _quality_shares(result: dict[str, Any]) -> dict[tuple[str, str], float]:
    """The report's data-quality shares, by metric type and column (NaN ones left out)."""
    shares: dict[tuple[str, str], float] = {}
    for metric in result["metrics"]:
        config = metric["config"]
        kind = config.get("type", "")
        if kind in (MISSING_METRIC, UNKNOWN_METRIC, OUT_OF_RANGE_METRIC):
            share = float(metric["value"]["share"])
            if not math.isnan(share):  # NaN: a share of no values at all (all missing)
                shares[kind, config["column"]] = share
    return shares
