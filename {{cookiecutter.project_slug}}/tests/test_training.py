"""Pipeline, training split, metrics and the gate's comparison rule."""

import json

{% if cookiecutter.__task == "classification" -%}
import numpy as np
import pandas as pd
{% endif -%}
import pytest
{%- if cookiecutter.__task == "classification" %}
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
{%- endif %}

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data import load_dataset
from {{ cookiecutter.package_name }}.evaluation import (
    HIGHER_IS_BETTER,
    PRIMARY_METRIC,
    at_least_as_good,
{%- if cookiecutter.__task == "classification" %}
    roc_auc,
    score_labels,
{%- endif %}
)
from {{ cookiecutter.package_name }}.model import LoadedModel
from {{ cookiecutter.package_name }}.schema import PREDICTION_COLUMN
from {{ cookiecutter.package_name }}.serving.contract import RequestContract
from {{ cookiecutter.package_name }}.train import fit_model, split_dataset


def test_pipeline_scores_a_schema_ordered_array_like_a_table(settings: Settings) -> None:
    """The API's path (an array built from records) and the files' path (a DataFrame) agree."""
    dataset = load_dataset(settings)
    split = split_dataset(dataset, settings)
    trained = fit_model(dataset, split, settings)
    model = LoadedModel(metadata=trained.metadata, pipeline=trained.pipeline)
    schema = trained.metadata.feature_schema
    from_table = model.predict(split.test_features, "held-out split")
    records = schema.records(split.test_features, "held-out split")
    contract = RequestContract(schema, max_batch_size=len(records))
    body = json.dumps({"records": records}).encode()
    from_records = model.predict_matrix(contract.parse_batch(body).matrix)
    assert from_records == from_table
    assert len(from_table) == len(split.test_features)


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
{%- if cookiecutter.__task == "classification" %}
    assert 0.5 < metadata.metrics["accuracy"] <= 1.0
    assert 0.5 < metadata.metrics["roc_auc"] <= 1.0
    assert set(trained.reference[PREDICTION_COLUMN]) <= set(metadata.classes)
{%- else %}
    assert metadata.metrics["r2"] > 0.2
    assert metadata.metrics["rmse"] > metadata.metrics["mae"] > 0
{%- endif %}
    schema = metadata.feature_schema
    assert {*schema.names, *(c.name for c in schema.excluded)} == set(dataset.features.columns)
    assert metadata.training_rows == len(split.train_features)
    assert list(trained.reference.columns) == [*metadata.feature_schema.names, PREDICTION_COLUMN]
    assert len(trained.reference) == min(settings.reference_rows, len(split.train_features))


def test_gate_rule_respects_metric_direction_and_tolerance() -> None:
    better, worse = (0.9, 0.8) if HIGHER_IS_BETTER else (0.8, 0.9)
    assert at_least_as_good(better, worse)
    assert at_least_as_good(0.85, 0.85)
    assert not at_least_as_good(worse, better)
    assert at_least_as_good(worse, better, tolerance=0.2)
{%- if cookiecutter.__task == "classification" %}


def test_text_labels_score_as_scikit_learn_scores_them(settings: Settings) -> None:
    """The metrics run on integer codes of text labels (faster): the scores are the same."""
    rng = np.random.default_rng(0)
    actual, predicted = (rng.choice(["no", "yes", "maybe"], 500) for _ in range(2))
    weights = pd.Series(rng.random(500))
    assert score_labels(pd.Series(actual), predicted, weights) == {
        "accuracy": accuracy_score(actual, predicted, sample_weight=weights),
        "f1_macro": f1_score(actual, predicted, average="macro", sample_weight=weights),
    }
    dataset = load_dataset(settings)
    split = split_dataset(dataset, settings)
    trained = fit_model(dataset, split, settings)
    features = trained.held_out
    probabilities = trained.pipeline.predict_proba(features)
    classes = list(trained.pipeline.classes_)
    expected = (
        roc_auc_score(split.test_target, probabilities[:, 1])
        if len(classes) == 2  # binary: the positive class's probability alone
        else roc_auc_score(split.test_target, probabilities, multi_class="ovr", labels=classes)
    )
    assert roc_auc(trained.pipeline, features, split.test_target) == expected
{%- endif %}
