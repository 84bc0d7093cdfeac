"""Infer the feature schema of a real table: which columns are features, of which kind.

Inference, column by column (force any kind, or exclude a column, with ``APP_FEATURE_KINDS``):

- **numeric**: numbers. Missing values are imputed with the median, then scaled.
- **boolean**: only True/False values. Imputed with the most frequent value.
- **categorical**: text with at most ``APP_MAX_CATEGORIES`` distinct values. Imputed with the
  most frequent category, then one-hot encoded. A category never seen in training is scored
  as *unknown*: all its one-hot columns are 0, so it adds nothing to the score.
- **excluded**, with the reason printed by ``train``: IDs (text or whole numbers, unique in
  every row), ISO dates (derive features from them on purpose, in ``features.py``) and free
  text (more distinct values than ``APP_MAX_CATEGORIES``).

A feature is *nullable* when the training data has missing values in it. Tables that cannot
be learned from (an empty or constant column, numbers mixed with text) stop with one line
that says how to fix them.
"""

import json
from typing import cast, get_args

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.config import ColumnRule
from {{ cookiecutter.package_name }}.errors import DataError
from {{ cookiecutter.package_name }}.feature_values import BOOLEAN_TEXT, column_values
from {{ cookiecutter.package_name }}.schema import (
    PREDICTION_COLUMN,
    ExcludedColumn,
    FeatureKind,
    FeatureSchema,
    FeatureSpec,
    FeatureValue,
)

MIN_ROWS_FOR_ID = 20
"""Below this many rows, a column of unique whole numbers may be a feature by chance."""
DATE_PROBE = 1_000
"""Distinct values of a text column parsed as dates first: one that is not ends the check."""


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
    """The kind of a text column, or the reason it is not a feature.

    Each check reads the distinct values (a table repeats its categories: 1,000,000 rows of
    three plans are three values to parse), in the order they first appear.
    """
    name = str(text.name)
    values = pd.Series(text.unique())
    as_numbers = pd.to_numeric(values, errors="coerce")
    if as_numbers.notna().any():
        numbers = int(pd.to_numeric(text, errors="coerce").notna().sum())
        example = values[as_numbers.isna()].iloc[0]
        raise DataError(
            f"{source}: column {name!r} mixes numbers ({numbers} rows) and text ({example!r} "
            f"and {len(text) - numbers - 1} more): fix the values, or treat them all as "
            f"categories with {force_kind_hint(name, 'categorical')}"
        )
    if _all_iso_dates(values[:DATE_PROBE]) and _all_iso_dates(values):  # the probe stops IDs
        return "ISO dates: derive features from them on purpose, in features.py"
    if unique_in_every_row:
        return "unique text in every row: an ID, not a feature"
    distinct = len(values)
    if distinct > max_categories:
        return (
            f"free text or a code: {distinct} distinct values, more than APP_MAX_CATEGORIES="
            f"{max_categories} (raise it to treat them as categories)"
        )
    return "categorical"


def _all_iso_dates(values: pd.Series) -> bool:
    return bool(pd.to_datetime(values, errors="coerce", format="ISO8601").notna().all())


def _is_boolean(present: pd.Series) -> bool:
    """Whether every value is True or False, as a boolean or as text (stops at the first other)."""
    if pd.api.types.is_bool_dtype(present):
        return True
    if present.dtype != object:
        return False
    return all(isinstance(v, bool) or str(v).lower() in BOOLEAN_TEXT for v in present)


def _describe(column: pd.Series, kind: FeatureKind, source: str) -> FeatureSpec:
    name = str(column.name)
    nullable = bool(column.isna().any())
    spec = FeatureSpec(name=name, kind=kind, nullable=nullable)
    values = column_values(spec, column, column.index, source)
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


def _example(schema: FeatureSchema, frame: pd.DataFrame, source: str) -> dict[str, FeatureValue]:
    """A real record of the table (complete if one is): the example of the API docs."""
    complete = frame[schema.names].notna().all(axis=1)  # every value converts: see _describe
    row = frame[complete].head(1) if complete.any() else frame.head(1)
    return schema.records(row, source)[0]


def _listed(excluded: list[ExcludedColumn]) -> str:
    return ", ".join(f"{column.name!r}" for column in excluded) or "none"
