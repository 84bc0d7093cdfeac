"""The API endpoints."""

import secrets
from collections.abc import Sequence
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST

from {{ cookiecutter.package_name }}.errors import DataError, RegistryError
from {{ cookiecutter.package_name }}.model import LoadedModel, ModelMetadata, Prediction
from {{ cookiecutter.package_name }}.monitoring.prediction_log import log_row
from {{ cookiecutter.package_name }}.serving.model_holder import ModelNotReadyError
from {{ cookiecutter.package_name }}.serving.schemas import (
    BatchPredictRequest,
    BatchPredictResponse,
    ErrorResponse,
    HealthResponse,
    PredictRequest,
    PredictResponse,
    ReadyResponse,
    Record,
    ReloadResponse,
)
from {{ cookiecutter.package_name }}.serving.state import (
    ServiceState,
    get_state,
    reload_model,
)

router = APIRouter()
State = Annotated[ServiceState, Depends(get_state)]

# Error statuses besides 422, documented so that clients (and schema tests) know them.
Responses = dict[int | str, dict[str, Any]]
NOT_READY: Responses = {503: {"model": ErrorResponse, "description": "No model loaded yet"}}
BAD_BODY: Responses = {400: {"model": ErrorResponse, "description": "The body is not JSON"}}
ADMIN: Responses = {
    401: {"model": ErrorResponse, "description": "Missing or wrong admin token"},
    403: {"model": ErrorResponse, "description": "Admin endpoints are disabled"},
    409: {"model": ErrorResponse, "description": "The champion cannot be loaded"},
}


def current_model(state: State) -> LoadedModel:
    """FastAPI dependency: the model for this request, or 503 with the reason."""
    try:
        return state.holder.current
    except ModelNotReadyError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from None


Model = Annotated[LoadedModel, Depends(current_model)]
bearer = HTTPBearer(auto_error=False)


def require_admin(
    state: State, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """FastAPI dependency: the caller must send ``Authorization: Bearer $APP_ADMIN_TOKEN``."""
    token = state.settings.admin_token
    if token is None or not token.get_secret_value():
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "admin endpoints are disabled: set APP_ADMIN_TOKEN"
        )
    given = credentials.credentials if credentials else ""
    if not secrets.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong admin token",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.get("/health")
def health() -> HealthResponse:
    """Liveness: the process answers."""
    return HealthResponse()


@router.get("/ready", responses={503: {"model": ReadyResponse}})
def ready(state: State, response: Response) -> ReadyResponse:
    """Readiness: 200 once a model is loaded, 503 with the reason before."""
    try:
        model = state.holder.current
    except ModelNotReadyError as exc:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return ReadyResponse(status="not_ready", reason=str(exc))
    return ReadyResponse(status="ready", model_version=model.version)


@router.get("/model", responses=NOT_READY)
def model_metadata(model: Model) -> ModelMetadata:
    """Version, metrics, feature schema and training details of the served model."""
    return model.metadata


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(state: State) -> Response:
    """Prometheus metrics."""
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.post("/predict", responses={**BAD_BODY, **NOT_READY})
def predict(body: PredictRequest, request: Request, state: State, model: Model) -> PredictResponse:
    """Score one record."""
    check_features([(("body", "features"), body.features)], model)
    [prediction] = _predict_and_log(state, request, model, [body.features])
    return PredictResponse(
        request_id=request.state.request_id,
        model_version=model.version,
        **prediction.model_dump(),
    )


@router.post("/predict/batch", responses={**BAD_BODY, **NOT_READY})
def predict_batch(
    body: BatchPredictRequest, request: Request, state: State, model: Model
) -> BatchPredictResponse:
    """Score many records in one call (at most APP_MAX_BATCH_SIZE)."""
    limit = state.settings.max_batch_size
    if len(body.records) > limit:
        raise RequestValidationError(
            [
                {
                    "type": "too_long",
                    "loc": ("body", "records"),
                    "msg": f"at most {limit} records per request, got {len(body.records)}",
                    "input": None,
                }
            ]
        )
    check_features(
        [(("body", "records", index), record) for index, record in enumerate(body.records)], model
    )
    predictions = _predict_and_log(state, request, model, body.records)
    return BatchPredictResponse(
        request_id=request.state.request_id, model_version=model.version, predictions=predictions
    )


@router.post("/admin/reload", dependencies=[Depends(require_admin)], responses=ADMIN)
def reload(state: State) -> ReloadResponse:
    """Load the registry's champion now instead of at the next poll."""
    try:
        changed = reload_model(state)
    except RegistryError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    return ReloadResponse(model_version=state.holder.current.version, changed=changed)


def check_features(
    records: Sequence[tuple[tuple[str | int, ...], Record]], model: LoadedModel
) -> None:
    """Raise a 422 naming every missing or unknown feature of (location, record) pairs."""
    expected = model.metadata.feature_schema.names
    known = set(expected)
    errors: list[dict[str, Any]] = []
    for loc, record in records:
        errors += [
            {"type": "missing", "loc": (*loc, name), "msg": "Field required", "input": None}
            for name in expected
            if name not in record
        ]
        errors += [
            {
                "type": "extra_forbidden",
                "loc": (*loc, name),
                "msg": "Unknown feature: not in the model's feature schema (see GET /model)",
                "input": record[name],
            }
            for name in record
            if name not in known
        ]
    if errors:
        raise RequestValidationError(errors)


def _predict_and_log(
    state: State, request: Request, model: LoadedModel, records: Sequence[Record]
) -> list[Prediction]:
    try:
        predictions = model.predict(pd.DataFrame.from_records(records))
    except DataError as exc:  # e.g. values so large that the preprocessing overflows
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body",), "msg": str(exc), "input": None}]
        ) from None
    request_id: str = request.state.request_id
    for prediction in predictions:
        state.metrics.count_prediction(model.version, prediction.prediction)
    state.prediction_log.log(
        log_row(request_id, model.version, record, prediction.prediction)
        for record, prediction in zip(records, predictions, strict=True)
    )
    return predictions
