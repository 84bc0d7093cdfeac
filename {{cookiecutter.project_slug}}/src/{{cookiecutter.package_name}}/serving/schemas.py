"""Request and response bodies of the API.

Feature names depend on the model being served (a promotion may change them), so requests
carry a ``features`` mapping; its keys are checked against the model's schema per request.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from {{ cookiecutter.package_name }}.model import Prediction

FeatureValue = Annotated[float, Field(strict=True, allow_inf_nan=False)]
"""A finite number: strings, booleans, null, NaN and ±Infinity are refused with 422."""

Record = dict[str, FeatureValue]


class PredictRequest(BaseModel):
    """One record to score."""

    features: Record = Field(examples=[{"feature_1": 1.0, "feature_2": 0.5}])


class BatchPredictRequest(BaseModel):
    """Several records to score in one call."""

    records: list[Record] = Field(min_length=1)


class PredictResponse(Prediction):
    """The prediction for one record."""

    request_id: str
    model_version: str


class BatchPredictResponse(BaseModel):
    """Predictions in the order of the records."""

    request_id: str
    model_version: str
    predictions: list[Prediction]


class ErrorResponse(BaseModel):
    """An error, with its reason."""

    detail: str


class HealthResponse(BaseModel):
    """The process is alive."""

    status: Literal["ok"] = "ok"


class ReadyResponse(BaseModel):
    """Whether a model is loaded; ``reason`` says why not."""

    status: Literal["ready", "not_ready"]
    model_version: str | None = None
    reason: str | None = None


class ReloadResponse(BaseModel):
    """Result of an admin reload."""

    model_version: str
    changed: bool
