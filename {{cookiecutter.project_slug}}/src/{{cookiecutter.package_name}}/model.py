"""A trained model: its pipeline, its metadata, and how it turns features into predictions."""

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from pydantic import BaseModel
from sklearn.pipeline import Pipeline

from {{ cookiecutter.package_name }}.features import FeatureSchema


class ModelMetadata(BaseModel):
    """Everything known about one model version; stored as ``metadata.json`` beside it."""

    version: str
    created_at: datetime
    task: str
    dataset: str
    target: str
{%- if cookiecutter.task == "classification" %}
    classes: list[str]
{%- endif %}
    feature_schema: FeatureSchema
    metrics: dict[str, float]
    primary_metric: str
    training_rows: int
    test_rows: int
    sha256: str
    library_versions: dict[str, str]
{%- if cookiecutter.task == "classification" %}


class Prediction(BaseModel):
    """One predicted class with the probability of every class."""

    prediction: str
    probabilities: dict[str, float]
{%- else %}


class Prediction(BaseModel):
    """One predicted value."""

    prediction: float
{%- endif %}


@dataclass(frozen=True)
class LoadedModel:
    """A model version in memory, ready to predict."""

    metadata: ModelMetadata
    pipeline: Pipeline

    @property
    def version(self) -> str:
        """The registry version, e.g. ``v3``."""
        return self.metadata.version

    def predict(self, records: pd.DataFrame, source: str = "input") -> list[Prediction]:
        """Predict every row of ``records`` (validated against the feature schema)."""
        features = self.metadata.feature_schema.select(records, source)
{%- if cookiecutter.task == "classification" %}
        classes = [str(label) for label in self.pipeline.classes_]
        probabilities = self.pipeline.predict_proba(features)
        return [
            Prediction(
                prediction=classes[int(row.argmax())],
                probabilities={label: float(p) for label, p in zip(classes, row, strict=True)},
            )
            for row in probabilities
        ]
{%- else %}
        return [Prediction(prediction=float(value)) for value in self.pipeline.predict(features)]
{%- endif %}
