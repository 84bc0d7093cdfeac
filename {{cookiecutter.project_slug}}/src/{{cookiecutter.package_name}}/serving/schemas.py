"""Response bodies of the API.

Request bodies depend on the model being served (a promotion may change its features), so
they are built from its feature schema: see the ``serving.contract`` module.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field{{ ", StrictInt, StrictStr" if cookiecutter.__task == "classification" else "" }}

from {{ cookiecutter.package_name }}.config import PreprocessingRuntime
from {{ cookiecutter.package_name }}.model import ModelMetadata, Prediction


class PredictResponse(Prediction):
    """The prediction for one record."""

    request_id: str
    model_version: str


class BatchPredictResponse(BaseModel):
    """Predictions in the order of the records."""

    request_id: str
    model_version: str
    predictions: list[Prediction]


class ModelResponse(ModelMetadata):
    """The served model's metadata, and where to read its training run in MLflow."""

    mlflow_version: int
    run_url: str
    preprocessing_runtime: PreprocessingRuntime = Field(
        description="onnx: the version's ONNX export runs the preprocessing; scikit-learn: "
        "the pickled pipeline does (no export, or APP_PREPROCESSING_RUNTIME=scikit-learn)"
    )


class ErrorResponse(BaseModel):
    """An error, with its reason."""

    detail: str


class ValidationError(BaseModel):
    """One invalid field: where it is (``["body", "features", "plan"]``) and what is wrong."""

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorResponse(BaseModel):
    """A 422: the invalid fields of the request (at most 20), and how many there are."""

    detail: list[ValidationError]
    error_count: int


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


class FeedbackRequest(BaseModel):
    """The true label of one logged prediction."""

    model_config = ConfigDict(extra="forbid")

    request_id: Annotated[
        str, Field(min_length=1, max_length=128, description="As returned by /predict.")
    ]
    position: Annotated[
        int, Field(ge=0, description="The record's index in its /predict/batch request.")
    ] = 0
{%- if cookiecutter.__task == "classification" %}
    label: Annotated[
        StrictStr | StrictInt, Field(description="The true class: one of the model's classes.")
    ]
{%- else %}
    label: Annotated[float, Field(allow_inf_nan=False, description="The true value.")]
{%- endif %}


class FeedbackBatchRequest(BaseModel):
    """Many labels at once (at most APP_MAX_BATCH_SIZE), stored together or not at all."""

    model_config = ConfigDict(extra="forbid")

    labels: Annotated[list[FeedbackRequest], Field(min_length=1)]


class FeedbackResponse(BaseModel):
    """A stored label: revision 1 when new, one more each time it is sent again."""

    request_id: str
    position: int
    revision: int


class FeedbackBatchResponse(BaseModel):
    """The stored labels, in the order sent."""

    labels: list[FeedbackResponse]
