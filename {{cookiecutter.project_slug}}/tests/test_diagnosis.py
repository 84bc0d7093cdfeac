"""Diagnosis: data problem, model problem, input drift or healthy, each with its action and
runbook section; a data problem is never retrained on."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.cli import app
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.evaluation import PRIMARY_METRIC
from {{ cookiecutter.package_name }}.io.registry import open_registry
from {{ cookiecutter.package_name }}.monitoring.diagnosis import diagnose
from {{ cookiecutter.package_name }}.monitoring.drift import (
    ColumnDrift,
    DriftStatus,
    DriftSummary,
)
from {{ cookiecutter.package_name }}.monitoring.performance import (
    LivePerformance,
    PerformanceStatus,
)
from {{ cookiecutter.package_name }}.monitoring.window import Window

from .conftest import cli_runner
from .helpers import mixed_table_settings, traffic, train_version


def check(
    status: DriftStatus,
    performance: PerformanceStatus | None = None,
    missing: float = 0.0,
    unknown: float = 0.0,
    out_of_range: float = 0.0,
) -> DriftSummary:
    """The summary of a check with one feature, its data quality, and its live performance."""
    feature = ColumnDrift(
        column="x",
        method="wasserstein",
        score=0.5 if status == "drift" else 0.01,
        threshold=0.2,
        drifted=status == "drift",
        missing_share=0.02 + missing,
        reference_missing_share=0.02,
        unknown_share=unknown,
        out_of_range_share=out_of_range,
    )
    live = None
    if performance is not None:
        live = LivePerformance(
            status=performance,
            model_version="v1",
            labelled_rows=300,
            min_labels=200,
            metric=PRIMARY_METRIC,
            max_drop=0.2,
        )
    return DriftSummary(
        status=status,
        generated_at=datetime.now(UTC),
        model_version="v1",
        window=Window(source="test"),
        current_rows=0 if status == "insufficient_data" else 1000,
        reference_rows=500,
        min_rows=500,
        share_threshold=0.25,
        drifted_features=["x"] if status == "drift" else [],
        features=[] if status == "insufficient_data" else [feature],
        performance=live,
    )


@pytest.mark.parametrize(
    ("summary", "kind", "says"),
    [
        (check("drift", "degraded", unknown=0.3), "data_problem", "'x'"),
        (check("no_drift", "ok", missing=0.1), "data_problem", "'x'"),
        (check("drift", "ok", out_of_range=0.2), "data_problem", "far-out numbers in 'x'"),
        (check("no_drift", "degraded"), "model_problem", "the inputs did not drift"),
        (check("drift", "degraded"), "model_problem", "the inputs drifted too"),
        (check("insufficient_data", "degraded"), "model_problem", "did not drift"),
        (check("drift", "ok"), "input_drift", "the labels show no drop"),
        (check("drift", "insufficient_labels"), "input_drift", "too few labels"),
        (check("drift"), "input_drift", "too few labels"),
        (check("no_drift", "ok", missing=0.04, unknown=0.04, out_of_range=0.04), "healthy", "no"),
        (check("no_drift"), "healthy", "no drift, clean data"),
        (check("insufficient_data", "insufficient_labels"), "no_verdict", "too little"),
    ],
)
def test_each_check_gets_one_diagnosis_with_its_action(
    summary: DriftSummary, kind: str, says: str
) -> None:
    diagnosis = diagnose(summary, max_quality_share=0.05)
    assert diagnosis.kind == kind
    assert says in diagnosis.reason
    first, second = diagnosis.lines()
    assert first.startswith(f"diagnosis: {kind.replace('_', ' ')}: ")
    assert second == f"action: {diagnosis.action} ({diagnosis.runbook})"
    assert diagnosis.runbook.startswith("docs/runbook.md#")


def test_monitor_reports_a_data_problem_and_does_not_retrain_on_it(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mixed = mixed_table_settings(settings, tmp_path)  # a table with categories and gaps
    registry = open_registry(mixed)
    registry.promote(train_version(registry, mixed)[0].version, reason="test")
    # Upstream broke: a plan the model never saw, and half the tenures lost.
    current = traffic(
        registry.load_champion(), pd.read_csv(mixed.data_path), 600, {"plan": ("gold", 0.9)}
    )
    current.loc[current.index[:300], "tenure months"] = None
    window = tmp_path / "window.csv"
    current.to_csv(window, index=False)
    result = cli_runner(mixed, monkeypatch).invoke(
        app, ["monitor", "--input", str(window), "--retrain"]
    )
    assert result.exit_code == 3, result.output  # the drift verdict stays the exit code
    reason = "diagnosis: data problem: unknown categories, new gaps or far-out numbers in 'plan', "
    reason += "'tenure months'"
    assert reason in result.stdout
    assert "(docs/runbook.md#data-problem)" in result.stdout
    assert "not retraining: a model retrained on broken data would learn it" in result.stdout
    assert registry.versions() == ["v1"]
    latest = json.loads((mixed.reports_dir / "latest.json").read_text())
    assert latest["diagnosis"]["kind"] == "data_problem"
