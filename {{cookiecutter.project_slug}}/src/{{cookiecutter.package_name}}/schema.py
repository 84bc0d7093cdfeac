"""The feature schema: which columns a model uses, of which kind, inferred from a real table.

Inference, column by column (force any kind, or exclude a column, with ``APP_FEATURE_KINDS``):

- **numeric**: numbers. Missing values are imputed with the median, then scaled.
- **boolean**: only True/False values. Imputed with the most frequent value.
- **categorical**: text with at most ``APP_MAX_CATEGORIES`` distinct values. Imputed with the
  most frequent category, then one-hot encoded. A category never seen in training is scored
  as *unknown*: all its one-hot columns are 0, so it adds nothing to the score.
- **excluded**, with the reason printed by ``train``: IDs (text or whole numbers, unique in
  every row), ISO dates (derive features from them on purpose, in ``features.py``) and free
  text (more distinct values than ``APP_MAX_CATEGORIES``).

A feature is *nullable* when the training data has missing values in it: requests may then
send ``null`` or leave it out, and the pipeline imputes it. Tables that cannot be learned
from (an empty or constant column, numbers mixed with text) stop with one line that says
how to fix them.
"""

import json
import math
from typing import Any, Literal, cast, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict

from {{ cookiecutter.package_name }}.config import ColumnRule
from {{ cookiecutter.package_name }}.errors import DataError

FeatureKind = Literal["numeric", "categorical", "boolean"]
FeatureValue = float | str | bool | None
"""A raw feature value as requests and files carry it (None: missing)."""

PREDICTION_COLUMN = "prediction"
"""Name of the model-output column in reference and monitoring frames (reserved)."""

MIN_ROWS_FOR_ID = 20
"""Below this many rows, a column of unique whole numbers may be a feature by chance."""
BOOLEAN_TEXT = {"true": True, "false": False}


