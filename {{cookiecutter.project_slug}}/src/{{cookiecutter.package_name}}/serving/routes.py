"""The API endpoints."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from {{ cookiecutter.package_name }}.errors import DataError, RegistryError
from {{ cookiecutter.package_name }}.model import LoadedModel, Prediction
from {{ cookiecutter.package_name }}.monitoring.prediction_log import log_row
from {{ cookiecutter.package_name }}.serving.contract import ParsedRecords
from {{ cookiecutter.package_name }}.serving.deps import (
    Served,
    State,
    current_model,
    require_admin,
)
from {{ cookiecutter.package_name }}.serving.model_holder import (
    ModelNotReadyError,
    ServedModel,
)
from {{ cookiecutter.package_name }}.serving.schemas import (
    BatchPredictResponse,
    ErrorResponse,
    HealthResponse,
    ModelResponse,
    PredictResponse,
    ReadyResponse,
    ReloadResponse,
    ValidationErrorResponse,
)
from {{ cookiecutter.package_name }}.serving.state import (
    ServiceState,
    get_state,
    reload_model,
)
from {{ cookiecutter.package_name }}.serving.validation import MAX_ERRORS

router = APIRouter()

# Error statuses, documented so that clients (and schema tests) know them. FastAPI adds the
# 422 by itself only where it parses the body; the predict routes validate it themselves.
Responses = dict[int | str, dict[str, Any]]
NOT_READY: Responses = {503: {"model": ErrorResponse, "description": "No model loaded yet"}}
BAD_BODY: Responses = {
    408: {"model": ErrorResponse, "description": "The body arrived too slowly"},
    413: {"model": ErrorResponse, "description": "The body is over APP_MAX_BODY_BYTES"},
    422: {
        "model": ValidationErrorResponse,
        "description": f"Invalid records: each error names its field (the first {MAX_ERRORS})",
    },
}
ADMIN: Responses = {
    401: {"model": ErrorResponse, "description": "Missing or wrong admin token"},
    403: {"model": ErrorResponse, "description": "Admin endpoints are disabled"},
    409: {"model": ErrorResponse, "description": "No champion yet, or it cannot be loaded"},
}


def request_body(schema_name: str) -> dict[str, Any]:
    """The OpenAPI request body of a predict route: the served model's schema, by reference.

    The schemas themselves come from the model's contract (see ``openapi.py``), since the
    handler reads the raw body and validates it against the model being served.
    """
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}
            },
        }
    }


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
async def model_metadata(served: Served) -> ModelResponse:
    """Version, metrics, feature schema and training details of the served model."""
    metadata = served.model.metadata
    return ModelResponse(
        **dict(metadata),
        mlflow_version=int(metadata.version.removeprefix("v")),
        run_url=served.run_url,
        preprocessing_runtime=served.model.preprocessing_runtime,
    )


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(state: State) -> Response:
    """Prometheus metrics."""
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.post(
    "/predict", responses={**BAD_BODY, **NOT_READY}, openapi_extra=request_body("PredictRequest")
)
async def predict(request: Request) -> PredictResponse:
    """Score one record. Send raw values; the model imputes, scales and encodes them."""
    state, served = _serving(request)
    parsed = served.contract.parse_one(await request.body())
    with _unscorable_is_422():
        predictions = await state.batcher.predict(served.model, parsed.matrix)
    [prediction] = _count_and_log(state, request, served.model, parsed, predictions)
    return PredictResponse(
        request_id=request.state.request_id,
        model_version=served.version,
        **prediction.model_dump(),
    )


@router.post(
    "/predict/batch",
    responses={**BAD_BODY, **NOT_READY},
    openapi_extra=request_body("BatchPredictRequest"),
)
async def predict_batch(request: Request) -> BatchPredictResponse:
    """Score many records in one call (at most APP_MAX_BATCH_SIZE)."""
    state, served = _serving(request)
    parsed = served.contract.parse_batch(await request.body())
    predictions = await run_in_threadpool(_predict_and_log, state, request, served.model, parsed)
    return BatchPredictResponse(
        request_id=request.state.request_id, model_version=served.version, predictions=predictions
    )


@router.post("/admin/reload", dependencies=[Depends(require_admin)], responses=ADMIN)
def reload(state: State) -> ReloadResponse:
    """Load a newly promoted champion now instead of at the next poll."""
    try:
        changed = reload_model(state)
        version = state.holder.current.version
    except (RegistryError, ModelNotReadyError) as exc:  # a broken champion, or none yet
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    return ReloadResponse(model_version=version, changed=changed)


def _serving(request: Request) -> tuple[ServiceState, ServedModel]:
    """The state and the model of a predict route, by plain calls rather than ``Depends``.

    FastAPI's dependency resolution adds about 20 microseconds to a request, more than
    validating a one-record body takes (13): on the hot path, the plain calls.
    """
    state = get_state(request)
    return state, current_model(state)


@contextmanager
def _unscorable_is_422() -> Iterator[None]:
    """Records the model cannot score (e.g. values so large that the scaler overflows): 422."""
    try:
        yield
    except DataError as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body",), "msg": str(exc), "input": None}]
        ) from None


def _predict_and_log(
    state: ServiceState, request: Request, model: LoadedModel, parsed: ParsedRecords
) -> list[Prediction]:
    with _unscorable_is_422():
        predictions = model.predict_matrix(parsed.matrix, source="request")
    return _count_and_log(state, request, model, parsed, predictions)


def _count_and_log(
    state: ServiceState,
    request: Request,
    model: LoadedModel,
    parsed: ParsedRecords,
    predictions: list[Prediction],
) -> list[Prediction]:
    """Count the request's inputs and predictions, and queue its rows for the prediction log."""
    request_id: str = request.state.request_id
    state.metrics.count_inputs(parsed.missing, parsed.unknown)
    state.metrics.count_predictions(model.version, (p.prediction for p in predictions))
    created_at = datetime.now(UTC)  # one time for the request's rows
    state.prediction_log.log(
        log_row(request_id, model.version, record, prediction.prediction, created_at)
        for record, prediction in zip(parsed.logged, predictions, strict=True)
    )
    return predictions
