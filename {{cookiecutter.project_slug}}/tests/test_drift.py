"""The drift job: verdicts on real data, reports written atomically, bad input refused."""

import json
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data import PREDICTION_COLUMN
from {{ cookiecutter.package_name }}.errors import MonitoringError
from {{ cookiecutter.package_name }}.monitoring.drift import (
    DriftSummary,
    ExitCode,
    detect_drift,
    write_reports,
)
from {{ cookiecutter.package_name }}.monitoring.window import Window, from_csv
from {{ cookiecutter.package_name }}.registry import ModelRegistry

from .helpers import traffic

WINDOW = Window(source="test")


def run(
    registry: ModelRegistry, current: pd.DataFrame, settings: Settings
) -> tuple[DriftSummary, str | None]:
    model = registry.load_champion()
    return detect_drift(
        registry.reference(model.version), current, model.metadata, settings, WINDOW
    )


def test_unshifted_traffic_does_not_drift(
    registry: ModelRegistry, features: pd.DataFrame, settings: Settings
) -> None:
    current = traffic(registry.load_champion(), features, 1000)
    summary, html = run(registry, current, settings)
    assert summary.status == "no_drift", summary.headline()
    assert summary.drifted_features == []
    assert summary.prediction is not None and not summary.prediction.drifted
    assert summary.exit_code == ExitCode.NO_DRIFT
    assert html is not None


def test_shifted_features_and_only_they_drift(
    registry: ModelRegistry, features: pd.DataFrame, settings: Settings
) -> None:
    shifted = list(features.columns[:2])
    current = traffic(registry.load_champion(), features, 1000, dict.fromkeys(shifted, 3.0))
    sensitive = settings.model_copy(update={"drift_share_threshold": 0.01})
    summary, html = run(registry, current, sensitive)
    assert summary.status == "drift"
    assert summary.exit_code == ExitCode.DRIFT
    assert summary.drifted_features == shifted
    assert summary.drifted_share == pytest.approx(len(shifted) / len(features.columns))
    by_name = {feature.column: feature for feature in summary.features}
    assert all(by_name[name].score > by_name[name].threshold for name in shifted)
    assert html is not None and all(name in html for name in shifted)


def test_too_few_rows_give_no_verdict(
    registry: ModelRegistry, features: pd.DataFrame, settings: Settings
) -> None:
    summary, html = run(registry, traffic(registry.load_champion(), features, 10), settings)
    assert summary.status == "insufficient_data"
    assert summary.exit_code == ExitCode.INSUFFICIENT_DATA
    assert "not enough data: 10 rows" in summary.headline()
    assert html is None


def test_unknown_and_missing_columns_are_refused(
    registry: ModelRegistry, features: pd.DataFrame, settings: Settings
) -> None:
    current = traffic(registry.load_champion(), features, 100)
    with pytest.raises(MonitoringError, match=r"unknown column.*'surprise'"):
        run(registry, current.assign(surprise=1.0), settings)
    with pytest.raises(MonitoringError, match="missing column"):
        run(registry, current.drop(columns=[features.columns[0]]), settings)


def test_a_corrupt_reference_is_refused(
    registry: ModelRegistry, features: pd.DataFrame, settings: Settings
) -> None:
    model = registry.load_champion()
    reference = registry.reference(model.version).drop(columns=[PREDICTION_COLUMN])
    current = traffic(model, features, 100)
    with pytest.raises(MonitoringError, match="reference of model v1 is corrupt: no column"):
        detect_drift(reference, current, model.metadata, settings, WINDOW)
    holes = registry.reference(model.version)
    holes.iloc[0, 0] = float("nan")
    with pytest.raises(MonitoringError, match="corrupt: missing values"):
        detect_drift(holes, current, model.metadata, settings, WINDOW)


def test_reports_are_complete_files(
    registry: ModelRegistry, features: pd.DataFrame, settings: Settings
) -> None:
    summary, html = run(registry, traffic(registry.load_champion(), features, 1000), settings)
    assert html is not None
    written = write_reports(summary, html, settings.reports_dir)
    html_name = str(written.report_html)
    files = {path.name for path in settings.reports_dir.iterdir()}
    assert files == {html_name, html_name.replace(".html", ".json"), "latest.json"}
    latest = json.loads((settings.reports_dir / "latest.json").read_text())
    assert latest["status"] == "no_drift"
    assert len(latest["features"]) == len(features.columns)
    assert latest["report_html"] == written.report_html
    page = (settings.reports_dir / str(written.report_html)).read_text()
    assert page.lstrip().startswith("<!DOCTYPE html>")
    assert str(features.columns[0]) in page


def test_csv_windows_get_predictions_added(
    registry: ModelRegistry, features: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "batch.csv"
    features.head(30).to_csv(path, index=False)
    frame, window = from_csv(path, registry.load_champion())
    assert window.source == str(path)
    assert frame[PREDICTION_COLUMN].notna().all()
