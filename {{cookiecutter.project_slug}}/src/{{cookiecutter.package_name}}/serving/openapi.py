"""The OpenAPI document, with the request schemas of the model being served.

``/predict`` reads its body raw and validates it against the served model's contract, so
FastAPI cannot see the schema in the route's signature. This module puts the contract's
schemas (real feature names, types, allowed categories, nullability, an example from the
training data) into ``components.schemas``, and rebuilds the document when the model
changes: ``/docs`` always describes the champion being served.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from {{ cookiecutter.package_name }}.serving.model_holder import ModelNotReadyError
from {{ cookiecutter.package_name }}.serving.state import ServiceState

NO_MODEL_SCHEMA = {
    "type": "object",
    "description": "No model is loaded yet: the real schema appears once one is (see /ready).",
}
REQUEST_SCHEMAS = ("PredictRequest", "BatchPredictRequest")


def served_openapi(app: FastAPI, state: ServiceState) -> dict[str, Any]:
    """The OpenAPI document for the model being served (cached per model version)."""
    try:
        served = state.holder.current
    except ModelNotReadyError:
        served = None
    version = served.version if served else None
    if app.openapi_schema is not None and app.openapi_schema.get("x-model-version") == version:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    if served is None:
        schemas.update(dict.fromkeys(REQUEST_SCHEMAS, NO_MODEL_SCHEMA))
    else:
        schemas.update(served.contract.openapi_schemas())
    document["x-model-version"] = version
    app.openapi_schema = document
    return document
