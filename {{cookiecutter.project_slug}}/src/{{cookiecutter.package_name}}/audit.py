"""Append-only audit log (JSON lines) of every promotion, rollback and retraining decision."""

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def record(path: Path, event: str, **details: Any) -> dict[str, Any]:
    """Append one event with a UTC timestamp and return it."""
    entry = {"at": datetime.now(UTC).isoformat(), "event": event, **details}
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(entry, default=str) + "\n").encode()
    # One write() on an O_APPEND descriptor: concurrent writers never interleave lines.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return entry


def read(path: Path) -> list[dict[str, Any]]:
    """All events, oldest first (empty if nothing was recorded yet)."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
