"""Retraining data: labelled traffic joins the table, split by time, leak-free and weighted;
a challenger that learns a changed world from it wins the gate, and one that learned a
labelling glitch since fixed does not."""

import pandas as pd
import pytest
from typer.testing import CliRunner

from {{ cookiecutter.package_name }} import audit
from {{ cookiecutter.package_name }}.cli import app
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data import load_dataset
from {{ cookiecutter.package_name }}.evaluation import (
    PRIMARY_METRIC,
    at_least_as_good,
    score_labels,
)
from {{ cookiecutter.package_name }}.io.registry import ModelRegistry
from {{ cookiecutter.package_name }}.model import LoadedModel
from {{ cookiecutter.package_name }}.monitoring.prediction_log import create_db_engine
from {{ cookiecutter.package_name }}.monitoring.retraining_data import (
    TrainingData,
    from_table,
    labelled_traffic,
    with_labelled_traffic,
)
from {{ cookiecutter.package_name }}.monitoring.traffic import Truth, sample_truths
from {{ cookiecutter.package_name }}.schema import PREDICTION_COLUMN

from .helpers import empty_postgres, log_labelled, traffic

MIN_LABELS = 100


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The test's settings, with the log on SQLite, then PostgreSQL (TEST_POSTGRES_URL)."""
    if request.param == "sqlite":
        return settings
    return settings.model_copy(update={"database_url": empty_postgres()})


def world(
    model: LoadedModel, settings: Settings, rows: int, concept_shift: float, seed: int
) -> tuple[pd.DataFrame, list[Truth]]:
    """Records scored by ``model``, and their true labels in a world shifted that much."""
    dataset = load_dataset(settings)
    scored = traffic(model, dataset.features, rows, seed=seed)
    schema = model.metadata.feature_schema
    return scored, sample_truths(dataset, schema, rows, seed, concept_shift)


def joined(settings: Settings) -> tuple[TrainingData, TrainingData]:
    """The table alone, and the table joined by the labelled traffic of the retraining window."""
    table = from_table(load_dataset(settings), settings)
    traffic_rows = labelled_traffic(settings)
    return table, with_labelled_traffic(table, traffic_rows, settings)


def live_score(model: LoadedModel, scored: pd.DataFrame, truths: list[Truth]) -> float:
    predicted = [p.prediction for p in model.predict(scored.drop(columns=PREDICTION_COLUMN))]
    return score_labels(pd.Series(truths), pd.Series(predicted))[PRIMARY_METRIC]


def test_the_newest_labels_are_held_out_none_is_learned_twice_and_the_share_holds(
    registry: ModelRegistry, settings: Settings
) -> None:
    settings = settings.model_copy(update={"performance_min_labels": MIN_LABELS})
    engine = create_db_engine(settings.database_url)
    model = registry.load_champion()
    scored, truths = world(model, settings, rows=250, concept_shift=0.0, seed=3)
    log_labelled(engine, model.version, scored, truths, "batch-1")
    table, data = joined(settings)
    assert (data.labelled_rows, data.held_out_rows) == (250, 50)  # APP_TEST_SIZE of them
    learned = 250 - 50 - data.left_out_rows
    assert len(data.split.train_features) == len(table.split.train_features) + learned
    assert len(data.split.test_features) == len(table.split.test_features) + 50
    # Held out: the newest 50 (by log order), so the gate scores on what came after.
    schema = table.schema
    newest = schema.normalise(scored.drop(columns=PREDICTION_COLUMN).tail(50), "traffic")
    held_out = data.split.test_features.tail(50)
    assert held_out.astype(str).to_numpy().tolist() == newest.astype(str).to_numpy().tolist()
    # Sampled traffic repeats rows; a repeat of a held-out row is never learned from.
    learned_rows = set(map(tuple, data.split.train_features.tail(learned).astype(str).to_numpy()))
    assert not learned_rows & set(map(tuple, data.split.test_features.astype(str).to_numpy()))
    for weights, traffic_rows in [
        (data.split.train_weights, learned),
        (data.split.test_weights, 50),
    ]:
        assert weights is not None
        assert weights.tail(traffic_rows).sum() / weights.sum() == pytest.approx(
            settings.retrain_traffic_share
        )
    assert data.dataset.sha256 != table.dataset.sha256  # the unchanged-data skip can't block it
    assert "learning from" in data.describe(250, settings)


