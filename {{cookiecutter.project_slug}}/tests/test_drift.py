"""The drift job: verdicts on real data, reports written atomically, bad input refused."""

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import drift_issue
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.errors import MonitoringError
from {{ cookiecutter.package_name }}.io.registry import ModelRegistry, open_registry
from {{ cookiecutter.package_name }}.monitoring.drift import (
    DriftSummary,
    ExitCode,
    detect_drift,
    write_reports,
)
from {{ cookiecutter.package_name }}.monitoring.drift_overview import HEADER
from {{ cookiecutter.package_name }}.monitoring.traffic import Shift
from {{ cookiecutter.package_name }}.monitoring.window import Window, from_csv
from {{ cookiecutter.package_name }}.schema import PREDICTION_COLUMN, FeatureSchema

from .helpers import mixed_table_settings, traffic, train_version

WINDOW = Window(source="test")


def run(
    registry: ModelRegistry, current: pd.DataFrame, settings: Settings
) -> tuple[DriftSummary, str | None]:
    model = registry.load_champion()
    return detect_drift(
        registry.reference(model.version), current, model.metadata, settings, WINDOW
    )


def mixed_table_champion(settings: Settings, folder: Path) -> tuple[Settings, ModelRegistry]:
    """Settings for the mixed table, and a registry whose champion was trained on it."""
    mixed = mixed_table_settings(settings, folder)
    registry = open_registry(mixed)
    metadata, _ = train_version(registry, mixed)
    registry.promote(metadata.version, reason="test")
    return mixed, registry


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
    registry: ModelRegistry, features: pd.DataFrame, settings: Settings, schema: FeatureSchema
) -> None:
    shifted = [feature.name for feature in schema.features if feature.kind == "numeric"][:2]
    shifts: dict[str, Shift] = dict.fromkeys(shifted, 3.0)
    current = traffic(registry.load_champion(), features, 1000, shifts)
    sensitive = settings.model_copy(update={"drift_share_threshold": 0.01})
    summary, html = run(registry, current, sensitive)
    assert summary.status == "drift"
    assert summary.exit_code == ExitCode.DRIFT
    assert summary.drifted_features == shifted
    assert summary.drifted_share == pytest.approx(len(shifted) / len(schema.features))
    by_name = {feature.column: feature for feature in summary.features}
    for name in shifted:  # drifted, yet within the plausible range: not broken data
        score, threshold = by_name[name].score, by_name[name].threshold
        assert score is not None and threshold is not None and score > threshold
        assert (by_name[name].out_of_range_share or 0) < 0.05
    assert html is not None  # charts the predictions and the drifted features, no others
    charted = [name for name in [*schema.names, PREDICTION_COLUMN] if drift_chart(name) in html]
    assert charted == [*shifted, PREDICTION_COLUMN]
    stable = [name for name in schema.names if name not in shifted]
    rows = overview_rows(html)  # and lists every column, drifted first
    assert [row[0] for row in rows] == [PREDICTION_COLUMN, *shifted, *stable]
    for column, test, shown_score, shown_threshold, verdict in rows[1:]:
        tested = by_name[column]
        assert (test, verdict) == (tested.method, "drifted" if tested.drifted else "stable")
        assert tested.score is not None and tested.threshold is not None
        assert float(shown_score) == pytest.approx(tested.score, rel=1e-3)
        assert float(shown_threshold) == tested.threshold


def drift_chart(column: str) -> str:
    """The title Evidently gives a column's drift test in the HTML report."""
    return f"Value Drift for column {column}"


def overview_rows(html: str) -> list[list[str]]:
    """The rows of the report's first table (every column's test), read from its page data."""
    marker = f'"header": {json.dumps(HEADER)}, "data": '
    rows, _ = json.JSONDecoder().raw_decode(html, html.index(marker) + len(marker))
    return [[str(cell) for cell in row] for row in rows]


def test_too_few_rows_give_no_verdict(
    registry: ModelRegistry, features: pd.DataFrame, settings: Settings
) -> None:
    summary, html = run(registry, traffic(registry.load_champion(), features, 10), settings)
    assert summary.status == "insufficient_data"
    assert summary.exit_code == ExitCode.INSUFFICIENT_DATA
    assert "not enough data: 10 rows" in summary.headline()
    assert html is None


def test_unknown_and_missing_columns_are_refused(
    registry: ModelRegistry, features: pd.DataFrame, settings: Settings, numeric_feature: str
) -> None:
    current = traffic(registry.load_champion(), features, 100)
    with pytest.raises(MonitoringError, match=r"unknown column.*'surprise'"):
        run(registry, current.assign(surprise=1.0), settings)
    with pytest.raises(MonitoringError, match="missing feature column"):
        run(registry, current.drop(columns=[numeric_feature]), settings)


def test_a_corrupt_reference_is_refused(
    registry: ModelRegistry, features: pd.DataFrame, settings: Settings
) -> None:
    model = registry.load_champion()
    reference = registry.reference(model.version).drop(columns=[PREDICTION_COLUMN])
    current = traffic(model, features, 100)
    with pytest.raises(MonitoringError, match="reference of model v1 is corrupt: no column"):
        detect_drift(reference, current, model.metadata, settings, WINDOW)
    holes = registry.reference(model.version)
    holes.loc[0, PREDICTION_COLUMN] = None
    with pytest.raises(MonitoringError, match="corrupt: missing predictions"):
        detect_drift(holes, current, model.metadata, settings, WINDOW)


