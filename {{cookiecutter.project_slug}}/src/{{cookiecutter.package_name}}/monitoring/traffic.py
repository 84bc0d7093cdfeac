"""Send realistic traffic to a running server, optionally shifted, to watch drift appear.

Records are rows drawn (with replacement) from the dataset, with the served model's
features, their numbers slightly noisy (new records, not copies). Shifts, one per feature:

- ``NAME=K`` (a numeric feature): add ``K`` standard deviations to every record;
- ``NAME=VALUE@SHARE`` (a category or boolean feature): set ``VALUE`` in a random ``SHARE``
  of the records (default 0.5), which shifts the mix of categories.

``--shift-share F`` shifts the first ``F`` of the features that way, whatever their kinds.

With ``--labels``, each batch's true labels (the dataset's target of the drawn rows) come
back through ``POST /feedback/batch``, ``--label-delay`` seconds after its predictions.
``--concept-shift S`` changes the relation between inputs and label in the top S share of
the first numeric feature (see ``sample_truths``): the inputs look the same, so only the
live performance check can see it, and a challenger can learn the new relation from the
labels.
"""

import math
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.data import Dataset
from {{ cookiecutter.package_name }}.errors import DataError
from {{ cookiecutter.package_name }}.schema import FeatureSchema, FeatureSpec, FeatureValue

DEFAULT_SHARE = 0.5
DRIFT_SIGMAS = 3.0  # --shift-share moves numbers this many standard deviations...
DRIFT_SHARE = 0.9  # ... and gives this share of the records one category (or true)
NOISE_SIGMAS = 0.05  # every number moves by this much noise: about 0.04 of drift score
LABEL_ATTEMPTS = 20
LABEL_RETRY_SECONDS = 0.25
Truth = {{ "str" if cookiecutter.__task == "classification" else "float" }}
"""A true label, as the feedback endpoints take it."""
Shift = float | tuple[str, float]
"""Standard deviations to add (numeric), or a value and the share of records to give it."""


@dataclass
class TrafficResult:
    """How the requests went."""

    records: int = 0
    requests: int = 0
    failed: int = 0
    labels: int = 0
    status_counts: Counter[str] = field(default_factory=Counter)

    def count(self, status: str) -> None:
        """Count one answer's status (anything but 200 is a failure)."""
        self.status_counts[status] += 1
        if status != "200":
            self.failed += 1


@dataclass(frozen=True)
class PendingLabels:
    """The truths of one request, and when to send them."""

    due: float
    request_id: str
    truths: list[Truth]


def parse_shifts(specs: list[str], schema: FeatureSchema) -> dict[str, Shift]:
    """Parse ``--shift`` options against the served model's features."""
    features = {feature.name: feature for feature in schema.features}
    shifts: dict[str, Shift] = {}
    for spec in specs:
        splits = [i for i, char in enumerate(spec) if char == "=" and spec[:i] in features]
        if not splits:
            known = ", ".join(map(repr, features))
            raise DataError(
                f"--shift {spec!r}: use NAME=K (numbers) or NAME=VALUE@SHARE (categories) with "
                f"a feature of the served model ({known})"
            )
        feature = features[spec[: splits[0]]]
        shifts[feature.name] = _parse_shift(spec, feature, spec[splits[0] + 1 :])
    return shifts


def shifts_for_share(schema: FeatureSchema, share: float) -> list[str]:
    """``--shift`` specs that move the first ``share`` of the features, each by its kind."""
    count = math.ceil(len(schema.features) * share)
    specs = []
    for feature in schema.features[:count]:
        if feature.kind == "numeric":
            specs.append(f"{feature.name}={DRIFT_SIGMAS:g}")
        else:
            value = feature.categories[0] if feature.kind == "categorical" else "true"
            specs.append(f"{feature.name}={value}@{DRIFT_SHARE:g}")
    return specs


def _parse_shift(spec: str, feature: FeatureSpec, amount: str) -> Shift:
    if feature.kind == "numeric":
        try:
            return float(amount)
        except ValueError:
            raise DataError(f"--shift {spec!r}: {amount!r} is not a number") from None
    value, at, share_text = amount.rpartition("@") if "@" in amount else (amount, "", "")
    try:
        share = float(share_text) if at else DEFAULT_SHARE
    except ValueError:
        raise DataError(f"--shift {spec!r}: share {share_text!r} is not a number") from None
    if not 0 < share <= 1:
        raise DataError(f"--shift {spec!r}: the share must be in (0, 1]")
    return value, share


