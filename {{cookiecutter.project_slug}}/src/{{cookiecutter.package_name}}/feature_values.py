"""A table's columns converted to the features' kinds, checked: what the model reads.

Numeric and boolean columns become float64 (NaN when missing), categorical ones text (None
when missing). A value that cannot be converted, or missing where training had no gaps,
stops with one line that names the column and the fix.
"""

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from {{ cookiecutter.package_name }}.errors import DataError
from {{ cookiecutter.package_name }}.schema import FeatureSchema, FeatureSpec, FeatureValue

BOOLEAN_TEXT = {"true": True, "false": False}


def normalise(schema: FeatureSchema, frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """The schema's columns of ``frame`` as the model reads them (see FeatureSchema.normalise)."""
    missing = [f.name for f in schema.features if f.name not in frame and not f.nullable]
    if missing:
        raise DataError(f"{source}: missing feature column(s) {', '.join(map(repr, missing))}")
    columns = {
        feature.name: column_values(feature, frame.get(feature.name), frame.index, source)
        for feature in schema.features
    }
    return pd.DataFrame(columns, index=frame.index)


def to_matrix(schema: FeatureSchema, frame: pd.DataFrame, source: str) -> npt.NDArray[Any]:
    """The model's input: a 2-D object array with the features in schema order."""
    matrix = normalise(schema, frame, source).to_numpy(dtype=object)
    for position in schema.positions("categorical"):  # the imputer looks for NaN
        column = matrix[:, position]
        column[pd.isna(column)] = np.nan
    return matrix


def records(
    schema: FeatureSchema, frame: pd.DataFrame, source: str
) -> list[dict[str, FeatureValue]]:
    """The rows of ``frame`` as JSON request records (null where a value is missing)."""
    booleans = {feature.name for feature in schema.features if feature.kind == "boolean"}
    return [
        {
            name: bool(value) if name in booleans and value is not None else value
            for name, value in ((str(k), json_safe(v)) for k, v in row.items())
        }
        for row in normalise(schema, frame, source).to_dict(orient="records")
    ]


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


def column_values(
    feature: FeatureSpec, column: pd.Series | None, index: pd.Index, source: str
) -> pd.Series:
    """One column converted to the feature's kind; values that cannot be are an error."""
    if column is None:  # a nullable feature that is absent: missing in every row
        missing = None if feature.kind == "categorical" else np.nan
        return pd.Series(missing, index=index, dtype=object if missing is None else "float64")
    name = feature.name
    if feature.kind == "categorical":
        values = category_texts(column)
        values[values.isna()] = None
    elif feature.kind == "boolean":
        values = _boolean_numbers(column)
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


def category_texts(column: pd.Series) -> pd.Series:
    """Categories (or class labels) as text, in a copy.

    Whole numbers lose the ``.0`` a CSV gap gave them; text, the usual case, stays as it is.
    """
    if pd.api.types.infer_dtype(column, skipna=True) == "string":
        return column.astype(object, copy=True)
    return column.map(_category_text, na_action="ignore").astype(object)


def _category_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _boolean_numbers(column: pd.Series) -> pd.Series:
    """1.0, 0.0 or NaN per value, each distinct value converted once.

    True, 1 and 1.0 are one key, and one number: the same conversion either way.
    """
    try:
        distinct = column.dropna().unique()
    except TypeError:  # an unhashable value (a list in a JSON record): one at a time
        return column.map(_boolean_number, na_action="ignore").astype("float64")
    numbers = dict(zip(distinct, map(_boolean_number, distinct), strict=True))
    return column.map(numbers, na_action="ignore").astype("float64")


def _boolean_number(value: Any) -> float:
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, int | float) and value in (0, 1):
        return float(value)
    flag = BOOLEAN_TEXT.get(str(value).strip().lower())
    return float("nan") if flag is None else float(flag)
