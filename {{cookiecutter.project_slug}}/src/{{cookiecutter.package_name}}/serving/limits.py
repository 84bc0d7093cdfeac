"""What one request may cost: the size of its body, and how long the body may take to arrive.

Plain ASGI middleware around the app, checking the body as the route reads it. A body over
the limit gets 413 before any of it is parsed: on the first read when its ``Content-Length``
says so, or as soon as a streamed body (no ``Content-Length``) passes the limit, so it never
sits whole in memory. A body that stalls gets 408 instead of holding a worker. Both answers
are FastAPI's usual ``{"detail": ...}``, counted in the request metrics under their route.
"""

import asyncio

from fastapi import HTTPException, status
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestLimits:
    """Refuse request bodies over ``max_bytes`` (413) or slower than ``timeout_seconds`` (408)."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_seconds: float) -> None:
        """Wrap ``app`` with the two limits."""
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared size, then count and time the body as the app reads it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        too_large = declared.isdigit() and int(declared) > self.max_bytes
        received = 0
        body_complete = False
        deadline: float | None = None  # the whole body must arrive within the timeout

        async def limited_receive() -> Message:
            # Raised here, inside the route's `await request.body()`, an HTTPException
            # becomes FastAPI's response like one raised by the route itself.
            nonlocal received, body_complete, deadline
            if too_large:  # refused on the first read, before any of the body is read
                raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, self._too_large())
            if body_complete:  # later reads only wait for the client to disconnect
                return await receive()
            deadline = deadline or asyncio.get_running_loop().time() + self.timeout_seconds
            try:
                async with asyncio.timeout_at(deadline):  # no task of its own, unlike wait_for
                    message = await receive()
            except TimeoutError:
                detail = f"the request body took longer than {self.timeout_seconds:g} s"
                raise HTTPException(status.HTTP_408_REQUEST_TIMEOUT, detail) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, self._too_large())
                body_complete = not message.get("more_body", False)
            return message

        await self.app(scope, limited_receive, send)

    def _too_large(self) -> str:
        return (
            f"the request body is larger than {self.max_bytes} bytes "
            "(APP_MAX_BODY_BYTES): send fewer records per request"
        )
