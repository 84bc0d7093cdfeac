"""Infer the feature schema, fit the pipeline on a training split, measure it on the rest.

The schema (which columns are features, their kinds, categories and nullability) is read
from the whole table; the pipeline learns only from the training split.
"""

import hashlib
import json
import logging
import platform
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy.typing as npt
import pandas as pd
import sklearn
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from {{ cookiecutter.package_name }} import __version__
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data import Dataset
from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.evaluation import PRIMARY_METRIC, Weights, evaluate
from {{ cookiecutter.package_name }}.features import build_pipeline
from {{ cookiecutter.package_name }}.model import ModelMetadata
from {{ cookiecutter.package_name }}.preprocessing_onnx import (
    ExportError,
    export_preprocessing,
)
from {{ cookiecutter.package_name }}.schema import PREDICTION_COLUMN, FeatureSchema
from {{ cookiecutter.package_name }}.schema_inference import infer_schema

TASK = "{{ cookiecutter.__task }}"
TRAINING_SETTINGS = frozenset(
    {
        "model_params",
        "feature_kinds",
        "max_categories",
        "test_size",
        "random_seed",
        "retrain_traffic_share",
    }
)
"""Settings that shape a model besides its data: same data, code and settings, same model."""
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Split:
    """Training and held-out parts of a dataset, and their row weights (None: all equal).

    Weights come with labelled traffic (see ``monitoring.retraining_data``): it carries a set
    share of the weight in fitting and in the held-out scores, whatever its row count.
    """

    train_features: pd.DataFrame
    test_features: pd.DataFrame
    train_target: pd.Series
    test_target: pd.Series
    train_weights: Weights = None
    test_weights: Weights = None


@dataclass(frozen=True)
class TrainedModel:
    """A fitted pipeline, its (not yet registered) metadata and its drift reference sample.

    ``held_out`` is the held-out split as the pipeline reads it (``to_matrix``), converted
    once for the metrics, the ONNX check and the evaluation plots. ``preprocessing_onnx`` is
    the pipeline's preprocessing exported to ONNX (what the API runs): see
    :func:`with_onnx_export`. None: not exported.
    """

    pipeline: Pipeline
    metadata: ModelMetadata
    reference: pd.DataFrame
    held_out: npt.NDArray[Any]
    preprocessing_onnx: bytes | None = None


def split_dataset(dataset: Dataset, settings: Settings) -> Split:
    """Split reproducibly (same data and seed, same split){{ ", stratified by class" if cookiecutter.__task == "classification" else "" }}."""
    train_x, test_x, train_y, test_y = train_test_split(
        dataset.features,
        dataset.target,
        test_size=settings.test_size,
        random_state=settings.random_seed,
{%- if cookiecutter.__task == "classification" %}
        # As integer codes in the labels' sorted order: the same split, in half the time.
        stratify=pd.Categorical(dataset.target).codes,
{%- endif %}
    )
    return Split(train_x, test_x, train_y, test_y)


def feature_schema(dataset: Dataset, settings: Settings) -> FeatureSchema:
    """The dataset's feature schema, with the overrides of ``APP_FEATURE_KINDS``."""
    return infer_schema(
        dataset.features, settings.feature_kinds, settings.max_categories, dataset.source
    )


def fit_model(
    dataset: Dataset, split: Split, settings: Settings, schema: FeatureSchema | None = None
) -> TrainedModel:
    """Fit on the training split, evaluate on the held-out split, sample the reference."""
    schema = schema or feature_schema(dataset, settings)
    pipeline = build_pipeline(schema, settings.random_seed)
    _fit(pipeline, schema.to_matrix(split.train_features, dataset.source), split, settings)
    held_out = schema.to_matrix(split.test_features, "held-out split")
    metrics = evaluate(pipeline, held_out, split.test_target, split.test_weights)

    sample_size = min(settings.reference_rows, len(split.train_features))
    sample = split.train_features.sample(n=sample_size, random_state=settings.random_seed)
    reference = schema.normalise(sample, dataset.source)
    reference[PREDICTION_COLUMN] = pipeline.predict(schema.to_matrix(sample, dataset.source))

    metadata = ModelMetadata(
        version="unregistered",
        sha256="",
        created_at=datetime.now(UTC),
        task=TASK,
        dataset=dataset.source,
        data_sha256=dataset.sha256,
        settings_sha256=training_settings_sha256(settings),
        target=str(dataset.target.name),
{%- if cookiecutter.__task == "classification" %}
        classes=[str(label) for label in pipeline.classes_],
{%- endif %}
        feature_schema=schema,
        metrics=metrics,
        primary_metric=PRIMARY_METRIC,
        training_rows=len(split.train_features),
        test_rows=len(split.test_features),
        library_versions={
            "{{ cookiecutter.project_slug }}": __version__,
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "pandas": pd.__version__,
        },
    )
    return TrainedModel(pipeline, metadata, reference, held_out)


def training_settings_sha256(settings: Settings) -> str:
    """A fingerprint of the ``TRAINING_SETTINGS`` values (in any order of their keys)."""
    chosen = settings.model_dump(mode="json", include=set(TRAINING_SETTINGS))
    return hashlib.sha256(json.dumps(chosen, sort_keys=True).encode()).hexdigest()


def with_onnx_export(trained: TrainedModel) -> TrainedModel:
    """``trained`` with its preprocessing exported to ONNX, checked on the held-out split.

    If it cannot be exported, the warning says why, and the API will run scikit-learn's.
    """
    schema = trained.metadata.feature_schema
    try:
        exported = export_preprocessing(trained.pipeline, schema, trained.held_out)
    except ExportError as exc:
        logger.warning("no ONNX export of the preprocessing (the API runs scikit-learn's): %s", exc)
        return trained
    return replace(trained, preprocessing_onnx=exported)


def _fit(pipeline: Pipeline, matrix: npt.NDArray[Any], split: Split, settings: Settings) -> None:
    """Fit ``pipeline`` on the training split, its estimator set to ``APP_MODEL_PARAMS``."""
    params = settings.model_params
    try:
        pipeline.set_params(**{f"model__{name}": value for name, value in params.items()})
        pipeline.fit(matrix, split.train_target, model__sample_weight=split.train_weights)
    except ValueError as exc:  # scikit-learn names the parameter and the values it takes
        if not params:
            raise
        raise ConfigError(f"invalid setting APP_MODEL_PARAMS: {exc}") from None