def test_reports_are_complete_files(
    registry: ModelRegistry, features: pd.DataFrame, settings: Settings, schema: FeatureSchema
) -> None:
    summary, html = run(registry, traffic(registry.load_champion(), features, 1000), settings)
    assert html is not None
    written = write_reports(summary, html, settings.reports_dir)
    html_name = str(written.report_html)
    files = {path.name for path in settings.reports_dir.iterdir()}
    assert files == {html_name, html_name.replace(".html", ".json"), "latest.json"}
    latest = json.loads((settings.reports_dir / "latest.json").read_text())
    assert latest["status"] == "no_drift"
    assert len(latest["features"]) == len(schema.features)
    assert latest["report_html"] == written.report_html
    page = (settings.reports_dir / str(written.report_html)).read_text()
    assert page.lstrip().startswith("<!DOCTYPE html>")
    assert schema.names[0] in page


def test_only_the_newest_reports_are_kept(
    registry: ModelRegistry, features: pd.DataFrame, settings: Settings
) -> None:
    summary, html = run(registry, traffic(registry.load_champion(), features, 600), settings)
    assert html is not None
    runs = []
    for _ in range(3):
        summary = summary.model_copy(update={"generated_at": datetime.now(UTC)})
        live = "<!DOCTYPE html><p>live performance</p>"
        written = write_reports(summary, html, settings.reports_dir, keep=2, performance_html=live)
        runs.append((str(written.report_html), str(written.performance_html)))
    kept = {path.name for path in settings.reports_dir.iterdir()}
    newest = [
        name for page, live_page in runs[1:] for name in (page, page[:-4] + "json", live_page)
    ]
    assert kept == {*newest, "latest.json"}
    assert runs[-1][1] == runs[-1][0].replace("drift-", "performance-")


def test_csv_windows_get_predictions_added(
    registry: ModelRegistry, features: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "batch.csv"
    features.head(30).to_csv(path, index=False)
    frame, window = from_csv(path, registry.load_champion())
    assert window.source == str(path)
    assert frame[PREDICTION_COLUMN].notna().all()


def test_a_category_mix_shift_drifts_that_column_and_gaps_are_reported(
    settings: Settings, tmp_path: Path
) -> None:
    mixed, registry = mixed_table_champion(settings, tmp_path)
    model = registry.load_champion()
    table = pd.read_csv(mixed.data_path)
    current = traffic(model, table, 1000, {"plan": ("gold", 0.4)})
    current.loc[current.index[:300], "tenure months"] = None
    summary, html = run(registry, current, mixed.model_copy(update={"drift_share_threshold": 0.5}))
    assert summary.drifted_features == ["plan"]
    plan, tenure, _auto_pay = summary.features
    assert plan.method == "jensenshannon"
    assert plan.unknown_share == pytest.approx(0.5, abs=0.07)  # 40% gold, 20% null
    assert tenure.missing_share is not None and tenure.missing_share >= 0.3
    assert tenure.reference_missing_share == pytest.approx(0.1, abs=0.03)
    notes = summary.quality_notes()
    assert any(note.startswith("'plan': ") and "unknown categories" in note for note in notes)
    assert any(note.startswith("'tenure months': ") and "missing" in note for note in notes)
    assert html is not None and drift_chart("plan") in html


def test_a_column_emptied_upstream_drifts_and_is_all_missing(
    settings: Settings, tmp_path: Path
) -> None:
    """No value left to test: drifted, 100 % missing, other shares unmeasured (not NaN)."""
    mixed, registry = mixed_table_champion(settings, tmp_path)  # gaps in "plan" and "tenure"
    current = traffic(registry.load_champion(), pd.read_csv(mixed.data_path), 600)
    emptied = ["plan", "tenure months"]
    current[emptied] = None
    summary, html = run(registry, current, mixed)
    assert html is not None and set(emptied) <= set(summary.drifted_features)
    for column in [feature for feature in summary.features if feature.column in emptied]:
        assert (column.score, column.missing_share) == (None, 1.0)
        assert column.unknown_share is None and column.out_of_range_share is None
    notes = "\n".join(summary.quality_notes())
    assert notes.count("100.0% missing") == 2 and not re.search(r"\bnan\b", notes)
    # The drift workflow's GitHub issue lists them too.
    issue = drift_issue.issue_body(json.loads(summary.model_dump_json()), "https://run")
    assert "| plan | none | none: no values | none: no values |" in issue


def test_numbers_far_outside_the_training_range_are_a_quality_note(
    registry: ModelRegistry, features: pd.DataFrame, settings: Settings, schema: FeatureSchema
) -> None:
    """A unit change upstream (x 1000) puts a number outside its plausible range."""
    numeric = next(feature for feature in schema.features if feature.kind == "numeric")
    current = traffic(registry.load_champion(), features, 600)
    calm, _html = run(registry, current, settings)
    current[numeric.name] *= 1000
    broken, _html = run(registry, current, settings)
    [before] = [feature for feature in calm.features if feature.column == numeric.name]
    [after] = [feature for feature in broken.features if feature.column == numeric.name]
    assert before.out_of_range_share == 0
    assert after.out_of_range_share is not None and after.out_of_range_share > 0.5
    assert f"{numeric.name!r}: " in "\n".join(broken.quality_notes())
    assert "far outside the training range" in "\n".join(broken.quality_notes())
