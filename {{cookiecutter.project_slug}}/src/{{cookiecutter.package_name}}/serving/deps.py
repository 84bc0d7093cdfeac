"""FastAPI dependencies, named once: the service state, the served model, the token checks.

They are ``async`` on purpose: FastAPI runs a plain ``def`` dependency in a worker thread,
a hop that costs more than these functions do.
"""

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from {{ cookiecutter.package_name }}.serving.model_holder import (
    ModelNotReadyError,
    ServedModel,
)
from {{ cookiecutter.package_name }}.serving.state import ServiceState, get_state


async def service_state(request: Request) -> ServiceState:
    """The state of the app serving ``request``."""
    return get_state(request)


State = Annotated[ServiceState, Depends(service_state)]


def current_model(state: ServiceState) -> ServedModel:
    """The model for this request, or 503 with the reason."""
    try:
        return state.holder.current
    except ModelNotReadyError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from None


async def served_model(state: State) -> ServedModel:
    """:func:`current_model`, as a dependency."""
    return current_model(state)


Served = Annotated[ServedModel, Depends(served_model)]
bearer = HTTPBearer(auto_error=False)


async def require_admin(
    state: State, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """The caller must send ``Authorization: Bearer $APP_ADMIN_TOKEN``."""
    disabled = "admin endpoints are disabled: set APP_ADMIN_TOKEN"
    _require_token(state.settings.admin_token, credentials, disabled, "admin")


async def require_feedback_token(
    state: State, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """The caller must send ``Authorization: Bearer $APP_FEEDBACK_TOKEN``."""
    disabled = "feedback is disabled: set APP_FEEDBACK_TOKEN"
    _require_token(state.settings.feedback_token, credentials, disabled, "feedback")


def _require_token(
    token: SecretStr | None,
    credentials: HTTPAuthorizationCredentials | None,
    disabled: str,
    kind: str,
) -> None:
    """403 while ``token`` is unset, 401 unless the credentials are exactly it."""
    if token is None or not token.get_secret_value():
        raise HTTPException(status.HTTP_403_FORBIDDEN, disabled)
    given = credentials.credentials if credentials else ""
    if not secrets.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"missing or wrong {kind} token",
            headers={"WWW-Authenticate": "Bearer"},
        )
