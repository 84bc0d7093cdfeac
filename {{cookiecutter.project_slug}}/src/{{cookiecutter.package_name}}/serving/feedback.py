"""Ground truth comes back: ``POST /feedback`` and ``POST /feedback/batch``.

A label names a logged prediction (``request_id`` from ``/predict`` or ``/predict/batch``,
and the record's ``position`` in the batch) and is stored beside it, in the prediction log's
database, for the monitor's live performance check. Sending it again replaces it (its
``revision`` counts the sends).

The endpoints need ``Authorization: Bearer $APP_FEEDBACK_TOKEN`` (403 while it is unset):
labels decide whether the model is judged degraded and what it is retrained on, so only the
system that knows the outcomes may send them, not every client that asks for predictions.
"""

from collections.abc import Sequence

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from {{ cookiecutter.package_name }}.errors import first_line
from {{ cookiecutter.package_name }}.monitoring.labels import (
    AmbiguousPredictionError,
    Label,
    UnknownPredictionError,
    record_labels,
)
from {{ cookiecutter.package_name }}.serving.deps import (
    Served,
    State,
    require_feedback_token,
)
from {{ cookiecutter.package_name }}.serving.routes import BAD_BODY, NOT_READY, Responses
from {{ cookiecutter.package_name }}.serving.schemas import (
    ErrorResponse,
    FeedbackBatchRequest,
    FeedbackBatchResponse,
    FeedbackRequest,
    FeedbackResponse,
)
from {{ cookiecutter.package_name }}.serving.state import ServiceState

Location = tuple[str | int, ...]
"""Where an item is in the request body: ``("body",)``, ``("body", "labels", 3)``."""
router = APIRouter(tags=["feedback"], dependencies=[Depends(require_feedback_token)])
FEEDBACK_ERRORS: Responses = {
    **BAD_BODY,
    **NOT_READY,
    # FastAPI parses these bodies: bytes in no encoding JSON allows are its 400, not a 422.
    400: {"model": ErrorResponse, "description": "The body is not text in a JSON encoding"},
    401: {"model": ErrorResponse, "description": "Missing or wrong feedback token"},
    403: {"model": ErrorResponse, "description": "Feedback is disabled (no APP_FEEDBACK_TOKEN)"},
    404: {"model": ErrorResponse, "description": "No logged prediction with that id and position"},
    409: {"model": ErrorResponse, "description": "That request id was sent with several requests"},
}


@router.post("/feedback", responses=FEEDBACK_ERRORS)
async def feedback(body: FeedbackRequest, state: State, served: Served) -> FeedbackResponse:
    """Store the true label of one prediction."""
    [stored] = await _store(state, served, [(body, ("body",))])
    return stored


@router.post("/feedback/batch", responses=FEEDBACK_ERRORS)
async def feedback_batch(
    body: FeedbackBatchRequest, state: State, served: Served
) -> FeedbackBatchResponse:
    """Store many labels in one transaction: all of them, or none (at most APP_MAX_BATCH_SIZE)."""
    if len(body.labels) > state.settings.max_batch_size:
        message = f"at most {state.settings.max_batch_size} labels (APP_MAX_BATCH_SIZE)"
        raise RequestValidationError(
            [{"type": "too_long", "loc": ("body", "labels"), "msg": message, "input": None}]
        )
    located = [(item, ("body", "labels", index)) for index, item in enumerate(body.labels)]
    stored = await _store(state, served, located)
    return FeedbackBatchResponse(labels=stored)


async def _store(
    state: ServiceState, served: Served, given: Sequence[tuple[FeedbackRequest, Location]]
) -> list[FeedbackResponse]:
    """Check and store the labels (each with where it is in the body, for a 422)."""
    labels = [_label(served, item, location) for item, location in given]
    try:
        revisions = await run_in_threadpool(record_labels, state.prediction_log.engine, labels)
    except UnknownPredictionError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except AmbiguousPredictionError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except SQLAlchemyError as exc:
        reason = first_line(exc)
        detail = f"the labels were not stored: the prediction log's database failed: {reason}"
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail) from None
    return [
        FeedbackResponse(request_id=label.request_id, position=label.position, revision=revision)
        for label, revision in zip(labels, revisions, strict=True)
    ]


def _label(served: Served, item: FeedbackRequest, location: Location) -> Label:
    """The label to store; 422 naming the field when it is not one the model could predict."""
{%- if cookiecutter.__task == "classification" %}
    classes = served.model.metadata.classes
    label = str(item.label)
    if label not in classes:
        raise RequestValidationError(
            [
                {
                    "type": "enum",
                    "loc": (*location, "label"),
                    "msg": f"not a class of the model: expected one of {', '.join(classes)}",
                    "input": item.label,
                }
            ]
        )
    return Label(item.request_id, item.position, label)
{%- else %}
    del served, location  # every finite value is a possible truth
    return Label(item.request_id, item.position, item.label)
{%- endif %}