def test_too_few_labels_leave_the_table_alone(registry: ModelRegistry, settings: Settings) -> None:
    settings = settings.model_copy(update={"performance_min_labels": MIN_LABELS})
    model = registry.load_champion()
    scored, truths = world(model, settings, rows=MIN_LABELS - 1, concept_shift=0.0, seed=3)
    log_labelled(create_db_engine(settings.database_url), model.version, scored, truths, "b")
    table, data = joined(settings)
    assert data is table
    assert f"{MIN_LABELS - 1} labelled predictions" in data.describe(MIN_LABELS - 1, settings)
    assert "training on the table alone" in data.describe(MIN_LABELS - 1, settings)


def test_a_traffic_share_of_zero_trains_on_the_table_alone(
    registry: ModelRegistry, settings: Settings
) -> None:
    settings = settings.model_copy(
        update={"performance_min_labels": MIN_LABELS, "retrain_traffic_share": 0.0}
    )
    model = registry.load_champion()
    scored, truths = world(model, settings, rows=MIN_LABELS, concept_shift=0.0, seed=3)
    log_labelled(create_db_engine(settings.database_url), model.version, scored, truths, "b")
    table, data = joined(settings)
    assert data is table
    assert labelled_traffic(settings).empty  # though the log holds labelled predictions
    assert "APP_RETRAIN_TRAFFIC_SHARE=0" in data.describe(0, settings)


def test_a_challenger_learns_a_changed_world_from_the_labels_and_is_promoted(
    cli: CliRunner, registry: ModelRegistry, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_PERFORMANCE_MIN_LABELS", str(MIN_LABELS))
    champion = registry.load_champion()
    scored, truths = world(champion, settings, rows=600, concept_shift=0.5, seed=3)
    log_labelled(create_db_engine(settings.database_url), champion.version, scored, truths, "b")
    result = cli.invoke(app, ["retrain", "--reason", "labels came back"])
    assert result.exit_code == 0, result.output
    assert "promoted: challenger" in result.stdout
    decision = audit.read(registry.audit_log)[-1]
    assert (decision["promoted"], decision["labelled_rows"]) == (True, 600)
    assert registry.champion() == "v2"
    # On new traffic of the changed world, the new champion does better than the old one.
    fresh, fresh_truths = world(champion, settings, rows=400, concept_shift=0.5, seed=4)
    new, old = (live_score(m, fresh, fresh_truths) for m in (registry.load_champion(), champion))
    assert at_least_as_good(new, old) and new != old


def test_a_challenger_that_learned_a_labelling_glitch_is_kept_out(
    cli: CliRunner, registry: ModelRegistry, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Labels went wrong for a while, then were fixed: the newest ones, held out, are right."""
    monkeypatch.setenv("APP_PERFORMANCE_MIN_LABELS", str(MIN_LABELS))
    champion = registry.load_champion()
    engine = create_db_engine(settings.database_url)
    glitch, wrong = world(champion, settings, rows=480, concept_shift=0.5, seed=3)
    log_labelled(engine, champion.version, glitch, wrong, "during-the-glitch")
    fixed, right = world(champion, settings, rows=120, concept_shift=0.0, seed=4)
    log_labelled(engine, champion.version, fixed, right, "after-the-fix")
    result = cli.invoke(app, ["retrain"])
    assert result.exit_code == 0, result.output
    assert "kept v1: challenger" in result.stdout
    assert "worse than champion" in result.stdout
    assert registry.champion() == "v1"
    assert audit.read(registry.audit_log)[-1]["labelled_rows"] == 600
