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
from dataclasses import dataclass
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
        rule = rules.get(str(name))
        if rule == "exclude":
            excluded.append(ExcludedColumn(name=str(name), reason="excluded by APP_FEATURE_KINDS"))
            continue
        present = PresentValues.of(frame[name])
        _check_learnable(present, source)
        kind_or_reason = rule or _infer_kind(present, max_categories, source)
        if kind_or_reason in get_args(FeatureKind):
            features.append(_describe(present, cast(FeatureKind, kind_or_reason), source))
        else:
            excluded.append(ExcludedColumn(name=str(name), reason=kind_or_reason))
    if not features:
        raise DataError(f"{source}: no feature columns left (excluded: {_listed(excluded)})")
    schema = FeatureSchema(features=features, excluded=excluded)
    return schema.model_copy(update={"example": _example(schema, frame, source)})


def force_kind_hint(name: str, kind: ColumnRule) -> str:
    """The setting that forces ``kind`` on column ``name``, ready to paste."""
    return f"APP_FEATURE_KINDS='{json.dumps({name: kind})}'"


@dataclass(frozen=True)
class PresentValues:
    """A column's values that are not missing, and its distinct values (found once)."""

    column: pd.Series
    values: pd.Series
    distinct: pd.Series
    """In the order they first appear (a list in a JSON record is compared as text)."""

    @classmethod
    def of(cls, column: pd.Series) -> "PresentValues":
        """Find the present and distinct values of ``column``."""
        values = column.dropna()
        try:
            distinct = values.unique()
        except TypeError:  # an unhashable value: compare as text, so it can be named
            distinct = values.astype(str).unique()
        return cls(column, values, pd.Series(distinct, dtype=values.dtype))

    @property
    def name(self) -> str:
        """The column's name."""
        return str(self.column.name)

    @property
    def unique_in_every_row(self) -> bool:
        """Whether every row has a value, and no two the same (an ID)."""
        return len(self.distinct) == len(self.values) == len(self.column)


def _check_learnable(present: PresentValues, source: str) -> None:
    name = present.name
    if present.values.empty:
        raise DataError(
            f"{source}: column {name!r} is empty in every row: remove it, or exclude it with "
            + force_kind_hint(name, "exclude")
        )
    if len(present.distinct) == 1:
        raise DataError(
            f"{source}: column {name!r} has the same value ({present.values.iloc[0]!r}) in "
            "every row, so it cannot help the model: remove it, or exclude it with "
            + force_kind_hint(name, "exclude")
        )


def _infer_kind(present: PresentValues, max_categories: int, source: str) -> str:
    """A feature kind, or the reason the column is not a feature."""
    if _is_boolean(present):
        return "boolean"
    values = present.values
    if pd.api.types.is_numeric_dtype(values):
        whole_numbers = bool((values == np.floor(values)).all())
        if whole_numbers and present.unique_in_every_row and len(values) >= MIN_ROWS_FOR_ID:
            return "unique whole number in every row: an ID, not a feature"
        return "numeric"
    return _infer_text_kind(present, max_categories, source)


def _infer_text_kind(present: PresentValues, max_categories: int, source: str) -> str:
    """The kind of a text column, or the reason it is not a feature.

    Each check reads the distinct values (a table repeats its categories: 1,000,000 rows of
    three plans are three values to parse), in the order they first appear.
    """
    name = present.name
    values = pd.Series(present.distinct.astype(str).unique())
    as_numbers = pd.to_numeric(values, errors="coerce")
    if as_numbers.notna().any():
        text = present.values.astype(str)
        numbers = int(pd.to_numeric(text, errors="coerce").notna().sum())
        example = values[as_numbers.isna()].iloc[0]
        raise DataError(
            f"{source}: column {name!r} mixes numbers ({numbers} rows) and text ({example!r} "
            f"and {len(text) - numbers - 1} more): fix the values, or treat them all as "
            f"categories with {force_kind_hint(name, 'categorical')}"
        )
    if _all_iso_dates(values[:DATE_PROBE]) and _all_iso_dates(values):  # the probe stops IDs
        return "ISO dates: derive features from them on purpose, in features.py"
    if present.unique_in_every_row:
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


def _is_boolean(present: PresentValues) -> bool:
    """Whether every value is True or False, as a boolean or as text."""
    values = present.values
    if pd.api.types.is_bool_dtype(values):
        return True
    if values.dtype != object:
        return False
    # pandas tells a column of booleans, or of text, without a Python loop. Text is read
    # by its distinct values; only a mix of the two is read value by value.
    match pd.api.types.infer_dtype(values, skipna=False):
        case "boolean":
            return True
        case "string":
            return bool(present.distinct.str.lower().isin(BOOLEAN_TEXT).all())
        case "mixed":
            return all(isinstance(v, bool) or str(v).lower() in BOOLEAN_TEXT for v in values)
        case _:
            return False


def _describe(present: PresentValues, kind: FeatureKind, source: str) -> FeatureSpec:
    column = present.column
    nullable = len(present.values) < len(column)
    spec = FeatureSpec(name=present.name, kind=kind, nullable=nullable)
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
