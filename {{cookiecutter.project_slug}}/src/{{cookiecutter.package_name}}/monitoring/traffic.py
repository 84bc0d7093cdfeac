"""Send realistic traffic to a running server, optionally shifted, to watch drift appear.

Records are rows drawn (with replacement) from the dataset; a shift ``name=k`` adds ``k``
standard deviations of that feature to every record.
"""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pandas as pd

from {{ cookiecutter.package_name }}.errors import DataError


@dataclass
class TrafficResult:
    """How the requests went."""

    records: int = 0
    requests: int = 0
    failed: int = 0
    status_counts: Counter[str] = field(default_factory=Counter)


def parse_shifts(specs: list[str], features: pd.DataFrame) -> dict[str, float]:
    """Parse ``name=k`` options (k in standard deviations), checking the names."""
    shifts = {}
    for spec in specs:
        name, separator, amount = spec.rpartition("=")
        if not separator or not name:
            raise DataError(f"--shift {spec!r}: use NAME=K, e.g. --shift '{features.columns[0]}=3'")
        if name not in features.columns:
            known = ", ".join(map(repr, features.columns))
            raise DataError(f"--shift {spec!r}: no feature {name!r} (features: {known})")
        try:
            shifts[name] = float(amount)
        except ValueError:
            raise DataError(f"--shift {spec!r}: {amount!r} is not a number") from None
    return shifts


def sample_records(
    features: pd.DataFrame, count: int, shifts: dict[str, float], seed: int
) -> list[dict[str, float]]:
    """Draw ``count`` records from ``features`` and apply the shifts."""
    sample = features.sample(n=count, replace=True, random_state=seed).reset_index(drop=True)
    for name, sigmas in shifts.items():
        sample[name] = sample[name] + sigmas * float(features[name].std())
    return [
        {str(name): float(value) for name, value in record.items()}
        for record in sample.to_dict(orient="records")
    ]


def send(
    client: httpx.Client, records: list[dict[str, float]], batch_size: int
) -> Iterator[TrafficResult]:
    """POST the records (one per request, or in batches); yield the running result."""
    result = TrafficResult()
    for start in range(0, len(records), batch_size):
        chunk = records[start : start + batch_size]
        try:
            if batch_size == 1:
                response = client.post("/predict", json={"features": chunk[0]})
            else:
                response = client.post("/predict/batch", json={"records": chunk})
            status = str(response.status_code)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        result.requests += 1
        result.records += len(chunk)
        result.status_counts[status] += 1
        if status != "200":
            result.failed += 1
        yield result
