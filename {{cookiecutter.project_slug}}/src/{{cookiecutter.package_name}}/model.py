"""A trained model: its pipeline, its metadata, and how it turns features into predictions."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel
from sklearn.pipeline import Pipeline

from {{ cookiecutter.package_name }}.config import PreprocessingRuntime
from {{ cookiecutter.package_name }}.errors import DataError
from {{ cookiecutter.package_name }}.schema import FeatureSchema

if TYPE_CHECKING:
    import pandas as pd

    from {{ cookiecutter.package_name }}.preprocessing_onnx import OnnxPreprocessing


class ModelMetadata(BaseModel):
    """Everything known about one model version; stored as ``metadata.json`` in its MLflow run."""

    version: str
    run_id: str = ""
    created_at: datetime
    task: str
    dataset: str
    data_sha256: str
    settings_sha256: str = ""
    """SHA-256 of the settings that shape a model besides its data (``train.TRAINING_SETTINGS``)."""
    target: str
{%- if cookiecutter.__task == "classification" %}
    classes: list[str]
{%- endif %}
    feature_schema: FeatureSchema
    metrics: dict[str, float]
    primary_metric: str
    training_rows: int
    test_rows: int
    sha256: str
    onnx_sha256: str | None = None
    """SHA-256 of the preprocessing's ONNX export; None: the version has none."""
    library_versions: dict[str, str]
{%- if cookiecutter.__task == "classification" %}


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
    preprocessing: "OnnxPreprocessing | None" = None
    """The pipeline's preprocessing run by ONNX Runtime (faster), or None: scikit-learn's."""

    @property
    def version(self) -> str:
        """The registry version, e.g. ``v3`` (MLflow model version 3)."""
        return self.metadata.version

    @property
    def preprocessing_runtime(self) -> PreprocessingRuntime:
        """What runs the pipeline's preprocessing when this model scores."""
        return "scikit-learn" if self.preprocessing is None else "onnx"

    def predict(self, records: "pd.DataFrame", source: str = "input") -> list[Prediction]:
        """Predict every row of a table (checked and converted by the feature schema)."""
        return self.predict_matrix(self.metadata.feature_schema.to_matrix(records, source), source)

    def predict_matrix(self, matrix: npt.NDArray[Any], source: str = "input") -> list[Prediction]:
        """Predict every row of the model's input array (features in schema order).

        Finite values far outside the training range can overflow the preprocessing (beyond
        about 3.4e38 always, with the ONNX preprocessing's float32); such records raise
        :class:`DataError` (a 422 in the API), like any other bad input.
        """
{%- if cookiecutter.__task == "classification" %}
        classes = [str(label) for label in self.pipeline.classes_]
        probabilities = _score(self._method("predict_proba"), matrix, source)
        # Vectorised, then plain Python floats: a batch of 1,000 rows in about a millisecond.
        best = probabilities.argmax(axis=1).tolist()
        return [
            Prediction(
                prediction=classes[index], probabilities=dict(zip(classes, row, strict=True))
            )
            for index, row in zip(best, probabilities.tolist(), strict=True)
        ]
{%- else %}
        values = _score(self._method("predict"), matrix, source)
        return [Prediction(prediction=value) for value in values.tolist()]
{%- endif %}

    def _method(self, name: str) -> Callable[[npt.NDArray[Any]], Any]:
        """The pipeline's method ``name``, with the ONNX preprocessing if there is one."""
        if self.preprocessing is None:
            method: Callable[[npt.NDArray[Any]], Any] = getattr(self.pipeline, name)
            return method
        transform, estimator_method = self.preprocessing.transform, getattr(self.pipeline[-1], name)
        return lambda matrix: estimator_method(transform(matrix))


def _score(
    method: Callable[[npt.NDArray[Any]], Any], matrix: npt.NDArray[Any], source: str
) -> npt.NDArray[np.float64]:
    """Call a scoring method of the pipeline; a non-finite result is bad input, not a crash."""
    problem = f"{source}: values out of the range the model can score"
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow ends as inf: checked below
        try:
            scores = np.asarray(method(matrix), dtype=np.float64)
        except ValueError as exc:  # scikit-learn refuses the inf that an overflow produced
            raise DataError(f"{problem} ({exc})") from None
    if not np.isfinite(scores).all():
        raise DataError(f"{problem} (non-finite output)")
    return scores
