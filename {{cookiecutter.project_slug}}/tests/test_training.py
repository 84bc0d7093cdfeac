"""Feature schema, pipeline, training split, metrics and the gate's comparison rule."""

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data import PREDICTION_COLUMN, load_dataset
from {{ cookiecutter.package_name }}.errors import DataError
from {{ cookiecutter.package_name }}.evaluation import (
    HIGHER_IS_BETTER,
    PRIMARY_METRIC,
    at_least_as_good,
)
from {{ cookiecutter.package_name }}.features import FeatureSchema
from {{ cookiecutter.package_name }}.train import fit_model, split_dataset


def test_schema_describes_each_column() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 0.0, 3.0]})
    schema = FeatureSchema.from_frame(frame)
    assert schema.names == ["a", "b"]
    assert schema.features[0].mean == 2.0
    assert schema.features[1].max == 3.0


def test_select_orders_columns_and_names_missing_ones() -> None:
    schema = FeatureSchema.from_frame(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}))
    reordered = schema.select(pd.DataFrame({"b": [1], "a": [2], "extra": [3]}), "test")
    assert list(reordered.columns) == ["a", "b"]
    with pytest.raises(DataError, match=r"missing feature column.*'b'"):
        schema.select(pd.DataFrame({"a": [1.0]}), "test")


def test_split_is_reproducible(settings: Settings) -> None:
    dataset = load_dataset(settings)
    first, second = split_dataset(dataset, settings), split_dataset(dataset, settings)
    assert first.test_features.index.equals(second.test_features.index)
    expected = len(dataset.features) * settings.test_size
    assert len(first.test_features) == pytest.approx(expected, abs=1)


def test_fit_model_measures_and_samples_a_reference(settings: Settings) -> None:
    dataset = load_dataset(settings)
    split = split_dataset(dataset, settings)
    trained = fit_model(dataset, split, settings)
    metadata = trained.metadata
    assert PRIMARY_METRIC in metadata.metrics
{%- if cookiecutter.task == "classification" %}
    assert 0.5 < metadata.metrics["accuracy"] <= 1.0
    assert 0.5 < metadata.metrics["roc_auc"] <= 1.0
    assert set(trained.reference[PREDICTION_COLUMN]) <= set(metadata.classes)
{%- else %}
    assert metadata.metrics["r2"] > 0.2
    assert metadata.metrics["rmse"] > metadata.metrics["mae"] > 0
{%- endif %}
    assert metadata.feature_schema.names == list(dataset.features.columns)
    assert metadata.training_rows == len(split.train_features)
    assert list(trained.reference.columns) == [*metadata.feature_schema.names, PREDICTION_COLUMN]
    assert len(trained.reference) == min(settings.reference_rows, len(split.train_features))


def test_gate_rule_respects_metric_direction_and_tolerance() -> None:
    better, worse = (0.9, 0.8) if HIGHER_IS_BETTER else (0.8, 0.9)
    assert at_least_as_good(better, worse)
    assert at_least_as_good(0.85, 0.85)
    assert not at_least_as_good(worse, better)
    assert at_least_as_good(worse, better, tolerance=0.2)
