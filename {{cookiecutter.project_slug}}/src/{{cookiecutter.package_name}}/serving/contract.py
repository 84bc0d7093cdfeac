"""The request contract of one served model: its bodies, their OpenAPI schema, its rows.

Built from the model's feature schema when the model loads, so ``/predict`` takes exactly
the features the champion was trained on (real names, kinds, allowed categories, which
may be null) and ``/openapi.json`` says so. A promotion that changes the schema changes
the contract with the model, in one swap.
"""

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    create_model,
)

from {{ cookiecutter.package_name }}.schema import FeatureSchema, FeatureSpec, FeatureValue

MAX_CATEGORY_LENGTH = 200
FLOAT32_MAX = float(np.finfo(np.float32).max)
"""About 3.4e38: the ONNX preprocessing computes in float32, so larger numbers are infinite."""
Number = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-FLOAT32_MAX, le=FLOAT32_MAX)]
"""A finite number within float32's range: anything else is refused with a 422 naming it."""
REF_TEMPLATE = "#/components/schemas/{model}"


@dataclass(frozen=True)
class ParsedRecords:
    """Validated records: the model's input array, and each record as the log stores it."""

    matrix: npt.NDArray[Any]
    logged: list[dict[str, FeatureValue]]
    missing: Counter[str]  # nulls and absent values, by feature
    unknown: Counter[str]  # categories never seen in training, by feature


class RequestContract:
    """What ``/predict`` and ``/predict/batch`` accept for one model."""

    def __init__(self, schema: FeatureSchema, max_batch_size: int) -> None:
        """Build the request models of ``schema``; batches hold at most ``max_batch_size``."""
        self.schema = schema
        self.max_batch_size = max_batch_size
        self._names = schema.names
        self._categories = {
            position: set(schema.features[position].categories)
            for position in schema.positions("categorical")
        }
        examples: list[Any] = [schema.example]
        features = create_model(  # type: ignore[call-overload]
            "Features",
            __config__=ConfigDict(
                extra="forbid", frozen=True, json_schema_extra={"examples": examples}
            ),
            **{f"f{i}": _field(spec) for i, spec in enumerate(schema.features)},
        )
        self._values = attrgetter(*(f"f{i}" for i in range(len(schema.features))))
        single = create_model(
            "PredictRequest",
            __config__=ConfigDict(extra="forbid"),
            features=(features, ...),
        )
        batch = create_model(
            "BatchPredictRequest",
            __config__=ConfigDict(extra="forbid"),
            records=(list[features], Field(min_length=1, max_length=max_batch_size)),
        )
        self._single: TypeAdapter[Any] = TypeAdapter(single)
        self._batch: TypeAdapter[Any] = TypeAdapter(batch)

    def parse_one(self, body: bytes) -> ParsedRecords:
        """Validate a ``/predict`` body; a 422 names every bad field."""
        request = self._validate(self._single, body)
        return self._rows([request.features])

    def parse_batch(self, body: bytes) -> ParsedRecords:
        """Validate a ``/predict/batch`` body; a 422 names every bad record and field."""
        request = self._validate(self._batch, body)
        return self._rows(request.records)

    def openapi_schemas(self) -> dict[str, Any]:
        """JSON schemas of the request bodies, for ``components.schemas`` of the OpenAPI."""
        schemas: dict[str, Any] = {}
        for adapter in (self._single, self._batch):
            schema = adapter.json_schema(ref_template=REF_TEMPLATE)
            schemas.update(schema.pop("$defs", {}))
            schemas[schema["title"]] = schema
        schemas["PredictRequest"]["examples"] = [{"features": self.schema.example}]
        schemas["BatchPredictRequest"]["examples"] = [{"records": [self.schema.example]}]
        return schemas

    def _validate(self, adapter: TypeAdapter[Any], body: bytes) -> Any:
        try:
            return adapter.validate_json(body)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            for error in errors:
                error["loc"] = ("body", *error["loc"])
                if error["type"] == "too_long" and error["loc"] == ("body", "records"):
                    error["msg"] = f"at most {self.max_batch_size} records per request"
            raise RequestValidationError(errors) from None

    def _rows(self, records: Sequence[BaseModel]) -> ParsedRecords:
        """The records as the model's input array, filled a column at a time."""
        rows = [self._values(record) for record in records]
        if len(self._names) == 1:  # attrgetter of one field gives the value, not a tuple
            rows = [(value,) for value in rows]
        columns = list(zip(*rows, strict=True))
        missing: Counter[str] = Counter()
        unknown: Counter[str] = Counter()
        matrix = np.empty((len(rows), len(self._names)), dtype=object)
        for position, (name, column) in enumerate(zip(self._names, columns, strict=True)):
            if absent := column.count(None):
                missing[name] = absent
            if (categories := self._categories.get(position)) is not None:
                if seen_not := sum(value not in categories for value in column) - absent:
                    unknown[name] = seen_not
                matrix[:, position] = [math.nan if value is None else value for value in column]
            else:  # numbers, and booleans as 1.0 and 0.0
                matrix[:, position] = [
                    math.nan if value is None else float(value) for value in column
                ]
        logged = [dict(zip(self._names, row, strict=True)) for row in rows]
        return ParsedRecords(matrix=matrix, logged=logged, missing=missing, unknown=unknown)


def _field(spec: FeatureSpec) -> tuple[Any, Any]:
    """The pydantic field of one feature: its type, its real name, and whether it is optional."""
    annotation: Any
    if spec.kind == "numeric":
        annotation = Number
        description = f"A number (in training: {spec.min:g} to {spec.max:g})."
    elif spec.kind == "boolean":
        annotation = StrictBool
        description = "true or false."
    else:
        annotation = Annotated[
            str,
            # Not empty: the ONNX preprocessing reads the empty text as a gap (imputed), and
            # scikit-learn as an unknown category; a gap is sent as null.
            StringConstraints(strict=True, min_length=1, max_length=MAX_CATEGORY_LENGTH),
            WithJsonSchema(
                {
                    "anyOf": [
                        {"type": "string", "enum": spec.categories, "title": "Seen in training"},
                        {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": MAX_CATEGORY_LENGTH,
                            "title": "Unknown",
                        },
                    ]
                }
            ),
        ]
        description = (
            "One of the categories seen in training. Any other text is still scored, as an "
            "unknown category (it adds nothing to the score), and counted in /metrics."
        )
    if spec.nullable:
        description += " May be null or left out: the model imputes it."
        return annotation | None, Field(default=None, alias=spec.name, description=description)
    return annotation, Field(alias=spec.name, description=description)
