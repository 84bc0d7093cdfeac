"""How an invalid request is answered: 422 naming each bad field, in a bounded size.

FastAPI's default answer lists every error and echoes each bad input whole: a body with a
million unknown keys would get an answer larger than itself. This one lists at most
``MAX_ERRORS`` errors plus ``error_count``, the total, and cuts each echoed input and each
name in ``loc`` to ``MAX_ECHO_CHARS`` characters: well under 64 KB, whatever the request.
"""

import json
import math
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

MAX_ERRORS = 20
MAX_ECHO_CHARS = 200


async def validation_error_response(_request: Request, exc: Exception) -> JSONResponse:
    """422 with the first ``MAX_ERRORS`` errors, their echoes cut short, and the total."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    shown = [_bounded(error) for error in errors[:MAX_ERRORS]]
    return JSONResponse(
        status_code=422,
        content={"detail": jsonable_encoder(shown), "error_count": len(errors)},
    )


def _bounded(error: dict[str, Any]) -> dict[str, Any]:
    bounded = {**error, "loc": [_cut(part) for part in error.get("loc", ())]}
    if "input" in error:
        bounded["input"] = _echo(error["input"])
    return bounded


def _echo(value: object) -> object:
    """The input as JSON can carry it (NaN as text), or its first characters as text."""
    safe = _json_safe(value)
    text = json.dumps(safe, default=str)
    return safe if len(text) <= MAX_ECHO_CHARS else _cut(text)


def _cut(part: object) -> object:
    if isinstance(part, str) and len(part) > MAX_ECHO_CHARS:
        return part[:MAX_ECHO_CHARS] + "..."
    return part


def _json_safe(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):  # a body that is not JSON (or not even text): echo its start
        return value[:MAX_ECHO_CHARS].decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value
