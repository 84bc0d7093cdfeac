"""The HTTP service: FastAPI app, request/response schemas, model loading and metrics."""
