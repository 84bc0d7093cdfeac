"""Live performance: labelled predictions are read back, scored against the held-out metrics,
and a drop is the monitor's verdict of its own (exit 5)."""

import json

{% if cookiecutter.__task == "regression" -%}
import numpy as np
{% endif -%}
import pandas as pd
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import app
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.evaluation import PRIMARY_METRIC
from {{ cookiecutter.package_name }}.io.registry import ModelRegistry
from {{ cookiecutter.package_name }}.model import LoadedModel
from {{ cookiecutter.package_name }}.monitoring.labels import (
    LABEL_COLUMN,
    Label,
    UnknownPredictionError,
    read_labelled,
    record_labels,
)
from {{ cookiecutter.package_name }}.monitoring.performance import assess
from {{ cookiecutter.package_name }}.monitoring.prediction_log import create_db_engine
from {{ cookiecutter.package_name }}.monitoring.traffic import Truth
from {{ cookiecutter.package_name }}.schema import PREDICTION_COLUMN

from .helpers import log_labelled, traffic


def wrong(prediction: Truth, model: LoadedModel) -> Truth:
    """A label the model did not predict."""
{%- if cookiecutter.__task == "classification" %}
    return next(label for label in model.metadata.classes if label != prediction)
{%- else %}
    del model
    return prediction + 1000.0
{%- endif %}


def log_and_label(
    engine: Engine, model: LoadedModel, features: pd.DataFrame, rows: int, right: float
) -> None:
    """Log ``rows`` predictions as one batch request, and label them: ``right`` of them truly."""
    scored = traffic(model, features, rows)
    outputs = scored[PREDICTION_COLUMN].tolist()
    truths = [o if i < right * rows else wrong(o, model) for i, o in enumerate(outputs)]
    log_labelled(engine, model.version, scored, truths, "batch-1")


def test_labels_are_read_back_beside_their_predictions(
    registry: ModelRegistry, settings: Settings, features: pd.DataFrame
) -> None:
    engine = create_db_engine(settings.database_url)
    model = registry.load_champion()
    log_and_label(engine, model, features, rows=10, right=0.5)
    labelled = read_labelled(engine, since=pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=1))
    assert len(labelled) == 10
{%- if cookiecutter.__task == "classification" %}
    agree = labelled[PREDICTION_COLUMN] == labelled[LABEL_COLUMN]
{%- else %}
    # SQLite's JSON functions keep 15 significant digits of the logged value
    agree = pd.Series(np.isclose(labelled[PREDICTION_COLUMN], labelled[LABEL_COLUMN]))
{%- endif %}
    assert agree.tolist() == [True] * 5 + [False] * 5
    with pytest.raises(UnknownPredictionError, match="at position 10"):
        record_labels(engine, [Label("batch-1", 10, labelled[LABEL_COLUMN][0])])


@pytest.mark.parametrize(
    ("right", "rows", "status"),
    [(1.0, 40, "ok"), (0.2, 40, "degraded"), (0.2, 10, "insufficient_labels")],
)
def test_the_verdict_compares_the_primary_metric_with_the_held_out_one(
    registry: ModelRegistry, features: pd.DataFrame, right: float, rows: int, status: str
) -> None:
    model = registry.load_champion()
    scored = traffic(model, features, rows)
    outputs = scored[PREDICTION_COLUMN].tolist()
    truths = [o if i < right * rows else wrong(o, model) for i, o in enumerate(outputs)]
    labelled = pd.DataFrame(
        {
            "model_version": model.version,
            PREDICTION_COLUMN: outputs,
            LABEL_COLUMN: truths,
            "features": scored.drop(columns=PREDICTION_COLUMN).to_dict("records"),
        }
    )
    other_version = labelled.assign(model_version="v0")  # not the champion's: left out
    checked = assess(pd.concat([labelled, other_version]), model, 20, 0.1)
    assert checked.status == status
    assert checked.labelled_rows == rows
    assert checked.held_out == model.metadata.metrics
    if status != "insufficient_labels":
        # the held-out metrics, live (ROC-AUC once the labels hold every class)
        assert set(checked.live) >= set(model.metadata.metrics) - {"roc_auc"}
        assert checked.headline().startswith(f"performance {status}: {PRIMARY_METRIC} ")
{%- if cookiecutter.__task == "classification" %}


def test_live_roc_auc_scores_the_logged_features_again(
    registry: ModelRegistry, features: pd.DataFrame
) -> None:
    """The log holds no probabilities: the champion scores the logged records again."""
    model = registry.load_champion()
    scored = traffic(model, features, 200)
    records = scored.drop(columns=PREDICTION_COLUMN)
    truths = scored[PREDICTION_COLUMN].tolist()  # labels = predictions, but one
    truths[0] = wrong(truths[0], model)
    labelled = pd.DataFrame(
        {
            "model_version": model.version,
            PREDICTION_COLUMN: scored[PREDICTION_COLUMN],
            LABEL_COLUMN: truths,
            "features": records.to_dict("records"),
        }
    )
    live = assess(labelled, model, 20, 0.1).live
    assert 0.5 < live["roc_auc"] <= 1.0
    one_class = labelled[labelled[LABEL_COLUMN] == labelled[LABEL_COLUMN].mode()[0]]
    assert "roc_auc" not in assess(one_class, model, 20, 0.1).live  # undefined: left out
{%- endif %}


@pytest.mark.parametrize("drift_min_rows", [50, 1000], ids=["drift-verdict", "too-few-for-drift"])
def test_monitor_exits_5_when_the_labels_say_the_model_got_worse(
    cli: CliRunner,
    registry: ModelRegistry,
    settings: Settings,
    features: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
    drift_min_rows: int,
) -> None:
    """With or without a drift verdict, the drop is reported, paged and in latest.json."""
    monkeypatch.setenv("APP_PERFORMANCE_MIN_LABELS", "30")
    monkeypatch.setenv("APP_DRIFT_MIN_ROWS", str(drift_min_rows))
    engine = create_db_engine(settings.database_url)
    log_and_label(engine, registry.load_champion(), features, rows=60, right=0.2)
    result = cli.invoke(app, ["monitor", "--hours", "1"])
    assert result.exit_code == 5, result.stdout
    assert f"performance degraded: {PRIMARY_METRIC} " in result.stdout
    assert "on 60 labelled predictions" in result.stdout
    assert "diagnosis: model problem: the model got worse on labelled traffic" in result.stdout
    latest = json.loads((settings.reports_dir / "latest.json").read_text())
    assert latest["performance"]["status"] == "degraded"
    assert (latest["report_html"] is None) == (drift_min_rows > 60)  # no drift verdict, no page
    page = (settings.reports_dir / latest["performance_html"]).read_text()  # Evidently's report
    assert page.startswith("<html>") or page.lstrip().lower().startswith("<!doctype html")
    assert "{{ "F1" if cookiecutter.__task == "classification" else "MAE" }}" in page