def sample_records(
    features: pd.DataFrame,
    schema: FeatureSchema,
    count: int,
    shifts: dict[str, Shift],
    seed: int,
) -> list[dict[str, FeatureValue]]:
    """Draw ``count`` records of the schema's features from ``features``; apply the shifts.

    Numbers get a little noise (``NOISE_SIGMAS`` standard deviations), so that no record
    copies a row of the table: real traffic brings new customers, and the retraining data
    leaves out copies of held-out rows.
    """
    present = [name for name in schema.names if name in features.columns]
    sample = schema.normalise(
        features[present].sample(n=count, replace=True, random_state=seed), "dataset"
    ).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    noise = np.random.default_rng([seed, 1])
    for feature in schema.features:
        if feature.kind == "numeric" and feature.std:
            sample[feature.name] += noise.normal(0.0, NOISE_SIGMAS * feature.std, count)
        shift = shifts.get(feature.name)
        if isinstance(shift, float):
            sample[feature.name] = sample[feature.name] + shift * float(feature.std or 0.0)
        elif shift is not None:
            value, share = shift
            chosen = rng.random(count) < share
            if feature.kind == "boolean":
                flag = value.strip().lower() in {"true", "1", "yes"}
                sample.loc[chosen, feature.name] = float(flag)
            else:
                sample.loc[chosen, feature.name] = value
    return schema.records(sample, "dataset")


def sample_truths(
    dataset: Dataset, schema: FeatureSchema, count: int, seed: int, concept_shift: float
) -> list[Truth]:
    """The true labels of the rows ``sample_records`` draws with ``seed`` (same positions).

    With ``concept_shift`` S, the world changed: the records in the top S share of the
    first numeric feature {% if cookiecutter.__task == "classification" %}all end in the last class{% else %}come out 3 standard deviations higher{% endif %}. The inputs look the same, but
    the relation to the outcome is new, and a model can learn it from these labels.
    Without a numeric feature, a random S share is changed.
    """
    drawn = dataset.target.sample(n=count, replace=True, random_state=seed)
    numeric = [feature.name for feature in schema.features if feature.kind == "numeric"]
    if numeric:
        values = pd.to_numeric(dataset.features.loc[drawn.index, numeric[0]], errors="coerce")
        changed = values.rank(pct=True, method="first").to_numpy() > 1 - concept_shift
    else:
        changed = np.random.default_rng(seed + 1).random(count) < concept_shift
    truths = drawn.reset_index(drop=True)
{%- if cookiecutter.__task == "classification" %}
    labels = truths.astype(str)
    labels[changed] = max(str(label) for label in dataset.target.unique())
    return [str(label) for label in labels]
{%- else %}
    labels = truths.astype(float)
    labels[changed] += DRIFT_SIGMAS * float(dataset.target.std())
    return [float(label) for label in labels]
{%- endif %}


def send(
    client: httpx.Client,
    records: list[dict[str, FeatureValue]],
    batch_size: int,
    truths: list[Truth] | None = None,
    label_delay: float = 0.0,
) -> Iterator[TrafficResult]:
    """POST the records (one per request, or in batches), then their ``truths`` if given.

    Each request's truths follow it by ``label_delay`` seconds: the truth comes later than
    the prediction. Yields the running result. The client must carry the feedback token to
    send truths.
    """
    result = TrafficResult()
    pending: deque[PendingLabels] = deque()
    for start in range(0, len(records), batch_size):
        chunk = records[start : start + batch_size]
        try:
            if batch_size == 1:
                response = client.post("/predict", json={"features": chunk[0]})
            else:
                response = client.post("/predict/batch", json={"records": chunk})
            status = str(response.status_code)
            if status == "200" and truths is not None:
                due = time.monotonic() + label_delay
                labels = truths[start : start + len(chunk)]
                pending.append(PendingLabels(due, response.json()["request_id"], labels))
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        result.requests += 1
        result.records += len(chunk)
        result.count(status)
        _send_due(client, pending, result, wait=False)
        yield result
    if pending:
        _send_due(client, pending, result, wait=True)
        yield result


def _send_due(
    client: httpx.Client, pending: deque[PendingLabels], result: TrafficResult, *, wait: bool
) -> None:
    """Send the pending labels that are due; with ``wait``, all of them, each on time."""
    while pending and (wait or pending[0].due <= time.monotonic()):
        labels = pending.popleft()
        time.sleep(max(0.0, labels.due - time.monotonic()))
        try:
            status = _send_labels(client, labels.request_id, labels.truths)
        except httpx.HTTPError as exc:
            status = f"feedback {type(exc).__name__}"
        if status == "200":
            result.labels += len(labels.truths)
        else:
            result.count(status)


def _send_labels(client: httpx.Client, request_id: str, truths: list[Truth]) -> str:
    """POST the true labels of a request's records; the status, ``feedback 4xx`` if refused."""
    # The prediction reaches the log within APP_LOG_FLUSH_SECONDS: until then, 404.
    for _attempt in range(LABEL_ATTEMPTS):
        response = client.post(
            "/feedback/batch",
            json={"labels": [_label(request_id, i, truth) for i, truth in enumerate(truths)]},
        )
        if response.status_code != httpx.codes.NOT_FOUND:
            break
        time.sleep(LABEL_RETRY_SECONDS)
    ok = response.status_code == httpx.codes.OK
    return "200" if ok else f"feedback {response.status_code}"


def _label(request_id: str, position: int, truth: object) -> dict[str, object]:
    return {"request_id": request_id, "position": position, "label": truth}