class FeatureSpec(BaseModel):
    """One input feature: its kind, whether it may be missing, and what training saw."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: FeatureKind
    nullable: bool
    categories: list[str] = []
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None


class ExcludedColumn(BaseModel):
    """A column of the table that is not a feature, and why."""

    model_config = ConfigDict(frozen=True)

    name: str
    reason: str


class FeatureSchema(BaseModel):
    """The ordered features a model expects; requests, files and traffic are checked against it."""

    model_config = ConfigDict(frozen=True)

    features: list[FeatureSpec]
    excluded: list[ExcludedColumn] = []
    example: dict[str, FeatureValue] = {}

    @property
    def names(self) -> list[str]:
        """Feature names, in training order (the column order of the model's input array)."""
        return [feature.name for feature in self.features]

    def positions(self, kind: FeatureKind) -> list[int]:
        """Column positions of the features of one kind, in the model's input array."""
        return [index for index, feature in enumerate(self.features) if feature.kind == kind]

    def contract(self) -> list[tuple[str, str, bool]]:
        """What a client must send: names, kinds and nullability (categories may grow freely)."""
        return [(feature.name, feature.kind, feature.nullable) for feature in self.features]

    def normalise(self, frame: pd.DataFrame, source: str) -> pd.DataFrame:
        """The schema's columns of ``frame`` as the model reads them, checked.

        Numeric and boolean columns become float64 (NaN when missing), categorical ones text
        (None when missing). A missing column is an error unless its feature is nullable.
        """
        missing = [f.name for f in self.features if f.name not in frame and not f.nullable]
        if missing:
            raise DataError(f"{source}: missing feature column(s) {', '.join(map(repr, missing))}")
        columns = {
            feature.name: _column_values(feature, frame.get(feature.name), frame.index, source)
            for feature in self.features
        }
        return pd.DataFrame(columns, index=frame.index)

    def to_matrix(self, frame: pd.DataFrame, source: str) -> npt.NDArray[Any]:
        """The model's input: a 2-D object array with the features in schema order."""
        normalised = self.normalise(frame, source)
        matrix = normalised.to_numpy(dtype=object)
        for position in self.positions("categorical"):  # the imputer looks for NaN
            column = matrix[:, position]
            column[pd.isna(column)] = np.nan
        return matrix

    def records(self, frame: pd.DataFrame, source: str) -> list[dict[str, FeatureValue]]:
        """The rows of ``frame`` as JSON request records (null where a value is missing)."""
        normalised = self.normalise(frame, source)
        booleans = {feature.name for feature in self.features if feature.kind == "boolean"}
        return [
            {
                name: bool(value) if name in booleans and value is not None else value
                for name, value in ((str(k), json_safe(v)) for k, v in row.items())
            }
            for row in normalised.to_dict(orient="records")
        ]


def infer_schema(
    frame: pd.DataFrame, rules: dict[str, ColumnRule], max_categories: int, source: str
) -> FeatureSchema:
    """Infer the feature schema of a training table (target already removed)."""
    unknown = [name for name in rules if name not in frame.columns]
    if unknown:
        raise DataError(
            f"APP_FEATURE_KINDS names column(s) {', '.join(map(repr, unknown))} that "
            f"{source} does not have (columns: {', '.join(map(repr, frame.columns))})"
        )
    if PREDICTION_COLUMN in frame.columns:
        raise DataError(f"{source}: rename column {PREDICTION_COLUMN!r}: the name is reserved")
    features: list[FeatureSpec] = []
    excluded: list[ExcludedColumn] = []
    for name in frame.columns:
        column = frame[name]
        rule = rules.get(str(name))
        if rule == "exclude":
            excluded.append(ExcludedColumn(name=str(name), reason="excluded by APP_FEATURE_KINDS"))
            continue
        _check_learnable(column, source)
        kind_or_reason = rule or _infer_kind(column, max_categories, source)
        if kind_or_reason in get_args(FeatureKind):
            features.append(_describe(column, cast(FeatureKind, kind_or_reason), source))
        else:
            excluded.append(ExcludedColumn(name=str(name), reason=kind_or_reason))
    if not features:
        raise DataError(f"{source}: no feature columns left (excluded: {_listed(excluded)})")
    schema = FeatureSchema(features=features, excluded=excluded)
    return schema.model_copy(update={"example": _example(schema, frame, source)})


def force_kind_hint(name: str, kind: ColumnRule) -> str:
    """The setting that forces ``kind`` on column ``name``, ready to paste."""
    return f"APP_FEATURE_KINDS='{json.dumps({name: kind})}'"


def json_safe(value: Any) -> FeatureValue:
    """A feature value as JSON carries it: NaN and pandas' missing markers become None."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, bool | str | float):
        return value
    if isinstance(value, int):
        return float(value)
    return str(value)


def _check_learnable(column: pd.Series, source: str) -> None:
    name = str(column.name)
    present = column.dropna()
    if present.empty:
        raise DataError(
            f"{source}: column {name!r} is empty in every row: remove it, or exclude it with "
            + force_kind_hint(name, "exclude")
        )
    if present.nunique() == 1:
        raise DataError(
            f"{source}: column {name!r} has the same value ({present.iloc[0]!r}) in every row, "
            f"so it cannot help the model: remove it, or exclude it with "
            + force_kind_hint(name, "exclude")
        )


def _infer_kind(column: pd.Series, max_categories: int, source: str) -> str:
    """A feature kind, or the reason the column is not a feature."""
    present = column.dropna()
    unique_in_every_row = present.size == column.size and present.is_unique
    if _is_boolean(present):
        return "boolean"
    if pd.api.types.is_numeric_dtype(column):
        whole_numbers = bool((present == np.floor(present)).all())
        if whole_numbers and unique_in_every_row and column.size >= MIN_ROWS_FOR_ID:
            return "unique whole number in every row: an ID, not a feature"
        return "numeric"
    return _infer_text_kind(present.astype(str), unique_in_every_row, max_categories, source)


def _infer_text_kind(
    text: pd.Series, unique_in_every_row: bool, max_categories: int, source: str
) -> str:
    """The kind of a text column, or the reason it is not a feature."""
    name = str(text.name)
    as_numbers = pd.to_numeric(text, errors="coerce")
    numbers = int(as_numbers.notna().sum())
    if numbers:
        example = text[as_numbers.isna()].iloc[0]
        raise DataError(
            f"{source}: column {name!r} mixes numbers ({numbers} rows) and text ({example!r} "
            f"and {len(text) - numbers - 1} more): fix the values, or treat them all as "
            f"categories with {force_kind_hint(name, 'categorical')}"
        )
    if pd.to_datetime(text, errors="coerce", format="ISO8601").notna().all():
        return "ISO dates: derive features from them on purpose, in features.py"
    if unique_in_every_row:
        return "unique text in every row: an ID, not a feature"
    distinct = text.nunique()
    if distinct > max_categories:
        return (
            f"free text or a code: {distinct} distinct values, more than APP_MAX_CATEGORIES="
            f"{max_categories} (raise it to treat them as categories)"
        )
    return "categorical"


def _is_boolean(present: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(present):
        return True
    if present.dtype != object:
        return False
    values = set(present.map(lambda v: v if isinstance(v, bool) else str(v).lower()))
    return values <= {True, False, *BOOLEAN_TEXT}


def _describe(column: pd.Series, kind: FeatureKind, source: str) -> FeatureSpec:
    name = str(column.name)
    nullable = bool(column.isna().any())
    spec = FeatureSpec(name=name, kind=kind, nullable=nullable)
    values = _column_values(spec, column, column.index, source)
    if kind == "categorical":
        return spec.model_copy(update={"categories": sorted(values.dropna().unique())})
    return spec.model_copy(
        update={
            "mean": float(values.mean()),
            "std": float(values.std()),
            "min": float(values.min()),
            "max": float(values.max()),
        }
    )


def _column_values(
    feature: FeatureSpec, column: pd.Series | None, index: pd.Index, source: str
) -> pd.Series:
    """One column converted to the feature's kind; values that cannot be are an error."""
    if column is None:  # a nullable feature that is absent: missing in every row
        missing = None if feature.kind == "categorical" else np.nan
        return pd.Series(missing, index=index, dtype=object if missing is None else "float64")
    name = feature.name
    if feature.kind == "categorical":
        values = column.map(_category_text, na_action="ignore").astype(object)
        values[values.isna()] = None
    elif feature.kind == "boolean":
        values = column.map(_boolean_number, na_action="ignore").astype("float64")
        _refuse_unconverted(column, values, "true or false", source)
    else:
        values = pd.to_numeric(column, errors="coerce").astype("float64")
        _refuse_unconverted(column, values, "numeric", source)
        if np.isinf(values.to_numpy()).any():
            raise DataError(f"{source}: infinite values in column {name!r}")
    if not feature.nullable and values.isna().any():
        raise DataError(
            f"{source}: missing values in {name!r} ({int(values.isna().sum())} rows), which "
            "the model was trained without: fill them, or retrain on data that has gaps"
        )
    return values


def _refuse_unconverted(column: pd.Series, values: pd.Series, expected: str, source: str) -> None:
    """Fail naming the first value of ``column`` that became missing in ``values``."""
    bad = column.notna() & values.isna()
    if bad.any():
        raise DataError(
            f"{source}: column {str(column.name)!r} must be {expected}; got "
            f"{column[bad].iloc[0]!r} in {int(bad.sum())} row(s)"
        )


def _category_text(value: Any) -> str:
    """A category as text; whole numbers lose the ``.0`` a CSV gap gave them."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _boolean_number(value: Any) -> float:
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, int | float) and value in (0, 1):
        return float(value)
    flag = BOOLEAN_TEXT.get(str(value).strip().lower())
    return float("nan") if flag is None else float(flag)


def _example(schema: FeatureSchema, frame: pd.DataFrame, source: str) -> dict[str, FeatureValue]:
    """A real record of the table (complete if one is): the example of the API docs."""
    complete = schema.normalise(frame, source).notna().all(axis=1)
    row = frame[complete].head(1) if complete.any() else frame.head(1)
    return schema.records(row, source)[0]


def _listed(excluded: list[ExcludedColumn]) -> str:
    return ", ".join(f"{column.name!r}" for column in excluded) or "none"
