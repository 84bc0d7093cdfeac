"""Send realistic traffic to a running server, optionally shifted, to watch drift appear.

Records are rows drawn (with replacement) from the dataset, with the served model's
features. Shifts, one per feature:

- ``NAME=K`` (a numeric feature): add ``K`` standard deviations to every record;
- ``NAME=VALUE@SHARE`` (a category or boolean feature): set ``VALUE`` in a random ``SHARE``
  of the records (default 0.5), which shifts the mix of categories.

``--shift-share F`` shifts the first ``F`` of the features that way, whatever their kinds.

With ``--labels``, each batch's true labels (the dataset's target of the drawn rows) come
back through ``POST /feedback/batch`` right after its predictions. ``--concept-shift S``
changes S of those labels{% if cookiecutter.task == "classification" %} to another class{% else %} by 3 standard deviations of the target{% endif %}: the inputs look the same, the
relation to the label does not, so only the live performance check can see it.
"""

import math
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.errors import DataError
from {{ cookiecutter.package_name }}.schema import FeatureSchema, FeatureSpec, FeatureValue

DEFAULT_SHARE = 0.5
DRIFT_SIGMAS = 3.0  # --shift-share moves numbers this many standard deviations...
DRIFT_SHARE = 0.9  # ... and gives this share of the records one category (or true)
LABEL_ATTEMPTS = 20
LABEL_RETRY_SECONDS = 0.25
Truth = {{ "str" if cookiecutter.task == "classification" else "float" }}
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
    """Draw ``count`` records of the schema's features from ``features``; apply the shifts."""
    present = [name for name in schema.names if name in features.columns]
    sample = schema.normalise(
        features[present].sample(n=count, replace=True, random_state=seed), "dataset"
    ).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    for feature in schema.features:
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


def sample_truths(target: pd.Series, count: int, seed: int, concept_shift: float) -> list[Truth]:
    """The true labels of the rows ``sample_records`` draws with ``seed`` (same positions).

    ``concept_shift`` of them, at random, are changed{% if cookiecutter.task == "classification" %} to the next class{% else %} by 3 standard deviations{% endif %}.
    """
    truths = target.sample(n=count, replace=True, random_state=seed).reset_index(drop=True)
    changed = np.random.default_rng(seed + 1).random(count) < concept_shift
{%- if cookiecutter.task == "classification" %}
    classes = sorted(str(label) for label in target.unique())
    labels = truths.astype(str)
    following = {label: classes[(i + 1) % len(classes)] for i, label in enumerate(classes)}
    labels[changed] = labels[changed].map(following)
    return [str(label) for label in labels]
{%- else %}
    labels = truths.astype(float)
    labels[changed] += DRIFT_SIGMAS * float(target.std())
    return [float(label) for label in labels]
{%- endif %}


def send(
    client: httpx.Client,
    records: list[dict[str, FeatureValue]],
    batch_size: int,
    truths: list[Truth] | None = None,
) -> Iterator[TrafficResult]:
    """POST the records (one per request, or in batches), then their ``truths`` if given.

    Yields the running result. The client must carry the feedback token to send truths.
    """
    result = TrafficResult()
    for start in range(0, len(records), batch_size):
        chunk = records[start : start + batch_size]
        try:
            if batch_size == 1:
                response = client.post("/predict", json={"features": chunk[0]})
            else:
                response = client.post("/predict/batch", json={"records": chunk})
            status = str(response.status_code)
            if status == "200" and truths is not None:
                status = _send_labels(
                    client, response.json()["request_id"], truths[start : start + len(chunk)]
                )
                result.labels += len(chunk) if status == "200" else 0
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        result.requests += 1
        result.records += len(chunk)
        result.status_counts[status] += 1
        if status != "200":
            result.failed += 1
        yield result


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
